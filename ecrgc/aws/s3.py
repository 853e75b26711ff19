"""Image lists in S3: `s3://bucket/key` read for `protect.imageLists`, written by `inuse export --out`.

Read and written with the plan's own credentials (botocore's usual chain). A list that cannot be read stops
the plan like a missing file: `SourceUnavailable` naming the URL and AWS's error code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from botocore.exceptions import BotoCoreError, ClientError

from ecrgc.aws.client import DEFAULT_MAX_ATTEMPTS, botocore_session, client_config, error_code
from ecrgc.errors import RemoteError, SourceUnavailable, UsageError

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

SCHEME = "s3://"


def is_s3(location: str) -> bool:
    """Whether an image-list entry or an --out names an S3 object."""
    return location.startswith(SCHEME)


def split(url: str) -> tuple[str, str]:
    """`s3://bucket/some/key` → ("bucket", "some/key"); a URL without both stops with one line."""
    bucket, _, key = url.removeprefix(SCHEME).partition("/")
    if not bucket or not key or key.endswith("/"):
        raise UsageError(f"{url}: not an S3 object URL: write s3://BUCKET/KEY (a key, not a prefix)")
    return bucket, key


def read_object(url: str) -> bytes:
    """The object's bytes; any failure (NoSuchKey, AccessDenied, no answer) is SourceUnavailable."""
    bucket, key = split(url)
    try:
        return _client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        raise SourceUnavailable(
            f"image list {url} cannot be read (s3 GetObject: {code}): restore it, grant s3:GetObject on it,"
            " or remove it from protect.imageLists"
        ) from exc


def write_object(url: str, data: bytes) -> None:
    """Put `data` at `url` in one PutObject: readers see the old list or the new one, never half."""
    bucket, key = split(url)
    try:
        _client().put_object(Bucket=bucket, Key=key, Body=data, ContentType="text/plain; charset=utf-8")
    except (BotoCoreError, ClientError) as exc:
        code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        raise RemoteError(f"{url}: s3 PutObject failed ({code}): grant s3:PutObject on it") from exc


def _client() -> S3Client:
    config = client_config(max_pool_connections=4, retry_mode="adaptive", max_attempts=DEFAULT_MAX_ATTEMPTS)
    return cast("S3Client", botocore_session().create_client("s3", config=config))
