"""What every view of a plan says, computed once: per-repository rows, totals, the verdict, the warnings.

Deletion counts and bytes come from the plan's actions (what apply will execute); scanned and kept counts
come from its summary (the only place that has them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from typing import Protocol, assert_never, runtime_checkable

import msgspec
from msgspec.structs import replace

from ecrgc.model import Action, InputFingerprint, Plan, PlannedAction, PolicyMatch, PolicyRecord, Reason
from ecrgc.planfile import monthly_saving_usd
from ecrgc.render.markup import money, plural, size

# Tags a human would miss: semver-ish versions, v1…, anything saying release, and the usual channel names.
RELEASE_TAG = re.compile(
    r"^v?[0-9]+\.[0-9]+(\.[0-9]+)?([-+.][0-9A-Za-z.-]+)?$|^v[0-9]|release|^(latest|stable|prod|production)$",
    re.IGNORECASE,
)
# Every tag RELEASE_TAG finds starts with one of these (its anchored alternatives) or, when it is ASCII,
# contains "release" in some case (IGNORECASE folds no ASCII letter to another ASCII letter; non-ASCII
# tags, where U+017F matches 's', are all searched).
_RELEASE_FIRST = frozenset("vV0123456789lLsSpP")
MAX_TAGS_PER_WARNING = 10


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """One repository as the views show it."""

    repository: str
    policy: str = ""
    scanned: int = 0
    kept: Mapping[Reason, int] = msgspec.field(default_factory=dict)
    deleted: int = 0
    archived: int = 0
    freed: int = 0
    delete_repository: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.deleted or self.archived or self.delete_repository)

    @property
    def kept_total(self) -> int:
        return sum(self.kept.values())


class Totals(msgspec.Struct, frozen=True, kw_only=True):
    """Sums over all repositories."""

    scanned: int
    deleted: int
    archived: int
    freed: int
    in_use: int
    kept_by_policy: int
    changed_repositories: int
    repository_deletions: int

    @property
    def changes(self) -> bool:
        return bool(self.deleted or self.archived or self.repository_deletions)


class AlertKind(Enum):
    LOSES_MOST = "loses most"
    RELEASE_TAGS = "release tags"
    DELETES_REPOSITORY = "deletes repository"
    PROTECTS_NOTHING = "input protects nothing"
    OTHER_ECR = "input names another account or region"


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """Something a reviewer must not miss in one repository, or in one input (`source`)."""

    kind: AlertKind
    repository: str = ""
    removed: int = 0
    scanned: int = 0
    tags: tuple[str, ...] = ()
    source: InputFingerprint | None = None


def rows(plan: Plan) -> list[Row]:
    """Every repository of the summary (and any that only the actions name), by name."""
    found = {
        s.repository: Row(
            repository=s.repository,
            policy=s.policy,
            scanned=s.scanned,
            kept=s.kept,
            deleted=s.deleted,
            archived=s.archived,
            freed=s.bytes_reclaimed,
            delete_repository=s.delete_repository,
        )
        for s in plan.summary
    }
    # A plan read from a file has a summary entry for every repository it touches (planfile checks it);
    # one still being assembled may not, and must not look smaller than it is.
    if unsummarized := _repositories(plan.actions) - found.keys():
        for action in plan.actions:
            if action.repository in unsummarized:
                row = found.get(action.repository) or Row(repository=action.repository, policy=action.policy)
                found[action.repository] = _count(row, action)
    for name in plan.repository_deletions:
        found[name] = replace(found.get(name) or Row(repository=name), delete_repository=True)
    return [found[name] for name in sorted(found)]


@runtime_checkable
class TagsByRepository(Protocol):
    """Images that can list their repositories and tags without building a record per image (a loaded
    `.json.gz` plan's `planfile.columns.Rows`, a plan being made's `planfile.spool.Spooled`): what the
    views read of 1,000,000 actions."""

    def tags_by_repository(self) -> Iterable[tuple[str, Sequence[str]]]:
        """Each repository of the images, with every tag they carry."""
        ...

    def repositories(self) -> set[str]:
        """The repositories of the images."""
        ...


@runtime_checkable
class ImagesByRepository(Protocol):
    """Images that can read one repository's without building the others' (a loaded `.json.gz` plan's
    `planfile.columns.Rows`, a plan being made's `planfile.spool.Spooled`)."""

    def of_repository(self, name: str) -> Iterable[PlannedAction]:
        """The images of repository `name` (none if it has none)."""
        ...


def _repositories(images: Sequence[PlannedAction]) -> set[str]:
    if isinstance(images, TagsByRepository):
        return images.repositories()
    return {image.repository for image in images}


def tags_by_repository(images: Sequence[PlannedAction]) -> dict[str, list[str]]:
    """Every tag of `images`, by repository."""
    pairs = (
        images.tags_by_repository()
        if isinstance(images, TagsByRepository)
        else ((image.repository, image.tags) for image in images)
    )
    found: dict[str, list[str]] = {}
    for repository, tags in pairs:
        found.setdefault(repository, []).extend(tags)
    return found


def _count(row: Row, action: PlannedAction) -> Row:
    if action.action is Action.ARCHIVE:
        return replace(row, archived=row.archived + 1)
    return replace(row, deleted=row.deleted + 1, freed=row.freed + action.size_bytes)


def totals(table: list[Row]) -> Totals:
    """Sums over `table` (see `rows`)."""
    return Totals(
        scanned=sum(r.scanned for r in table),
        deleted=sum(r.deleted for r in table),
        archived=sum(r.archived for r in table),
        freed=sum(r.freed for r in table),
        in_use=sum(r.kept.get(Reason.IN_USE, 0) for r in table),
        kept_by_policy=sum(r.kept_total - r.kept.get(Reason.IN_USE, 0) for r in table),
        changed_repositories=sum(r.changed for r in table),
        repository_deletions=sum(r.delete_repository for r in table),
    )


def verdict(total: Totals) -> str:
    """The one line a reviewer reads first; it never names an untrusted string."""
    kept = f"{total.in_use:,} in use · {total.kept_by_policy:,} kept by policy"
    if not total.changes:
        return f"ecrgc: no changes: nothing to delete · {kept}"
    removing = " and ".join(_removals(total.deleted, total.archived, noun="image")) or "no images to delete"
    line = (
        f"ecrgc: {removing} ({size(total.freed)}, ≈ {saving(total.freed)}/month) "
        f"in {plural(total.changed_repositories, 'repository', 'repositories')} · {kept}"
    )
    if total.repository_deletions:
        line += f" · {plural(total.repository_deletions, 'empty repository', 'empty repositories')} to delete"
    return line


def _removals(deleted: int, archived: int, *, noun: str = "") -> list[str]:
    """`["3 images to delete", "2 images to archive"]`, leaving out the zeros."""
    counts = (deleted, "to delete"), (archived, "to archive")
    return [f"{plural(n, noun) if noun else f'{n:,}'} {what}" for n, what in counts if n]


def removals(deleted: int, archived: int) -> str:
    """`5 to delete, 2 to archive`, leaving out the zeros."""
    return ", ".join(_removals(deleted, archived))


def saving(freed: int) -> str:
    """The estimated monthly saving of freeing `freed` bytes, never `$0.00` when something is freed."""
    amount = monthly_saving_usd(freed)
    return "< $0.01" if freed and not amount else money(amount)


def release_tags(tags: Sequence[str]) -> list[str]:
    """The tags of `tags` RELEASE_TAG finds, in order, searching only those that may match (a plan's tags
    are mostly ASCII, without "release", not starting with one of _RELEASE_FIRST: ~3x faster)."""
    joined = "\n".join(tags)
    if joined.isascii() and "release" not in joined.lower():
        return [t for t in tags if t[:1] in _RELEASE_FIRST and RELEASE_TAG.search(t)]
    return [t for t in tags if RELEASE_TAG.search(t)]


def alerts(plan: Plan, table: list[Row]) -> list[Alert]:
    """Repositories losing more than half their images, release-looking tags deleted, repositories deleted."""
    found_tags = {
        repository: release_tags(tags) for repository, tags in tags_by_repository(plan.actions).items()
    }
    found: list[Alert] = []
    for row in table:
        removed = row.deleted + row.archived
        if row.scanned and removed * 2 > row.scanned:
            found.append(
                Alert(
                    kind=AlertKind.LOSES_MOST, repository=row.repository, removed=removed, scanned=row.scanned
                )
            )
        if tags := sorted(found_tags.get(row.repository, ())):
            found.append(Alert(kind=AlertKind.RELEASE_TAGS, repository=row.repository, tags=tuple(tags)))
        if row.delete_repository:
            found.append(Alert(kind=AlertKind.DELETES_REPOSITORY, repository=row.repository))
    return found + _input_alerts(plan)


def _input_alerts(plan: Plan) -> list[Alert]:
    """Inputs that read references but protect no image here, and inputs whose ECR references mostly name
    another account or region (a typo in spec.region drops every in-use image of a list)."""
    found = []
    for source in plan.inputs:
        if source.references and not source.protected:
            found.append(Alert(kind=AlertKind.PROTECTS_NOTHING, source=source))
        if source.other_accounts * 2 > source.other_accounts + source.this_registry:
            found.append(Alert(kind=AlertKind.OTHER_ECR, source=source))
    return found


def alert_text(
    warning: Alert, name: Callable[[str], str], *, max_tags: int | None = MAX_TAGS_PER_WARNING
) -> str:
    """`warning` as one sentence; `name` formats repository names and tags for the view; `max_tags`: how
    many release tags to name before `and N more` (None: every one)."""
    match warning.kind:
        case AlertKind.LOSES_MOST:
            return f"{name(warning.repository)} loses {warning.removed:,} of its {warning.scanned:,} images"
        case AlertKind.RELEASE_TAGS:
            shown = ", ".join(name(t) for t in warning.tags[:max_tags])
            more = len(warning.tags) - (len(warning.tags) if max_tags is None else max_tags)
            return f"{name(warning.repository)} loses release-looking tags: {shown}" + (
                f" and {more:,} more" if more > 0 else ""
            )
        case AlertKind.DELETES_REPOSITORY:
            return f"{name(warning.repository)} is emptied and the repository itself deleted"
        case AlertKind.PROTECTS_NOTHING if (source := warning.source) is not None:
            return (
                f"{source.kind} {name(source.name)} protects no image of this registry"
                f" ({source.references:,} references read, {source.this_registry:,} naming it)"
            )
        case AlertKind.OTHER_ECR if (source := warning.source) is not None:
            ecr = source.other_accounts + source.this_registry
            return (
                f"{source.kind} {name(source.name)}: {source.other_accounts:,} of its {ecr:,} ECR references"
                " name another account or region: check the policy's spec.region and the input"
            )
        case AlertKind.PROTECTS_NOTHING | AlertKind.OTHER_ECR:
            raise ValueError(f"an alert about an input names no input: {warning}")
        case _:
            assert_never(warning.kind)


def policy_line(record: PolicyRecord, matches: Mapping[str, PolicyMatch] | None) -> str:
    """`sha256 5ce56ac9ff40, the repository's policy` (whether it matches only when the caller compared)."""
    found = matches.get(record.name) if matches is not None else None
    match found:
        case None:
            return f"sha256 {record.sha256[:12]}"
        case PolicyMatch.MATCHES:
            return f"sha256 {record.sha256[:12]}, the same as the repository's"
        case PolicyMatch.DIFFERS:
            return f"sha256 {record.sha256[:12]}, NOT the repository's policy of that name"
        case PolicyMatch.MISSING:
            return f"sha256 {record.sha256[:12]}, NOT in the repository's policies"
        case _:
            assert_never(found)


def alert_code(kind: AlertKind) -> str:
    """The stable machine name of a warning kind (the JSON summary's `warnings[].code`)."""
    match kind:
        case AlertKind.LOSES_MOST:
            return "loses_most_images"
        case AlertKind.RELEASE_TAGS:
            return "release_tags_deleted"
        case AlertKind.DELETES_REPOSITORY:
            return "repository_deleted"
        case AlertKind.PROTECTS_NOTHING:
            return "input_protects_nothing"
        case AlertKind.OTHER_ECR:
            return "input_names_other_ecr"
        case _:
            assert_never(kind)


def input_figures(source: InputFingerprint, name: Callable[[str], str]) -> str:
    """`image_list IMG_LIST/PRE_IMG_LIST.txt: 20 references (10 this registry, 2 another account or
    region, 8 other registries), protects 7 images`."""
    return (
        f"{source.kind} {name(source.name)}: {plural(source.references, 'reference')}"
        f" ({source.this_registry:,} this registry, {source.other_accounts:,} another account or region,"
        f" {source.other_registries:,} other registries), protects {plural(source.protected, 'image')}"
    )


def reason_label(reason: Reason) -> str:
    """Short human words for a reason."""
    match reason:
        case Reason.IN_USE:
            label = "in use"
        case Reason.PART_OF_KEPT_IMAGE:
            label = "part of a kept image"
        case Reason.HELD_TAG:
            label = "held tag"
        case Reason.NEWEST_N:
            label = "newest"
        case Reason.TOO_YOUNG:
            label = "too young"
        case Reason.RECENTLY_PULLED:
            label = "recently pulled"
        case Reason.UNTAGGED_NOT_SELECTED:
            label = "untagged, not selected"
        case Reason.ALREADY_ARCHIVED:
            label = "already archived"
        case Reason.EXPIRED:
            label = "expired"
        case Reason.WITH_PARENT:
            label = "goes with its parent"
        case _:
            assert_never(reason)
    return label


def kept_breakdown(kept: Mapping[Reason, int]) -> str:
    """`3 in use, 10 newest`: the non-zero kept counts in precedence order."""
    return ", ".join(kept_phrases(kept))


def kept_phrases(kept: Mapping[Reason, int]) -> tuple[str, ...]:
    """`("3 in use", "10 newest")`: the non-zero kept counts in precedence order, one phrase each."""
    return tuple(f"{kept[r]:,} {reason_label(r)}" for r in Reason if kept.get(r))
