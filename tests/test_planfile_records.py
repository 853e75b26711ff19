"""One repository's records (planfile/records.py) are the bytes the general writer gives the same images.

The oracle is the general writer (encode.document, columns.document) fed a Plan of plain tuples whose
PlannedActions and ProtectedImages this test builds itself from the decisions, in any order; the part is
made straight from `decide`'s decisions, over whatever a repository can hold (tests/strategies.py)."""

from __future__ import annotations

import functools
import json
import pickle
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrgc.decide import decide, in_use
from ecrgc.model import (
    INDEX_MEDIA_TYPES,
    Action,
    Decision,
    ListsInUse,
    PlannedAction,
    Policy,
    ProtectedImage,
    Reason,
    Repository,
    RepositorySummary,
    UsedBy,
)
from ecrgc.planfile import canonical, encode, evidence, format_timestamp, writing
from ecrgc.planfile.columns import document as columns_document
from ecrgc.planfile.records import repository_part
from ecrgc.planfile.spool import Held, Spool, Spooled
from tests import strategies as s
from tests.test_planfile import plan, properties


def _record(decision: Decision, policy: Policy) -> PlannedAction:
    image, kept = decision.image, decision.action is Action.KEEP
    return PlannedAction(
        repository=image.repository,
        digest=image.digest,
        tags=image.tags,
        pushed_at=image.pushed_at,
        last_pulled_at=image.last_pulled_at,
        size_bytes=image.size_bytes,
        media_type=image.media_type,
        action=decision.action,
        reason=decision.reason,
        parent=decision.parent,
        policy=policy.name,
        evidence=decision.evidence if kept else None,
    )


def _general(decisions: list[Decision], policy: Policy, *, columns: bool) -> dict[str, bytes]:
    """The records of the images of `decisions` as the general writer encodes them, by the file's list."""
    protected = [
        ProtectedImage(
            repository=d.image.repository,
            digest=d.image.digest,
            tags=d.image.tags,
            sources=d.evidence.sources if isinstance(d.evidence, UsedBy | ListsInUse) else (),
        )
        for d in decisions
        if d.reason is Reason.IN_USE
    ]
    ordered = canonical(
        plan(
            actions=tuple(_record(d, policy) for d in decisions if d.action is not Action.KEEP),
            kept=tuple(_record(d, policy) for d in decisions if d.action is Action.KEEP),
            protected=tuple(protected),
        )
    )
    document: dict[str, Any] = columns_document(ordered) if columns else encode.document(ordered)
    lists = ("columns",) if columns else ("actions", "kept")
    blobs = {which: b"".join(writing.writer_record(r) + b"\n" for r in document[which]) for which in lists}
    return {which: blob for which, blob in blobs.items() if blob}


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Repository, list[Decision], Policy]:
    repository = draw(s.repositories())
    uses = in_use(draw(s.usages([repository])), account=s.ACCOUNT, region=s.REGION)
    policy = draw(s.policies())
    return repository, list(decide(repository, uses, policy, now=s.NOW)), policy


@properties
@given(_cases(), st.booleans(), st.randoms())
def test_a_part_holds_the_records_of_the_general_writer(
    case: tuple[Repository, list[Decision], Policy], columns: bool, shuffle: Any
) -> None:
    repository, decisions, policy = case
    part = repository_part(repository.name, policy, decisions, columns=columns, hold=True)
    shuffle.shuffle(decisions)  # the oracle's order is its own
    assert part.blobs == _general(decisions, policy, columns=columns)
    removed = [d for d in decisions if d.action is not Action.KEEP]
    assert part.counts == (len(removed), len(decisions) - len(removed))
    actions = canonical(plan(actions=tuple(_record(d, policy) for d in removed))).actions
    assert part.tags == [t for action in actions for t in action.tags]  # in canonical order, each sorted
    removing = policy.action is Action.DELETE and policy.delete_empty_repositories
    assert part.summary == RepositorySummary(
        repository=repository.name,
        policy=policy.name,
        scanned=len(decisions),
        kept=Counter(d.reason for d in decisions if d.action is Action.KEEP),
        deleted=sum(d.action is Action.DELETE for d in decisions),
        archived=sum(d.action is Action.ARCHIVE for d in decisions),
        bytes_reclaimed=sum(
            d.image.size_bytes
            for d in decisions
            if d.action is Action.DELETE and d.image.media_type not in INDEX_MEDIA_TYPES
        ),
        delete_repository=bool(removed) and len(removed) == len(decisions) and removing,
    )
    assert part.delete_repository is part.summary.delete_repository
    # A worker process may hand it over (our own bytes, just made).
    assert pickle.loads(pickle.dumps(part)) == part  # noqa: S301


