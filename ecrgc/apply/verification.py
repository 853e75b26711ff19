"""Apply's second phase: the live facts a reviewed plan is checked against, one repository at a time.

`Verifier.prepare` rebuilds the policies the plan embeds, collects the images in use that they name and
finds which planned repositories still exist; `Verifier.check` scans one repository in full and runs
`verify` (the same rules as the plan) over its planned actions. A child or referrer whose parent an
interrupted apply deleted already is not held back by the rules that rank top-level images (`_resumed`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ecrgc import decide
from ecrgc.errors import PlanRefused
from ecrgc.model import Plan, PlannedAction, Policy, Reason, Repository
from ecrgc.policy import policy_from_document
from ecrgc.usage import Collector
from ecrgc.verify import Check, Verdict, verify

# The rules that rank top-level images: a child becomes top-level only because its parent went already.
_RANKING = frozenset(
    {Reason.NEWEST_N, Reason.TOO_YOUNG, Reason.RECENTLY_PULLED, Reason.UNTAGGED_NOT_SELECTED}
)


class LiveState(Protocol):
    """What the verifier reads from a registry (implemented by `ecrgc.aws.Registry`)."""

    def list_repositories(self, selects: Callable[[str], bool]) -> list[tuple[str, str, str]]: ...

    def scan_repository(self, name: str) -> Repository: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Verifier:
    """Checks one planned repository at a time against its live state and the usage collected up front."""

    registry: LiveState
    planned: Mapping[str, tuple[PlannedAction, ...]]
    deletions: frozenset[str]
    present: frozenset[str]
    policies: Mapping[str, Policy]
    in_use: decide.InUse
    now: datetime

    @classmethod
    def prepare(
        cls, plan: Plan, source: str, *, registry: LiveState, usage: Collector, now: datetime
    ) -> Verifier:
        """Rebuild the policies, collect their in-use sources and find which repositories still exist."""
        policies = _policies(plan, source)
        in_use = decide.in_use(usage(list(policies.values())), account=plan.account, region=plan.region)
        planned = _by_repository(plan.actions)
        for name in plan.repository_deletions:
            planned.setdefault(name, ())
        present = {name for name, _, _ in registry.list_repositories(lambda name: name in planned)}
        return cls(
            registry=registry,
            planned=planned,
            deletions=frozenset(plan.repository_deletions),
            present=frozenset(present),
            policies=policies,
            in_use=in_use,
            now=now,
        )

    @property
    def names(self) -> list[str]:
        """The planned repositories (images or the repository itself), sorted."""
        return sorted(self.planned)

    def check(self, name: str) -> tuple[str, tuple[Check, ...]]:
        """Every planned action of repository `name`, checked (a repository gone already is empty)."""
        # The whole repository, not just the planned digests: whether a kept index still lists a child,
        # or a kept image still has a referrer, and which images rank newest, depend on every image.
        live = self.registry.scan_repository(name) if name in self.present else Repository(name=name)
        return name, _verify_repository(self.planned[name], live, self.policies, self.in_use, self.now)


def _policies(plan: Plan, source: str) -> dict[str, Policy]:
    policies = {
        record.name: policy_from_document(record.document, f"{source}::$.policies[{n}].document")
        for n, record in enumerate(plan.policies)
    }
    if unknown := sorted({a.policy for a in plan.actions} - policies.keys()):
        raise PlanRefused(f"{source}: actions name policies the plan does not embed: {', '.join(unknown)}")
    return policies


def _verify_repository(
    actions: Sequence[PlannedAction],
    live: Repository,
    policies: Mapping[str, Policy],
    in_use: decide.InUse,
    now: datetime,
) -> tuple[Check, ...]:
    present = {image.digest for image in live.images}
    checks: list[Check] = []
    for policy_name in sorted({a.policy for a in actions}):
        mine = [a for a in actions if a.policy == policy_name]
        checks.extend(verify(mine, live, in_use, policies[policy_name], now=now))
    return tuple(_resumed(check, present) for check in checks)


def _resumed(check: Check, present: set[str]) -> Check:
    """A child or referrer whose planned parent is gone passes the rules that rank top-level images.

    It became top-level only because an earlier (interrupted) apply deleted its parent; the protections
    that matter (in use, held tag, part of another kept image, tags unchanged) are still checked.
    """
    parent = check.action.parent
    if check.verdict is Verdict.KEPT and check.reason in _RANKING and parent and parent not in present:
        return Check(action=check.action, verdict=Verdict.OK, reason=check.action.reason, detail=check.detail)
    return check


def _by_repository(actions: Iterable[PlannedAction]) -> dict[str, tuple[PlannedAction, ...]]:
    grouped: dict[str, list[PlannedAction]] = {}
    for action in actions:
        grouped.setdefault(action.repository, []).append(action)
    return {name: tuple(found) for name, found in grouped.items()}
