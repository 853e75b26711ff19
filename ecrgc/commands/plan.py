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
from datetime import datetime, timedelta
from enum import Enum
from typing import IO, TYPE_CHECKING, Protocol

import msgspec
from msgspec.structs import replace

from ecrgc import decide
from ecrgc.commands import planworkers
from ecrgc.commands.planbuilder import PlanBuilder, input_figures
from ecrgc.errors import ConfigError, UsageError
from ecrgc.model import Decision, Plan, Policy, Repository
from ecrgc.planfile.records import RepositoryPart, repository_part
from ecrgc.planfile.spool import Spool, SpoolPart
from ecrgc.policy import check_overlaps

if TYPE_CHECKING:  # a plan's worker process unpickles `_Decide` from here: it reads no in-use source
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


class PlanProgress(msgspec.Struct, frozen=True, kw_only=True):
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
    builder = PlanBuilder(Spool(columns=columns), tags={} if count == 1 else None)
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
                part = builder.part(repository, policy, decisions)
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


class _Decide(msgspec.Struct, frozen=True):
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


def _decide_here(
    scanned: Iterable[Repository],
    builder: PlanBuilder,
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
