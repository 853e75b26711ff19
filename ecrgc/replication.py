"""What the planned registry's replication (DescribeRegistry) means for its plan.

ECR replicates pushes to the rules' destinations, and — only when a rule enables deleteReplication — the
deletions too. A replica is a separate registry: ecrgc plans it (when it is a target) with its own in-use
sources, and nothing this plan deletes is assumed deleted there; the plan records the rules so that a
reviewer sees it. Two cases would break the promise, so they stop the plan (fail closed) when it deletes:
a rule that replicates deletions of a repository the plan deletes in (the replicas' in-use images were
never read), and replication that could not be read (such a rule could exist). A plan that deletes
nothing only notes what it knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from msgspec import structs

from ecrgc.errors import SourceUnavailable
from ecrgc.model import Action, Plan, PlannedAction, ReplicationRule

Registries = Mapping[tuple[str, str], str]
"""(account, region) → target name, for every target of targets.yaml."""


class ReplicationReader(Protocol):
    """Where the rules come from (implemented by `ecrgc.aws.Registry`)."""

    def replication(self) -> tuple[ReplicationRule, ...] | None: ...


def with_replication(plan: Plan, rules: Sequence[ReplicationRule] | None, targets: Registries) -> Plan:
    """`plan` with its registry's replication rules, each destination named after its target (if any);
    `SourceUnavailable` when the plan's deletions could be replicated (see the module docstring)."""
    # The summaries' counts, not a pass over the actions: a large plan's actions are read back from its spool.
    deleting = [summary.repository for summary in plan.summary if summary.deleted]
    check_deletions(plan.account, plan.region, deleting, rules)
    if rules is None:
        return plan
    named = (
        structs.replace(
            rule,
            destinations=tuple(
                sorted(
                    structs.replace(d, target=targets.get((d.account, d.region))) for d in rule.destinations
                )
            ),
        )
        for rule in rules
    )
    return replace(plan, replication=tuple(sorted(named)))


def deleted_in(actions: Iterable[PlannedAction]) -> list[str]:
    """The repositories `actions` delete images in (archiving is not replicated), by name."""
    return sorted({a.repository for a in actions if a.action is Action.DELETE})


def check_deletions(
    account: str, region: str, repositories: Sequence[str], rules: Sequence[ReplicationRule] | None
) -> None:
    """Refuse deletions in `repositories` (by name) that ECR might replicate: under unknown replication, or
    a deleteReplication rule."""
    deleting = sorted(repositories)
    if not deleting:
        return
    where = f"registry {account}/{region}"
    if rules is None:
        raise SourceUnavailable(
            f"{where}: its replication could not be read (ecr DescribeRegistry) and the plan deletes images"
            f" in {_count(deleting)}: ECR replicates deletions when a replication rule enables"
            " deleteReplication, so nothing may be deleted while it is unknown; grant ecr:DescribeRegistry"
            " to the role that plans and applies (docs/gitops.md)"
        )
    for number, rule in enumerate(rules, start=1):
        replicated = [name for name in deleting if rule.covers(name)]
        if rule.delete_replication and replicated:
            destinations = ", ".join(f"{d.account}/{d.region}" for d in rule.destinations)
            raise SourceUnavailable(
                f"{where}: replication rule {number} replicates deletions (deleteReplication) of"
                f" {_count(replicated)} the plan deletes in (first {replicated[0]}) to {destinations}, whose"
                " in-use images this plan never read: turn deleteReplication off for them, or leave those"
                " repositories out of the policies"
            )


def _count(repositories: Sequence[str]) -> str:
    return f"{len(repositories)} repositor{'y' if len(repositories) == 1 else 'ies'}"
