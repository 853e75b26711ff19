"""The decision core: one repository, the images in use and a policy -> one Decision per image.

PURE: stdlib and `ecrgc.model` only; no I/O, no logging, no clock (`now` is an argument). The output is
sorted, so the order in which the registry or the in-use sources list things never changes it.

The rules, in precedence order (the first that applies gives the reason):

    IN_USE                 a use names its digest (any repository) or one of its tags (this repository);
                           an index that lists an in-use manifest, at any depth, is in use too
    PART_OF_KEPT_IMAGE     listed by a kept index, or attached (OCI subject, cosign tag) to a kept image
    HELD_TAG               one of its tags matches a hold pattern, or its tags do together: every `&&`
                           part of one `OR` part matches at least one tag
    NEWEST_N               among the `keep_latest` most recently pushed top-level images
    TOO_YOUNG              pushed less than `older_than` ago
    RECENTLY_PULLED        pulled (never pulled: pushed) less than `not_pulled_for` ago
    UNTAGGED_NOT_SELECTED  untagged, and the policy leaves untagged images alone
    EXPIRED                any other top-level image: deleted or archived per the policy
    WITH_PARENT            a child or referrer of an expired image goes with it

A top-level image is one that no index of the repository lists and that is attached to no image of the
repository; the last four rules apply to top-level images only. ALREADY_ARCHIVED replaces an archive action
on an image that is archived (or being restored) already.

An archived index cannot be pulled, so its manifest cannot be read and its children are unknown
(`Image.children_known` is False). Any untagged image that is no referrer and that no known index lists could
be one of them: while such an index is kept (for any reason, ALREADY_ARCHIVED included), every such image is
PART_OF_KEPT_IMAGE with that index as its parent. Such images also count as top-level, since they may be no
child at all; when the index itself is removed, they stay judged by the rules above.

Each decision carries its evidence as data (`model.Evidence`: the sources, the pattern and tags, the rank,
the ages, the parent); the words are written in `render.evidence`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from heapq import nlargest
from operator import attrgetter
from typing import TypeVar, assert_never

from ecrgc.model import (
    THIS_REGISTRY,
    Action,
    Ages,
    Decision,
    Evidence,
    HeldBy,
    Image,
    ImageStatus,
    ListsInUse,
    MaybeChildOf,
    Newest,
    PartOf,
    Pattern,
    Policy,
    Reason,
    Relation,
    Repository,
    Usage,
    UsedBy,
)

DEFAULT_TAG = "latest"
"""The tag a reference without tag or digest means (`nginx` is `nginx:latest`)."""

_Edges = Mapping[str, Iterable[str]]
_K = TypeVar("_K")


@dataclass(frozen=True, slots=True, kw_only=True)
class InUse:
    """The uses that concern one ECR registry, keyed the way they protect images.

    `digests`: a digest in use protects that digest in every repository. `tags`: (repository, tag) in use
    protects the image the tag points to now. Values are the sorted, distinct sources.
    """

    account: str
    region: str
    digests: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    tags: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict, hash=False)
    ignored: int = 0
    """Uses of other registries (another account, region or host): counted, protecting nothing here."""
    by_repository: Mapping[str, Mapping[str, tuple[str, ...]]] = field(init=False, compare=False, repr=False)
    """`tags` as repository -> tag -> sources: a repository none of whose tags is in use is asked nothing."""

    def __post_init__(self) -> None:
        by_repository: dict[str, dict[str, tuple[str, ...]]] = {}
        for (repository, tag), sources in self.tags.items():
            by_repository.setdefault(repository, {})[tag] = sources
        object.__setattr__(self, "by_repository", by_repository)

    def sources(self, image: Image) -> tuple[str, ...]:
        """Who uses `image`, by its digest or by a tag it carries now: sorted and distinct."""
        found = self.digests.get(image.digest, ())
        if image.tags and (tags := self.by_repository.get(image.repository)):
            for tag in image.tags:
                if more := tags.get(tag):
                    found = tuple(sorted({*found, *more})) if found else more
        return found


def in_use(usage: Usage, *, account: str, region: str) -> InUse:
    """Keep the uses of this registry: every host spelling (`refs` sets account and region on the ref), and
    image-list lines written without a host (`THIS_REGISTRY`)."""
    digests: dict[str, set[str]] = {}
    tags: dict[tuple[str, str], set[str]] = {}
    ignored = 0
    for use in usage.uses:
        ref = use.ref
        if ref.host != THIS_REGISTRY and (ref.account, ref.region) != (account, region):
            ignored += 1
        elif ref.digest:  # the digest decides; a tag beside it is information only
            digests.setdefault(ref.digest, set()).add(use.source)
        else:
            tags.setdefault((ref.repository, ref.tag or DEFAULT_TAG), set()).add(use.source)
    return InUse(
        account=account, region=region, digests=_frozen(digests), tags=_frozen(tags), ignored=ignored
    )


def decide(repository: Repository, in_use: InUse, policy: Policy, *, now: datetime) -> tuple[Decision, ...]:
    """Decide every image of `repository` exactly once, sorted by digest (unique in a repository)."""
    # Sorted first (a stable sort, so the output is the same as sorting the decisions): every pass below
    # then walks the images in digest order, and the decisions come out sorted.
    images = sorted(repository.images, key=_DIGEST)
    graph = _Graph.of(images)
    used = _in_use(graph, in_use)
    held = _Holds.of(policy.hold_tags).of_images(graph.images)
    keeps, expired = _policy_rules(graph, policy, now)
    # `kept` is asked only of an image something is part of (it has members) and of an index whose
    # children are unknown: the other images the policy's rules keep need not be in it.
    chosen = [d for d in (*graph.members, *graph.unknown) if d in keeps]
    kept = _reach([*used, *held, *chosen], graph.members)
    maybe = _maybe_children(graph, kept, policy)
    kept |= _reach(maybe, graph.members)
    rules = _Rules(
        graph=graph,
        policy=policy,
        used=used,
        held=held,
        keeps=keeps,
        expired=expired,
        kept=kept,
        maybe=maybe,
        removal=_removal(policy.action),
    )
    return rules.decide(images)


@dataclass(frozen=True, slots=True)
class _Graph:
    """Who is part of whom inside one repository; edges to digests absent from it are dropped."""

    images: Mapping[str, Image]
    parents: Mapping[str, tuple[str, ...]]
    """image -> the indexes listing it and the image it is attached to (sorted)."""
    members: Mapping[str, tuple[str, ...]]
    """image -> its children and referrers (the inverse of `parents`)."""
    listed_by: Mapping[str, tuple[str, ...]]
    """image -> the indexes listing it (index edges only)."""
    top: tuple[Image, ...]
    """The top-level images, sorted by digest."""
    unknown: tuple[str, ...]
    """Indexes whose children are unknown (archived: their manifest cannot be read), sorted."""
    orphans: frozenset[str]
    """Images that could be children of an `unknown` index: untagged, no referrer, listed by no index."""

    @classmethod
    def of(cls, images: Iterable[Image]) -> _Graph:
        """The graph of `images`, given sorted by digest (the last of equal digests stands for them)."""
        by_digest = {image.digest: image for image in images}
        values = by_digest.values()
        # The images with children, unknown children or a referent (only a tagged image or one with a
        # subject can have one, see `Image.referent`): most have none, and are asked nothing more.
        edged = [
            image
            for image in values
            if image.children
            or not image.children_known
            or ((image.subject or image.tags) and image.referent is not None)
        ]
        listed_by: dict[str, set[str]] = {}
        linked: dict[str, set[str]] = {}  # both kinds of edge: the parents
        unknown: list[str] = []
        for image in edged:
            digest = image.digest
            for child in image.children:
                if child != digest and child in by_digest:
                    listed_by.setdefault(child, set()).add(digest)
                    linked.setdefault(child, set()).add(digest)
            if (referent := image.referent) is not None and referent != digest and referent in by_digest:
                linked.setdefault(digest, set()).add(referent)
            if not image.children_known:
                unknown.append(digest)
        parents = _frozen(linked)
        members = _frozen(_inverse(parents))
        # Top-level: the roots (no parent), and the images no root reaches — a cycle (possible only through
        # cosign tags) has no root, so its images count as top-level. Only roots with members reach others.
        reached = _reach([digest for digest in members if digest not in parents], members)
        below = reached.intersection(parents)  # the images a root reaches: not top-level
        top = tuple([image for image in values if image.digest not in below] if below else values)
        # Untagged, no referrer and listed by no index: asked only when some index's children are unknown.
        orphans = frozenset(
            [
                d
                for d, image in by_digest.items()
                if not (image.tags or d in listed_by) and image.referent is None
            ]
            if unknown
            else ()
        )
        return cls(by_digest, parents, members, _frozen(listed_by), top, tuple(sorted(unknown)), orphans)


def _inverse(edges: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    inverse: dict[str, set[str]] = {}
    for source, targets in edges.items():
        for target in targets:
            inverse.setdefault(target, set()).add(source)
    return inverse


def _frozen(edges: Mapping[_K, set[str]]) -> dict[_K, tuple[str, ...]]:
    # Most images have one parent, or one member: a tuple of one needs no sort.
    return {
        key: tuple(values) if len(values) == 1 else tuple(sorted(values)) for key, values in edges.items()
    }


def _reach(starts: Iterable[str], edges: _Edges) -> set[str]:
    """Every digest reachable from `starts` (included) along `edges`."""
    seen = set(starts)
    stack = list(seen.intersection(edges))  # the others reach nothing more: most images have no edges
    while stack:
        for target in edges.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _in_use(graph: _Graph, in_use: InUse) -> dict[str, UsedBy | ListsInUse]:
    """digest -> evidence for images in use, and for every index that lists one (at any depth)."""
    images, tags = graph.images, in_use.by_repository
    # Asked: the images used by digest, and those with a tag in use.
    asked = images.keys() & in_use.digests.keys()
    if tags:
        asked.update(
            [
                d
                for d, image in images.items()
                if image.tags
                and (in_repository := tags.get(image.repository)) is not None
                and not in_repository.keys().isdisjoint(image.tags)
            ]
        )
    direct = {d: sources for d in sorted(asked) if (sources := in_use.sources(images[d]))}
    used: dict[str, UsedBy | ListsInUse] = {d: UsedBy(sources) for d, sources in direct.items()}
    for digest in sorted(direct):  # sorted: the smallest in-use digest names the reason, whatever the order
        if digest in graph.listed_by:
            for index in sorted(_reach(graph.listed_by[digest], graph.listed_by)):
                used.setdefault(index, ListsInUse(digest, direct[digest]))
    return used


def _maybe_children(graph: _Graph, kept: set[str], policy: Policy) -> dict[str, str]:
    """orphan -> the kept index with unknown children it is kept for (the smallest digest but its own).

    Such an index is kept when `kept` has it or when it would be ALREADY_ARCHIVED. Keeping orphans can keep
    another such index, but the orphans it would keep are kept already, so one pass is enough.
    """
    archives = policy.action is Action.ARCHIVE
    keepers = [
        d
        for d in graph.unknown
        if d in kept or (archives and graph.images[d].status is not ImageStatus.ACTIVE)
    ]
    first, second = [*keepers, None, None][:2]  # an orphan's index is the first keeper but itself
    return {
        orphan: index
        for orphan in graph.orphans
        if (index := second if orphan == first else first) is not None
    }


@dataclass(frozen=True, slots=True)
class _Holds:
    """The policy's hold patterns, arranged to judge every image of a repository fast.

    `whole` is one regex that matches a tag exactly when some pattern matches it whole: the alternation of
    every pattern's regexes. It exists only when that is sound (no `&&`, no group whose number an
    alternation would shift, no inline flag) and lets an image none of whose tags it matches skip the
    pattern-by-pattern search; otherwise every tag is tried against every pattern.
    """

    patterns: tuple[Pattern, ...]
    whole: re.Pattern[str] | None
    together: tuple[Pattern, ...]
    """The patterns with an `&&` part: only they can hold tags together."""

    @classmethod
    def of(cls, patterns: tuple[Pattern, ...]) -> _Holds:
        together = tuple(p for p in patterns if any(len(conj) > 1 for conj in p.alternatives))
        regexes = [rx for p in patterns for conj in p.alternatives for rx in conj]
        plain = not together and all(rx.groups == 0 and rx.flags == re.UNICODE for rx in regexes)
        return cls(patterns, _alternation(regexes) if plain and regexes else None, together)

    def of_images(self, images: Mapping[str, Image]) -> dict[str, HeldBy]:
        """digest -> why a hold pattern holds it, for the images held (only tagged images can be)."""
        if not self.patterns:
            return {}
        if self.whole is None:
            tagged = [(d, image) for d, image in images.items() if image.tags]
        else:  # (then no pattern holds tags together) held: a tag matching `whole`
            search = self.whole.search
            tagged = [  # most images have one tag or none: one search then, without any(map(…))
                (d, image)
                for d, image in images.items()
                if (tags := image.tags) and (search(tags[0]) if len(tags) == 1 else any(map(search, tags)))
            ]
        return {d: evidence for d, image in tagged if (evidence := self._held(image)) is not None}

    def _held(self, image: Image) -> HeldBy | None:
        """Why a hold pattern holds the tagged `image`: one tag matching it whole, else its tags together
        (see `Pattern.tags_holding`: every `&&` part of some `OR` part matches at least one tag)."""
        for tag in sorted(image.tags):
            for pattern in self.patterns:
                if pattern.search(tag):
                    return HeldBy(pattern.source, (tag,), False)
        for pattern in self.together:
            if tags := pattern.tags_holding(image.tags):
                return HeldBy(pattern.source, tags, True)
        return None


def _alternation(regexes: list[re.Pattern[str]]) -> re.Pattern[str] | None:
    try:
        return re.compile("|".join(f"(?:{rx.pattern})" for rx in regexes))
    except re.error:  # a part that sets a flag already set, `(?u)`, is valid only at the start
        return None


def _pulled_at(image: Image, graph: _Graph) -> datetime | None:
    """The pull time the rules judge `image`, which has children, by.

    An index's own lastRecordedPullTime is no evidence of use: ecrgc reads every index manifest with
    BatchGetImage — ECR's pull API — each time it plans, whereas a real pull fetches a child manifest too.
    So an index whose children are present is judged by their latest pull (nested indexes included).
    """
    images = graph.images
    if not image.is_index or images.keys().isdisjoint(image.children):
        return image.last_pulled_at
    # The latest pull of the manifests it reaches through its children and theirs, each visited once.
    latest: datetime | None = None
    seen: set[str] = set()
    indexes = [image]
    while indexes:
        for digest in indexes.pop().children:
            if digest in seen or (child := images.get(digest)) is None:
                continue
            seen.add(digest)
            if child.is_index:
                indexes.append(child)
            elif (pulled := child.last_pulled_at) is not None and (latest is None or pulled > latest):
                latest = pulled
    return latest


def _policy_rules(
    graph: _Graph, policy: Policy, now: datetime
) -> tuple[dict[str, tuple[Reason, Newest | Ages]], dict[str, Ages]]:
    """What the policy's own rules say of each top-level image: digest -> (reason, evidence) for those
    they keep (NEWEST_N, TOO_YOUNG, RECENTLY_PULLED, UNTAGGED_NOT_SELECTED), digest -> ages for the
    others (EXPIRED; most images, so without a tuple each)."""
    top = graph.top
    # Untagged images the policy leaves alone do not take a newest-N place from a tagged one.
    candidates = top if policy.untagged else [image for image in top if image.tags]
    # sorted(…, reverse=True)[:n], a stable sort of digest-sorted images: equal push times rank by digest.
    newest = nlargest(max(policy.keep_latest, 0), candidates, key=_PUSHED)
    rules: dict[str, tuple[Reason, Newest | Ages]] = {
        image.digest: (Reason.NEWEST_N, Newest(rank, len(newest), policy.keep_latest))
        for rank, image in enumerate(newest, start=1)
    }
    expired: dict[str, Ages] = {}
    older_than, not_pulled_for, untagged = policy.older_than, policy.not_pulled_for, policy.untagged
    for image in top:  # the age rules, inline: this loop runs once per top-level image
        if (digest := image.digest) in rules:
            continue
        pushed_at = image.pushed_at
        pulled_at = _pulled_at(image, graph) if image.children else image.last_pulled_at
        # Whole seconds as `days * 86400 + seconds`: what `delta // timedelta(seconds=1)` gives (a timedelta
        # keeps 0 <= seconds < 86400 and 0 <= microseconds < 10**6), in a quarter of its time.
        age = now - pushed_at
        if pulled_at is None:
            idle, ages = age, Ages(age.days * 86400 + age.seconds, None)
        else:
            since = now - pulled_at
            # A pull time before the push (the digest was pushed again) is older news than the push.
            idle = age if pulled_at < pushed_at else since
            ages = Ages(age.days * 86400 + age.seconds, since.days * 86400 + since.seconds)
        if older_than is not None and age < older_than:
            rules[digest] = (_TOO_YOUNG, ages)
        elif not_pulled_for is not None and idle < not_pulled_for:
            rules[digest] = (_RECENTLY_PULLED, ages)
        elif not (untagged or image.tags):
            rules[digest] = (_UNTAGGED_NOT_SELECTED, ages)
        else:
            expired[digest] = ages
    return rules, expired


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rules:
    """The facts gathered for one repository, applied to one image at a time in precedence order."""

    graph: _Graph
    policy: Policy
    used: Mapping[str, UsedBy | ListsInUse]
    held: Mapping[str, HeldBy]
    keeps: Mapping[str, tuple[Reason, Newest | Ages]]
    """The top-level images the policy's own rules keep (NEWEST_N … UNTAGGED_NOT_SELECTED), and why."""
    expired: Mapping[str, Ages]
    """The other top-level images (EXPIRED), and their ages."""
    kept: set[str]
    """The kept images that others are part of, and the kept indexes with unknown children (with others)."""
    maybe: Mapping[str, str]
    """orphan -> the kept index with unknown children it may belong to."""
    removal: Action | None
    """`_removal(policy.action)`."""

    def decide(self, images: Iterable[Image]) -> tuple[Decision, ...]:
        """The decision of each image, in the order given."""
        keeps, expired, removal = self.keeps, self.expired, self.removal
        # Most images are none of these: top-level (the policy's rules judge them) and asked nothing first.
        first = {*self.used, *self.graph.parents, *self.maybe, *self.held}
        decisions: list[Decision] = []
        add = decisions.append
        for image in images:  # Decision(…) written out, not through a helper: this runs once per image
            if (digest := image.digest) in first and (decision := self._before_rules(image)) is not None:
                add(decision)
            elif (ages := expired.get(digest)) is None:
                reason, evidence = keeps[digest]
                add(Decision(image, _KEEP, reason, evidence))
            elif removal is _DELETE:  # what `_remove` gives, without its call for most images
                add(Decision(image, _DELETE, _EXPIRED, ages))
            else:
                add(self._remove(image, _EXPIRED, ages))
        return tuple(decisions)

    def _before_rules(self, image: Image) -> Decision | None:
        """The decision of the rules above the policy's own (IN_USE, PART_OF_KEPT_IMAGE, HELD_TAG), or
        WITH_PARENT for an image that is not top-level; None: the policy's rules judge it."""
        digest, parents = image.digest, self.graph.parents
        if (in_use := self.used.get(digest)) is not None:
            return Decision(image, _KEEP, _IN_USE, in_use)
        if (digest in parents or digest in self.maybe) and (part_of := self._kept_parent(digest)) is not None:
            return Decision(image, _KEEP, _PART_OF_KEPT_IMAGE, part_of)
        if (holds := self.held.get(digest)) is not None:
            return Decision(image, _KEEP, _HELD_TAG, holds)
        if digest not in self.expired and digest not in self.keeps:
            return self._remove(image, _WITH_PARENT, self._part_of(digest, parents[digest][0]))
        return None

    def _kept_parent(self, digest: str) -> PartOf | MaybeChildOf | None:
        """The kept image `digest` is part of, or the kept index it may be a child of (see `maybe`)."""
        for parent in self.graph.parents.get(digest, ()):
            if parent in self.kept:
                return self._part_of(digest, parent)
        if (index := self.maybe.get(digest)) is not None:
            return MaybeChildOf(index, self.graph.images[index].status)
        return None

    def _part_of(self, digest: str, parent: str) -> PartOf:
        listed = digest in self.graph.images[parent].children
        return PartOf(parent, _LISTED if listed else _ATTACHED)

    def _remove(self, image: Image, reason: Reason, evidence: Evidence) -> Decision:
        if (action := self.removal) is None:
            raise ValueError(
                f"policy {self.policy.name}: action keep removes nothing (use delete or archive)"
            )
        if action is _ARCHIVE and image.status is not _ACTIVE:
            return Decision(image, _KEEP, _ALREADY_ARCHIVED, evidence)
        return Decision(image, action, reason, evidence)


