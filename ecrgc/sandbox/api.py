"""ECR operations: request body → validated call on the registry → response body (`handle`)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from ecrgc.sandbox import exceptions, limits, replication, wire
from ecrgc.sandbox.registry import Registry
from ecrgc.sandbox.repository import RepositoryState, StoredImage

Body = dict[str, Any]


def handle(registry: Registry, operation: str, body: Body) -> Body:
    """Answer one ECR call, or raise `ApiError`."""
    handler = _HANDLERS.get(operation)
    if handler is None:
        raise exceptions.ApiError("UnknownOperationException", f"Unknown operation {operation}")
    with registry.lock:
        return handler(registry, body)


def _repository(registry: Registry, body: Body) -> RepositoryState:
    name = limits.repository_name(body)
    limits.registry_id(body)
    return registry.get(name)


def _create_repository(registry: Registry, body: Body) -> Body:
    name = limits.repository_name(body)
    limits.registry_id(body)
    mutability = limits.choice(
        body.get("imageTagMutability"), "imageTagMutability", ("MUTABLE", "IMMUTABLE"), "MUTABLE"
    )
    return {"repository": wire.repository(registry, registry.create_repository(name, mutability=mutability))}


def _describe_repositories(registry: Registry, body: Body) -> Body:
    limits.registry_id(body)
    limits.no_paging_with(body, "repositoryNames")
    names = body.get("repositoryNames")
    if names is not None:
        if len(names) > limits.MAX_IMAGE_IDS:
            raise exceptions.too_long("repositoryNames", limits.MAX_IMAGE_IDS)
        return {"repositories": [wire.repository(registry, registry.get(n)) for n in names]}
    limit = limits.max_results(body)
    start, _ = limits.decode_token(body.get("nextToken"), "DescribeRepositories", "")
    keys, next_seq = _page(registry.order.iter_from(start), limit, lambda _: True)
    reply: Body = {"repositories": [wire.repository(registry, registry.repositories[k]) for k in keys]}
    if next_seq is not None:
        reply["nextToken"] = limits.encode_token("DescribeRepositories", "", next_seq)
    return reply


def _delete_repository(registry: Registry, body: Body) -> Body:
    _repository(registry, body)
    repo = registry.delete_repository(body["repositoryName"], force=bool(body.get("force")))
    return {"repository": wire.repository(registry, repo)}


def _put_image(registry: Registry, body: Body) -> Body:
    repo = _repository(registry, body)
    manifest = str(body.get("imageManifest", ""))
    if len(manifest) > limits.MAX_MANIFEST:
        raise exceptions.too_long("imageManifest", limits.MAX_MANIFEST)
    limits.tag(body)
    image = registry.put_image(
        repo.name,
        manifest,
        media_type=body.get("imageManifestMediaType"),
        tag=body.get("imageTag"),
        digest=body.get("imageDigest"),
    )
    image_id = {"imageDigest": image.digest}
    if body.get("imageTag"):
        image_id["imageTag"] = body["imageTag"]
    reply = wire.pulled_image(registry.account, repo, image, image_id)
    reply["imageId"] = image_id
    return {"image": reply}


def _filter(body: Body) -> Callable[[StoredImage, float], str | None]:
    """The predicate of DescribeImages / ListImages' `filter`: the image's status if it passes, else None."""
    given = body.get("filter") or {}
    tag_status = limits.choice(given.get("tagStatus"), "filter.tagStatus", limits.TAG_STATUSES, "ANY")
    image_status = limits.choice(
        given.get("imageStatus"), "filter.imageStatus", limits.IMAGE_STATUSES, "ACTIVE"
    )

    def passes(image: StoredImage, now: float) -> str | None:
        if (tag_status == "TAGGED" and not image.tags) or (tag_status == "UNTAGGED" and image.tags):
            return None
        status = image.status_at(now)
        return status if image_status in ("ANY", status) else None

    return passes


def _describe_images(registry: Registry, body: Body) -> Body:
    repo = _repository(registry, body)
    limits.no_paging_with(body, "imageIds")
    now = registry.clock.now()
    ids = limits.image_ids(body, required=False)
    if ids is not None:
        return {"imageDetails": _described_by_id(registry, repo, ids, now)}
    passes = _filter(body)
    limit = limits.max_results(body)
    start, _ = limits.decode_token(body.get("nextToken"), "DescribeImages", repo.name)
    images = repo.images
    details: list[Body] = []
    next_seq = None
    for seq, digest in repo.order.iter_from(start):
        image = images[digest]
        status = passes(image, now)
        if status is None:
            continue
        if len(details) == limit:
            next_seq = seq
            break
        details.append(wire.image_detail(registry.account, repo, image, status))
    reply: Body = {"imageDetails": details}
    if next_seq is not None:
        reply["nextToken"] = limits.encode_token("DescribeImages", repo.name, next_seq)
    return reply


def _described_by_id(
    registry: Registry, repo: RepositoryState, ids: list[dict[str, str]], now: float
) -> list[Body]:
    """Explicit imageIds: every one must exist (ImageNotFoundException otherwise), whatever its status."""
    seen: dict[str, Body] = {}
    for image_id in ids:
        image = registry.find(repo, image_id)
        if isinstance(image, dict):
            raise exceptions.image_not_found(image_id, repo.name, registry.account)
        seen.setdefault(image.digest, wire.image_detail(registry.account, repo, image, image.status_at(now)))
    return list(seen.values())


def _list_images(registry: Registry, body: Body) -> Body:
    repo = _repository(registry, body)
    passes = _filter(body)
    limit = limits.max_results(body)
    start, offset = limits.decode_token(body.get("nextToken"), "ListImages", repo.name)
    now = registry.clock.now()
    entries: list[dict[str, str]] = []
    reply: Body = {"imageIds": entries}
    for seq, digest in repo.order.iter_from(start):
        image = repo.images[digest]
        if passes(image, now) is None:
            continue
        ids = wire.image_ids(image)[offset if seq == start else 0 :]
        room = limit - len(entries)
        if room == 0 or len(ids) > room:
            skip = (offset if seq == start else 0) + room
            reply["nextToken"] = limits.encode_token("ListImages", repo.name, seq, skip)
            entries.extend(ids[:room])
            break
        entries.extend(ids)
    return reply


def _batch_get_image(registry: Registry, body: Body) -> Body:
    repo = _repository(registry, body)
    ids = limits.image_ids(body) or []
    accepted = body.get("acceptedMediaTypes") or []
    if len(accepted) > limits.MAX_MEDIA_TYPES:
        raise exceptions.too_long("acceptedMediaTypes", limits.MAX_MEDIA_TYPES)
    found, failures = registry.pull(repo.name, ids, accepted)
    images = [wire.pulled_image(registry.account, repo, image, dict(asked)) for image, asked in found]
    return {"images": images, "failures": failures}


def _batch_delete_image(registry: Registry, body: Body) -> Body:
    repo = _repository(registry, body)
    deleted, failures = registry.delete(repo.name, limits.image_ids(body) or [])
    return {"imageIds": deleted, "failures": failures}


def _list_image_referrers(registry: Registry, body: Body) -> Body:
    repo = _repository(registry, body)
    subject = (body.get("subjectId") or {}).get("imageDigest")
    if not subject:
        raise exceptions.invalid(
            "Invalid parameter at 'subjectId.imageDigest' failed to satisfy constraint: 'must not be null'"
        )
    given = body.get("filter") or {}
    status_filter = limits.choice(
        given.get("artifactStatus"), "filter.artifactStatus", limits.IMAGE_STATUSES, "ACTIVE"
    )
    types = given.get("artifactTypes") or []
    if len(types) > 5:
        raise exceptions.too_long("filter.artifactTypes", 5)
    limit = limits.max_results(body, limits.MAX_REFERRERS, limits.DEFAULT_REFERRERS)
    start, _ = limits.decode_token(body.get("nextToken"), "ListImageReferrers", f"{repo.name}@{subject}")
    now = registry.clock.now()

    def passes(image: StoredImage) -> bool:
        status = image.status_at(now)
        return status_filter in ("ANY", status) and (not types or image.artifact_type in types)

    ordered = sorted((repo.order.seq_of(d), d) for d in repo.referrers_of(subject))
    keys, next_seq = _page(
        ((s, d) for s, d in ordered if s >= start), limit, lambda d: passes(repo.images[d])
    )
    reply: Body = {"referrers": [_referrer(repo.images[d], now) for d in keys]}
    if next_seq is not None:
        reply["nextToken"] = limits.encode_token("ListImageReferrers", f"{repo.name}@{subject}", next_seq)
    return reply


def _referrer(image: StoredImage, now: float) -> Body:
    entry: Body = {
        "digest": image.digest,
        "mediaType": image.media_type,
        "size": len(image.manifest.encode()),
        "artifactStatus": image.status_at(now),
    }
    if image.artifact_type:
        entry["artifactType"] = image.artifact_type
    return entry


def _update_image_storage_class(registry: Registry, body: Body) -> Body:
    repo = _repository(registry, body)
    image_id = body.get("imageId") or {}
    limits.tag(image_id, "imageId.imageTag")
    target = limits.choice(body.get("targetStorageClass"), "targetStorageClass", ("STANDARD", "ARCHIVE"), "")
    image = registry.set_storage_class(repo.name, image_id, target)
    return {
        "registryId": registry.account,
        "repositoryName": repo.name,
        "imageId": {
            "imageDigest": image.digest,
            **({"imageTag": image_id["imageTag"]} if image_id.get("imageTag") else {}),
        },
        "imageStatus": image.status_at(registry.clock.now()),
    }


def _describe_registry(registry: Registry, _body: Body) -> Body:
    return {"registryId": registry.account, "replicationConfiguration": copy.deepcopy(registry.replication)}


def _put_replication_configuration(registry: Registry, body: Body) -> Body:
    given = body.get("replicationConfiguration")
    registry.replication = replication.checked(given, registry.account, registry.region)
    return {"replicationConfiguration": copy.deepcopy(registry.replication)}


def _page(
    pairs: Iterator[tuple[int, str]], limit: int, keep: Callable[[str], bool]
) -> tuple[list[str], int | None]:
    """Up to `limit` kept keys and the sequence number the next page starts at (None when there is none)."""
    keys: list[str] = []
    for seq, key in pairs:
        if not keep(key):
            continue
        if len(keys) == limit:
            return keys, seq
        keys.append(key)
    return keys, None


_HANDLERS: dict[str, Callable[[Registry, Body], Body]] = {
    "CreateRepository": _create_repository,
    "DescribeRepositories": _describe_repositories,
    "DeleteRepository": _delete_repository,
    "PutImage": _put_image,
    "DescribeImages": _describe_images,
    "ListImages": _list_images,
    "BatchGetImage": _batch_get_image,
    "BatchDeleteImage": _batch_delete_image,
    "ListImageReferrers": _list_image_referrers,
    "UpdateImageStorageClass": _update_image_storage_class,
    "DescribeRegistry": _describe_registry,
    "PutReplicationConfiguration": _put_replication_configuration,
}
OPERATIONS = tuple(_HANDLERS)
"""The ECR operations the sandbox answers."""
