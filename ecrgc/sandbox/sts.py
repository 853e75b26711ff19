"""STS in the query protocol (form body in, XML out): GetCallerIdentity and AssumeRole, and STS's XML
error answer. Shapes as in the STS API reference (`AssumeRoleResponse` / `AssumeRoleResult` with
`Credentials` and `AssumedRoleUser`)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from ecrgc.sandbox import exceptions
from ecrgc.sandbox.identity import Caller, Identities

OPERATIONS = ("GetCallerIdentity", "AssumeRole")
_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_CALLER = """<GetCallerIdentityResponse xmlns="{ns}">
  <GetCallerIdentityResult>
    <Arn>{arn}</Arn>
    <UserId>{user_id}</UserId>
    <Account>{account}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>
"""
_ASSUMED = """<AssumeRoleResponse xmlns="{ns}">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <Arn>{arn}</Arn>
      <AssumedRoleId>{user_id}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{access_key}</AccessKeyId>
      <SecretAccessKey>{secret_key}</SecretAccessKey>
      <SessionToken>{token}</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>
</AssumeRoleResponse>
"""
_ERROR = """<ErrorResponse xmlns="{ns}">
  <Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>{request_id}</RequestId>
</ErrorResponse>
"""
_FAULTS: dict[str, tuple[str, str, int]] = {
    "ThrottlingException": ("Sender", "Throttling", 400),
    "ServerException": ("Receiver", "ServiceUnavailable", 503),
}
"""Injected faults as STS spells them: ECR code -> (Type, Code, HTTP status)."""
DEFAULT_DURATION = 3600


def operation(form: Mapping[str, Sequence[str]]) -> str | None:
    """The STS operation a form body asks for, or None when it is not one the sandbox answers."""
    action = (form.get("Action") or [""])[0]
    return action if action in OPERATIONS else None


def handle(
    name: str,
    form: Mapping[str, Sequence[str]],
    *,
    caller: Caller,
    identities: Identities,
    denied_roles: set[str],
    request_id: str,
) -> str:
    """The XML reply of one STS call, or raise `ApiError`."""
    if name == "GetCallerIdentity":
        return _CALLER.format(
            ns=_NS,
            arn=escape(caller.arn),
            user_id=caller.user_id,
            account=caller.account,
            request_id=request_id,
        )
    role_arn = (form.get("RoleArn") or [""])[0]
    session_name = (form.get("RoleSessionName") or [""])[0]
    duration = int((form.get("DurationSeconds") or [str(DEFAULT_DURATION)])[0])
    issued = identities.assume(caller, role_arn, session_name, denied_roles)
    # Real time, not the sandbox clock: botocore compares expirations with the machine's own clock.
    expiration = datetime.fromtimestamp(time.time() + duration, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _ASSUMED.format(
        ns=_NS,
        arn=escape(issued.caller.arn),
        user_id=escape(issued.caller.user_id),
        access_key=issued.access_key,
        secret_key=issued.secret_key,
        token=issued.session_token,
        expiration=expiration,
        request_id=request_id,
    )


def error(exc: exceptions.ApiError, request_id: str) -> tuple[int, str]:
    """(HTTP status, XML ErrorResponse) of a failed call, which botocore parses (and retries) by Code."""
    kind, code, status = _FAULTS.get(exc.code, ("Sender", exc.code, exc.status))
    body = _ERROR.format(
        ns=_NS, kind=kind, code=escape(code), message=escape(exc.message), request_id=request_id
    )
    return status, body