def _removal(action: Action) -> Action | None:
    """How a policy of `action` removes an image; None: it removes none (KEEP)."""
    match action:
        case Action.DELETE | Action.ARCHIVE:
            return action
        case Action.KEEP:
            return None
        case unreachable:  # pragma: no cover  # mypy proves every Action is handled above
            assert_never(unreachable)


# The members read once per image, as module globals: in Python 3.11 `Reason.EXPIRED` costs ~0.3 µs (an
# enum member's lookup on its class), a global ~0.03 µs.
_KEEP, _DELETE, _ARCHIVE, _ACTIVE = Action.KEEP, Action.DELETE, Action.ARCHIVE, ImageStatus.ACTIVE
_IN_USE, _PART_OF_KEPT_IMAGE, _HELD_TAG = Reason.IN_USE, Reason.PART_OF_KEPT_IMAGE, Reason.HELD_TAG
_TOO_YOUNG, _RECENTLY_PULLED = Reason.TOO_YOUNG, Reason.RECENTLY_PULLED
_UNTAGGED_NOT_SELECTED, _EXPIRED = Reason.UNTAGGED_NOT_SELECTED, Reason.EXPIRED
_WITH_PARENT, _ALREADY_ARCHIVED = Reason.WITH_PARENT, Reason.ALREADY_ARCHIVED
_LISTED, _ATTACHED = Relation.LISTED, Relation.ATTACHED
_PUSHED = attrgetter("pushed_at")
_DIGEST = attrgetter("digest")
