"""The accounts and regions whose AWS-native workloads are read (ECS, Lambda, Batch, App Runner).

`open_reach` turns one (region, role) into a `Reach`: a session with the plan's own credentials (its
account from GetCallerIdentity) or with a role's, assumed with STS. Every failure becomes one
`SourceUnavailable` line naming the account, the region, the service and the API (for a role: the account,
the role ARN and AssumeRole): a workload that cannot be read must never look like no workload.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from ecrgc.aws.client import DEFAULT_MAX_ATTEMPTS, Credentials, botocore_session, client_config, error_code
from ecrgc.errors import SourceUnavailable
from ecrgc.model import Use
from ecrgc.refs import parse_reference

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.session import Session
    from types_boto3_sts import STSClient

log = logging.getLogger(__name__)

WORKERS = 8
"""Calls one reader makes at once (each reader sizes its client's connection pool to match)."""

SESSION_NAME = "ecrgc-read"
"""The RoleSessionName of every AssumeRole: CloudTrail shows ecrgc's reads under it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reach:
    """One account and region, and a session holding credentials for it."""

    account: str
    region: str
    session: Session = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        """`210987654321/us-east-1`: how provenance and messages name the account and region."""
        return f"{self.account}/{self.region}"

    @property
    def config(self) -> Config:
        """Adaptive retries (throttling is expected), a pool for `WORKERS` calls at once."""
        return client_config(
            max_pool_connections=WORKERS, retry_mode="adaptive", max_attempts=DEFAULT_MAX_ATTEMPTS
        )

    def client(self, service: str) -> Any:
        """A new client of `service` (`ecs`, `lambda` …) in this account and region, with `config`; the
        caller names its type (`client: ECSClient = reach.client("ecs")`)."""
        return self.session.create_client(service, self.region, config=self.config)


def open_reach(region: str, role_arn: str | None) -> Reach:
    """The plan's own credentials in `region` (`role_arn` None), or the role's, assumed with STS."""
    if role_arn is None:
        session = botocore_session()
        with failing_closed(f"aws {region}: sts GetCallerIdentity (the plan's own credentials)"):
            account = _sts(session, region).get_caller_identity()["Account"]
        return Reach(account=account, region=region, session=session)
    credentials = role_credentials(region, role_arn)
    assumed = botocore_session(credentials=credentials)
    return Reach(account=role_arn.split(":")[4], region=region, session=assumed)


def role_credentials(region: str, role_arn: str) -> Credentials:
    """The role's temporary credentials (STS AssumeRole with the ambient ones, in `region`): a usage
    reader's role, or a target's planRoleArn or applyRoleArn for its registry's clients."""
    account = role_arn.split(":")[4]
    try:
        reply = _sts(botocore_session(), region).assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)
    except (BotoCoreError, ClientError) as exc:
        raise SourceUnavailable(
            f"aws account {account}: cannot assume role {role_arn} (sts AssumeRole in {region}:"
            f" {_code(exc)}); check the role's trust policy and the plan role's sts:AssumeRole permission"
            " (docs/gitops.md)"
        ) from exc
    issued = reply["Credentials"]
    return Credentials(
        access_key=issued["AccessKeyId"], secret_key=issued["SecretAccessKey"], token=issued["SessionToken"]
    )


def _sts(session: Session, region: str) -> STSClient:
    config = client_config(max_pool_connections=1, retry_mode="adaptive", max_attempts=DEFAULT_MAX_ATTEMPTS)
    return cast("STSClient", session.create_client("sts", region, config=config))


@contextmanager
def reader_pool(name: str) -> Iterator[ThreadPoolExecutor]:
    """`WORKERS` threads for one reader; once a call fails, the queued ones are dropped, not made."""
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix=name)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)


@contextmanager
def failing_closed(what: str) -> Iterator[None]:
    """Any AWS failure inside the block stops the plan: `what` names account, region, service and API."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise SourceUnavailable(
            f"{what} failed ({_code(exc)}): nothing may be deleted while it cannot be read; grant the"
            " permission (docs/gitops.md) or remove the service from protect.aws"
        ) from exc


def use_of(image: str, source: str, *, digest: str | None = None) -> Use | None:
    """The Use of one configured image (its digest pinned when the service reports which one it runs);
    None for text no registry could serve (logged, like a cluster's)."""
    try:
        ref = parse_reference(image)
    except ValueError as exc:
        log.warning("%s: ignoring an image that no registry could serve: %s", source, exc)
        return None
    if digest:
        ref = parse_reference(f"{ref.host}/{ref.repository}{f':{ref.tag}' if ref.tag else ''}@{digest}")
    return Use(ref=ref, source=source)


def _code(exc: BotoCoreError | ClientError) -> str:
    return error_code(exc) if isinstance(exc, ClientError) else f"{type(exc).__name__}: {exc}"
