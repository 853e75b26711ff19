"""One repository's state: images by digest, tags, index → child and subject → referrer edges.

Everything here is plain data plus the bookkeeping that keeps the edges and the page order consistent;
the rules of the API (what may be deleted, what a call answers) live in `registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ecrgc.sandbox.ordering import CursorIndex

ACTIVE, ARCHIVED, ACTIVATING = "ACTIVE", "ARCHIVED", "ACTIVATING"


class StoredImage:
    """One manifest in one repository. Times are epoch seconds; `tags` keeps the order they were given."""

    __slots__ = (
        "activated_at",
        "activating_until",
        "archived_at",
        "artifact_type",
        "children",
        "digest",
        "last_pulled_at",
        "manifest",
        "media_type",
        "pushed_at",
        "size",
        "status",
        "subject",
        "tags",
    )

    def __init__(
        self,
        digest: str,
        manifest: str,
        media_type: str,
        pushed_at: float,
        size: int,
        *,
        children: tuple[str, ...] = (),
        subject: str | None = None,
        artifact_type: str | None = None,
    ) -> None:
        self.digest = digest
        self.manifest = manifest
        self.media_type = media_type
        self.pushed_at = pushed_at
        self.size = size
        self.children = children
        self.subject = subject
        self.artifact_type = artifact_type
        self.tags: list[str] = []
        self.last_pulled_at: float | None = None
        self.status = ACTIVE
        self.archived_at: float | None = None
        self.activated_at: float | None = None
        self.activating_until = 0.0

    def status_at(self, now: float) -> str:
        """The status at `now`: an activation that has run its course turns the image ACTIVE."""
        if self.status == ACTIVATING and now >= self.activating_until:
            self.status = ACTIVE
            self.activated_at = self.activating_until
        return self.status


@dataclass(eq=False)
class RepositoryState:
    """A repository: its images, tags and edges, and the cursor order its pages follow."""

    name: str
    created_at: float
    mutability: str = "MUTABLE"
    images: dict[str, StoredImage] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    order: CursorIndex[str] = field(default_factory=CursorIndex)
    parents: dict[str, set[str]] = field(default_factory=dict)
    """child digest → the digests of the indexes in this repository that list it."""
    referrers: dict[str, set[str]] = field(default_factory=dict)
    """subject digest → the digests of the referrers in this repository that name it."""

    def add(self, image: StoredImage) -> None:
        """Store a new image and its edges (its tags are attached with `tag`)."""
        self.images[image.digest] = image
        self.order.add(image.digest)
        for child in image.children:
            self.parents.setdefault(child, set()).add(image.digest)
        if image.subject:
            self.referrers.setdefault(image.subject, set()).add(image.digest)

    def tag(self, image: StoredImage, tag: str) -> None:
        """Point `tag` at `image`, taking it from whichever image held it (which may become untagged)."""
        previous = self.tags.get(tag)
        if previous == image.digest:
            return
        if previous is not None:
            self.images[previous].tags.remove(tag)
        self.tags[tag] = image.digest
        image.tags.append(tag)

    def untag(self, image: StoredImage, tag: str) -> None:
        """Remove one tag from `image`."""
        image.tags.remove(tag)
        del self.tags[tag]

    def remove(self, image: StoredImage) -> None:
        """Forget `image`, its tags and the edges it is the source of."""
        for tag in image.tags:
            del self.tags[tag]
        image.tags = []
        del self.images[image.digest]
        self.order.discard(image.digest)
        for child in image.children:
            _unlink(self.parents, child, image.digest)
        if image.subject:
            _unlink(self.referrers, image.subject, image.digest)

    def indexes_of(self, digest: str) -> set[str]:
        """The indexes in this repository that list `digest`."""
        return self.parents.get(digest, set())

    def referrers_of(self, digest: str) -> set[str]:
        """The referrers in this repository whose subject is `digest`."""
        return self.referrers.get(digest, set())


def _unlink(edges: dict[str, set[str]], target: str, source: str) -> None:
    sources = edges.get(target)
    if sources is not None:
        sources.discard(source)
        if not sources:
            del edges[target]
