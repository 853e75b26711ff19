"""Apply's fresh verification: the plan's actions checked against live state with the REPOSITORY's policies.

A plan file arrives through a pull request, so anything in it but its list of digests may have been edited
(its content hash is a checksum anyone can recompute). `trusted_policies` therefore refuses a plan whose
embedded policy documents are not exactly the repository's, and every decision is made with the policy of
the repository (`--policies`) that selects the repository now, not with the one the action names.
`Verifier.prepare` collects the in-use sources those policies name and finds which planned repositories
still exist; `Verifier.check` scans one repository in full and runs `verify` (the same rules as the plan)
over its planned actions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, assert_never

from ecrgc import decide
from ecrgc.errors import PlanRefused
from ecrgc.model import Plan, PlannedAction, Policy, PolicyMatch, Repository
from ecrgc.policy import DEFAULT_POLICIES, check_overlaps, load_policies, policy_sha256
from ecrgc.render.evidence import decision_words
from ecrgc.targets import DEFAULT_TARGETS, bind, load_targets
from ecrgc.verify import Check, Verdict, verify

if TYPE_CHECKING:
    from ecrgc.usage import Collector  # its sources import the AWS SDK: not for show's policy check


class LiveState(Protocol):
    """What the verifier reads from a registry (implemented by `ecrgc.aws.Registry`)."""

    def list_repositories(self, selects: Callable[[str], bool]) -> list[tuple[str, str, str]]: ...

    def scan_repository(self, name: str) -> Repository: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Verified:
    """One planned repository as it is now, and the check of each of its planned actions."""

    name: str
    live: Repository
    checks: tuple[Check, ...]
    delete_repository: bool
    """The plan asks to delete the repository (once empty)."""
    may_delete_repository: bool
    """The repository's policy that selects it deletes empty repositories."""


def repository_policies(paths: Sequence[Path]) -> tuple[Policy, ...]:
    """The repository's policy set: the files or directories given (`--policies`), else `policies/` when it
    exists. With neither, apply refuses: a plan's embedded policies are never the authority. With a
    `targets.yaml`, the policies it attaches are bound to each target (as `plan --target` embeds them), so a
    target's plan is compared with its own bound documents."""
    if not paths and not DEFAULT_POLICIES.is_dir():
        raise PlanRefused(
            "no policy set to check the plan against: pass --policies DIR (the repository's policies/); "
            "the plan's embedded policies are never the authority"
        )
    loaded = load_policies(paths or [DEFAULT_POLICIES])
    if not DEFAULT_TARGETS.is_file():
        return loaded
    bound = bind(load_targets(DEFAULT_TARGETS), loaded)
    return (*(p for p in loaded if p.region is not None), *(p for found in bound.values() for p in found))


def _for_target(plan: Plan, policies: Sequence[Policy]) -> dict[str, Policy]:
    """The repository's policies for the plan's account and region, by name."""
    return {p.name: p for p in policies if p.region == plan.region and p.registry_id in (None, plan.account)}


def policy_matches(plan: Plan, policies: Sequence[Policy]) -> dict[str, PolicyMatch]:
    """How each policy embedded in `plan` compares with the repository's (what `ecrgc show` prints)."""
    mine = _for_target(plan, policies)
    found: dict[str, PolicyMatch] = {}
    for record in plan.policies:
        policy = mine.get(record.name)
        if policy is None:
            found[record.name] = PolicyMatch.MISSING
        elif policy_sha256(policy) == record.sha256:
            found[record.name] = PolicyMatch.MATCHES
        else:
            found[record.name] = PolicyMatch.DIFFERS
    return found


