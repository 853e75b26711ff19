"""Every limit of the reference that botocore leaves to the server, answered as ECR answers it."""

from __future__ import annotations

import json

import pytest

from ecrgc.sandbox import Sandbox
from tests.sandbox.clients import ecr, error_of

IDS_101 = [{"imageTag": f"t{i}"} for i in range(101)]
MAX_IDS = (
    "Invalid parameter at 'imageIds' failed to satisfy constraint: "
    "'Member must have length less than or equal to 100'"
)


def _invalid(call: object, **kwargs: object) -> str:
    error = error_of(call, **kwargs)
    assert error.response["Error"]["Code"] == "InvalidParameterException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error.response["Error"]["Message"])


@pytest.mark.parametrize("operation", ["describe_images", "batch_get_image", "batch_delete_image"])
def test_more_than_100_image_ids(sandbox: Sandbox, operation: str) -> None:
    sandbox.registry.create_repository("app")
    assert _invalid(getattr(ecr(), operation), repositoryName="app", imageIds=IDS_101) == MAX_IDS


@pytest.mark.parametrize("operation", ["describe_repositories", "describe_images", "list_images"])
def test_max_results_above_1000(sandbox: Sandbox, operation: str) -> None:
    sandbox.registry.create_repository("app")
    kwargs = {} if operation == "describe_repositories" else {"repositoryName": "app"}
    message = _invalid(getattr(ecr(), operation), maxResults=1001, **kwargs)
    assert message == (
        "Invalid parameter at 'maxResults' failed to satisfy constraint: "
        "'Member must have value less than or equal to 1000'"
    )


def test_max_results_1000_is_accepted(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    assert ecr().describe_images(repositoryName="app", maxResults=1000)["imageDetails"] == []


def test_referrers_max_results_above_50(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    message = _invalid(
        ecr().list_image_referrers,
        repositoryName="app",
        subjectId={"imageDigest": "sha256:" + "0" * 64},
        maxResults=51,
    )
    assert "less than or equal to 50" in message


def test_more_than_100_repository_names(sandbox: Sandbox) -> None:
    names = [f"r{i:03d}" for i in range(101)]
    assert "less than or equal to 100" in _invalid(ecr().describe_repositories, repositoryNames=names)


def test_repository_names_refuse_paging(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    assert "repositoryNames" in _invalid(ecr().describe_repositories, repositoryNames=["app"], maxResults=5)


def test_image_ids_refuse_paging(sandbox: Sandbox) -> None:
    sandbox.registry.push_image("app", tags=["v1"])
    assert "imageIds" in _invalid(
        ecr().describe_images, repositoryName="app", imageIds=[{"imageTag": "v1"}], maxResults=5
    )


@pytest.mark.parametrize("name", ["UPPER", "a--", "-a", "a//b", "a/", "x" * 257])
def test_repository_name_pattern_and_length(sandbox: Sandbox, name: str) -> None:
    message = _invalid(ecr().create_repository, repositoryName=name)
    assert "repositoryName" in message


@pytest.mark.parametrize("name", ["ab", "a.b", "a__b", "a---b", "team/app-1", "x" * 256])
def test_valid_repository_names(sandbox: Sandbox, name: str) -> None:
    assert ecr().create_repository(repositoryName=name)["repository"]["repositoryName"] == name


def test_registry_id_must_be_12_digits(sandbox: Sandbox) -> None:
    assert "registryId" in _invalid(ecr().describe_repositories, registryId="12345")


def test_foreign_registry_id_is_denied_without_a_grant(sandbox: Sandbox) -> None:
    sandbox.registry_for("210987654321", "ap-northeast-1").create_repository("app")
    error = error_of(ecr().describe_images, repositoryName="app", registryId="210987654321")
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert "arn:aws:ecr:ap-northeast-1:210987654321:repository/app" in error.response["Error"]["Message"]


def test_tag_longer_than_300(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"})
    message = _invalid(ecr().put_image, repositoryName="app", imageManifest=manifest, imageTag="t" * 301)
    assert message.endswith("'Member must have length less than or equal to 300'")


def test_tag_of_300_is_accepted(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"})
    assert ecr().put_image(repositoryName="app", imageManifest=manifest, imageTag="t" * 300)["image"]


def test_manifest_longer_than_4194304(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    manifest = json.dumps({"schemaVersion": 2, "pad": "x" * 4_194_304})
    assert "4194304" in _invalid(ecr().put_image, repositoryName="app", imageManifest=manifest)


def test_more_than_100_accepted_media_types(sandbox: Sandbox) -> None:
    sandbox.registry.push_image("app", tags=["v1"])
    kinds = [f"application/x-{i}" for i in range(101)]
    message = _invalid(
        ecr().batch_get_image, repositoryName="app", imageIds=[{"imageTag": "v1"}], acceptedMediaTypes=kinds
    )
    assert "acceptedMediaTypes" in message


@pytest.mark.parametrize("field", [{"tagStatus": "SOME"}, {"imageStatus": "GONE"}])
def test_filter_values_are_an_enum(sandbox: Sandbox, field: dict[str, str]) -> None:
    sandbox.registry.create_repository("app")
    assert "enum" in _invalid(ecr().describe_images, repositoryName="app", filter=field)


def test_foreign_or_garbled_next_token(sandbox: Sandbox) -> None:
    for n in range(3):
        sandbox.registry.push_image("app", tags=[f"v{n}"])
    sandbox.registry.create_repository("other")
    token = ecr().describe_images(repositoryName="app", maxResults=1)["nextToken"]
    assert "nextToken" in _invalid(ecr().describe_images, repositoryName="other", nextToken=token)
    assert "nextToken" in _invalid(ecr().list_images, repositoryName="app", nextToken=token)
    assert "nextToken" in _invalid(ecr().describe_images, repositoryName="app", nextToken="not a token!")
