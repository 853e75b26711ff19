"""Reading a registry: repositories, every image (archived ones too) and the children of every index that
can be pulled (an archived index cannot: its children stay unknown).

Raw API pages are converted to `model.Image` as they arrive and dropped; only the model objects of one
repository are held while it is scanned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC
from operator import attrgetter
from sys import intern
from typing import TYPE_CHECKING, Any, NoReturn, cast

from botocore.exceptions import PaginationError
from msgspec.structs import replace

from ecrgc.aws.client import batches, registry_argument, translated
from ecrgc.aws.wire import (
    ImageDetail,
    ImageFailure,
    ImageManifest,
    RepositoryEntry,
    UnreadableReply,
    index_children,
)
from ecrgc.errors import SourceUnavailable
from ecrgc.model import INDEX_MEDIA_TYPES, Image, ImageStatus, Repository

if TYPE_CHECKING:
    from ecrgc.aws.transport import Transport

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
"""maxResults for DescribeRepositories and DescribeImages: the largest page ECR serves."""

ACCEPTED_MEDIA_TYPES = (
    *sorted(INDEX_MEDIA_TYPES),
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
"""BatchGetImage returns a manifest only in a type listed here; without the index types it refuses indexes."""

_STATUSES: dict[str, ImageStatus] = {status.value: status for status in ImageStatus}
"""A dict lookup, not `ImageStatus(value)`: this runs once per image, a million times in a large scan."""

_DIGEST = attrgetter("digest")

RepositoryListing = tuple[str, str, str]
"""(name, uri, registry id) of one repository."""


def list_repositories(
    ecr: Transport, selects: Callable[[str], bool], *, registry_id: str | None = None
) -> list[RepositoryListing]:
    """Every repository whose name `selects` accepts, sorted by name."""
    params: dict[str, Any] = {"maxResults": PAGE_SIZE, **registry_argument(registry_id)}
    found: list[RepositoryListing] = []
    try:
        with translated("ecr DescribeRepositories"):
            for page in _pages(ecr, "DescribeRepositories", params):
                repositories = cast(list[RepositoryEntry], page["repositories"])  # wire's records
                found.extend(
                    (repo.repository_name, repo.repository_uri, repo.registry_id)
                    for repo in repositories
                    if selects(repo.repository_name)
                )
    except UnreadableReply as exc:
        raise _unreadable_reply("DescribeRepositories", exc) from None
    return sorted(found)


def _pages(ecr: Transport, operation: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every page of a paged `operation`, following `nextToken` (set in `params`) and refusing a token
    sent twice, as botocore's paginator does: never loop on one page."""
    while True:
        page = ecr.call(operation, params)
        yield page
        if (token := page.get("nextToken")) is None:
            return
        if token == params.get("nextToken"):
            raise PaginationError(message=f"The same next token was received twice: {token}")
        params["nextToken"] = token


def scan_repository(
    ecr: Transport, name: str, *, uri: str = "", registry_id: str | None = None
) -> Repository:
    """One repository with every image (sorted by digest), each index's children read from its manifest.

    An archived (or restoring) index cannot be pulled, so its manifest is not asked for: it comes back with
    `children_known=False` and the decision core keeps whatever could be its child while it is kept.
    """
    found_in = registry_id or ""
    images: list[Image] = []
    for page in describe_images(ecr, name, registry_id=registry_id):
        found_in = found_in or next((detail.registry_id for detail in page if detail.registry_id), "")
        images += images_from_ecr(page)
    at = [n for n, image in enumerate(images) if image.is_index]  # where the indexes are
    indexes = [images[n].digest for n in at if _pullable(images[n])]
    children = read_children(ecr, name, indexes, registry_id=registry_id)
    for n in at:
        images[n] = _with_children(images[n], children)
    images.sort(key=_DIGEST)
    log.debug("scanned %s: %d images, %d indexes read", name, len(images), len(indexes))
    return Repository(name=name, uri=uri, registry_id=found_in, images=tuple(images))


def _pullable(image: Image) -> bool:
    return image.status is ImageStatus.ACTIVE


def _with_children(index: Image, children: dict[str, tuple[str, ...]]) -> Image:
    if _pullable(index):
        return replace(index, children=children[index.digest])
    return replace(index, children_known=False)


def describe_images(
    ecr: Transport, name: str, *, registry_id: str | None = None
) -> Iterator[list[ImageDetail]]:
    """Every image of one repository, archived ones included (ECR's default filter hides them), a page at
    a time."""
    params: dict[str, Any] = {
        "repositoryName": name,
        "filter": {"tagStatus": "ANY", "imageStatus": "ANY"},
        "maxResults": PAGE_SIZE,
        **registry_argument(registry_id),
    }
    try:
        with translated(f"ecr DescribeImages of {name}"):
            for page in _pages(ecr, "DescribeImages", params):
                yield cast(list[ImageDetail], page["imageDetails"])  # wire.describe_images_page's
    except UnreadableReply as exc:
        raise _unreadable_reply(f"DescribeImages of {name}", exc) from None


