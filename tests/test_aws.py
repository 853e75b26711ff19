"""Pure parts of the ECR adapter: the reply decoder, the named constructor and the manifest parser (no
server needed)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrgc.aws import images_from_ecr, parse_children
from ecrgc.aws.wire import (
    ImageFailure,
    ImageId,
    ImageManifest,
    UnreadableReply,
    batch_get_image_page,
    describe_images_page,
)
from ecrgc.errors import SourceUnavailable
from ecrgc.model import Image, ImageStatus
from tests.strategies import digests

DIGEST = "sha256:" + "a" * 64
SUBJECT = "sha256:" + "b" * 64


def _images(*details: dict[str, object], **page: object) -> list[Image]:
    """The models of one DescribeImages reply, sent as ECR's JSON text and decoded as a scan decodes it."""
    body = json.dumps({"imageDetails": list(details), **page}).encode()
    return images_from_ecr(describe_images_page(body)["imageDetails"])


def test_images_from_ecr_reads_every_field_of_the_wire_json() -> None:
    # As ECR sends it: epoch seconds with a fraction, members ecrgc does not read (scan status, findings,
    # archive times) beside those it does; text timestamps are accepted too when they carry an offset.
    (image,) = _images(
        {
            "registryId": "123456789012",
            "repositoryName": "app",
            "imageDigest": DIGEST,
            "imageTags": ["v2", "latest"],
            "imageSizeInBytes": 1234,
            "imagePushedAt": 1767323045.512,
            "lastRecordedPullTime": "2026-01-03T03:04:05+02:00",
            "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactMediaType": "application/vnd.dev.cosign.artifact.sig.v1+json",
            "subjectManifestDigest": SUBJECT,
            "imageStatus": "ARCHIVED",
            "imageScanStatus": {"status": "COMPLETE"},
            "imageScanFindingsSummary": {"findingSeverityCounts": {"HIGH": 2}},
            "lastArchivedAt": 1767323046,
        },
        nextToken="more",
    )
    assert image == Image(
        repository="app",
        digest=DIGEST,
        tags=("latest", "v2"),
        pushed_at=datetime(2026, 1, 2, 3, 4, 5, 512000, tzinfo=UTC),
        last_pulled_at=datetime(2026, 1, 3, 1, 4, 5, tzinfo=UTC),
        size_bytes=1234,
        media_type="application/vnd.oci.image.manifest.v1+json",
        artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json",
        subject=SUBJECT,
        status=ImageStatus.ARCHIVED,
    )
    assert image.pushed_at.tzinfo is UTC
    assert image.last_pulled_at is not None
    assert image.last_pulled_at.tzinfo is UTC


def test_images_from_ecr_untagged_never_pulled_is_active() -> None:
    (image,) = _images({"repositoryName": "app", "imageDigest": DIGEST, "imagePushedAt": 1767323045})
    assert (image.tags, image.last_pulled_at, image.subject, image.status, image.media_type) == (
        (),
        None,
        None,
        ImageStatus.ACTIVE,
        "",
    )


def test_a_text_push_time_with_an_offset_becomes_utc() -> None:
    # The other way round from the test above: the push time as text (a server other than ECR), the pull
    # time as epoch seconds.
    (image,) = _images(
        {
            "repositoryName": "app",
            "imageDigest": DIGEST,
            "imagePushedAt": "2026-01-02T05:04:05.5-02:00",
            "lastRecordedPullTime": 1767323045.25,
        }
    )
    assert (image.pushed_at, image.last_pulled_at) == (
        datetime(2026, 1, 2, 7, 4, 5, 500000, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC),
    )
    assert image.pushed_at.tzinfo is UTC


def test_a_page_carries_its_next_token_only_when_there_is_a_next_page() -> None:
    detail = {"repositoryName": "app", "imageDigest": DIGEST, "imagePushedAt": 1767323045}
    last = describe_images_page(json.dumps({"imageDetails": [detail]}).encode())
    assert set(last) == {"imageDetails"}
    assert describe_images_page(b'{"imageDetails": [], "nextToken": "t"}') == {
        "imageDetails": [],
        "nextToken": "t",
    }


