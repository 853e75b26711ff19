"""A plan's canonical order: every list of a Plan sorted as the file writes it (see the package docstring),
and the depths of an image's parent chain that the order of actions (and apply's levels) uses."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from msgspec import structs

from ecrgc.model import Plan, PlannedAction, ProtectedImage

_T = TypeVar("_T")


class InOrder(tuple[_T, ...]):
    """An image list that `canonical` put in order: a tuple cannot be reordered, so a canonical plan's
    lists are not sorted again (`run_plan` canonicalises the plan, then `write_plan_file` does)."""

    __slots__ = ()


class Canonical(Sequence[_T]):
    """An image list known to be in canonical order, which `canonical` leaves as it is (a spooled plan's:
    see spool.py)."""


def _ordered(images: Sequence[_T]) -> bool:
    return isinstance(images, InOrder | Canonical)


def canonical(plan: Plan) -> Plan:
    """`plan` with every list in canonical order and policy documents as plain JSON values."""
    actions, kept, protected = plan.actions, plan.kept, plan.protected
    return replace(
        plan,
        policies=tuple(
            replace(p, document=json.loads(json.dumps(_plain(p.document))))
            for p in sorted(plan.policies, key=lambda p: p.name)
        ),
        inputs=tuple(sorted(plan.inputs)),
        actions=actions
        if _ordered(actions)
        else InOrder(order_actions(with_sorted_tags(a) for a in actions)),
        kept=kept
        if _ordered(kept)
        else InOrder(sorted(map(with_sorted_tags, kept), key=lambda k: (k.repository, k.digest))),
        repository_deletions=tuple(sorted(plan.repository_deletions)),
        protected=protected
        if _ordered(protected)
        else InOrder(
            _with_sorted_lists(p) for p in sorted(protected, key=lambda p: (p.repository, p.digest))
        ),
        summary=tuple(sorted(plan.summary, key=lambda s: s.repository)),
        replication=None
        if plan.replication is None
        else tuple(
            sorted(
                structs.replace(
                    r, destinations=tuple(sorted(r.destinations)), prefixes=tuple(sorted(r.prefixes))
                )
                for r in plan.replication
            )
        ),
    )


def with_sorted_tags(action: PlannedAction) -> PlannedAction:
    # Copy only when needed: a canonical plan of 700,000 actions would otherwise be rebuilt on every write.
    if len(action.tags) < 2:
        return action
    tags = tuple(sorted(action.tags))
    return action if tags == action.tags else structs.replace(action, tags=tags)


def _with_sorted_lists(image: ProtectedImage) -> ProtectedImage:
    tags, sources = tuple(sorted(image.tags)), tuple(sorted(image.sources))
    if (tags, sources) == (image.tags, image.sources):
        return image
    return structs.replace(image, tags=tags, sources=sources)


def order_actions(actions: Iterable[PlannedAction]) -> tuple[PlannedAction, ...]:
    """Actions by repository, then depth (a parent before what goes with it), then digest."""
    by_repository: dict[str, list[PlannedAction]] = {}
    for action in actions:
        by_repository.setdefault(action.repository, []).append(action)
    ordered: list[PlannedAction] = []
    # One small sort per repository (sorted input costs a linear pass): a 700,000-action plan is
    # re-ordered on every write, so no key tuple carries the repository name.
    for name in sorted(by_repository):
        mine = by_repository[name]
        depth = depths(mine)
        if len(depth) != len(mine):
            raise ValueError("a plan lists the same image twice")
        mine.sort(key=lambda a: (depth[a.digest], a.digest))
        ordered.extend(mine)
    return tuple(ordered)


def depths(actions: Iterable[PlannedAction]) -> dict[str, int]:
    """digest -> length of its parent chain within `actions` (0: no planned parent), for one repository.

    The plan's order and apply's levels (a parent in an earlier call than what goes with it) both use it.
    """
    return chain_depths({a.digest: a.parent for a in actions})


def chain_depths(parents: Mapping[str, str | None]) -> dict[str, int]:
    """image -> length of its chain of `parents` (image -> its parent, or None) within them (0: none)."""
    found: dict[str, int] = {}
    for digest, parent in parents.items():
        if parent is None or parent not in parents:  # most images: no chain to walk
            found[digest] = 0
            continue
        chain: list[str] = []
        at: str | None = digest
        # Iterative and cycle-safe (`chain`): digests cannot form cycles, but a bad plan must not hang us.
        while at is not None and at in parents and at not in found and at not in chain:
            chain.append(at)
            at = parents[at]
        base = -1 if at is None else found.get(at, -1)
        for offset, item in enumerate(reversed(chain), start=1):
            found[item] = base + offset
    return found


def _plain(value: Any) -> Any:
    """Mappings and tuples as dicts and lists, so a policy document serialises and compares as JSON."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
