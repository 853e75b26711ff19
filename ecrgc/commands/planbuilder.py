"""A plan assembled from its repositories' parts (`records.repository_part`), as `run_plan` decides them.

`PlanBuilder` takes each part in (decided in this process, or adopted from a worker process's spool
file): its records stay in the spool, its summary, images in use and (while the plan is small enough)
its actions' tags are kept, and `build` makes the `Plan`, with `input_figures`: what each in-use input says
about this registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from msgspec import structs

from ecrgc import __version__
from ecrgc.model import (
    THIS_REGISTRY,
    Decision,
    InputFingerprint,
    Plan,
    Policy,
    PolicyRecord,
    ProtectedImage,
    Repository,
    RepositorySummary,
    Usage,
)
from ecrgc.planfile import FORMAT_VERSION, canonical
from ecrgc.planfile.records import RepositoryPart, repository_part
from ecrgc.planfile.spool import ACTIONS_IN_MEMORY, Held, Spool, Spooled
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
            structs.replace(
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
    return [
        structs.replace(fingerprint, protected=count)
        for fingerprint, count in zip(figured, counts, strict=True)
    ]


@dataclass
class PlanBuilder:
    """Accumulates the per-repository results of `decide`: the images go to the spool as each repository
    is decided (encoded in the plan file's layout), the summaries and the images in use stay."""

    spool: Spool
    tags: dict[str, list[str]] | None = field(default_factory=dict)
    """Each repository's actions' tags, while there are at most ACTIONS_IN_MEMORY actions (None beyond,
    and while worker processes plan): the plan then holds its actions (`spool.Held`), else reads them
    from the spool at each pass (`spool.Spooled`)."""
    held: int = 0
    protected: list[ProtectedImage] = field(default_factory=list)
    summaries: list[RepositorySummary] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)

    def part(self, repository: Repository, policy: Policy, decisions: Sequence[Decision]) -> RepositoryPart:
        """A repository decided in this process: its part, with its actions' tags while this builder holds
        them."""
        columns, hold = self.spool.columns, self.tags is not None
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
        if self.tags is not None and part.counts[0]:
            self.tags[part.name] = part.tags
            self.held += part.counts[0]
            if self.held > ACTIONS_IN_MEMORY:
                self.tags = None
        if part.delete_repository:
            self.deletions.append(part.name)
        self.summaries.append(part.summary)
        return part.summary.scanned

    def read_back(self) -> None:
        """After worker processes: hold the plan's actions (their tags read back from the spool) while it
        has at most ACTIONS_IN_MEMORY; else hold none."""
        counts = self.spool.counts
        if sum(actions for actions, _ in counts.values()) > ACTIONS_IN_MEMORY:
            self.tags = None
            return
        self.tags = {name: self.spool.tags(name, "actions") for name in counts if counts[name][0]}

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
        tags = self.tags
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
                actions=Spooled(self.spool, "actions") if tags is None else Held(self.spool, tags),
                kept=Spooled(self.spool, "kept"),
                repository_deletions=tuple(self.deletions),
                protected=tuple(self.protected),
                summary=tuple(self.summaries),
            )
        )
        self.spool.held, self.spool.protected = plan.actions, plan.protected
        return plan
