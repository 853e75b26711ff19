"""Stored state → ECR's JSON shapes (timestamps as epoch-second numbers, absent members omitted)."""

from __future__ import annotations

from typing import Any

from ecrgc.sandbox.registry import Registry
from ecrgc.sandbox.repository import RepositoryState, StoredImage


def repository(registry: Registry, repo: RepositoryState) -> dict[str, Any]:
    """A `Repository` of DescribeRepositories / CreateRepository / DeleteRepository."""
    return {
        "repositoryArn": f"arn:aws:ecr:{registry.region}:{registry.account}:repository/{repo.name}",
        "registryId": registry.account,
        "repositoryName": repo.name,
        "repositoryUri": registry.uri(repo.name),
        "createdAt": repo.created_at,
        "imageTagMutability": repo.mutability,
        "imageScanningConfiguration": {"scanOnPush": False},
        "encryptionConfiguration": {"encryptionType": "AES256"},
    }


def image_detail(account: str, repo: RepositoryState, image: StoredImage, status: str) -> dict[str, Any]:
    """An `ImageDetail` of DescribeImages; untagged images have no `imageTags` member at all."""
    detail: dict[str, Any] = {
        "registryId": account,
        "repositoryName": repo.name,
        "imageDigest": image.digest,
        "imageSizeInBytes": image.size,
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": image.media_type,
        "imageStatus": status,
    }
    if image.tags:
        detail["imageTags"] = list(image.tags)
    if image.artifact_type:
        detail["artifactMediaType"] = image.artifact_type
    if image.last_pulled_at is not None:
        detail["lastRecordedPullTime"] = image.last_pulled_at
    if image.subject:
        detail["subjectManifestDigest"] = image.subject
    if image.archived_at is not None:
        detail["lastArchivedAt"] = image.archived_at
    if image.activated_at is not None:
        detail["lastActivatedAt"] = image.activated_at
    return detail


def image_ids(image: StoredImage) -> list[dict[str, str]]:
    """ListImages' entries for one image: one per tag, or one digest-only entry when untagged."""
    if not image.tags:
        return [{"imageDigest": image.digest}]
    return [{"imageDigest": image.digest, "imageTag": tag} for tag in image.tags]


def pulled_image(
    account: str, repo: RepositoryState, image: StoredImage, asked: dict[str, str]
) -> dict[str, Any]:
    """An `Image` of BatchGetImage: the exact stored manifest."""
    image_id = {"imageDigest": image.digest}
    if asked.get("imageTag"):
        image_id["imageTag"] = asked["imageTag"]
    return {
        "registryId": account,
        "repositoryName": repo.name,
        "imageId": image_id,
        "imageManifest": image.manifest,
        "imageManifestMediaType": image.media_type,
    }
