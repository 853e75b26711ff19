"""botocore sessions and clients (ECR, STS and the usage readers'), and the translation of AWS failures into
`ecrgc.errors`.

Clients are built from botocore sessions directly, as boto3's `Session.client` does, without importing
boto3 (and s3transfer, which it imports): ~0.1 s of every start (issue 14). The credential chain, profiles,
endpoint resolution, signing and retries are botocore's either way. The endpoint comes only from the
environment (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_ECR` …), which botocore reads itself: tests and the
sandbox point it at a local server, production leaves it unset.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import botocore.session
import msgspec
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    DataNotFoundError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.loaders import JSONFileLoader, Loader, create_loader
from botocore.utils import parse_timestamp

from ecrgc import __version__
from ecrgc.aws.wire import batch_get_image_page, describe_images_page, describe_repositories_page
from ecrgc.errors import RemoteError, UsageError

if TYPE_CHECKING:
    from types_boto3_ecr import ECRClient
    from types_boto3_sts import STSClient

RetryMode = Literal["standard", "adaptive"]
"""botocore's retry modes. ecrgc defaults to adaptive: with many threads on one client, standard mode's shared
500-token retry quota drains under throttling and calls then fail fast (measured in
tests/bench/bench_plan_scan.py: 32 threads at 10 calls/s, standard failed, adaptive finished at the rate)."""

BATCH_SIZE = 100
"""The most imageIds ECR accepts in one BatchGetImage or BatchDeleteImage call (botocore does not check)."""

DEFAULT_MAX_ATTEMPTS = 10
"""Attempts per call, the first included. Throttling is expected when many threads share one client, and
botocore's default of 3 gives up too soon."""

NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(or run `aws sso login`)"
)

_CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "MissingAuthenticationToken",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
    }
)
"""Codes meaning the credentials themselves are wrong, whatever the operation."""


def client_config(*, max_pool_connections: int, retry_mode: RetryMode, max_attempts: int) -> Config:
    """The botocore configuration shared by every client ecrgc builds."""
    return Config(
        max_pool_connections=max_pool_connections,
        retries={"mode": retry_mode, "total_max_attempts": max_attempts},  # attempts, first one included
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """Temporary credentials (an assumed role's: `ecrgc.aws.accounts.role_credentials`)."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str = field(repr=False)


def ecr_client(
    session: botocore.session.Session,
    region: str,
    *,
    max_pool_connections: int = 16,
    retry_mode: RetryMode = "adaptive",
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> ECRClient:
    """One thread-safe ECR client of `session` (`registry_session`); `max_pool_connections` bounds the
    requests it runs at once. The scan's calls are not sent by it but by `ecrgc.aws.transport`."""
    config = client_config(
        max_pool_connections=max_pool_connections, retry_mode=retry_mode, max_attempts=max_attempts
    )
    return cast("ECRClient", session.create_client("ecr", region, config=config))


RAW_DECODERS: Mapping[str, Callable[[bytes], dict[str, Any]]] = {
    "DescribeRepositories": describe_repositories_page,  # RepositoryEntry records
    "DescribeImages": describe_images_page,  # ImageDetail records
    "BatchGetImage": batch_get_image_page,  # ImageManifest and ImageFailure records
}
"""The scan's calls and what decodes their successful bodies (`ecrgc.aws.transport` sends them): msgspec
straight into `wire`'s records, not botocore's shape parser, which walks every member of every ImageDetail
against the service model (a fifth of the CPU of a 100,000-image plan, issue 14)."""


def sts_client(session: botocore.session.Session, region: str) -> STSClient:
    """An STS client of `session` for GetCallerIdentity, in the same region (and endpoint) as ECR."""
    config = client_config(max_pool_connections=1, retry_mode="standard", max_attempts=DEFAULT_MAX_ATTEMPTS)
    return cast("STSClient", session.create_client("sts", region, config=config))


def registry_session(
    profile: str | None = None, credentials: Credentials | None = None
) -> botocore.session.Session:
    """A new session for one registry's clients, whose responses carry UTC timestamps, parsed cheaply.

    `profile`: a named profile of the AWS config files (`--profile`); None leaves the choice to AWS_PROFILE
    and the default chain; `credentials` replace the chain's. Build its clients in one thread (sessions are
    not thread-safe; the clients are, and share its credentials: the chain is resolved once, not per
    client, ~15 ms and for an assume-role or SSO profile a call each).
    """
    try:
        core = botocore_session(profile, credentials)
        core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=utc_timestamp)
        return core
    except ProfileNotFound as exc:
        raise UsageError(
            f"the AWS profile {exc.kwargs.get('profile', profile)!r} (--profile or AWS_PROFILE) is not in "
            "the AWS config files; list them with `aws configure list-profiles`"
        ) from None


