"""A plan assembled from its repositories' parts (`records.repository_part`), as `run_plan` decides them.

`PlanBuilder` takes each part in (decided in this process, or adopted from a worker process's spool
file): its records stay in the spool, its summary, images in use and (while the plan is small enough)
its actions are kept, and `build` makes the `Plan`, with `input_figures`: what each in-use input says
about this registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import chain

from ecrgc import __version__
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
from ecrgc.planfile.ordering import InOrder
from ecrgc.planfile.records import RepositoryPart, repository_part
from ecrgc.planfile.spool import ACTIONS_IN_MEMORY, Spool, Spooled
from ecrgc.policy import policy_sha256


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
class PlanBuilder:
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

    def part(self, repository: Repository, policy: Policy, decisions: Sequence[Decision]) -> RepositoryPart:
        """A repository decided in this process: its part, with its actions while this builder holds them."""
        columns, hold = self.spool.columns, self.actions is not None
        return repository_part(repository.name, policy, decisions, columns=columns, hold=hold)

    def add(self, repository: Repository, policy: Policy, decisions: Sequence[Decision]) -> None:
        self.merge(self.part(repository, policy, decisions))

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