@properties
@given(_cases())
def test_a_spool_reads_back_the_images_of_its_parts(case: tuple[Repository, list[Decision], Policy]) -> None:
    repository, decisions, policy = case
    for columns in (False, True):
        spool = Spool(columns=columns)
        part = repository_part(repository.name, policy, decisions, columns=columns, hold=False)
        assert part.tags == []
        spool.put(part)
        if not decisions:
            assert spool.counts == {}
            continue
        removed = tuple(_record(d, policy) for d in decisions if d.action is not Action.KEEP)
        assert tuple(spool.images(repository.name, "actions")) == canonical(plan(actions=removed)).actions
        again = repository_part(repository.name, policy, decisions, columns=columns, hold=True)
        assert spool.tags(repository.name, "actions") == again.tags
        for which in ("actions", "kept"):  # what a view's warnings read, without the records
            images = spool.images(repository.name, which)
            assert spool.tags(repository.name, which) == [t for image in images for t in image.tags]
        kept = sorted((_record(d, policy) for d in decisions if d.action is Action.KEEP), key=_digest)
        assert [k.digest for k in spool.images(repository.name, "kept")] == [k.digest for k in kept]


@properties
@given(_cases(), st.booleans())
def test_held_actions_read_as_the_spooled_ones_built_once(
    case: tuple[Repository, list[Decision], Policy], columns: bool
) -> None:
    """A plan that holds its actions keeps their tags from the parts and builds them from the spool once."""
    repository, decisions, policy = case
    spool = Spool(columns=columns)
    part = repository_part(repository.name, policy, decisions, columns=columns, hold=True)
    spool.put(part)
    held = Held(spool, {part.name: part.tags} if part.counts[0] else {})
    spooled = Spooled(spool, "actions")
    assert held == spooled
    assert list(held.tags_by_repository()) == list(spooled.tags_by_repository())
    assert held.repositories() == spooled.repositories()
    assert all(a is b for a, b in zip(held, list(held), strict=True))  # the same records, not built again
    assert not any(a is b for a, b in zip(spooled, list(spooled), strict=True))


def _digest(image: PlannedAction) -> str:
    return image.digest


@properties
@given(_cases().filter(lambda case: bool(case[1])))
def test_a_spool_takes_each_repository_once_in_its_own_layout(
    case: tuple[Repository, list[Decision], Policy],
) -> None:
    repository, decisions, policy = case
    spool = Spool(columns=False)
    spool.put(repository_part(repository.name, policy, decisions, columns=False, hold=False))
    with pytest.raises(ValueError, match="spooled twice"):
        spool.put(repository_part(repository.name, policy, decisions, columns=False, hold=False))
    with pytest.raises(ValueError, match="the other layout"):
        spool.put(repository_part(repository.name, policy, decisions, columns=True, hold=False))


_recipe = functools.partial(json.dumps, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _depth(digest: str, parents: dict[str, str | None]) -> int:
    parent = parents[digest]
    return 0 if parent is None or parent not in parents else 1 + _depth(parent, parents)


def _by_the_recipe(decisions: list[Decision], policy: Policy) -> dict[str, bytes]:
    """The records layout's lines as the package docstring describes them, written by json.dumps."""

    def record(d: Decision) -> dict[str, Any]:
        image = d.image
        return {
            "imageDigest": image.digest,
            "imageTags": sorted(image.tags),
            "lastPulledAt": format_timestamp(image.last_pulled_at) if image.last_pulled_at else None,
            "mediaType": image.media_type,
            "parent": d.parent,
            "policy": policy.name,
            "pushedAt": format_timestamp(image.pushed_at),
            "reason": d.reason.value,
            "repository": image.repository,
            "sizeBytes": image.size_bytes,
        }

    removed = [d for d in decisions if d.action is not Action.KEEP]
    parents = {d.image.digest: d.parent for d in removed}
    removed.sort(key=lambda d: (_depth(d.image.digest, parents), d.image.digest))
    kept = sorted((d for d in decisions if d.action is Action.KEEP), key=lambda d: d.image.digest)
    lines = {
        "actions": [{**record(d), "action": d.action.value} for d in removed],
        "kept": [
            {
                **record(d),
                "evidence": evidence.encode(d.evidence),
                "sources": sorted(d.evidence.sources) if isinstance(d.evidence, UsedBy | ListsInUse) else [],
            }
            for d in kept
        ],
    }
    return {
        which: "".join(_recipe(r) + "\n" for r in records).encode()
        for which, records in lines.items()
        if records
    }


@properties
@given(_cases(), st.randoms())
def test_a_part_holds_the_records_the_format_describes(
    case: tuple[Repository, list[Decision], Policy], shuffle: Any
) -> None:
    repository, decisions, policy = case
    shuffle.shuffle(decisions)  # any order
    part = repository_part(repository.name, policy, decisions, columns=False, hold=False)
    assert part.blobs == _by_the_recipe(decisions, policy)


@properties
@given(_cases().filter(lambda case: bool(case[1])))
def test_a_part_is_of_one_repository(case: tuple[Repository, list[Decision], Policy]) -> None:
    repository, decisions, policy = case
    with pytest.raises(ValueError, match="another repository's images"):
        repository_part(repository.name + "-other", policy, decisions, columns=False, hold=False)
