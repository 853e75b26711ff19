"""The scan's calls (DescribeRepositories, DescribeImages, BatchGetImage) sent without botocore's per-call
pipeline, and everything that makes them AWS calls kept botocore's.

A botocore call walks parameter validation, serialisation, the endpoint rules, a dozen events, the
request signer's own events, history records, a response dict and the shape parser: ~1 ms of CPU a call
(the parser's walk of every member aside) on top of the HTTP exchange, the largest
cost of a plan's scan past the wire's (issue 14). `Transport.call` sends the same JSON request itself:
- the URL botocore's endpoint rules resolve for the client (AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_ECR,
  region, FIPS, dual-stack), and the signing name and region they name, resolved once per operation;
- a SigV4 signature by `botocore.auth.SigV4Auth`, as botocore's signer makes it, of the session's
  credentials frozen per attempt (so an assumed role's or SSO's credentials refresh as botocore's do),
  without repeating its pure steps (`_Signer`, `_Request`);
- the client's own HTTP session (its proxies, CA bundle, timeouts and pool);
- botocore's retry decisions, unchanged: each attempt emits `before-send` (the adaptive rate limiter)
  and `needs-retry` (the standard retry handler and the limiter) on the client's emitter with the
  arguments botocore's `Endpoint` gives them, sleeps what they return and gives up when they say so;
  `after-call` releases the retry quota. Connection failures are the HTTP session's exceptions.
Error replies are parsed by botocore's JSON parser into the client's own ClientError classes, so they are
classified by their code as before. A successful reply is decoded by `client.RAW_DECODERS`' `wire`
function (`UnreadableReply` when it cannot be: fail closed, not retried: a 200 reply of another shape is no
passing fault).

Not done, as botocore does it: `amz-sdk-invocation-id`/`amz-sdk-request` headers, client-side
monitoring and the history recorder (debug aids), parameter validation (ecrgc builds these parameters).
The private botocore members used are pinned by tests/aws/test_transport.py.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from http.client import HTTPMessage
from typing import TYPE_CHECKING, Any, cast

import msgspec
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse, prepare_request_dict
from botocore.credentials import Credentials
from botocore.endpoint import convert_to_response_dict
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.hooks import first_non_none_response
from botocore.model import OperationModel
from botocore.serialize import create_serializer

from ecrgc.aws.client import RAW_DECODERS

if TYPE_CHECKING:
    import botocore.session
    from botocore.hooks import EventAliaser
    from types_boto3_ecr import ECRClient

Reply = tuple[AWSResponse, dict[str, Any]]

_KEYS = 64
"""Signing-key steps kept (4 per secret key, day, region and service)."""

_STEPS = SigV4Auth(Credentials("", ""), "", "")
"""Whose `_sign` (an HMAC, a pure function of its arguments: the signer's own state is not read) derives
the kept steps."""


@functools.lru_cache(maxsize=_KEYS)
def _key_step(key: bytes, msg: str) -> bytes:
    step: bytes = _STEPS._sign(key, msg)  # type: ignore[attr-defined]
    return step


class _Signer(SigV4Auth):
    """botocore's SigV4 signer of one request, which works out what depends only on the credentials, the
    day, the region and the service once, not per call: ~20 % of a signature's CPU (issue 14).

    - The signing key's HMAC steps (`_sign` of everything but the signature itself) are kept by
      `_key_step`, for every signer of the process.
    - `headers_to_sign`, which botocore works out twice per `add_auth` (for the canonical request and the
      Authorization header) from headers that do not change in between, is worked out once.
    The signature is botocore's, step by step (tests/aws/test_transport_signer.py compares it with
    botocore's own SigV4Auth's, and tests/aws/test_transport.py's server checks every request's)."""

    def __init__(self, credentials: Any, service_name: str, region_name: str) -> None:
        super().__init__(credentials, service_name, region_name)
        self._headers: HTTPMessage | None = None

    def add_auth(self, request: AWSRequest) -> None:
        self._headers = None
        super().add_auth(request)

    def headers_to_sign(self, request: AWSRequest) -> HTTPMessage:
        if self._headers is None:
            self._headers = super().headers_to_sign(request)
        return self._headers

    def _sign(self, key: bytes, msg: str, hex: bool = False) -> Any:  # botocore's names
        if hex:  # the signature itself
            return super()._sign(key, msg, hex=True)  # type: ignore[misc]
        return _key_step(key, msg)


class _Request(AWSRequest):
    """botocore's AWSRequest whose `body` is its data, the bytes sent: botocore's prepares the whole
    request again to read it (`SigV4Auth.payload` does, ~20 µs a call). The data is never empty (a JSON
    object), which botocore's would turn into None."""

    @property
    def body(self) -> Any:
        return self.data


class _Operation(msgspec.Struct, frozen=True):
    """What every call of one operation shares, resolved once."""

    model: OperationModel
    request: Mapping[str, str]
    headers: Mapping[str, str]
    context: Mapping[str, Any]
    auth: Callable[[Any], SigV4Auth]
    decode: Callable[[bytes], dict[str, Any]]
    before_call: str
    before_send: str
    needs_retry: str
    after_call: str


