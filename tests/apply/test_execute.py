"""The batches' and executor's invariants over random live families and verdicts, with a recording registry.

Whatever the checks say, the registry is only ever asked to change what the plan names and verification
passed; a live parent (index, subject) always goes in an earlier call than what goes with it, and a child
of a parent that stayed (or failed) is never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrgc.apply.batches import live_parents, order
from ecrgc.apply.executor import DONE, Executor, Guard, Sink
from ecrgc.apply.verification import Verified
from ecrgc.model import Action, Image, Outcome, OutcomeStatus, Plan, PlannedAction, Reason, Repository
from ecrgc.planfile import depths
from ecrgc.verify import Check, Verdict

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Recorder:
    """A registry recording every call that deletes what it is asked to but `fails` (the Mutator port)."""

    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    fails: set[str] = field(default_factory=set)

    def delete_images(self, repository: str, digests: Sequence[str]) -> list[Outcome]:
        self.calls.append(("delete", tuple(digests)))
        return [Outcome(repository=repository, digest=d, status=self.status(d)) for d in digests]

    def status(self, digest: str) -> OutcomeStatus:
        return OutcomeStatus.FAILED if digest in self.fails else OutcomeStatus.DELETED

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
def families(draw: st.DrawFn) -> tuple[Repository, dict[str, Verdict], set[str]]:
    """Up to 40 images, each a child (listed by an index) or referrer of an earlier one, or top-level; a
    verdict each (GONE ones are not in the live repository) and the digests the registry fails to delete."""
    count = draw(st.integers(1, 40))
    children: dict[str, list[str]] = {}
    subjects: dict[str, str] = {}
    for n in range(1, count):
        parent = draw(st.none() | st.integers(0, n - 1))
        if parent is not None and draw(st.booleans()):
            children.setdefault(f"d{parent:03d}", []).append(f"d{n:03d}")
        elif parent is not None:
            subjects[f"d{n:03d}"] = f"d{parent:03d}"
    digests = [f"d{n:03d}" for n in range(count)]
    drawn = draw(st.lists(st.sampled_from(Verdict), min_size=count, max_size=count))
    verdicts = dict(zip(digests, drawn, strict=True))
    live = Repository(
        name="r",
        images=tuple(
            Image(
                repository="r",
                digest=d,
                pushed_at=T0,
                children=tuple(children.get(d, ())),
                subject=subjects.get(d),
            )
            for d in digests
            if verdicts[d] is not Verdict.GONE
        ),
    )
    fails = draw(st.sets(st.sampled_from(digests)))
    return live, verdicts, fails


@given(families(), st.booleans())
def test_only_verified_plan_actions_reach_the_registry_live_parents_first(
    family: tuple[Repository, dict[str, Verdict], set[str]], empties: bool
) -> None:
    live, verdicts, fails = family
    actions = [action(d, None) for d in sorted(verdicts)]
    plan = plan_of(actions, ("r",) if empties else ())
    recorder = Recorder(fails=fails)
    checks = tuple(Check(action=a, verdict=verdicts[a.digest], reason=Reason.IN_USE) for a in actions)
    verified = Verified(
        name="r", live=live, checks=checks, delete_repository=empties, may_delete_repository=True
    )

    outcomes = Executor(guard=Guard(recorder, plan), dry_run=False, sink=Sink(None)).run(order(verified))

    sent = [d for kind, digests in recorder.calls if kind == "delete" for d in digests]
    call_of = {d: n for n, (_, digests) in enumerate(recorder.calls) for d in digests}
    assert len(sent) == len(set(sent))
    parents = live_parents(live)
    for digest in sent:
        assert verdicts[digest] is Verdict.OK
        for parent in parents.get(digest, ()):  # every live parent went first, and went
            assert call_of[parent] < call_of[digest]
            assert parent not in fails
    assert sorted(o.digest for o in outcomes if o.digest) == sorted(verdicts)
    done = {o.digest for o in outcomes if o.digest and o.status in DONE}
    repository_calls = [c for c in recorder.calls if c[0] == "repository"]
    assert len(repository_calls) == (empties and done == set(verdicts))


def test_a_cycle_of_cosign_tags_goes_in_one_last_call() -> None:
    cosign = [f"sha256-{c * 64}.sig" for c in "ab"]
    live = Repository(
        name="r",
        images=(
            Image(repository="r", digest=f"sha256:{'b' * 64}", tags=(cosign[0],), pushed_at=T0),
            Image(repository="r", digest=f"sha256:{'a' * 64}", tags=(cosign[1],), pushed_at=T0),
        ),
    )
    actions = [action(i.digest, None) for i in live.images]
    checks = tuple(Check(action=a, verdict=Verdict.OK) for a in actions)

    batches = order(
        Verified(name="r", live=live, checks=checks, delete_repository=False, may_delete_repository=False)
    )

    assert [len(level) for level in batches.levels] == [2]
    assert [s.after for s in batches.levels[0]] == [(), ()]


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
