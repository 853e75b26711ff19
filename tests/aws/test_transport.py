"""`ecrgc.aws.transport` against botocore's own client, call for call: the same URL for every endpoint
setting, a signature a server recomputes with botocore.auth from what it received (for both), credentials
refreshed from the session's chain, botocore's retry decisions and errors, and the botocore internals the
transport reads (they fail here, loudly, if botocore changes them)."""

from __future__ import annotations

import hmac
import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.httpsession import URLLib3Session
from botocore.signers import RequestSigner

from ecrgc.aws import Registry
from ecrgc.aws.client import RAW_DECODERS, RetryMode, botocore_session, ecr_client, registry_session
from ecrgc.aws.transport import Transport
from ecrgc.errors import RemoteError, SourceUnavailable
from ecrgc.sandbox import Sandbox
from tests.aws.profiles import use_credential_process

REPLIES = {
    "DescribeRepositories": b'{"repositories": []}',
    "DescribeImages": b'{"imageDetails": []}',
    "BatchGetImage": b'{"images": [], "failures": []}',
}
PARAMS: dict[str, dict[str, Any]] = {
    "DescribeRepositories": {"registryId": "123456789012", "maxResults": 1000},
    "DescribeImages": {"repositoryName": "app", "filter": {"tagStatus": "ANY"}, "maxResults": 1000},
    "BatchGetImage": {"repositoryName": "app", "imageIds": [{"imageDigest": "sha256:" + "0" * 64}]},
}
OPERATIONS = sorted(RAW_DECODERS)


def _built(region: str, **options: Any) -> tuple[Any, Transport]:
    session = registry_session()
    client = ecr_client(session, region, **options)
    return client, Transport(client, session)


def _botocore_call(client: Any, operation: str) -> Callable[[], object]:
    return lambda: getattr(client, xform_name(operation))(**PARAMS[operation])


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def _sent(client: Any, operation: str, send: Callable[[], object]) -> AWSPreparedRequest:
    """The request `send` hands to the wire, answered in its place by botocore's documented `before-send`
    short-circuit (no network)."""
    sent: list[AWSPreparedRequest] = []

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {}, _Body(REPLIES[operation]))

    event = f"before-send.ecr.{operation}"
    client.meta.events.register(event, answer)
    try:
        send()
    finally:
        client.meta.events.unregister(event, answer)
    (request,) = sent
    return request


