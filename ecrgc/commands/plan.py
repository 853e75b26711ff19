"""`ecrgc plan`: policies + live inventory + images in use → a `Plan`.

The registry and the in-use sources are ports: the CLI passes the boto3-backed `aws.Registry` and
`ecrgc.usage.collector(...)` (every source the policies name); tests may pass the same real adapters
pointed at local servers.
Repositories are decided one at a time as the scan yields them and then dropped, so memory holds one
repository's images plus the (much smaller) plan.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from itertools import chain
from typing import IO, Protocol

from ecrgc import __version__, decide
from ecrgc.commands import planworkers
from ecrgc.errors import ConfigError, UsageError
from ecrgc.model import (
    THIS_REGISTRY,
    Decision,
    InputFingerprint,
    Plan,
    PlannedAction,
    Policy,
    PolicyRecord,
    ProtectedImage,
    Repository,
    RepositorySummary,
    Usage,
)
from ecrgc.planfile import FORMAT_VERSION, canonical
from ecrgc.planfile.encode import InOrder
from ecrgc.planfile.records import RepositoryPart, repository_part
from ecrgc.planfile.spool import ACTIONS_IN_MEMORY, Spool, Spooled, SpoolPart
from ecrgc.policy import check_overlaps, policy_sha256
from ecrgc.usage import Collector

DEFAULT_EXPIRY = timedelta(days=7)


class Inventory(Protocol):
    """What planning needs from a registry (implemented by `ecrgc.aws.Registry`)."""

    def caller_account(self) -> str: ...

    def list_repositories(self, selects: Callable[[str], bool]) -> list[tuple[str, str, str]]: ...

    def scan(self, names: Iterable[str]) -> Iterator[Repository]: ...


class PlanPhase(Enum):
    USAGE = "usage"
    SCAN = "scan"
    ASSEMBLE = "assemble"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanProgress:
    """Where `run_plan` is: the phase, repositories scanned and decided of `total`, images so far."""

    phase: PlanPhase
    total: int
    repositories: int = 0
    images: int = 0


def for_region(policies: Sequence[Policy], region: str | None) -> Sequence[Policy]:
    """The policies for `region` (`plan --region`), or all of them when it is None."""
    if region is None:
        return policies
    chosen = [p for p in policies if p.region == region]
    if not chosen:
        regions = ", ".join(sorted({p.region or "targets.yaml's" for p in policies}))
        raise UsageError(f"--region {region}: no policy is for that region (they are for {regions})")
    return chosen


def target_region(policies: Sequence[Policy]) -> str:
    """The one region all policies are for: a plan binds to one account and one region."""
    if not policies:
        raise ConfigError("no policies to plan: pass policy files or a directory holding *.yaml policies")
    for policy in policies:
        if policy.region is None:
            raise ConfigError(
                f"{policy.source}::$.spec.region: policy {policy.name!r} takes its region and registry from"
                " targets.yaml: plan it with --target NAME or --all-targets"
            )
    regions = sorted({p.region for p in policies if p.region is not None})
    if len(regions) > 1:
        raise ConfigError(
            f"the policies target {len(regions)} regions ({', '.join(regions)}): a plan binds to one region;"
            " plan each region's policies separately (pass --region, or their files or directories)"
        )
    return regions[0]


def check_account(policies: Sequence[Policy], account: str) -> None:
    """A policy pinned to another registry must not be planned with these credentials."""
    for policy in policies:
        if policy.registry_id and policy.registry_id != account:
            raise ConfigError(
                f"{policy.source}::$.spec.registryId: the policy is for registry {policy.registry_id} but the"
                f" credentials in use are for account {account}; use that account's credentials"
            )


def run_plan(
    policies: Sequence[Policy],
    *,
    inventory: Inventory,
    usage: Collector,
    now: datetime,
    expires_in: timedelta = DEFAULT_EXPIRY,
    progress: Callable[[PlanProgress], None] | None = None,
    on_decided: Callable[[Policy, Sequence[Decision]], None] | None = None,
    columns: bool = False,
    processes: int | None = 1,
) -> Plan:
    """Plan the policies against the live registry and in-use sources, as of `now`.

    `progress` is told when the in-use sources are being read, after each repository has been scanned and
    decided (repositories and images so far), and when the plan is being assembled; `on_decided` sees
    each repository's decisions (`ecrgc run` logs every image scanned, as the seed did). `columns`: the
    plan file will be written in the columns layout (`.json.gz`), so its records are encoded in it as each
    repository is decided (a plan written in the other layout is encoded again when written).
    `processes`: how many worker processes scan, decide and encode the repositories (None: as many as the
    CPUs, for a registry large enough; `planworkers`); 1, or `on_decided`, plans in this process alone, and
    so does an inventory that is no `planworkers.Scanner` (a `Registry` is one).
    """
    region = target_region(policies)
    account = inventory.caller_account()
    check_account(policies, account)
    listed = inventory.list_repositories(lambda name: any(p.selects(name) for p in policies))
    names = [name for name, _, _ in listed]
    check_overlaps(policies, names)
    owner = {name: next(p for p in policies if p.selects(name)) for name in names}
    tell = progress or (lambda _: None)
    sharded = on_decided is None and isinstance(inventory, planworkers.Scanner)
    count = planworkers.process_count(processes, len(names)) if sharded else 1
    # With workers, this process holds none of its actions as it goes (they would be held while the
    # largest repositories are in flight, then dropped past ACTIONS_IN_MEMORY): `read_back` holds them all.
    builder = _PlanBuilder(Spool(columns=columns), actions={} if count == 1 else None)
    # The workers start before the in-use sources are read, so that their start overlaps the reading.
    with (
        planworkers.Workers(count - 1, inventory, columns=columns)  # and this process
        if isinstance(inventory, planworkers.Scanner) and count > 1
        else nullcontext()
    ) as workers:
        tell(PlanProgress(phase=PlanPhase.USAGE, total=len(names)))
        collected = usage(policies)
        in_use = decide.in_use(collected, account=account, region=region)
        tell(PlanProgress(phase=PlanPhase.SCAN, total=len(names)))
        job = _Decide(owner, in_use, now)
        done = images = 0
        lock = threading.Lock()  # the builder's: this thread's repositories, and the workers' thread's

        def decided(scanned: int) -> None:
            nonlocal done, images
            done, images = done + 1, images + scanned
            tell(PlanProgress(phase=PlanPhase.SCAN, repositories=done, total=len(names), images=images))

        if workers is None:
            for scanned in _decide_here(inventory.scan(names), builder, job, on_decided):
                decided(scanned)
        else:

            def here(repository: Repository) -> None:
                policy, decisions = job.decisions(repository)
                part = _part(repository, policy, decisions, builder)
                with lock:
                    builder.merge(part)
                    decided(len(decisions))

            def take(part: RepositoryPart, file: IO[bytes], where: SpoolPart | None) -> None:
                with lock:
                    if where is not None:
                        builder.spool.adopt(file, where)
                    decided(builder.gather(part))

            workers.plan(names, job, here, take)
            builder.read_back()
    tell(PlanProgress(phase=PlanPhase.ASSEMBLE, repositories=len(names), total=len(names), images=images))
    return builder.build(
        policies=policies,
        inputs=input_figures(collected, builder.protected, account=account, region=region),
        account=account,
        region=region,
        now=now,
        expires_in=expires_in,
    )


@dataclass(frozen=True, slots=True)
class _Decide:
    """One repository decided: `run_plan`'s job, here or in a worker process (sent there once, pickled:
    the policies, the images in use and the time), where its records are spooled into the worker's file."""

    owner: Mapping[str, Policy]
    in_use: decide.InUse
    now: datetime

    def decisions(self, repository: Repository) -> tuple[Policy, Sequence[Decision]]:
        policy = self.owner[repository.name]
        return policy, decide.decide(repository, self.in_use, policy, now=self.now)

    def __call__(self, repository: Repository, spool: Spool) -> RepositoryPart:
        """In a worker: its part, its records put into the worker's `spool` (and left out of the part)."""
        policy, decisions = self.decisions(repository)
        part = repository_part(repository.name, policy, decisions, columns=spool.columns, hold=False)
        spool.put(part)
        return replace(part, blobs={})


