"""ECR's semantic rules (the reference's "Operations" and "Semantics that bite"), driven through boto3."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ecrgc.sandbox import Sandbox, manifests
from tests.sandbox.clients import code_of, ecr, error_of

INDEXES = [manifests.OCI_INDEX, manifests.DOCKER_LIST, manifests.OCI_MANIFEST, manifests.DOCKER_MANIFEST]


def _manifest(salt: str) -> str:
    return manifests.image(salt, [1000, 2000])


def _details(repo: str, **kwargs: object) -> dict[str, dict[str, Any]]:
    pages = ecr().get_paginator("describe_images").paginate(repositoryName=repo, **kwargs)
    return {d["imageDigest"]: d for page in pages for d in page["imageDetails"]}


def test_digest_is_sha256_of_the_exact_manifest_bytes(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    text = json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_MANIFEST, "layers": []}, indent=3)
    image = ecr().put_image(repositoryName="app", imageManifest=text, imageTag="v1")["image"]
    assert image["imageId"]["imageDigest"] == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    got = ecr().batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])["images"][0]
    assert got["imageManifest"] == text


def test_wrong_digest_on_put(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    code = code_of(
        ecr().put_image, repositoryName="app", imageManifest=_manifest("a"), imageDigest="sha256:" + "1" * 64
    )
    assert code == "ImageDigestDoesNotMatchException"


def test_same_manifest_and_tag_already_exists(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    ecr().put_image(repositoryName="app", imageManifest=_manifest("a"), imageTag="v1")
    error = error_of(ecr().put_image, repositoryName="app", imageManifest=_manifest("a"), imageTag="v1")
    assert error.response["Error"]["Code"] == "ImageAlreadyExistsException"
    assert "already exists in the repository with name 'app'" in error.response["Error"]["Message"]


def test_a_tag_moves_and_the_old_image_stays_untagged(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    old = ecr().put_image(repositoryName="app", imageManifest=_manifest("a"), imageTag="latest")["image"]
    new = ecr().put_image(repositoryName="app", imageManifest=_manifest("b"), imageTag="latest")["image"]
    details = _details("app")
    assert "imageTags" not in details[old["imageId"]["imageDigest"]]  # omitted, not []
    assert details[new["imageId"]["imageDigest"]]["imageTags"] == ["latest"]


def test_retagging_keeps_the_push_time(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    sandbox.clock.set(datetime(2026, 1, 1, tzinfo=UTC))
    digest = ecr().put_image(repositoryName="app", imageManifest=_manifest("a"), imageTag="v1")["image"][
        "imageId"
    ]["imageDigest"]
    sandbox.clock.advance(86400)
    ecr().put_image(repositoryName="app", imageManifest=_manifest("a"), imageTag="v2")
    detail = _details("app")[digest]
    assert detail["imagePushedAt"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert sorted(detail["imageTags"]) == ["v1", "v2"]


def test_immutable_tags_cannot_move(sandbox: Sandbox) -> None:
    ecr().create_repository(repositoryName="app", imageTagMutability="IMMUTABLE")
    ecr().put_image(repositoryName="app", imageManifest=_manifest("a"), imageTag="v1")
    code = code_of(ecr().put_image, repositoryName="app", imageManifest=_manifest("b"), imageTag="v1")
    assert code == "ImageTagAlreadyExistsException"


def test_index_children_must_exist_first(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    child = _manifest("child")
    index = manifests.index([(manifests.digest_of(child), len(child), "linux/amd64")])
    assert (
        code_of(ecr().put_image, repositoryName="app", imageManifest=index)
        == "ReferencedImagesNotFoundException"
    )
    ecr().put_image(repositoryName="app", imageManifest=child)
    assert ecr().put_image(repositoryName="app", imageManifest=index, imageTag="v1")["image"]


def test_index_size_is_its_largest_child_and_children_are_untagged(sandbox: Sandbox) -> None:
    digest = sandbox.registry.push_image(
        "app", tags=["v1"], platforms=["linux/amd64", "linux/arm64"], layer_sizes=[10, 20]
    )
    details = _details("app")
    index = details.pop(digest)
    assert index["imageManifestMediaType"] == manifests.OCI_INDEX
    assert index["imageSizeInBytes"] == max(d["imageSizeInBytes"] for d in details.values())
    assert all("imageTags" not in d for d in details.values())
    assert sorted(d["imageSizeInBytes"] for d in details.values()) == [30, 2030]


def test_deleting_a_child_still_listed_by_an_index_fails_per_item(sandbox: Sandbox) -> None:
    index = sandbox.registry.push_image("app", tags=["v1"], platforms=["linux/amd64"])
    (child,) = sandbox.registry.get("app").images[index].children
    reply = ecr().batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": child}])
    assert reply["imageIds"] == []
    assert reply["failures"] == [
        {
            "imageId": {"imageDigest": child},
            "failureCode": "ImageReferencedByManifestList",
            "failureReason": "Requested image referenced by manifest list",
        }
    ]
    ecr().batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": index}])
    # Deleting the index leaves the child behind, untagged; now it can go.
    assert child in _details("app")
    assert ecr().batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": child}])["imageIds"] == [
        {"imageDigest": child}
    ]


def test_delete_by_tag_removes_the_tag_then_the_image(sandbox: Sandbox) -> None:
    digest = sandbox.registry.push_image("app", tags=["v1", "latest"])
    reply = ecr().batch_delete_image(repositoryName="app", imageIds=[{"imageTag": "latest"}])
    assert reply["imageIds"] == [{"imageDigest": digest, "imageTag": "latest"}]
    assert _details("app")[digest]["imageTags"] == ["v1"]
    ecr().batch_delete_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])
    assert _details("app") == {}


def test_delete_by_digest_removes_the_image_and_all_its_tags(sandbox: Sandbox) -> None:
    digest = sandbox.registry.push_image("app", tags=["v1", "latest"])
    reply = ecr().batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": digest}])
    assert sorted(i["imageTag"] for i in reply["imageIds"]) == ["latest", "v1"]
    assert ecr().list_images(repositoryName="app")["imageIds"] == []


@pytest.mark.parametrize(
    ("image_id", "code"),
    [
        ({"imageTag": "nope"}, "ImageNotFound"),
        ({"imageDigest": "sha256:" + "0" * 64}, "ImageNotFound"),
        ({"imageDigest": "not-a-digest"}, "InvalidImageDigest"),
        ({}, "MissingDigestAndTag"),
        ({"imageTag": "v1", "imageDigest": "sha256:" + "0" * 64}, "ImageTagDoesNotMatchDigest"),
    ],
)
@pytest.mark.parametrize("operation", ["batch_get_image", "batch_delete_image"])
def test_per_item_failure_codes(
    sandbox: Sandbox, operation: str, image_id: dict[str, str], code: str
) -> None:
    sandbox.registry.push_image("app", tags=["v1"])
    reply = getattr(ecr(), operation)(repositoryName="app", imageIds=[image_id])
    assert [f["failureCode"] for f in reply["failures"]] == [code]
    assert reply["failures"][0]["imageId"] == image_id


def test_missing_image_fails_describe_images_by_id(sandbox: Sandbox) -> None:
    sandbox.registry.push_image("app", tags=["v1"])
    error = error_of(
        ecr().describe_images, repositoryName="app", imageIds=[{"imageTag": "v1"}, {"imageTag": "v9"}]
    )
    assert error.response["Error"]["Code"] == "ImageNotFoundException"
    assert "imageTag:'v9'" in error.response["Error"]["Message"]


def test_unknown_repository(sandbox: Sandbox) -> None:
    error = error_of(ecr().describe_images, repositoryName="ghost")
    assert error.response["Error"] == {
        "Code": "RepositoryNotFoundException",
        "Message": "The repository with name 'ghost' does not exist in the registry with id '123456789012'",
    }
    assert code_of(ecr().describe_repositories, repositoryNames=["ghost"]) == "RepositoryNotFoundException"


def test_non_force_delete_of_a_non_empty_repository(sandbox: Sandbox) -> None:
    sandbox.registry.push_image("app", tags=["v1"])
    error = error_of(ecr().delete_repository, repositoryName="app")
    assert error.response["Error"]["Code"] == "RepositoryNotEmptyException"
    assert error.response["Error"]["Message"].endswith("cannot be deleted because it still contains images")
    assert ecr().delete_repository(repositoryName="app", force=True)["repository"]["repositoryName"] == "app"
    assert ecr().describe_repositories()["repositories"] == []


def test_repository_shape(sandbox: Sandbox) -> None:
    created = ecr().create_repository(repositoryName="team/app")["repository"]
    assert created["repositoryArn"] == "arn:aws:ecr:ap-northeast-1:123456789012:repository/team/app"
    assert created["repositoryUri"] == "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/team/app"
    assert code_of(ecr().create_repository, repositoryName="team/app") == "RepositoryAlreadyExistsException"


def test_batch_get_image_records_the_pull_time(sandbox: Sandbox) -> None:
    digest = sandbox.registry.push_image("app", tags=["v1"])
    assert "lastRecordedPullTime" not in _details("app")[digest]
    sandbox.clock.set(datetime(2026, 3, 1, tzinfo=UTC))
    ecr().batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])
    assert _details("app")[digest]["lastRecordedPullTime"] == datetime(2026, 3, 1, tzinfo=UTC)


def test_indexes_must_be_accepted_to_be_pulled(sandbox: Sandbox) -> None:
    sandbox.registry.push_image("app", tags=["v1"], platforms=["linux/amd64"])
    plain = ecr().batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])
    assert [f["failureCode"] for f in plain["failures"]] == ["ImageNotFound"]
    accepting = ecr().batch_get_image(
        repositoryName="app", imageIds=[{"imageTag": "v1"}], acceptedMediaTypes=INDEXES
    )
    assert json.loads(accepting["images"][0]["imageManifest"])["mediaType"] == manifests.OCI_INDEX


def test_referrers_through_subject(sandbox: Sandbox) -> None:
    subject = sandbox.registry.push_image("app", tags=["v1"])
    signature = sandbox.registry.push_referrer("app", subject)
    sbom = sandbox.registry.push_referrer("app", subject, artifact_type=manifests.SBOM_SPDX)
    details = _details("app")
    assert details[signature]["subjectManifestDigest"] == subject
    assert details[signature]["artifactMediaType"] == manifests.COSIGN_SIGNATURE
    assert "imageTags" not in details[signature]
    reply = ecr().list_image_referrers(repositoryName="app", subjectId={"imageDigest": subject})
    assert [r["digest"] for r in reply["referrers"]] == [signature, sbom]
    assert reply["referrers"][0]["size"] == len(sandbox.registry.get("app").images[signature].manifest)
    only_sbom = ecr().list_image_referrers(
        repositoryName="app",
        subjectId={"imageDigest": subject},
        filter={"artifactTypes": [manifests.SBOM_SPDX]},
    )
    assert [r["digest"] for r in only_sbom["referrers"]] == [sbom]


def test_referrers_paginate_by_20_by_default(sandbox: Sandbox) -> None:
    subject = sandbox.registry.push_image("app", tags=["v1"])
    for n in range(25):
        sandbox.registry.push_referrer("app", subject, artifact_type=f"application/x-{n}")
    first = ecr().list_image_referrers(repositoryName="app", subjectId={"imageDigest": subject})
    second = ecr().list_image_referrers(
        repositoryName="app", subjectId={"imageDigest": subject}, nextToken=first["nextToken"]
    )
    assert (len(first["referrers"]), len(second["referrers"])) == (20, 5)
    assert "nextToken" not in second


def test_cosign_signatures_are_tagged_sha256_hex_sig(sandbox: Sandbox) -> None:
    subject = sandbox.registry.push_image("app", tags=["v1"])
    signature = sandbox.registry.push_cosign_signature("app", subject)
    assert _details("app")[signature]["imageTags"] == [subject.replace(":", "-") + ".sig"]


def test_default_page_is_100_and_tokens_walk_every_image_once(sandbox: Sandbox) -> None:
    for n in range(250):
        sandbox.registry.push_image("app", tags=[f"v{n}"])
    first = ecr().describe_images(repositoryName="app")
    assert len(first["imageDetails"]) == 100
    assert len(_details("app", PaginationConfig={"PageSize": 1000})) == 250
    listed = (
        ecr().get_paginator("list_images").paginate(repositoryName="app", PaginationConfig={"PageSize": 7})
    )
    assert len({i["imageTag"] for page in listed for i in page["imageIds"]}) == 250


def test_pages_survive_deletions_between_them(sandbox: Sandbox) -> None:
    digests = [sandbox.registry.push_image("app", tags=[f"v{n}"]) for n in range(10)]
    first = ecr().describe_images(repositoryName="app", maxResults=4)
    ecr().batch_delete_image(
        repositoryName="app", imageIds=[{"imageDigest": digests[0]}, {"imageDigest": digests[5]}]
    )
    rest = ecr().describe_images(repositoryName="app", maxResults=100, nextToken=first["nextToken"])
    assert [d["imageDigest"] for d in rest["imageDetails"]] == digests[4:5] + digests[6:]


def test_list_images_has_one_entry_per_tag(sandbox: Sandbox) -> None:
    tagged = sandbox.registry.push_image("app", tags=["a", "b", "c"])
    untagged = sandbox.registry.push_image("app", salt="loose")
    ids = [ecr().list_images(repositoryName="app", maxResults=2)]
    ids.append(ecr().list_images(repositoryName="app", maxResults=2, nextToken=ids[0]["nextToken"]))
    entries = [i for page in ids for i in page["imageIds"]]
    assert entries == [
        {"imageDigest": tagged, "imageTag": "a"},
        {"imageDigest": tagged, "imageTag": "b"},
        {"imageDigest": tagged, "imageTag": "c"},
        {"imageDigest": untagged},
    ]


@pytest.mark.parametrize(
    ("status", "expected"), [("TAGGED", {"tagged"}), ("UNTAGGED", {"loose"}), ("ANY", {"tagged", "loose"})]
)
def test_tag_status_filter(sandbox: Sandbox, status: str, expected: set[str]) -> None:
    digests = {
        "tagged": sandbox.registry.push_image("app", tags=["v1"]),
        "loose": sandbox.registry.push_image("app", salt="x"),
    }
    got = set(_details("app", filter={"tagStatus": status}))
    assert got == {digests[name] for name in expected}
    listed = ecr().list_images(repositoryName="app", filter={"tagStatus": status})["imageIds"]
    assert {i["imageDigest"] for i in listed} == got


def test_archived_images_are_hidden_unless_asked_for(sandbox: Sandbox) -> None:
    active = sandbox.registry.push_image("app", tags=["v1"])
    archived = sandbox.registry.push_image("app", tags=["v0"])
    reply = ecr().update_image_storage_class(
        repositoryName="app", imageId={"imageTag": "v0"}, targetStorageClass="ARCHIVE"
    )
    assert reply["imageStatus"] == "ARCHIVED"
    assert set(_details("app")) == {active}
    assert set(_details("app", filter={"imageStatus": "ARCHIVED"})) == {archived}
    assert set(_details("app", filter={"imageStatus": "ANY"})) == {active, archived}
    assert [i["imageDigest"] for i in ecr().list_images(repositoryName="app")["imageIds"]] == [active]
    pulled = ecr().batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v0"}])
    assert [f["failureCode"] for f in pulled["failures"]] == ["ImageInaccessible"]
    assert "lastArchivedAt" in _details("app", filter={"imageStatus": "ARCHIVED"})[archived]


def test_restore_goes_through_activating_for_the_knobs_duration(sandbox: Sandbox) -> None:
    digest = sandbox.registry.push_image("app", tags=["v1"])
    sandbox.clock.set(datetime(2026, 5, 1, tzinfo=UTC))
    sandbox.knobs.activation_seconds = 600
    ecr().update_image_storage_class(
        repositoryName="app", imageId={"imageDigest": digest}, targetStorageClass="ARCHIVE"
    )
    restoring = ecr().update_image_storage_class(
        repositoryName="app", imageId={"imageDigest": digest}, targetStorageClass="STANDARD"
    )
    assert restoring["imageStatus"] == "ACTIVATING"
    assert set(_details("app", filter={"imageStatus": "ACTIVATING"})) == {digest}
    assert (
        code_of(
            ecr().update_image_storage_class,
            repositoryName="app",
            imageId={"imageDigest": digest},
            targetStorageClass="ARCHIVE",
        )
        == "ImageStorageClassUpdateNotSupportedException"
    )
    sandbox.clock.advance(599)
    assert _details("app") == {}
    sandbox.clock.advance(1)
    detail = _details("app")[digest]
    assert detail["imageStatus"] == "ACTIVE"
    assert detail["lastActivatedAt"] == datetime(2026, 5, 1, tzinfo=UTC) + timedelta(seconds=600)


def test_storage_class_of_a_missing_image(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    code = code_of(
        ecr().update_image_storage_class,
        repositoryName="app",
        imageId={"imageTag": "x"},
        targetStorageClass="ARCHIVE",
    )
    assert code == "ImageNotFoundException"


def test_error_wire_format(sandbox: Sandbox) -> None:
    error = error_of(ecr().describe_images, repositoryName="ghost")
    meta = error.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 400
    assert meta["HTTPHeaders"]["x-amzn-requestid"] == meta["RequestId"] != ""
    assert meta["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"


def test_sts_get_caller_identity(sandbox: Sandbox) -> None:
    identity = boto3.client("sts").get_caller_identity()
    assert identity["Account"] == "123456789012"
    assert identity["Arn"].startswith("arn:aws:iam::123456789012:")
