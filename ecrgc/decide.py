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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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

    def sources(self, image: Image) -> tuple[str, ...]:
        """Who uses `image`, by its digest or by a tag it carries now: sorted and distinct."""
        found = self.digests.get(image.digest, ())
        for tag in image.tags:
            if more := self.tags.get((image.repository, tag)):
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
    holds = _Holds.of(policy.hold_tags)
    held = {
        d: evidence
        for d, image in graph.images.items()
        if image.tags and (evidence := holds.held(image)) is not None
    }
    judged = _policy_rules(graph, policy, now)
    chosen = [d for d, (reason, _) in judged.items() if reason is not Reason.EXPIRED]
    kept = _reach([*used, *held, *chosen], graph.members)
    maybe = _maybe_children(graph, kept, policy)
    kept |= _reach(maybe, graph.members)
    rules = _Rules(graph=graph, policy=policy, used=used, held=held, judged=judged, kept=kept, maybe=maybe)
    return tuple(map(rules.decide, images))


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
        listed_by: dict[str, set[str]] = {}
        attached_to: dict[str, set[str]] = {}
        loose: list[str] = []  # untagged and no referrer: an orphan unless an index lists it
        for digest, image in by_digest.items():
            for child in image.children:
                _link(listed_by, child, digest, by_digest)
            if (referent := image.referent) is not None:
                _link(attached_to, digest, referent, by_digest)
            elif not image.tags:
                loose.append(digest)
        parents = _frozen(_union(listed_by, attached_to))
        members = _frozen(_inverse(parents))
        # Top-level: the roots (no parent), and the images no root reaches — a cycle (possible only through
        # cosign tags) has no root, so its images count as top-level. Only roots with members reach others.
        reached = _reach([digest for digest in members if digest not in parents], members)
        top = tuple(image for d, image in by_digest.items() if d not in parents or d not in reached)
        unknown = tuple(sorted(d for d, image in by_digest.items() if not image.children_known))
        orphans = frozenset(d for d in loose if d not in listed_by)
        return cls(by_digest, parents, members, _frozen(listed_by), top, unknown, orphans)


def _link(edges: dict[str, set[str]], image: str, parent: str | None, present: Mapping[str, Image]) -> None:
    if parent is not None and parent != image and parent in present and image in present:
        edges.setdefault(image, set()).add(parent)


def _union(a: Mapping[str, set[str]], b: Mapping[str, set[str]]) -> dict[str, set[str]]:
    return {key: a.get(key, set()) | b.get(key, set()) for key in a.keys() | b.keys()}