def images_from_ecr(details: Iterable[ImageDetail]) -> list[Image]:
    """The model of DescribeImages `imageDetails[]` entries, in their order (children are filled in later
    for indexes). A page at a time: one comprehension, not a call per image (a million in a large scan)."""
    return [
        Image(
            # The names and media types repeat across a repository; the decoder gives each image its own copy.
            repository=intern(detail.repository_name),
            digest=detail.image_digest,
            # ECR does not document the order of the tags.
            tags=tags if len(tags := detail.image_tags) < 2 else tuple(sorted(tags)),
            # Epoch seconds decode as UTC already; a text timestamp keeps the offset it was written with.
            pushed_at=pushed if (pushed := detail.image_pushed_at).tzinfo is UTC else pushed.astimezone(UTC),
            last_pulled_at=(
                pulled
                if (pulled := detail.last_recorded_pull_time) is None or pulled.tzinfo is UTC
                else pulled.astimezone(UTC)
            ),
            size_bytes=detail.image_size_in_bytes,
            media_type=intern(detail.image_manifest_media_type),
            artifact_type=None if (artifact := detail.artifact_media_type) is None else intern(artifact),
            subject=detail.subject_manifest_digest,
            status=_STATUSES.get(detail.image_status) or _unknown_status(detail),
        )
        for detail in details
    ]


def read_children(
    ecr: Transport, name: str, indexes: Sequence[str], *, registry_id: str | None = None
) -> dict[str, tuple[str, ...]]:
    """The children of each index, read from its manifest in BatchGetImage calls of at most 100.

    BatchGetImage is the pull API and bumps lastRecordedPullTime of what it returns. That is acceptable for
    indexes, whose children cannot be known otherwise; it is never called for other images, so a plain
    image's pull time stays the registry's own record of real pulls.
    """
    children: dict[str, tuple[str, ...]] = {}
    for batch in batches(indexes):
        try:
            with translated(f"ecr BatchGetImage in {name}"):
                reply = ecr.call(
                    "BatchGetImage",
                    {
                        "repositoryName": name,
                        "imageIds": [{"imageDigest": digest} for digest in batch],
                        "acceptedMediaTypes": ACCEPTED_MEDIA_TYPES,
                        **registry_argument(registry_id),
                    },
                )
        except UnreadableReply as exc:
            raise _unreadable_reply(f"BatchGetImage in {name}", exc) from None
        children.update(_children_of_batch(name, batch, reply))
    return children


def _children_of_batch(
    name: str, batch: Sequence[str], reply: Mapping[str, Any]
) -> dict[str, tuple[str, ...]]:
    """Fail closed: an index that came back as a failure, not at all, or unparseable stops the scan."""
    # wire.batch_get_image_page's records, not the TypedDicts botocore's parser would have made
    if failures := cast(list[ImageFailure], reply["failures"]):
        failed = failures[0].image_id
        digest = (failed and failed.image_digest) or f"{batch[0]} (or another of its batch)"
        raise _unreadable(name, digest, failures[0].failure_code or "unknown failure")
    images = cast(list[ImageManifest], reply["images"])
    manifests = {image.image_id.image_digest: image.image_manifest for image in images}
    children: dict[str, tuple[str, ...]] = {}
    for digest in batch:
        if digest not in manifests:
            raise _unreadable(name, digest, "missing from the reply")
        children[digest] = parse_children(manifests[digest], name=name, digest=digest)
    return children


def parse_children(manifest: str, *, name: str, digest: str) -> tuple[str, ...]:
    """The digests an index or manifest list names in `manifests[].digest`, in manifest order."""
    try:
        found = index_children(manifest)
    except UnreadableReply as exc:
        raise _unreadable(name, digest, f"unparseable manifest: {exc}") from None
    if not all(child.startswith("sha256:") for child in found):
        raise _unreadable(name, digest, "unparseable manifest: a child digest is not sha256")
    return found


def _unreadable_reply(call: str, exc: UnreadableReply) -> SourceUnavailable:
    return SourceUnavailable(
        f"ecr {call} sent a reply ecrgc cannot read ({exc}): nothing may be deleted while it "
        "cannot be read; run ecrgc again, and upgrade it if that persists"
    )


def _unreadable(name: str, digest: str, why: str) -> SourceUnavailable:
    fix = (
        "restore it to STANDARD storage or exclude the repository"  # archived images cannot be pulled
        if why == "ImageInaccessible"
        else "fix or delete that index by hand"
    )
    return SourceUnavailable(
        f"cannot read the manifest of index {name}@{digest} ({why}): its children are unknown, "
        f"so nothing may be deleted; {fix}, then run ecrgc again"
    )


def _unknown_status(detail: ImageDetail) -> NoReturn:
    raise SourceUnavailable(
        f"unknown imageStatus {detail.image_status!r} of {detail.repository_name}@{detail.image_digest}: "
        "upgrade ecrgc"
    )