_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<scope>[^/]+/[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def _signing(request: AWSPreparedRequest) -> tuple[str, str]:
    """(credential scope region/service, signed headers) of a request's SigV4 Authorization."""
    authorization = request.headers["Authorization"]
    text = authorization.decode() if isinstance(authorization, bytes) else authorization
    match = _AUTHORIZATION.fullmatch(text)
    assert match is not None, text
    return match["scope"], match["signed"]


@pytest.mark.parametrize(
    ("region", "environ", "host"),
    [
        ("us-east-1", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "127.0.0.1:9"),
        (
            "us-east-1",
            {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_ECR": "https://ecr.test:8443/base"},
            "ecr.test:8443",
        ),
        ("eu-west-1", {}, "eu-west-1"),
        ("us-east-1", {"AWS_USE_FIPS_ENDPOINT": "true"}, "fips"),
        ("eu-west-1", {"AWS_USE_DUALSTACK_ENDPOINT": "true"}, "api.aws"),
        ("us-gov-west-1", {"AWS_USE_FIPS_ENDPOINT": "true", "AWS_USE_DUALSTACK_ENDPOINT": "true"}, "fips"),
        ("cn-north-1", {}, "amazonaws.com.cn"),
        (
            "us-east-1",
            {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
            "aws",
        ),
    ],
)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_transport_sends_what_botocores_client_sends_where_it_sends_it(
    monkeypatch: pytest.MonkeyPatch, region: str, environ: dict[str, str], host: str, operation: str
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    client, transport = _built(region)
    theirs = _sent(client, operation, _botocore_call(client, operation))
    ours = _sent(client, operation, lambda: transport.call(operation, PARAMS[operation]))
    assert host in ours.url
    assert (ours.method, ours.url) == (theirs.method, theirs.url)
    assert _signing(ours) == _signing(theirs)  # the same region, service and signed headers
    for header in ("X-Amz-Target", "Content-Type", "User-Agent"):  # botocore's Endpoint encodes its own
        assert ours.headers[header] == theirs.headers[header].decode()
    assert json.loads(ours.body) == json.loads(theirs.body)


class _Verifying(BaseHTTPRequestHandler):
    """Answers a request whose SigV4 signature it recomputes with botocore.auth from what it received
    (the secret of an access key is `secret_of(key)`), and InvalidSignatureException otherwise."""

    secret_of: Callable[[str], str]
    seen: list[tuple[str, str, bool]]  # (operation, access key, signature verified)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        operation = self.headers["X-Amz-Target"].rsplit(".", 1)[1]
        match = _AUTHORIZATION.fullmatch(self.headers.get("Authorization", ""))
        verified = match is not None and self._verified(match, body)
        self.seen.append((operation, match["key"] if match else "", verified))
        reply = (
            REPLIES[operation] if verified else b'{"__type": "InvalidSignatureException", "message": "no"}'
        )
        self.send_response(200 if verified else 403)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def _verified(self, match: re.Match[str], body: bytes) -> bool:
        signed = match["signed"].split(";")
        request = AWSRequest(
            method=self.command,
            url=f"http://{self.headers['Host']}{self.path}",
            data=body,
            headers={name: self.headers[name] for name in signed if name != "host"},
        )
        request.context["timestamp"] = self.headers["X-Amz-Date"]
        region, service = match["scope"].split("/")
        auth = SigV4Auth(Credentials(match["key"], self.secret_of(match["key"])), service, region)
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        return match["date"] == self.headers["X-Amz-Date"][:8] and hmac.compare_digest(
            expected, match["signature"]
        )

    def log_message(self, *_: Any) -> None:
        """No line on stderr per request (BaseHTTPRequestHandler's default)."""


@pytest.fixture
def verifying(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Verifying]]:
    """A server checking signatures (secret "secret-" + the key's digits), AWS_ENDPOINT_URL pointed at it."""
    handler = type(
        "Handler", (_Verifying,), {"seen": [], "secret_of": staticmethod(lambda key: "secret-" + key)}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_server_verifies_the_signatures_of_both_and_refuses_a_wrong_secret(
    verifying: type[_Verifying], monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-AKID")
    client, transport = _built("eu-west-1")
    _botocore_call(client, operation)()
    transport.call(operation, PARAMS[operation])
    assert verifying.seen == [(operation, "AKID", True)] * 2
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    client, transport = _built("eu-west-1", max_attempts=1)
    failures = []
    for call in (_botocore_call(client, operation), lambda: transport.call(operation, PARAMS[operation])):
        with pytest.raises(ClientError) as caught:
            call()
        failures.append((type(caught.value), caught.value.response["Error"]["Code"]))
    assert failures == [(client.exceptions.ClientError, "InvalidSignatureException")] * 2
    assert verifying.seen[2:] == [(operation, "AKID", False)] * 2


def test_each_attempt_signs_with_the_chains_credentials_refreshed_as_botocore_refreshes_them(
    verifying: type[_Verifying], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    counter = tmp_path / "issued"
    use_credential_process(  # a new key on each run, expiring within botocore's mandatory refresh window
        monkeypatch,
        tmp_path,
        "import datetime, json, pathlib\n"
        f"issued = pathlib.Path({str(counter)!r})\n"
        "n = len(issued.read_text()) if issued.exists() else 0\n"
        "issued.write_text('x' * (n + 1))\n"
        "expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': f'AKID{n}', 'SecretAccessKey': f'secret-AKID{n}',"
        " 'SessionToken': 'token', 'Expiration': expires.isoformat()}))\n",
    )
    _, transport = _built("eu-west-1")
    for _ in range(2):
        transport.call("DescribeImages", PARAMS["DescribeImages"])
    assert [(key, verified) for _, key, verified in verifying.seen] == [("AKID1", True), ("AKID2", True)]


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_server_errors_are_retried_and_given_up_on_as_botocore_does(
    sandbox: Sandbox, mode: RetryMode
) -> None:
    sandbox.registry.create_repository("app")
    sandbox.knobs.error_rate = 1.0
    client, transport = _built(sandbox.registry.region, retry_mode=mode, max_attempts=2)
    failures = []
    for call in (
        _botocore_call(client, "DescribeImages"),
        lambda: transport.call("DescribeImages", PARAMS["DescribeImages"]),
    ):
        sandbox.calls.reset()
        with pytest.raises(ClientError) as caught:
            call()
        failures.append(
            (type(caught.value), caught.value.response["Error"]["Code"], sandbox.calls["DescribeImages"])
        )
    assert failures == [(client.exceptions.ServerException, "ServerException", 2)] * 2


def test_an_unreachable_endpoint_is_botocores_connection_error() -> None:
    client, transport = _built("us-east-1", max_attempts=1)  # tests/conftest.py: a closed port
    raised = []
    for call in (
        _botocore_call(client, "DescribeImages"),
        lambda: transport.call("DescribeImages", PARAMS["DescribeImages"]),
    ):
        with pytest.raises(EndpointConnectionError) as caught:
            call()
        raised.append(str(caught.value))
    assert raised == ['Could not connect to the endpoint URL: "http://127.0.0.1:9/"'] * 2


def test_a_scan_through_the_transport_fails_as_before_on_rejected_credentials(
    verifying: type[_Verifying], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(RemoteError, match=r"credentials were rejected \(InvalidSignatureException\)"):
        Registry("eu-west-1", max_attempts=1).scan_repository("app")


def test_the_events_carry_what_botocores_endpoint_gives_their_handlers() -> None:
    client, transport = _built("us-east-1")
    events = ("before-call", "before-send", "needs-retry", "after-call")
    received: dict[str, list[dict[str, Any]]] = {event: [] for event in events}
    for event in events:
        client.meta.events.register(
            f"{event}.ecr.DescribeImages", lambda event=event, **kwargs: received[event].append(kwargs)
        )
    _sent(client, "DescribeImages", _botocore_call(client, "DescribeImages"))
    _sent(client, "DescribeImages", lambda: transport.call("DescribeImages", PARAMS["DescribeImages"]))
    for event in events:
        theirs, ours = received[event]
        assert sorted(ours) == sorted(theirs), event
    theirs, ours = received["needs-retry"]
    assert ours["endpoint"] is theirs["endpoint"]
    assert ours["operation"] is theirs["operation"]
    assert (ours["attempts"], ours["caught_exception"], ours["response"][0].status_code) == (1, None, 200)
    assert set(theirs["request_dict"]["context"]) - set(ours["request_dict"]["context"]) <= {
        "auth_options",  # not read by botocore's retry handlers (nor ECR's signing)
        "unsigned_payload",
    }


def test_the_botocore_internals_the_transport_reads_are_what_it_expects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    session = botocore_session()
    client = session.create_client("ecr", "us-east-1")
    assert isinstance(client._endpoint.http_session, URLLib3Session)
    assert isinstance(client._request_signer, RequestSigner)
    assert "md/Botocore#" in client._user_agent_creator.to_string()
    url, headers, properties = client._resolve_endpoint_ruleset(
        client.meta.service_model.operation_model("DescribeImages"), {}, {}
    )
    assert (url, headers) == ("https://api.ecr.us-east-1.amazonaws.com", {})
    assert isinstance(properties, dict)
    # One URL per operation is right only while ECR's endpoint rules read no parameter of a call.
    rules = session.get_component("data_loader").load_service_model("ecr", "endpoint-rule-set-1")
    assert all("builtIn" in parameter for parameter in rules["parameters"].values())
    for operation in OPERATIONS:
        model = client.meta.service_model.operation_model(operation)
        parameters = (
            model.context_parameters,
            model.static_context_parameters,
            model.operation_context_parameters,
        )
        assert parameters == ([], [], [])
        assert (model.http_checksum, model.request_compression, model.has_streaming_output) == (
            {},
            None,
            False,
        )


@pytest.mark.parametrize(
    ("operation", "reply", "failed"),
    [
        ("DescribeImages", b'{"imageDetails": [], "nextToken": "again"}', "DescribeImages of app"),
        ("DescribeRepositories", b'{"repositories": [], "nextToken": "again"}', "DescribeRepositories"),
    ],
)
def test_a_scan_that_is_sent_the_same_next_token_twice_stops_as_botocores_paginator_does(
    operation: str, reply: bytes, failed: str
) -> None:
    registry = Registry("us-east-1")
    sent: list[bytes] = []

    def page(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append(request.body)
        return AWSResponse(request.url, 200, {}, _Body(reply))

    registry.client.meta.events.register(f"before-send.ecr.{operation}", page)
    with pytest.raises(RemoteError, match=rf"^ecr {failed} failed: PaginationError$"):
        registry.scan_repository("app") if operation == "DescribeImages" else registry.list_repositories(bool)
    assert [json.loads(body).get("nextToken") for body in sent] == [None, "again"]


def test_a_repository_listed_without_its_uri_stops_the_plan_in_one_line() -> None:
    registry = Registry("us-east-1")
    reply = b'{"repositories": [{"repositoryName": "app", "registryId": "123456789012"}]}'

    def page(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, 200, {}, _Body(reply))

    registry.client.meta.events.register("before-send.ecr.DescribeRepositories", page)
    with pytest.raises(SourceUnavailable) as caught:
        registry.list_repositories(bool)
    assert str(caught.value) == (
        "ecr DescribeRepositories sent a reply ecrgc cannot read (Object missing required field "
        "`repositoryUri` - at `$.repositories[0]`): nothing may be deleted while it cannot be read; run "
        "ecrgc again, and upgrade it if that persists"
    )
