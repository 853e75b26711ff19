"""Who called, and in which region: the access key and the credential scope of a request's SigV4
`Authorization` header, and the identities behind the keys (STS GetCallerIdentity and AssumeRole).

The sandbox still checks no signature. An access key maps to a caller: one issued by `Identities.user`
(a long-term key of an IAM user in some account) or by AssumeRole (temporary credentials acting in the
role's account); any other key — the default `sandbox` key among them — is the sandbox's default user, so
every client that worked against the one-account sandbox still does.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from dataclasses import dataclass

from ecrgc.sandbox import exceptions

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[0-9]{8}/([^/,\s]+)/[^/,\s]+/aws4_request")
_ROLE_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})")
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")


def signer(authorization: str | None) -> tuple[str | None, str | None]:
    """(access key, region) of a SigV4 `Authorization` header; (None, None) for an unsigned request."""
    match = _CREDENTIAL.search(authorization or "")
    return (match.group(1), match.group(2)) if match else (None, None)


@dataclass(frozen=True, slots=True)
class Caller:
    """An identity as GetCallerIdentity reports it."""

    account: str
    arn: str
    user_id: str


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """Credentials the sandbox handed out, and whom they act as."""

    caller: Caller
    access_key: str
    secret_key: str
    session_token: str = ""


def _tag(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16].upper()


class Identities:
    """Access key → caller (thread-safe)."""

    def __init__(self, account: str) -> None:
        self.default = Caller(account, f"arn:aws:iam::{account}:user/sandbox", "AIDASANDBOXSANDBOX")
        self._keys: dict[str, Caller] = {}
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    def caller(self, access_key: str | None) -> Caller:
        """Whom `access_key` acts as (the default user for a key the sandbox did not issue)."""
        with self._lock:
            return self._keys.get(access_key or "", self.default)

    def user(self, account: str, name: str = "sandbox") -> IssuedKey:
        """A new long-term access key of IAM user `name` in `account`."""
        caller = Caller(account, f"arn:aws:iam::{account}:user/{name}", f"AIDA{_tag(account, name)}")
        return self._issue(caller, "AKIA")

    def assume(self, caller: Caller, role_arn: str, session_name: str, denied: set[str]) -> IssuedKey:
        """AssumeRole: temporary credentials acting in the role's account, unless the role is in `denied`
        (AccessDenied, as STS answers a missing sts:AssumeRole permission or a trust policy that refuses)."""
        role = _ROLE_ARN.fullmatch(role_arn)
        if role is None:
            raise exceptions.ApiError("ValidationError", f"{role_arn} is invalid", 400)
        if not _SESSION_NAME.fullmatch(session_name):
            raise exceptions.ApiError(
                "ValidationError",
                "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint:"
                r" Member must satisfy regular expression pattern: [\w+=,.@-]*",
                400,
            )
        if role_arn in denied:
            raise exceptions.ApiError(
                "AccessDenied",
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                403,
            )
        account, name = role.group(1), role.group(2)
        role_id = f"AROA{_tag(role_arn)}"
        assumed = Caller(
            account, f"arn:aws:sts::{account}:assumed-role/{name}/{session_name}", f"{role_id}:{session_name}"
        )
        return self._issue(assumed, "ASIA")

    def _issue(self, caller: Caller, prefix: str) -> IssuedKey:
        with self._lock:
            serial = next(self._serial)
            key = f"{prefix}{_tag(caller.arn, str(serial))}"
            self._keys[key] = caller
        secret = _tag("secret", key) * 2
        token = f"sandbox-session-{_tag('token', key)}" if prefix == "ASIA" else ""
        return IssuedKey(caller, key, secret, token)
