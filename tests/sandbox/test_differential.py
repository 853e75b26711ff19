"""The same operation sequences against moto and the sandbox, compared on everything moto gets right.

Known moto (5.2.x) divergences, each either normalised away below or pinned by a test of its own:
  DIGEST      moto hashes layer digests, not the manifest bytes → digests are compared through labels
  SIZE        moto reports the config size as imageSizeInBytes, ECR the sum of the layers
  PUSHED_AT   moto stamps whole seconds at push time (no back-dating) → not compared
  FIELDS      no artifactMediaType, imageStatus, lastRecordedPullTime, subjectManifestDigest, createdAt
  PAGING      never paginates (no nextToken)                         → test_moto_never_paginates
  FILTERS     ignores tagStatus                                      → test_moto_ignores_tag_status
  CHILDREN    lets you delete a child of an index                    → test_moto_deletes_referenced_children
  LIMITS      enforces no limits (101 imageIds pass)                 → test_moto_enforces_no_limits
  UNTAGGED    empty imageIds when deleting an untagged image by digest → test_moto_answers_nothing_…
  MISSING     no ListImageReferrers, no UpdateImageStorageClass      → test_moto_lacks_referrers_and_archive
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ecrgc.sandbox import Sandbox, manifests
from tests.sandbox.clients import NO_RETRY

pytestmark = pytest.mark.moto
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

NOT_COMPARED = {
    "imageSizeInBytes",
    "imagePushedAt",
    "artifactMediaType",
    "imageStatus",
    "lastRecordedPullTime",
    "subjectManifestDigest",
    "createdAt",
    "ResponseMetadata",
    "encryptionConfiguration",
    "imageScanningConfiguration",
    "imageManifest",
}


@pytest.fixture
def moto(moto_server: str) -> str:
    reset = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")  # noqa: S310 - our own URL
    with urllib.request.urlopen(reset) as reply:  # noqa: S310 - a local http URL we built
        assert reply.status == 200
    return moto_server


@pytest.fixture
def both(moto: str, sandbox: Sandbox) -> tuple[Any, Any]:
    def client(url: str) -> Any:
        return boto3.client("ecr", endpoint_url=url, region_name="ap-northeast-1", config=NO_RETRY)

    return client(moto), client(sandbox.endpoint_url)


class Labels:
    """Renames digests to d0, d1 … in order of first appearance, so that DIGEST does not matter."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items() if k not in NOT_COMPARED}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, str):
            return _DIGEST.sub(lambda m: self.names.setdefault(m.group(0), f"d{len(self.names)}"), value)
        return value