class Transport:
    """Sends RAW_DECODERS' operations of one ECR `client`, built from `session`; thread-safe, as it is."""

    def __init__(self, client: ECRClient, session: botocore.session.Session) -> None:
        self._client = client
        self._events = cast("EventAliaser", client.meta.events)  # what botocore's clients hold
        # botocore's, pinned by tests/aws/test_transport.py
        self._endpoint = client._endpoint  # type: ignore[attr-defined]
        self._signer = client._request_signer  # type: ignore[attr-defined]
        self._user_agent = client._user_agent_creator.to_string()  # type: ignore[attr-defined]
        self._http = self._endpoint.http_session
        self._credentials = session.get_credentials()  # the chain's object the client's signer holds
        self._parser = session.get_component("response_parser_factory").create_parser("json")
        self._operations = {name: self._operation(name, decode) for name, decode in RAW_DECODERS.items()}

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The decoded reply of one `operation` call; raises what botocore's client would (ClientError,
        EndpointConnectionError …, NoCredentialsError) and `wire.UnreadableReply`."""
        op = self._operations[operation]
        body = msgspec.json.encode(params)
        context = {**op.context, "retries": {"attempt": 1}}
        request_dict = {**op.request, "headers": dict(op.headers), "body": body, "context": context}
        _, answered = self._events.emit_until_response(
            op.before_call, model=op.model, params=request_dict, request_signer=self._signer, context=context
        )
        # a handler may answer in botocore's place (as botocore's Stubber does)
        http, parsed = cast(Reply | None, answered) or self._send(op, request_dict)
        self._events.emit(op.after_call, http_response=http, parsed=parsed, model=op.model, context=context)
        if http.status_code >= 300:
            code = parsed.get("Error", {}).get("Code")
            error = cast("type[ClientError]", self._client.exceptions.from_code(code))
            raise error(cast("Any", parsed), operation)
        return parsed

    def _send(self, op: _Operation, request_dict: dict[str, Any]) -> Reply:
        """botocore's `Endpoint._send_request`: attempts until the retry handlers stop them."""
        attempts = 1
        reply, exception = self._attempt(op, request_dict)
        while self._needs_retry(op, attempts, request_dict, reply, exception):
            attempts += 1
            request_dict["context"]["retries"]["attempt"] = attempts
            reply, exception = self._attempt(op, request_dict)
        if exception is not None:
            raise exception
        assert reply is not None  # one of the two is set
        return reply

    def _attempt(self, op: _Operation, request_dict: dict[str, Any]) -> tuple[Reply | None, Exception | None]:
        """One newly signed request and its reply (or the exception sending it raised), as botocore's
        `Endpoint._get_response` returns them."""
        # botocore's create_request_object, of a _Request
        request = _Request(
            method=request_dict["method"],
            url=request_dict["url"],
            data=request_dict["body"],
            headers=request_dict["headers"],
        )
        request.context = request_dict["context"]
        if self._credentials is None:
            raise NoCredentialsError()
        op.auth(self._credentials.get_frozen_credentials()).add_auth(request)
        prepared = request.prepare()
        try:
            http = first_non_none_response(self._events.emit(op.before_send, request=prepared))
            if http is None:
                http = self._http.send(prepared)
        except Exception as exc:  # noqa: BLE001  # botocore hands any of them to the retry handler
            return None, exc
        if http.status_code < 300:
            return (http, op.decode(http.content)), None
        return (http, self._parsed_error(op, http)), None

    def _parsed_error(self, op: _Operation, http: AWSResponse) -> dict[str, Any]:
        """An error reply as botocore's parser reads it, with the error shape's modelled members."""
        response = convert_to_response_dict(http, op.model)
        parsed: dict[str, Any] = self._parser.parse(response, op.model.output_shape)
        code = parsed.get("Error", {}).get("Code")
        shape = code and op.model.service_model.shape_for_error_code(code)
        if shape:
            parsed.update(self._parser.parse(response, shape))
        return parsed

    def _needs_retry(
        self,
        op: _Operation,
        attempts: int,
        request_dict: dict[str, Any],
        reply: Reply | None,
        exception: Exception | None,
    ) -> bool:
        """botocore's `Endpoint._needs_retry`: the handlers' delay slept, or False."""
        delay = first_non_none_response(
            self._events.emit(
                op.needs_retry,
                response=reply,
                endpoint=self._endpoint,
                operation=op.model,
                attempts=attempts,
                caught_exception=exception,
                request_dict=request_dict,
            )
        )
        if delay is None or delay is False:
            return False
        time.sleep(delay)
        return True

    def _operation(self, name: str, decode: Callable[[bytes], dict[str, Any]]) -> _Operation:
        meta = self._client.meta
        model = meta.service_model.operation_model(name)
        context: dict[str, Any] = {
            "client_region": meta.region_name,
            "client_config": meta.config,
            "has_streaming_input": False,
            "auth_type": model.resolved_auth_type,
        }
        # ECR's endpoint rules read no parameter of the call (pinned by a test): one URL per operation
        url, headers, _ = self._client._resolve_endpoint_ruleset(model, {}, context)  # type: ignore[attr-defined]
        # botocore's serializer and URL join give the method, path, headers (X-Amz-Target …) and URL
        request = create_serializer(
            meta.service_model.resolved_protocol, include_validation=False
        ).serialize_to_request({}, model)
        request["headers"].update(headers)
        prepare_request_dict(request, endpoint_url=url, user_agent=self._user_agent)
        signing = context.get("signing", {})
        signing_name = signing.get("signing_name", meta.service_model.signing_name)
        region = signing.get("region", meta.region_name)
        service = meta.service_model.service_id.hyphenize()
        return _Operation(
            model=model,
            request={key: request[key] for key in ("url_path", "query_string", "method", "url")},
            headers=request["headers"],
            context=context,
            auth=lambda credentials: _Signer(credentials, signing_name, region),
            decode=decode,
            before_call=f"before-call.{service}.{name}",
            before_send=f"before-send.{service}.{name}",
            needs_retry=f"needs-retry.{service}.{name}",
            after_call=f"after-call.{service}.{name}",
        )
