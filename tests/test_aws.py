"""Pure parts of the ECR adapter: the named constructor and the manifest parser (no server needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrgc.aws import image_from_ecr, parse_children
from ecrgc.errors import SourceUnavailable
from ecrgc.model import Image, ImageStatus
from tests.strategies import digests

if TYPE_CHECKING:
    from types_boto3_ecr.type_defs import ImageDetailTypeDef

DIGEST = "sha256:" + "a" * 64
SUBJECT = "sha256:" + "b" * 64
PUSHED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))


def test_image_from_ecr_reads_every_field() -> None:
    detail: ImageDetailTypeDef = {
        "registryId": "123456789012",
        "repositoryName": "app",
        "imageDigest": DIGEST,
        "imageTags": ["v2", "latest"],
        "imageSizeInBytes": 1234,
        "imagePushedAt": PUSHED,
        "lastRecordedPullTime": PUSHED + timedelta(days=1),
        "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactMediaType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "subjectManifestDigest": SUBJECT,
        "imageStatus": "ARCHIVED",
    }
    assert image_from_ecr(detail) == Image(
        repository="app",
        digest=DIGEST,
        tags=("latest", "v2"),
        pushed_at=datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC),
        last_pulled_at=datetime(2026, 1, 3, 1, 4, 5, tzinfo=UTC),
        size_bytes=1234,
        media_type="application/vnd.oci.image.manifest.v1+json",
        artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json",
        subject=SUBJECT,
        status=ImageStatus.ARCHIVED,
    )


def test_image_from_ecr_untagged_never_pulled_is_active() -> None:
    detail: ImageDetailTypeDef = {"repositoryName": "app", "imageDigest": DIGEST, "imagePushedAt": PUSHED}
    image = image_from_ecr(detail)
    assert (image.tags, image.last_pulled_at, image.subject, image.status) == (
        (),
        None,
        None,
        ImageStatus.ACTIVE,
    )
    assert image.pushed_at.tzinfo is UTC


def test_image_from_ecr_reads_the_wire_json_of_describe_images() -> None:
    # As ECR sends it: epoch seconds with a fraction; text is accepted too (the protocol allows both).
    reply = """{"imageDetails": [{"registryId": "123456789012", "repositoryName": "app",
        "imageDigest": "DIGEST", "imageTags": ["v1"], "imageSizeInBytes": 52428800,
        "imagePushedAt": 1767323045.512, "lastRecordedPullTime": "2026-01-03T01:04:05Z",
        "imageManifestMediaType": "application/vnd.oci.image.index.v1+json", "imageStatus": "ACTIVE",
        "imageScanStatus": {"status": "COMPLETE"}, "lastActivatedAt": 1767323046}]}"""
    (detail,) = json.loads(reply.replace("DIGEST", DIGEST))["imageDetails"]
    image = image_from_ecr(detail)
    assert image.pushed_at == datetime(2026, 1, 2, 3, 4, 5, 512000, tzinfo=UTC)
    assert image.last_pulled_at == datetime(2026, 1, 3, 1, 4, 5, tzinfo=UTC)
    assert (image.tags, image.size_bytes, image.is_index, image.status) == (
        ("v1",),
        52428800,
        True,
        ImageStatus.ACTIVE,
    )


def test_image_from_ecr_refuses_an_unknown_status() -> None:
    detail: ImageDetailTypeDef = {"repositoryName": "app", "imageDigest": DIGEST, "imagePushedAt": PUSHED}
    detail["imageStatus"] = "FROZEN"  # type: ignore[typeddict-item]  # a status this ecrgc does not know
    with pytest.raises(SourceUnavailable, match="unknown imageStatus 'FROZEN' of app@sha256:a"):
        image_from_ecr(detail)


@given(st.lists(digests, max_size=20))
def test_parse_children_returns_the_listed_digests_in_order(children: list[str]) -> None:
    manifest = json.dumps({"schemaVersion": 2, "manifests": [{"digest": d, "size": 1} for d in children]})
    assert parse_children(manifest, name="app", digest=DIGEST) == tuple(children)


@pytest.mark.parametrize(
    "manifest",
    [
        "",
        "not json",
        "[]",
        "{}",
        '{"manifests": null}',
        '{"manifests": [{"size": 1}]}',
        '{"manifests": ["sha256:' + "c" * 64 + '"]}',
        '{"manifests": [{"digest": "md5:abc"}]}',
    ],
)
def test_parse_children_fails_closed(manifest: str) -> None:
    with pytest.raises(SourceUnavailable, match=f"^cannot read the manifest of index app@{DIGEST} "):
        parse_children(manifest, name="app", digest=DIGEST)
