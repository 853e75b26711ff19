"""The request constraints ECR checks server-side (botocore checks only required members, types and minimum
lengths), each answering InvalidParameterException with ECR's wording."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ecrgc.sandbox import exceptions

REPOSITORY_PATTERN = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*"
_REPOSITORY = re.compile(REPOSITORY_PATTERN)
_REGISTRY_ID = re.compile(r"[0-9]{12}")
MAX_IMAGE_IDS = 100
MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
MAX_REFERRERS = 50
DEFAULT_REFERRERS = 20
MAX_TAG = 300
MAX_MANIFEST = 4_194_304
MAX_MEDIA_TYPES = 100
TAG_STATUSES = ("TAGGED", "UNTAGGED", "ANY")
IMAGE_STATUSES = ("ACTIVE", "ARCHIVED", "ACTIVATING", "ANY")


def repository_name(body: Mapping[str, Any]) -> str:
    """`repositoryName`: 2-256 characters of the documented pattern."""
    name = str(body.get("repositoryName", ""))
    if len(name) > 256:
        raise exceptions.too_long("repositoryName", 256)
    if len(name) < 2 or not _REPOSITORY.fullmatch(name):
        raise exceptions.not_pattern("repositoryName", REPOSITORY_PATTERN)
    return name


def registry_id(body: Mapping[str, Any]) -> None:
    """`registryId`, when given: 12 digits (which registry it names, the server has chosen already:
    `Sandbox.registry_of`)."""
    given = body.get("registryId")
    if given is not None and not _REGISTRY_ID.fullmatch(str(given)):
        raise exceptions.not_pattern("registryId", "[0-9]{12}")


def image_ids(body: Mapping[str, Any], *, required: bool = True) -> list[dict[str, str]] | None:
    """`imageIds`: 1-100 identifiers whose tags are at most 300 characters."""
    ids = body.get("imageIds")
    if ids is None and not required:
        return None
    if not isinstance(ids, list) or not ids:
        raise exceptions.invalid(
            "Invalid parameter at 'imageIds' failed to satisfy constraint: "
            "'Member must have length greater than or equal to 1'"
        )
    if len(ids) > MAX_IMAGE_IDS:
        raise exceptions.too_long("imageIds", MAX_IMAGE_IDS)
    for image_id in ids:
        tag(image_id, "imageIds.member.imageTag")
    return ids


def tag(image_id: Mapping[str, Any], member: str = "imageTag") -> None:
    """A tag of at most 300 characters."""
    value = image_id.get("imageTag")
    if value is not None and len(str(value)) > MAX_TAG:
        raise exceptions.too_long(member, MAX_TAG)


def max_results(body: Mapping[str, Any], limit: int = MAX_RESULTS, default: int = DEFAULT_RESULTS) -> int:
    """`maxResults`: 1-`limit`, `default` when absent."""
    value = body.get("maxResults")
    if value is None:
        return default
    if int(value) > limit:
        raise exceptions.too_large("maxResults", limit)
    if int(value) < 1:
        raise exceptions.invalid(
            "Invalid parameter at 'maxResults' failed to satisfy constraint: "
            "'Member must have value greater than or equal to 1'"
        )
    return int(value)


def no_paging_with(body: Mapping[str, Any], member: str) -> None:
    """With an explicit list (`imageIds`, `repositoryNames`), ECR refuses maxResults and nextToken."""
    if body.get(member) is not None and (
        body.get("maxResults") is not None or body.get("nextToken") is not None
    ):
        raise exceptions.invalid(f"Invalid parameter: maxResults and nextToken cannot be used with {member}")


def choice(value: Any, member: str, allowed: Sequence[str], default: str) -> str:
    """An enum member, `default` when absent."""
    if value is None:
        return default
    if value not in allowed:
        raise exceptions.invalid(
            f"Invalid parameter at '{member}' failed to satisfy constraint: "
            f"'Member must satisfy enum value set: [{', '.join(allowed)}]'"
        )
    return str(value)


def encode_token(operation: str, scope: str, seq: int, offset: int = 0) -> str:
    """An opaque nextToken, valid only for the same operation on the same repository."""
    raw = json.dumps([operation, scope, seq, offset], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str | None, operation: str, scope: str) -> tuple[int, int]:
    """`(seq, offset)` of a nextToken (0, 0 for the first page); InvalidParameterException if foreign."""
    if token is None:
        return 0, 0
    try:
        op, where, seq, offset = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise exceptions.invalid(
            "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid token'"
        ) from exc
    if op != operation or where != scope:
        raise exceptions.invalid(
            "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid token'"
        )
    return int(seq), int(offset)