def _inverse(edges: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    inverse: dict[str, set[str]] = {}
    for source, targets in edges.items():
        for target in targets:
            inverse.setdefault(target, set()).add(source)
    return inverse


def _frozen(edges: Mapping[_K, set[str]]) -> dict[_K, tuple[str, ...]]:
    return {key: tuple(sorted(values)) for key, values in edges.items()}


def _reach(starts: Iterable[str], edges: _Edges) -> set[str]:
    """Every digest reachable from `starts` (included) along `edges`."""
    seen = set(starts)
    stack = list(seen)
    while stack:
        for target in edges.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def _in_use(graph: _Graph, in_use: InUse) -> dict[str, UsedBy | ListsInUse]:
    """digest -> evidence for images in use, and for every index that lists one (at any depth)."""
    digests = in_use.digests  # an image neither tagged nor used by digest has no use: not asked
    direct = {
        d: sources
        for d, image in graph.images.items()
        if (image.tags or d in digests) and (sources := in_use.sources(image))
    }
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

    def held(self, image: Image) -> HeldBy | None:
        """Why a hold pattern holds `image`: one tag matching it whole, else its tags together (see
        `Pattern.tags_holding`: every `&&` part of some `OR` part matches at least one tag)."""
        if not image.tags or not self.patterns:
            return None
        if self.whole is None or any(map(self.whole.search, image.tags)):
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
    if not image.is_index or not any(c in graph.images for c in image.children):
        return image.last_pulled_at
    return max(_child_pulls(image, graph, set()), default=None)


def _child_pulls(index: Image, graph: _Graph, seen: set[str]) -> Iterator[datetime]:
    for digest in index.children:
        child = graph.images.get(digest)
        if child is None or digest in seen:
            continue
        seen.add(digest)
        if child.is_index:
            yield from _child_pulls(child, graph, seen)
        elif child.last_pulled_at is not None:
            yield child.last_pulled_at


def _policy_rules(graph: _Graph, policy: Policy, now: datetime) -> dict[str, tuple[Reason, Newest | Ages]]:
    """digest -> (reason, evidence) of the policy's own rules for each top-level image: NEWEST_N,
    TOO_YOUNG, RECENTLY_PULLED, UNTAGGED_NOT_SELECTED, else EXPIRED."""
    top = graph.top
    # Untagged images the policy leaves alone do not take a newest-N place from a tagged one.
    candidates = [image for image in top if policy.untagged or image.tags]
    # A stable sort of digest-sorted images: equal push times rank by digest.
    newest = sorted(candidates, key=_PUSHED, reverse=True)[: max(policy.keep_latest, 0)]
    rules: dict[str, tuple[Reason, Newest | Ages]] = {
        image.digest: (Reason.NEWEST_N, Newest(rank, len(newest), policy.keep_latest))
        for rank, image in enumerate(newest, start=1)
    }
    for image in top:
        if image.digest not in rules:
            pulled_at = _pulled_at(image, graph) if image.children else image.last_pulled_at
            rules[image.digest] = _age_rule(image, pulled_at, policy, now)
    return rules


def _age_rule(image: Image, pulled_at: datetime | None, policy: Policy, now: datetime) -> tuple[Reason, Ages]:
    pushed_at = image.pushed_at
    age = now - pushed_at
    if pulled_at is None:
        idle, ages = age, Ages(age // _SECOND, None)
    else:
        since = now - pulled_at
        # A pull time before the push (the digest was pushed again) is older news than the push.
        idle = age if pulled_at < pushed_at else since
        ages = Ages(age // _SECOND, since // _SECOND)
    if policy.older_than is not None and age < policy.older_than:
        return Reason.TOO_YOUNG, ages
    if policy.not_pulled_for is not None and idle < policy.not_pulled_for:
        return Reason.RECENTLY_PULLED, ages
    if not (policy.untagged or image.tags):
        return Reason.UNTAGGED_NOT_SELECTED, ages
    return Reason.EXPIRED, ages


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rules:
    """The facts gathered for one repository, applied to one image at a time in precedence order."""

    graph: _Graph
    policy: Policy
    used: Mapping[str, UsedBy | ListsInUse]
    held: Mapping[str, HeldBy]
    judged: Mapping[str, tuple[Reason, Newest | Ages]]
    """Every top-level image: what the policy's own rules (NEWEST_N … EXPIRED) say of it."""
    kept: set[str]
    maybe: Mapping[str, str]
    """orphan -> the kept index with unknown children it may belong to."""

    def decide(self, image: Image) -> Decision:
        digest = image.digest
        if (used := self.used.get(digest)) is not None:
            return _keep(image, Reason.IN_USE, used)
        if (digest in self.graph.parents or digest in self.maybe) and (
            part_of := self._kept_parent(digest)
        ) is not None:
            return _keep(image, Reason.PART_OF_KEPT_IMAGE, part_of)
        if (held := self.held.get(digest)) is not None:
            return _keep(image, Reason.HELD_TAG, held)
        if (judged := self.judged.get(digest)) is not None:
            reason, evidence = judged
            if reason is Reason.EXPIRED:
                return self._remove(image, reason, evidence)
            return _keep(image, reason, evidence)
        return self._remove(image, Reason.WITH_PARENT, self._part_of(digest, self.graph.parents[digest][0]))

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
        return PartOf(parent, Relation.LISTED if listed else Relation.ATTACHED)

    def _remove(self, image: Image, reason: Reason, evidence: Evidence) -> Decision:
        match self.policy.action:
            case Action.ARCHIVE if image.status is not ImageStatus.ACTIVE:
                return _keep(image, Reason.ALREADY_ARCHIVED, evidence)
            case Action.DELETE | Action.ARCHIVE as action:
                return Decision(image=image, action=action, reason=reason, evidence=evidence)
            case Action.KEEP:
                raise ValueError(
                    f"policy {self.policy.name}: action keep removes nothing (use delete or archive)"
                )
            case unreachable:  # pragma: no cover  # mypy proves every Action is handled above
                assert_never(unreachable)


def _keep(image: Image, reason: Reason, evidence: Evidence) -> Decision:
    return Decision(image=image, action=Action.KEEP, reason=reason, evidence=evidence)


_SECOND = timedelta(seconds=1)
_PUSHED = attrgetter("pushed_at")
_DIGEST = attrgetter("digest")
