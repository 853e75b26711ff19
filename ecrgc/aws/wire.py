"""The scan's replies (DescribeRepositories, DescribeImages, BatchGetImage and the index manifests it
returns) as ECR's JSON carries them, decoded by msgspec straight into typed records.

A DescribeImages page of 1,000 images is ~400 kB. `json.loads` builds a dict per image holding every member
(scan status, findings, archive times …) and botocore's shape parser then walks each of them: a fifth of
the CPU of a 100,000-image plan (issue 14). msgspec reads only the members named here into slotted records,
skipping the rest unread, and turns epoch seconds into UTC datetimes in C: in half the time
`json.loads` alone takes (measured in the README's performance section).

What ECR may leave out has a default; what it must send (`repositoryName`, `imageDigest`, `imagePushedAt`;
a returned image's `imageId`) has none, so a reply without it, with a member of another type, or that is not
JSON at all, stops the scan (`UnreadableReply`): fail closed, never a half-read repository.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec

UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
"""ECR sends epoch seconds (msgspec makes them UTC datetimes, rounding to the microsecond as
`datetime.fromtimestamp` does but for exact half-microsecond ties, which a millisecond timestamp cannot
be); RFC 3339 text is accepted when it names its offset, and refused without one (local time is a guess)."""


class UnreadableReply(ValueError):
    """A successful reply that is not JSON, or not of the documented shape (the message says where, e.g.
    "Expected `str`, got `int` - at `$.imageDetails[3].imageDigest`")."""


class ImageDetail(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """One DescribeImages `imageDetails[]` entry: the members ecrgc reads (the rest are skipped)."""

    repository_name: str
    image_digest: str
    image_pushed_at: UtcTime
    registry_id: str = ""
    image_tags: tuple[str, ...] = ()
    """Omitted when untagged; the order is undocumented."""
    last_recorded_pull_time: UtcTime | None = None
    image_size_in_bytes: int = 0
    image_manifest_media_type: str = ""
    artifact_media_type: str | None = None
    subject_manifest_digest: str | None = None
    image_status: str = "ACTIVE"
    """Text, not `ImageStatus`: an unknown status gets its own error (`inventory.images_from_ecr`)."""


class DescribeImagesPage(msgspec.Struct, rename="camel", gc=False):
    image_details: list[ImageDetail]
    next_token: str | None = None


_PAGE = msgspec.json.Decoder(DescribeImagesPage, strict=False)  # strict=False: epoch numbers as datetimes


def describe_images_page(body: bytes) -> dict[str, Any]:
    """A DescribeImages reply as the members botocore's paginator reads: `imageDetails` (as
    `ImageDetail` records) and `nextToken` when there is a next page.

    Raises `UnreadableReply` for a body that is not JSON, or not a DescribeImages reply.
    """
    page = _decoded(_PAGE, body)
    if page.next_token is None:
        return {"imageDetails": page.image_details}
    return {"imageDetails": page.image_details, "nextToken": page.next_token}


class ImageId(msgspec.Struct, rename="camel", frozen=True, gc=False):
    image_digest: str | None = None
    """Optional in ECR's model (an id asked for by tag alone has none)."""


class ImageManifest(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """One BatchGetImage `images[]` entry: the members ecrgc reads."""

    image_id: ImageId
    image_manifest: str = ""


class ImageFailure(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """One BatchGetImage `failures[]` entry."""

    image_id: ImageId | None = None
    failure_code: str | None = None


class BatchGetImagePage(msgspec.Struct, gc=False):
    images: list[ImageManifest] = []
    failures: list[ImageFailure] = []


_BATCH = msgspec.json.Decoder(BatchGetImagePage)


def batch_get_image_page(body: bytes) -> dict[str, Any]:
    """A BatchGetImage reply as `images` (`ImageManifest` records) and `failures` (`ImageFailure`), both
    always present. Raises `UnreadableReply` for a body that is not JSON, or not a BatchGetImage reply."""
    page = _decoded(_BATCH, body)
    return {"images": page.images, "failures": page.failures}


class RepositoryEntry(msgspec.Struct, rename="camel", frozen=True, gc=False):
    """One DescribeRepositories `repositories[]` entry: the members ecrgc reads, all required (a repository
    without its name, URI or registry cannot be planned for)."""

    repository_name: str
    repository_uri: str
    registry_id: str


class DescribeRepositoriesPage(msgspec.Struct, rename="camel", gc=False):
    repositories: list[RepositoryEntry]
    next_token: str | None = None


_REPOSITORIES = msgspec.json.Decoder(DescribeRepositoriesPage)


def describe_repositories_page(body: bytes) -> dict[str, Any]:
    """A DescribeRepositories reply as `repositories` (`RepositoryEntry` records) and `nextToken` when
    there is a next page. Raises `UnreadableReply` for a body that is not JSON, or not such a reply."""
    page = _decoded(_REPOSITORIES, body)
    if page.next_token is None:
        return {"repositories": page.repositories}
    return {"repositories": page.repositories, "nextToken": page.next_token}


class _Descriptor(msgspec.Struct, frozen=True, gc=False):
    digest: str


class _Index(msgspec.Struct, frozen=True, gc=False):
    manifests: list[_Descriptor]


_INDEX = msgspec.json.Decoder(_Index)


def index_children(manifest: str) -> tuple[str, ...]:
    """The `manifests[].digest` an image index or manifest list names, in manifest order. Raises
    `UnreadableReply` for text that is not JSON, or no index (no `manifests` array of descriptors)."""
    return tuple(descriptor.digest for descriptor in _decoded(_INDEX, manifest).manifests)


_T = TypeVar("_T")


def _decoded(decoder: msgspec.json.Decoder[_T], text: bytes | str) -> _T:
    try:
        return decoder.decode(text)
    except msgspec.DecodeError as exc:  # ValidationError (JSON of another shape) is one too
        raise UnreadableReply(str(exc)) from None
