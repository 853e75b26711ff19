"""Changing a registry for `ecrgc apply`: every requested image comes back as one `Outcome`.

A partial failure is data, never an exception: per-item failures map by their `failureCode`, and a whole
call that still fails after botocore's retries marks every image of that call FAILED with the error code.
Only unusable credentials raise, since no later call could succeed either.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from ecrgc.aws.client import batches, error_code, failure_code, registry_argument
from ecrgc.model import Outcome, OutcomeReason, OutcomeStatus

if TYPE_CHECKING:
    from types_boto3_ecr import ECRClient
    from types_boto3_ecr.type_defs import ImageFailureTypeDef

log = logging.getLogger(__name__)

_ABSENT_CODES = frozenset({"ImageNotFound", "ImageNotFoundException", "RepositoryNotFoundException"})


def delete_images(
    client: ECRClient, repository: str, digests: Sequence[str], *, registry_id: str | None = None
) -> list[Outcome]:
    """Deletes by digest (the image and all its tags) in BatchDeleteImage calls of at most 100, in order.

    Callers put indexes and subjects in an earlier call than their children and referrers: deleting both
    in one call is undocumented.
    """
    outcomes: list[Outcome] = []
    for batch in batches(list(dict.fromkeys(digests))):
        outcomes.extend(_delete_batch(client, repository, batch, registry_id))
    return outcomes


def _delete_batch(
    client: ECRClient, repository: str, batch: Sequence[str], registry_id: str | None
) -> list[Outcome]:
    try:
        reply = client.batch_delete_image(
            repositoryName=repository,
            imageIds=[{"imageDigest": digest} for digest in batch],
            **registry_argument(registry_id),
        )
    except (BotoCoreError, ClientError) as exc:
        code = failure_code(exc)
        log.warning("BatchDeleteImage of %d images in %s failed: %s", len(batch), repository, code)
        return [_outcome(repository, digest, code) for digest in batch]
    failures = _failures_by_digest(reply.get("failures", ()))
    # Every requested id is either removed or listed in failures. The removed list alone is not enough:
    # moto answers an empty imageIds when it deletes an untagged image by digest.
    return [_outcome(repository, digest, failures.get(digest)) for digest in batch]


def _failures_by_digest(failures: Iterable[ImageFailureTypeDef]) -> dict[str, str]:
    return {
        failure["imageId"]["imageDigest"]: failure.get("failureCode", "Unknown")
        for failure in failures
        if "imageDigest" in failure.get("imageId", {})
    }


def _outcome(
    repository: str, digest: str, code: str | None, done: OutcomeStatus = OutcomeStatus.DELETED
) -> Outcome:
    """The outcome of one image given the failure code ECR reported for it (None: it succeeded)."""
    if code is None:
        return Outcome(repository=repository, digest=digest, status=done)
    status, reason = OutcomeStatus.FAILED, OutcomeReason.REGISTRY_ERROR
    if code in _ABSENT_CODES:
        status, reason = OutcomeStatus.ALREADY_ABSENT, OutcomeReason.NOT_FOUND
    elif code == "ImageReferencedByManifestList":
        status, reason = OutcomeStatus.SKIPPED, OutcomeReason.REFERENCED
    return Outcome(repository=repository, digest=digest, status=status, reason=reason, code=code)


def archive_images(
    client: ECRClient, repository: str, digests: Sequence[str], *, registry_id: str | None = None
) -> list[Outcome]:
    """Moves each image to the ARCHIVE storage class: UpdateImageStorageClass takes one image per call."""
    return [_archive_one(client, repository, digest, registry_id) for digest in dict.fromkeys(digests)]


def _archive_one(client: ECRClient, repository: str, digest: str, registry_id: str | None) -> Outcome:
    try:
        client.update_image_storage_class(
            repositoryName=repository,
            imageId={"imageDigest": digest},
            targetStorageClass="ARCHIVE",
            **registry_argument(registry_id),
        )
    except (BotoCoreError, ClientError) as exc:
        return _outcome(repository, digest, failure_code(exc))
    return _outcome(repository, digest, None, done=OutcomeStatus.ARCHIVED)


def delete_repository_if_empty(client: ECRClient, name: str, *, registry_id: str | None = None) -> Outcome:
    """DeleteRepository without force: ECR itself checks emptiness, so a racing push keeps the repository."""
    try:
        client.delete_repository(repositoryName=name, **registry_argument(registry_id))
    except ClientError as exc:
        if (code := error_code(exc)) == "RepositoryNotEmptyException":
            return Outcome(
                repository=name,
                digest="",
                status=OutcomeStatus.SKIPPED,
                reason=OutcomeReason.NOT_EMPTY,
                code=code,
            )
        return _outcome(name, "", failure_code(exc))
    except BotoCoreError as exc:
        return _outcome(name, "", failure_code(exc))
    return Outcome(repository=name, digest="", status=OutcomeStatus.DELETED)