@given(st.integers(min_value=0, max_value=4_102_444_800_000))  # epoch milliseconds up to the year 2100
def test_epoch_seconds_become_the_datetime_python_makes_of_them(milliseconds: int) -> None:
    # ECR's timestamps carry milliseconds at most: decoded in C, they are what datetime.fromtimestamp gives.
    seconds = milliseconds / 1000
    (image,) = _images({"repositoryName": "app", "imageDigest": DIGEST, "imagePushedAt": seconds})
    assert image.pushed_at == datetime.fromtimestamp(seconds, UTC)


def test_images_from_ecr_refuses_an_unknown_status() -> None:
    detail = {"repositoryName": "app", "imageDigest": DIGEST, "imagePushedAt": 1, "imageStatus": "FROZEN"}
    with pytest.raises(SourceUnavailable, match="unknown imageStatus 'FROZEN' of app@sha256:a"):
        _images(detail)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"<html>502 Bad Gateway</html>", "malformed"),
        (b"[]", "Expected `object`, got `array`"),
        (b"{}", "missing required field `imageDetails`"),
        (b'{"imageDetails": [{"repositoryName": "app", "imagePushedAt": 1}]}', "`imageDigest`"),
        (b'{"imageDetails": [{"repositoryName": "app", "imageDigest": "d"}]}', "`imagePushedAt`"),
        (
            b'{"imageDetails": [{"repositoryName": "app", "imageDigest": "d", "imagePushedAt": true}]}',
            "$.imageDetails[0].imagePushedAt",
        ),
        (  # a time without its offset: local time would be a guess
            b'{"imageDetails": [{"repositoryName": "a", "imageDigest": "d", '
            b'"imagePushedAt": "2026-01-02T03:04:05"}]}',
            "$.imageDetails[0].imagePushedAt",
        ),
        (
            b'{"imageDetails": [{"repositoryName": "a", "imageDigest": "d", "imagePushedAt": 1, '
            b'"imageTags": "v1"}]}',
            "$.imageDetails[0].imageTags",
        ),
        (b'{"imageDetails": [], "nextToken": 7}', "$.nextToken"),
    ],
)
def test_a_reply_of_another_shape_is_unreadable(body: bytes, where: str) -> None:
    with pytest.raises(UnreadableReply, match=re.escape(where)):
        describe_images_page(body)


def test_a_batch_get_image_reply_reads_its_images_and_failures() -> None:
    # As ECR sends it (members ecrgc does not read beside those it does); a failure may name no digest.
    body = {
        "images": [
            {
                "registryId": "123456789012",
                "repositoryName": "app",
                "imageId": {"imageDigest": DIGEST, "imageTag": "v1"},
                "imageManifest": '{"manifests": []}',
                "imageManifestMediaType": "application/vnd.oci.image.index.v1+json",
            }
        ],
        "failures": [
            {"imageId": {"imageDigest": SUBJECT}, "failureCode": "ImageNotFound", "failureReason": "gone"},
            {"imageId": {"imageTag": "v2"}},
        ],
    }
    assert batch_get_image_page(json.dumps(body).encode()) == {
        "images": [ImageManifest(image_id=ImageId(image_digest=DIGEST), image_manifest='{"manifests": []}')],
        "failures": [
            ImageFailure(image_id=ImageId(image_digest=SUBJECT), failure_code="ImageNotFound"),
            ImageFailure(image_id=ImageId()),
        ],
    }
    assert batch_get_image_page(b"{}") == {"images": [], "failures": []}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"<html>502 Bad Gateway</html>", "malformed"),
        (b'{"images": {}}', "$.images"),
        (b'{"images": [{"imageManifest": "{}"}]}', "missing required field `imageId`"),
        (b'{"images": [{"imageId": {"imageDigest": 7}}]}', "$.images[0].imageId.imageDigest"),
        (b'{"failures": [{"failureCode": 7}]}', "$.failures[0].failureCode"),
    ],
)
def test_a_batch_get_image_reply_of_another_shape_is_unreadable(body: bytes, where: str) -> None:
    with pytest.raises(UnreadableReply, match=re.escape(where)):
        batch_get_image_page(body)


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