def botocore_session(
    profile: str | None = None, credentials: Credentials | None = None
) -> botocore.session.Session:
    """A new botocore session (`profile`, `credentials`: as for `ecr_client`) that reads botocore's data
    files through the process's one loader, and names ecrgc in the User-Agent of its requests (CloudTrail's
    `userAgent`: `ecrgc/VERSION md/Botocore#…`, where boto3 wrote `Boto3/…`).

    Each session otherwise loads and parses them again (endpoints, the service model, the endpoint rules,
    the retry and default configurations): most of the 0.15 to 0.3 s of CPU that an ECR and an STS client
    cost, paid by every target of `plan --all-targets` (tests/bench/bench_targets.py). The loaded data
    are botocore's read-only models: every client of one session shares them already. A different
    AWS_DATA_PATH (`data_path` in a profile) gets its own loader.
    """
    core = botocore.session.Session(profile=profile)
    core.user_agent_name, core.user_agent_version = "ecrgc", __version__
    core.register_component("data_loader", _loader(core.get_config_variable("data_path")))
    if credentials is not None:
        core.set_credentials(credentials.access_key, credentials.secret_key, credentials.token)
    return core


@functools.cache
def _loader(data_path: str | None) -> Loader:
    # botocore's own search paths for `data_path` (AWS_DATA_PATH's, ~/.aws/models, botocore's data)
    return _ServicesLoader(
        extra_search_paths=create_loader(data_path).search_paths, include_default_search_paths=False
    )


SERVICES = ("apprunner", "batch", "ecr", "ecs", "lambda", "s3", "sts")
"""Every service ecrgc builds clients of: the registry, STS, the usage readers, image lists in S3."""


class _MsgspecFileLoader(JSONFileLoader):
    """botocore's JSON file loader (the same files, .json or .json.gz, found as botocore finds them), whose
    files msgspec parses into plain dicts, not `json.loads` into OrderedDicts: botocore's endpoints.json
    alone is 1.2 MB, and the models of a registry's two clients cost ~25 ms less of every process's start
    (issue 14). Plain dicts keep the files' order as OrderedDicts do (tests/aws/test_client.py compares
    every file ecrgc reads with botocore's own loader's)."""

    def _load_file(self, full_path: str, open_method: Callable[..., IO[bytes]]) -> Any:
        if not Path(full_path).is_file():
            return None
        with open_method(full_path, "rb") as file:
            return msgspec.json.decode(file.read())


class _ServicesLoader(Loader):
    """botocore's data loader, whose list of available services holds only SERVICES.

    botocore checks that a service is in that list before it loads any of its models, and builds the list
    from every service it ships (~450 directories, a stat each) once per model type (service, endpoint
    rules, paginators): ~40 ms of every process's start (issue 14). The models are found and read by
    botocore as before (parsed by `_MsgspecFileLoader`); any other service is unknown (UnknownServiceError),
    as ecrgc never asks for one.
    """

    FILE_LOADER_CLASS = _MsgspecFileLoader

    def list_available_services(self, type_name: str) -> list[str]:
        return [service for service in SERVICES if self._has(service, type_name)]

    def _has(self, service: str, type_name: str) -> bool:
        try:
            return bool(self.list_api_versions(service, type_name))
        except DataNotFoundError:
            return False


def utc_timestamp(value: str | float) -> datetime:
    """botocore's timestamp parser, for the replies it parses: an aware UTC datetime of what was sent.

    ECR sends epoch seconds. botocore's default parser builds a local-zone datetime through dateutil for
    each one, which was half the CPU of scanning a million images; text still goes to botocore's.
    """
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed: datetime = parse_timestamp(value)
    return parsed.astimezone(UTC)


def caller_account(sts: STSClient) -> str:
    """The 12-digit account id of the credentials in use."""
    with translated("sts GetCallerIdentity"):
        return sts.get_caller_identity()["Account"]


def error_code(exc: ClientError) -> str:
    """AWS's error code for a failed call: the only thing ecrgc classifies errors by."""
    return str(exc.response.get("Error", {}).get("Code") or "Unknown")


def failure_code(exc: BotoCoreError | ClientError) -> str:
    """A short code for a whole-call failure, to record in an Outcome; bad credentials still raise."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        raise RemoteError(NO_CREDENTIALS) from exc
    if not isinstance(exc, ClientError):
        return type(exc).__name__
    code = error_code(exc)
    if code in _CREDENTIAL_CODES:
        raise RemoteError(_rejected(code)) from exc
    return code


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turns any AWS failure inside the block into one RemoteError line naming `what` and the code."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        where = ""
        if isinstance(exc, EndpointConnectionError):
            where = f" ({exc.kwargs.get('endpoint_url')} cannot be reached)"
        raise RemoteError(f"{what} failed: {failure_code(exc)}{where}") from exc


def _rejected(code: str) -> str:
    return (
        f"the AWS credentials were rejected ({code}): check AWS_PROFILE or AWS_ACCESS_KEY_ID, or log in again"
    )


def registry_argument(registry_id: str | None) -> Mapping[str, Any]:
    """The `registryId` argument, only when the registry is not the caller's own."""
    return {"registryId": registry_id} if registry_id else {}


def batches(items: Sequence[str]) -> Iterator[Sequence[str]]:
    """`items` in consecutive slices of at most BATCH_SIZE, for the calls that take a list of imageIds."""
    for start in range(0, len(items), BATCH_SIZE):
        yield items[start : start + BATCH_SIZE]
