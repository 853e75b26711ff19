"""The HTTP side: ECR's JSON 1.1 protocol, App Runner's JSON 1.0 (`ecrgc.sandbox.apprunner`) and STS
GetCallerIdentity (query protocol), with the knobs' latency, throttling, denials and faults applied before a
call reaches the registry; and `Sandbox`, which runs it."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from ecrgc.sandbox import api, apprunner, exceptions
from ecrgc.sandbox.knobs import CallCounter, Clock, Knobs
from ecrgc.sandbox.registry import Registry

logger = logging.getLogger(__name__)

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
ACCESS_KEY = "sandbox"
SECRET_KEY = "sandbox"  # noqa: S105 - a dummy that botocore needs to sign requests; the sandbox checks nothing
_STS_REPLY = """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::{account}:user/sandbox</Arn>
    <UserId>AIDASANDBOXSANDBOX</UserId>
    <Account>{account}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>
"""
_STS_ERROR = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>{request_id}</RequestId>
</ErrorResponse>
"""
_STS_FAULTS: dict[str, tuple[str, str, int]] = {
    "ThrottlingException": ("Sender", "Throttling", 400),
    "ServerException": ("Receiver", "ServiceUnavailable", 503),
}
"""Injected faults as STS (the query protocol) spells them: ECR code -> (Type, Code, HTTP status)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive connections would otherwise hold `stop()` until clients hang up
    sandbox: Sandbox

    def server_activate(self) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().server_activate()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def hang_up(self) -> None:
        """Close the kept-alive connections too, so that a stopped sandbox answers nothing at all."""
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses its pooled connections
    disable_nagle_algorithm = True
    timeout = 60
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target") or ""
        if target.startswith(TARGET_PREFIX):
            self._serve(target.removeprefix(TARGET_PREFIX), raw, self._ecr, self._ecr_error)
        elif target.startswith(apprunner.TARGET_PREFIX):
            self._serve(
                target.removeprefix(apprunner.TARGET_PREFIX), raw, self._apprunner, self._apprunner_error
            )
        elif "GetCallerIdentity" in parse_qs(raw.decode()).get("Action", []):
            self._serve("GetCallerIdentity", raw, self._sts, self._sts_error)
        else:
            self._json(400, {"__type": "UnknownOperationException", "message": "Unknown operation"}, "")

    def _serve(
        self,
        operation: str,
        raw: bytes,
        answer: Callable[[str, bytes], None],
        fail: Callable[[exceptions.ApiError], None],
    ) -> None:
        """Delay, drop or fail the call as the knobs say, else `answer` it; `fail` speaks its protocol."""
        sandbox = self.server.sandbox
        sandbox.calls.add(operation)
        knobs = sandbox.knobs
        delay = knobs.latency_for(operation)
        if delay > 0:
            time.sleep(delay)
        if knobs.roll(knobs.drop_rate):
            self.close_connection = True  # no answer at all: the client sees a dropped connection
            return
        try:
            if not knobs.admits(operation):
                raise exceptions.throttled()
            if operation in knobs.denied:
                raise exceptions.ApiError(
                    "AccessDeniedException",
                    f"User: arn:aws:iam::{sandbox.registry.account}:user/sandbox is not authorized to"
                    f" perform: {operation} because no identity-based policy allows the action",
                )
            if knobs.roll(knobs.error_rate):
                raise exceptions.server_error()
            answer(operation, raw)
        except exceptions.ApiError as exc:
            fail(exc)

    def _ecr_error(self, exc: exceptions.ApiError) -> None:
        self._json(exc.status, {"__type": exc.code, "message": exc.message}, exc.code)

    def _apprunner_error(self, exc: exceptions.ApiError) -> None:
        payload = json.dumps({"__type": exc.code, "Message": exc.message}).encode()
        self._send(exc.status, payload, "application/x-amz-json-1.0", str(uuid.uuid4()), exc.code)

    def _sts_error(self, exc: exceptions.ApiError) -> None:
        """STS is the query protocol: an XML ErrorResponse, which botocore parses (and retries) by Code."""
        kind, code, status = _STS_FAULTS.get(exc.code, ("Sender", exc.code, exc.status))
        request_id = str(uuid.uuid4())
        payload = _STS_ERROR.format(
            kind=kind, code=escape(code), message=escape(exc.message), request_id=request_id
        ).encode()
        self._send(status, payload, "text/xml", request_id, "")

    def _ecr(self, operation: str, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise exceptions.ApiError("SerializationException", "Request body is not valid JSON") from exc
        self._json(200, api.handle(self.server.sandbox.registry, operation, body), "")

    def _apprunner(self, operation: str, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise exceptions.ApiError("SerializationException", "Request body is not valid JSON") from exc
        sandbox = self.server.sandbox
        reply = sandbox.apprunner.handle(operation, body, sandbox.clock.now_datetime())
        payload = json.dumps(reply, separators=(",", ":")).encode()
        self._send(200, payload, "application/x-amz-json-1.0", str(uuid.uuid4()), "")

    def _sts(self, _operation: str, _raw: bytes) -> None:
        request_id = str(uuid.uuid4())
        payload = _STS_REPLY.format(
            account=self.server.sandbox.registry.account, request_id=request_id
        ).encode()
        self._send(200, payload, "text/xml", request_id, "")

    def _json(self, status: int, body: dict[str, Any], error_type: str) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        self._send(status, payload, "application/x-amz-json-1.1", str(uuid.uuid4()), error_type)

    def _send(self, status: int, payload: bytes, content_type: str, request_id: str, error_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", request_id)
        if error_type:
            self.send_header("X-Amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(payload)


class Sandbox:
    """A local ECR (and STS) endpoint over an in-memory registry; see the package docstring."""

    def __init__(
        self,
        account: str = "123456789012",
        region: str = "ap-northeast-1",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        knobs: Knobs | None = None,
    ) -> None:
        self.clock = Clock()
        self.knobs = knobs or Knobs()
        self.calls = CallCounter()
        self.registry = Registry(account, region, self.clock, self.knobs)
        self.apprunner = apprunner.AppRunner(account=account, region=region)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        """`http://host:port` of the running server."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def environ(self) -> dict[str, str]:
        """The environment an unmodified boto3 or AWS CLI needs to talk to this sandbox."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": self.registry.region,
            "AWS_DEFAULT_REGION": self.registry.region,  # botocore reads this one, newer SDKs AWS_REGION
        }

    def start(self) -> Sandbox:
        """Listen (port 0 picks a free one) and serve from a background thread."""
        server = _Server(self._address, _Handler)
        server.sandbox = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="ecr-sandbox", daemon=True)
        self._thread.start()
        logger.info("ECR sandbox listening on %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.hang_up()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
