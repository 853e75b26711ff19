"""ECR's error answers, as the wire carries them: `{"__type": code, "message": …}` with HTTP 400 (500 for
ServerException). Messages follow ECR's own wording where it is known (the reference, moto, issue threads)."""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """An ECR error answer for the whole call."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def invalid(message: str) -> ApiError:
    """InvalidParameterException with a free message."""
    return ApiError("InvalidParameterException", message)


def too_long(member: str, limit: int) -> ApiError:
    """The maximum-length constraint that botocore leaves to the server."""
    return invalid(
        f"Invalid parameter at '{member}' failed to satisfy constraint: "
        f"'Member must have length less than or equal to {limit}'"
    )


def too_large(member: str, limit: int) -> ApiError:
    """The maximum-value constraint (maxResults) that botocore leaves to the server."""
    return invalid(
        f"Invalid parameter at '{member}' failed to satisfy constraint: "
        f"'Member must have value less than or equal to {limit}'"
    )


def not_pattern(member: str, pattern: str) -> ApiError:
    """A pattern constraint (repository name, registry id) that botocore leaves to the server."""
    return invalid(
        f"Invalid parameter at '{member}' failed to satisfy constraint: "
        f"'must satisfy regular expression '{pattern}''"
    )


def repository_not_found(name: str, registry_id: str) -> ApiError:
    return ApiError(
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id '{registry_id}'",
    )


def image_not_found(image_id: Mapping[str, str], name: str, registry_id: str) -> ApiError:
    digest, tag = image_id.get("imageDigest", "null"), image_id.get("imageTag", "null")
    shown = f"{{imageDigest:'{digest}', imageTag:'{tag}'}}"
    return ApiError(
        "ImageNotFoundException",
        f"The image with imageId {shown} does not exist within the repository with name '{name}' "
        f"in the registry with id '{registry_id}'",
    )


def throttled() -> ApiError:
    return ApiError("ThrottlingException", "Rate exceeded")


def server_error() -> ApiError:
    return ApiError("ServerException", "Internal service error (injected by the sandbox)", status=500)
