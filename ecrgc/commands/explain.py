"""`ecrgc explain PLAN REF` and `ecrgc show PLAN --images`: the decisions a plan file records, found and
ordered, each with the embedded policy that made it (whose windows and numbers the words quote).

A reference is `REPO:TAG`, `REPO@DIGEST` or a bare `DIGEST` (which may name an image in several
repositories), as `docker` spells them, with or without the registry's host; a digest may be shortened to
the 12 hex digits the plan's views show. The plan file is loaded (hash and schema checked) as for `show`.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import chain, groupby, pairwise
from pathlib import Path

from ecrgc.errors import UsageError
from ecrgc.model import (
    THIS_REGISTRY,
    Ages,
    Evidence,
    Plan,
    PlannedAction,
    Policy,
    Reason,
    RecordedDecision,
    UsedBy,
)
from ecrgc.planfile import load_plan_file
from ecrgc.policy import policy_from_document
from ecrgc.refs import parse_list_reference
from ecrgc.render.facts import ImagesByRepository, TagsByRepository

_DIGEST = re.compile(r"^sha256:[0-9a-f]{12,64}$")
_REPOSITORIES_NAMED = 5


def run_explain(path: Path, reference: str) -> tuple[Plan, tuple[RecordedDecision, ...]]:
    """The images of the plan at `path` that `reference` names (one or more), or a UsageError saying why
    none is (naming the plan's repositories when the repository is not one of them)."""
    plan = load_plan_file(path)
    repository, tag, digest = _reference(reference, plan, path)
    found = [
        image
        for image in _images(plan, repository)  # each image read once, none held but those found
        if (repository is None or image.repository == repository)
        and (tag is None or tag in image.tags)
        and (digest is None or image.digest.startswith(digest))
    ]
    if not found:
        raise UsageError(_not_found(plan, path, reference, repository))
    found.sort(key=_order)
    return plan, tuple(_decided(plan, path, found))


def _images(plan: Plan, repository: str | None) -> Iterator[PlannedAction]:
    """The plan's images, or only those of `repository` when given (read without building the others'
    where the plan can: a 1,000,000-image plan's columns)."""
    for images in (plan.actions, plan.kept):
        if repository is not None and isinstance(images, ImagesByRepository):
            yield from images.of_repository(repository)
        else:
            yield from images


def run_images(path: Path) -> tuple[Plan, Iterator[RecordedDecision]]:
    """Every image of the plan at `path`, sorted by repository, then push time (then digest), as they are
    read: one repository's images at a time when the plan lists them by repository (as ecrgc writes it)."""
    plan = load_plan_file(path)
    return plan, _decided(plan, path, _in_order(plan))


def _order(image: PlannedAction) -> tuple[str, datetime, str]:
    return image.repository, image.pushed_at, image.digest


def _in_order(plan: Plan) -> Iterator[PlannedAction]:
    lists = (plan.actions, plan.kept)
    if not all(_by_repository(images) for images in lists):  # a plan edited by hand: all at once
        yield from sorted(chain(*lists), key=_order)
        return
    merged = heapq.merge(*lists, key=lambda image: image.repository)
    for _, images in groupby(merged, key=lambda image: image.repository):
        yield from sorted(images, key=_order)


def _by_repository(images: Sequence[PlannedAction]) -> bool:
    """Whether `images` come repository by repository, by name (a columns plan's are read by repository)."""
    if isinstance(images, TagsByRepository):
        names = [name for name, _ in images.tags_by_repository()]
    else:
        names = [name for name, _ in groupby(image.repository for image in images)]
    return all(a < b for a, b in pairwise(names))


def _decided(plan: Plan, path: Path, images: Iterable[PlannedAction]) -> Iterator[RecordedDecision]:
    policies = _policies(plan, path)
    sources = {(p.repository, p.digest): p.sources for p in plan.protected}
    for image in images:
        used_by = sources.get((image.repository, image.digest), ())
        yield RecordedDecision(
            image=image,
            policy=policies.get(image.policy),
            sources=used_by,
            evidence=_evidence(image, used_by, plan.created_at),
        )


def _evidence(image: PlannedAction, sources: tuple[str, ...], planned_at: datetime) -> Evidence | None:
    """The record's evidence, else what the record itself says: an expired image's ages at the plan's time
    (its own pull: an index's children are other records), who uses an image in use (a hand-written plan)."""
    if image.evidence is not None:
        return image.evidence
    if image.reason is Reason.EXPIRED:
        pulled = image.last_pulled_at
        return Ages(
            _seconds(planned_at - image.pushed_at), None if pulled is None else _seconds(planned_at - pulled)
        )
    return UsedBy(sources) if sources and image.reason is Reason.IN_USE else None


def _seconds(delta: timedelta) -> int:
    return delta // timedelta(seconds=1)


def _policies(plan: Plan, path: Path) -> Mapping[str, Policy]:
    return {
        # Its image lists are never read here: where they would resolve does not matter.
        record.name: policy_from_document(
            record.document, f"{path}::$.policies[{record.name}]", directory=path.parent
        )
        for record in plan.policies
    }


def _reference(text: str, plan: Plan, path: Path) -> tuple[str | None, str | None, str | None]:
    """(repository, tag, digest prefix) that `text` names; None: any."""
    if _DIGEST.match(text):
        return None, None, text
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise UsageError(f"{text}: {digest!r} is no sha256 digest (sha256: and at least 12 hex digits)")
    try:
        ref = parse_list_reference(name)
    except ValueError as error:
        raise UsageError(f"{text}: {error}; give REPO:TAG, REPO@DIGEST or DIGEST") from None
    if ref.account is not None and (ref.account, ref.region) != (plan.account, plan.region):
        raise UsageError(
            f"{text}: names the registry of account {ref.account} in {ref.region}; {path} plans account"
            f" {plan.account} in {plan.region}"
        )
    if not (ref.tag or digest):
        raise UsageError(
            f"{text}: name a tag or a digest (REPO:TAG, REPO@DIGEST); every image of a repository:"
            f" ecrgc show {path} --images"
        )
    # Any other host is read as the first part of the repository's name (an ECR name may hold a dot).
    own = ref.host == THIS_REGISTRY or ref.account is not None
    return ref.repository if own else f"{ref.host}/{ref.repository}", ref.tag, digest or None


def _not_found(plan: Plan, path: Path, reference: str, repository: str | None) -> str:
    repositories = sorted({image.repository for image in chain(plan.actions, plan.kept)})
    if repository is not None and repository not in repositories:
        named = ", ".join(repositories[:_REPOSITORIES_NAMED]) or "none"
        more = len(repositories) - _REPOSITORIES_NAMED
        named += f" and {more} more" if more > 0 else ""
        return f"{path}: no repository {repository!r} in the plan (its repositories: {named})"
    return f"{path}: no image {reference} in the plan"
