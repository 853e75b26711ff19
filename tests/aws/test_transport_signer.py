"""`ecrgc.aws.transport`'s signer and request: botocore's SigV4 signature, its signing-key steps kept and
its headers to sign worked out once, checked against botocore's own SigV4Auth (tests/aws/test_transport.py's
server also checks every request the transport sends), and the botocore internals they rely on."""

from __future__ import annotations

import inspect

import msgspec
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ecrgc.aws.transport import _KEYS, _key_step, _Request, _Signer
from tests.aws.test_transport import PARAMS

URL = "https://api.ecr.eu-west-1.amazonaws.com/"
HEADERS = {
    "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeImages",
    "Content-Type": "application/x-amz-json-1.1",
}


def _request(body: bytes) -> _Request:
    return _Request(method="POST", url=URL, data=body, headers=dict(HEADERS))


def _botocores_signature(signed: AWSRequest, secret: str) -> str:
    """The signature botocore's SigV4Auth makes of what `signed` carries, at its X-Amz-Date."""
    request = AWSRequest(
        method=signed.method,
        url=signed.url,
        data=signed.data,
        headers={name: value for name, value in signed.headers.items() if name != "Authorization"},
    )
    request.context["timestamp"] = signed.headers["X-Amz-Date"]
    auth = SigV4Auth(Credentials("AKID", secret, "token"), "ecr", "eu-west-1")
    return auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)


def test_the_signer_signs_as_botocores_sigv4auth_does_for_every_secret_and_keeps_its_key_steps() -> None:
    secrets = [f"secret-{n}" for n in range(_KEYS // 2)]  # 4 steps each: more than are kept
    for secret in secrets + secrets[-1:]:
        kept = _key_step.cache_info().hits
        request = _request(msgspec.json.encode(PARAMS["DescribeImages"]))
        _Signer(Credentials("AKID", secret, "token").get_frozen_credentials(), "ecr", "eu-west-1").add_auth(
            request
        )
        authorization = request.headers["Authorization"]
        assert authorization.endswith(f"Signature={_botocores_signature(request, secret)}"), secret
        assert (
            "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target," in authorization
        )
    # the signing key's steps (botocore derives them by _sign) are kept: the last secret's again
    assert _key_step.cache_info().hits == kept + 4


def test_botocores_signing_step_is_what_the_signer_overrides() -> None:
    assert list(inspect.signature(SigV4Auth._sign).parameters) == ["self", "key", "msg", "hex"]  # type: ignore[attr-defined]
    theirs, ours = (kind(Credentials("AKID", "secret"), "ecr", "eu-west-1") for kind in (SigV4Auth, _Signer))
    for hex_ in (False, True, False):
        assert ours._sign(b"key", "msg", hex=hex_) == theirs._sign(b"key", "msg", hex=hex_)  # type: ignore[attr-defined]


@pytest.mark.parametrize("operation", sorted(PARAMS))
def test_a_requests_body_is_what_botocores_awsrequest_prepares(operation: str) -> None:
    body = msgspec.json.encode(PARAMS[operation])
    prepared: object = AWSRequest(
        method="POST", url=URL, data=body, headers=HEADERS
    ).body  # bytes (stubs: str)
    assert _request(body).body == prepared == body