def _outcome(call: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except ClientError as exc:
        return {"error": exc.response["Error"]["Code"], "message": exc.response["Error"]["Message"]}


def _sequence(ecr: Any) -> list[Any]:
    a, b = manifests.image("a", [10, 20]), manifests.image("b", [30])
    steps: list[tuple[str, dict[str, Any]]] = [
        ("create_repository", {"repositoryName": "app"}),
        ("create_repository", {"repositoryName": "app"}),
        ("put_image", {"repositoryName": "app", "imageManifest": a, "imageTag": "v1"}),
        ("put_image", {"repositoryName": "app", "imageManifest": a, "imageTag": "v1"}),
        ("put_image", {"repositoryName": "app", "imageManifest": a, "imageTag": "v2"}),
        ("put_image", {"repositoryName": "app", "imageManifest": b, "imageTag": "v1"}),
        ("describe_images", {"repositoryName": "app"}),
        ("list_images", {"repositoryName": "app"}),
        ("describe_images", {"repositoryName": "app", "imageIds": [{"imageTag": "v1"}]}),
        ("describe_images", {"repositoryName": "app", "imageIds": [{"imageTag": "nope"}]}),
        (
            "batch_get_image",
            {"repositoryName": "app", "imageIds": [{"imageTag": "v2"}, {"imageTag": "nope"}]},
        ),
        ("batch_delete_image", {"repositoryName": "app", "imageIds": [{"imageTag": "nope"}]}),
        ("delete_repository", {"repositoryName": "app"}),
        ("describe_images", {"repositoryName": "ghost"}),
        ("describe_repositories", {"repositoryNames": ["ghost"]}),
        ("batch_delete_image", {"repositoryName": "app", "imageIds": [{"imageTag": "v2"}]}),
        ("list_images", {"repositoryName": "app"}),
        ("batch_delete_image", {"repositoryName": "app", "imageIds": [{"imageTag": "v1"}]}),
        ("describe_repositories", {}),
        ("delete_repository", {"repositoryName": "app"}),
        ("describe_repositories", {}),
    ]
    labels = Labels()
    return [labels(_outcome(getattr(ecr, name), **kwargs)) for name, kwargs in steps]


def test_same_sequence_same_results(both: tuple[Any, Any]) -> None:
    moto, sandbox = both
    for step, (theirs, ours) in enumerate(zip(_sequence(moto), _sequence(sandbox), strict=True)):
        assert ours == theirs, f"step {step}"


def test_sts_agrees(moto: str, sandbox: Sandbox) -> None:
    def account(url: str) -> str:
        return str(
            boto3.client("sts", endpoint_url=url, region_name="ap-northeast-1").get_caller_identity()[
                "Account"
            ]
        )

    assert account(moto) == account(sandbox.endpoint_url) == "123456789012"


def _fill(ecr: Any, count: int) -> None:
    ecr.create_repository(repositoryName="app")
    for n in range(count):
        ecr.put_image(repositoryName="app", imageManifest=manifests.image(str(n), [n + 1]), imageTag=f"v{n}")


def test_moto_never_paginates(both: tuple[Any, Any]) -> None:
    moto, sandbox = both
    for ecr in both:
        _fill(ecr, 3)
    assert "nextToken" not in moto.describe_images(repositoryName="app", maxResults=1)
    assert "nextToken" in sandbox.describe_images(repositoryName="app", maxResults=1)


def test_moto_ignores_tag_status(both: tuple[Any, Any]) -> None:
    moto, sandbox = both
    for ecr in both:
        _fill(ecr, 2)
        ecr.put_image(repositoryName="app", imageManifest=manifests.image("x", [5]))

    def tagged_among_untagged(ecr: Any) -> int:
        details = ecr.describe_images(repositoryName="app", filter={"tagStatus": "UNTAGGED"})["imageDetails"]
        return sum(1 for d in details if "imageTags" in d)

    assert (tagged_among_untagged(moto), tagged_among_untagged(sandbox)) == (2, 0)


def test_moto_deletes_referenced_children(both: tuple[Any, Any]) -> None:
    child = manifests.image("child", [1])
    index = manifests.index([(manifests.digest_of(child), len(child), "linux/amd64")])
    failures = []
    for ecr in both:
        ecr.create_repository(repositoryName="app")
        ecr.put_image(repositoryName="app", imageManifest=child)
        ecr.put_image(
            repositoryName="app",
            imageManifest=index,
            imageTag="v1",
            imageManifestMediaType=manifests.OCI_INDEX,
        )
        listed = ecr.list_images(repositoryName="app", filter={"tagStatus": "UNTAGGED"})["imageIds"]
        reply = ecr.batch_delete_image(repositoryName="app", imageIds=listed)
        failures.append([f["failureCode"] for f in reply["failures"]])
    assert failures == [[], ["ImageReferencedByManifestList"]]


def test_moto_enforces_no_limits(both: tuple[Any, Any]) -> None:
    moto, sandbox = both
    ids = [{"imageTag": f"t{i}"} for i in range(101)]
    for ecr in both:
        ecr.create_repository(repositoryName="app")
    assert len(moto.batch_get_image(repositoryName="app", imageIds=ids)["failures"]) == 101
    assert (
        _outcome(sandbox.batch_get_image, repositoryName="app", imageIds=ids)["error"]
        == "InvalidParameterException"
    )


def test_moto_answers_nothing_when_deleting_an_untagged_image_by_digest(both: tuple[Any, Any]) -> None:
    removed = []
    for ecr in both:
        ecr.create_repository(repositoryName="app")
        digest = ecr.put_image(repositoryName="app", imageManifest=manifests.image("u", [1]))["image"][
            "imageId"
        ]
        reply = ecr.batch_delete_image(
            repositoryName="app", imageIds=[{"imageDigest": digest["imageDigest"]}]
        )
        removed.append(len(reply["imageIds"]))
    assert removed == [0, 1]


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("list_image_referrers", {"subjectId": {"imageDigest": "sha256:" + "0" * 64}}),
        ("update_image_storage_class", {"imageId": {"imageTag": "v0"}, "targetStorageClass": "ARCHIVE"}),
    ],
)
def test_moto_lacks_referrers_and_archive(
    both: tuple[Any, Any], operation: str, kwargs: dict[str, Any]
) -> None:
    moto, sandbox = both
    for ecr in both:
        _fill(ecr, 1)
    assert "error" in _outcome(getattr(moto, operation), repositoryName="app", **kwargs)
    assert "error" not in _outcome(getattr(sandbox, operation), repositoryName="app", **kwargs)