def _part(
    repository: Repository, policy: Policy, decisions: Sequence[Decision], builder: _PlanBuilder
) -> RepositoryPart:
    """A repository decided here: its part, with its actions while `builder` holds them."""
    columns, hold = builder.spool.columns, builder.actions is not None
    return repository_part(repository.name, policy, decisions, columns=columns, hold=hold)


def _decide_here(
    scanned: Iterable[Repository],
    builder: _PlanBuilder,
    job: _Decide,
    on_decided: Callable[[Policy, Sequence[Decision]], None] | None,
) -> Iterator[int]:
    """The repositories decided in this process, one at a time as scanned: how many images each had."""
    for repository in scanned:
        policy, decisions = job.decisions(repository)
        builder.add(repository, policy, decisions)
        if on_decided:
            on_decided(policy, decisions)
        yield len(decisions)


def input_figures(
    usage: Usage, protected: Sequence[ProtectedImage], *, account: str, region: str
) -> list[InputFingerprint]:
    """Each input with what it says about this registry: distinct references naming it (a list line without
    a host does), naming another ECR account or region, naming another registry; and the images it keeps
    in use (`protected`: every image kept for being in use, with the sources that use it)."""
    inputs_of_source: dict[str, set[int]] = {}
    figured: list[InputFingerprint] = []
    for index, (fingerprint, uses) in enumerate(usage.by_input()):
        refs = {use.ref for use in uses}
        here = {r for r in refs if r.host == THIS_REGISTRY or (r.account, r.region) == (account, region)}
        other_ecr = sum(r.account is not None for r in refs - here)
        figured.append(
            replace(
                fingerprint,
                this_registry=len(here),
                other_accounts=other_ecr,
                other_registries=len(refs) - len(here) - other_ecr,
            )
        )
        for use in uses:
            inputs_of_source.setdefault(use.source, set()).add(index)
    counts = [0] * len(figured)
    for image in protected:  # an image counts once for each input that uses it
        for index in {i for source in image.sources for i in inputs_of_source.get(source, ())}:
            counts[index] += 1
    return [replace(fingerprint, protected=count) for fingerprint, count in zip(figured, counts, strict=True)]


