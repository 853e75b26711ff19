"""The executor's invariants over random plan forests and verdicts, with a recording registry of our own.

Whatever the checks say, the registry is only ever asked to change what the plan names and verification
passed; a parent always goes in an earlier call than what goes with it; a child of a parent that stayed
is never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrgc.apply.executor import Executor, Guard, Sink
from ecrgc.model import Action, Outcome, OutcomeStatus, Plan, PlannedAction, Reason
from ecrgc.planfile import depths
from ecrgc.verify import Check, Verdict

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Recorder:
    """A registry that records every call and deletes whatever it is asked to (the Mutator port)."""

    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def delete_images(self, repository: str, digests: Sequence[str]) -> list[Outcome]:
        self.calls.append(("delete", tuple(digests)))
        return [Outcome(repository=repository, digest=d, status=OutcomeStatus.DELETED) for d in digests]

    def archive_images(self, repository: str, digests: Sequence[str]) -> list[Outcome]:
        self.calls.append(("archive", tuple(digests)))
        return [Outcome(repository=repository, digest=d, status=OutcomeStatus.ARCHIVED) for d in digests]

    def delete_repository_if_empty(self, name: str) -> Outcome:
        self.calls.append(("repository", (name,)))
        return Outcome(repository=name, digest="", status=OutcomeStatus.DELETED)


def action(digest: str, parent: str | None) -> PlannedAction:
    return PlannedAction(
        repository="r",
        digest=digest,
        tags=(),
        pushed_at=T0,
        last_pulled_at=None,
        size_bytes=1,
        media_type="m",
        action=Action.DELETE,
        reason=Reason.WITH_PARENT if parent else Reason.EXPIRED,
        parent=parent,
        policy="p",
    )


def plan_of(actions: Sequence[PlannedAction], deletions: tuple[str, ...] = ()) -> Plan:
    return Plan(
        format_version="1.0",
        ecrgc_version="0",
        created_at=T0,
        expires_at=T0,
        account="1",
        region="x",
        policies=(),
        inputs=(),
        actions=tuple(actions),
        repository_deletions=deletions,
        protected=(),
        summary=(),
    )


@st.composite
def forests(draw: st.DrawFn) -> tuple[list[PlannedAction], dict[str, Verdict]]:
    """Up to 40 actions, each with a parent drawn among the earlier ones (or none), and a verdict each."""
    count = draw(st.integers(1, 40))
    actions: list[PlannedAction] = []
    for n in range(count):
        parent = draw(st.none() | st.integers(0, n - 1)) if n else None
        actions.append(action(f"d{n:03d}", None if parent is None else f"d{parent:03d}"))
    verdicts = draw(st.lists(st.sampled_from(Verdict), min_size=count, max_size=count))
    return actions, {a.digest: v for a, v in zip(actions, verdicts, strict=True)}


@given(forests(), st.booleans())
def test_only_verified_plan_actions_reach_the_registry_parents_first(
    forest: tuple[list[PlannedAction], dict[str, Verdict]], empties: bool
) -> None:
    actions, verdicts = forest
    plan = plan_of(actions, ("r",) if empties else ())
    recorder = Recorder()
    checks = tuple(Check(action=a, verdict=verdicts[a.digest]) for a in actions)

    outcomes = Executor(guard=Guard(recorder, plan), plan=plan, dry_run=False, sink=Sink(None)).run(
        ("r", checks)
    )

    sent = [d for kind, digests in recorder.calls if kind == "delete" for d in digests]
    call_of = {d: n for n, (_, digests) in enumerate(recorder.calls) for d in digests}
    by_digest = {a.digest: a for a in actions}
    assert len(sent) == len(set(sent))
    for digest in sent:
        assert verdicts[digest] is Verdict.OK
        parent = by_digest[digest].parent
        if parent in call_of:  # its parent went in an earlier call ...
            assert call_of[parent] < call_of[digest]
        elif parent is not None:  # ... or was gone already
            assert verdicts[parent] is Verdict.GONE
    for digest in set(by_digest) - set(sent):
        assert verdicts[digest] is not Verdict.OK or by_digest[digest].parent not in sent
    assert {o.digest for o in outcomes if o.digest} == set(by_digest)
    repository_calls = [c for c in recorder.calls if c[0] == "repository"]
    assert len(repository_calls) == (
        empties and set(sent) | {d for d, v in verdicts.items() if v is Verdict.GONE} == set(by_digest)
    )


def test_depths_follow_parent_chains_and_survive_a_cycle() -> None:
    chain = [action("a", None), action("b", "a"), action("c", "b"), action("x", "y"), action("y", "x")]
    found = depths(chain)
    assert (found["a"], found["b"], found["c"]) == (0, 1, 2)
    assert set(found) == {"a", "b", "c", "x", "y"}


def test_the_guard_refuses_what_the_plan_does_not_name() -> None:
    plan = plan_of([action("a", None)])
    guard = Guard(Recorder(), plan)
    with pytest.raises(AssertionError, match="apply tried to delete b in r, not in the plan"):
        guard.delete_images("r", ["a", "b"])
    with pytest.raises(AssertionError, match="apply tried to archive a in r"):
        guard.archive_images("r", ["a"])
    with pytest.raises(AssertionError, match="repository r, which the plan does not name"):
        guard.delete_repository_if_empty("r")