def trusted_policies(plan: Plan, source: str, policies: Sequence[Policy]) -> dict[str, Policy]:
    """The repository's policies for the plan's target, by name; refuses (PlanRefused) a plan that embeds a
    policy the repository does not have, or a document that differs from the repository's."""
    mine = _for_target(plan, policies)
    matches = policy_matches(plan, policies)
    for record in plan.policies:
        match matches[record.name]:
            case PolicyMatch.MISSING:
                raise PlanRefused(
                    f"{source}: $.policies: policy {record.name!r} is not among the repository's policies"
                    f" for {plan.account} {plan.region}; pass the policies the plan was made from with"
                    " --policies"
                )
            case PolicyMatch.DIFFERS:
                policy = mine[record.name]
                raise PlanRefused(
                    f"{source}: $.policies: policy {record.name!r} embedded in the plan (sha256 "
                    f"{record.sha256[:12]}) is not {policy.source} (sha256 {policy_sha256(policy)[:12]});"
                    " re-run ecrgc plan"
                )
            case PolicyMatch.MATCHES:
                continue  # the plan's copy is the repository's policy
            case unreachable:  # pragma: no cover  # mypy proves every PolicyMatch is handled above
                assert_never(unreachable)
    return mine


@dataclass(frozen=True, slots=True, kw_only=True)
class Verifier:
    """Checks one planned repository at a time against its live state and the usage collected up front."""

    registry: LiveState
    planned: Mapping[str, tuple[PlannedAction, ...]]
    deletions: frozenset[str]
    present: frozenset[str]
    owners: Mapping[str, Policy]
    """The repository's policy that selects each planned repository (none: no policy selects it now)."""
    in_use: decide.InUse
    now: datetime

    @classmethod
    def prepare(
        cls,
        plan: Plan,
        source: str,
        *,
        policies: Sequence[Policy],
        registry: LiveState,
        usage: Collector,
        now: datetime,
    ) -> Verifier:
        """Check the policies, collect the in-use sources they name and find which repositories exist."""
        mine = list(trusted_policies(plan, source, policies).values())
        planned = _by_repository(plan.actions)
        for name in plan.repository_deletions:
            planned.setdefault(name, ())
        check_overlaps(mine, list(planned))
        owners = {name: p for name in planned for p in mine if p.selects(name)}
        # Every policy's sources, not only those of the policies owning a planned repository: the plan
        # protected the union, and a plan cut down to one policy's repositories must not read less.
        in_use = decide.in_use(usage(mine), account=plan.account, region=plan.region)
        present = {name for name, _, _ in registry.list_repositories(lambda name: name in planned)}
        return cls(
            registry=registry,
            planned=planned,
            deletions=frozenset(plan.repository_deletions),
            present=frozenset(present),
            owners=owners,
            in_use=in_use,
            now=now,
        )

    @property
    def names(self) -> list[str]:
        """The planned repositories (images or the repository itself), sorted."""
        return sorted(self.planned)

    def check(self, name: str) -> Verified:
        """Every planned action of repository `name`, checked (a repository gone already is empty)."""
        # The whole repository, not just the planned digests: whether a kept index still lists a child,
        # or a kept image still has a referrer, and which images rank newest, depend on every image.
        live = self.registry.scan_repository(name) if name in self.present else Repository(name=name)
        policy = self.owners.get(name)
        actions = self.planned[name]
        if policy is None:
            checks = tuple(_not_selected(a, "no policy of the repository selects it now") for a in actions)
        else:
            checks = tuple(
                _worded(check, policy)
                for check in verify(
                    [a for a in actions if a.policy == policy.name], live, self.in_use, policy, now=self.now
                )
            )
            checks += tuple(
                _not_selected(a, f"policy {policy.name!r} selects it, not {a.policy!r}")
                for a in actions
                if a.policy != policy.name
            )
        return Verified(
            name=name,
            live=live,
            checks=checks,
            delete_repository=name in self.deletions,
            may_delete_repository=policy is not None and policy.delete_empty_repositories,
        )


def _worded(check: Check, policy: Policy) -> Check:
    """`check`, saying in its detail why the live state keeps the image (the detail apply reports)."""
    if check.verdict is Verdict.KEPT and check.live is not None:
        return replace(check, detail=decision_words(check.live, policy))
    return check


def _not_selected(action: PlannedAction, why: str) -> Check:
    return Check(action=action, verdict=Verdict.NOT_SELECTED, detail=f"{action.repository}: {why}")


def _by_repository(actions: Iterable[PlannedAction]) -> dict[str, tuple[PlannedAction, ...]]:
    grouped: dict[str, list[PlannedAction]] = {}
    for action in actions:
        grouped.setdefault(action.repository, []).append(action)
    return {name: tuple(found) for name, found in grouped.items()}