@dataclass
class _PlanBuilder:
    """Accumulates the per-repository results of `decide`: the images go to the spool as each repository
    is decided (encoded in the plan file's layout), the summaries and the images in use stay."""

    spool: Spool
    actions: dict[str, tuple[PlannedAction, ...]] | None = field(default_factory=dict)
    """Each repository's actions, while there are at most ACTIONS_IN_MEMORY (None beyond, and while worker
    processes plan: spooled only)."""
    held: int = 0
    protected: list[ProtectedImage] = field(default_factory=list)
    summaries: list[RepositorySummary] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)

    def add(self, repository: Repository, policy: Policy, decisions: Sequence[Decision]) -> None:
        self.merge(_part(repository, policy, decisions, self))

    def merge(self, part: RepositoryPart) -> None:
        self.spool.put(part)
        self.gather(part)

    def gather(self, part: RepositoryPart) -> int:
        """Take in a repository whose records are in the spool already (adopted from a worker process's
        file, or put there by `merge`); return how many images it had."""
        self.protected.extend(part.protected)
        if self.actions is not None and part.actions:
            self.actions[part.name] = part.actions
            self.held += len(part.actions)
            if self.held > ACTIONS_IN_MEMORY:
                self.actions = None
        if part.delete_repository:
            self.deletions.append(part.name)
        self.summaries.append(part.summary)
        return part.summary.scanned

    def read_back(self) -> None:
        """After worker processes: hold every repository's actions, read back from the spool, while the
        plan has at most ACTIONS_IN_MEMORY (the views' passes then read them in memory, decoded once, not
        once per pass); else hold none."""
        counts = self.spool.counts
        if sum(actions for actions, _ in counts.values()) > ACTIONS_IN_MEMORY:
            self.actions = None
            return
        self.actions = {name: tuple(self.spool.images(name, "actions")) for name in counts if counts[name][0]}

    def build(
        self,
        *,
        policies: Sequence[Policy],
        inputs: Sequence[InputFingerprint],
        account: str,
        region: str,
        now: datetime,
        expires_in: timedelta,
    ) -> Plan:
        # `canonical` puts every list in the plan file's order (the spool's lists are in it already): the
        # plan in memory is the plan on disk.
        actions = self.actions
        plan = canonical(
            Plan(
                format_version=FORMAT_VERSION,
                ecrgc_version=__version__,
                created_at=now,
                expires_at=now + expires_in,
                account=account,
                region=region,
                policies=tuple(
                    PolicyRecord(name=p.name, sha256=policy_sha256(p), document=p.document) for p in policies
                ),
                inputs=tuple(set(inputs)),
                actions=Spooled(self.spool, "actions")
                if actions is None
                else InOrder(chain.from_iterable(actions[name] for name in sorted(actions))),
                kept=Spooled(self.spool, "kept"),
                repository_deletions=tuple(self.deletions),
                protected=tuple(self.protected),
                summary=tuple(self.summaries),
            )
        )
        self.spool.held, self.spool.protected = plan.actions, plan.protected
        return plan
