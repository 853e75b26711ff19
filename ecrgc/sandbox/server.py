"""The HTTP side: ECR's JSON 1.1 protocol, App Runner's JSON 1.0 (`ecrgc.sandbox.apprunner`) and STS
GetCallerIdentity (query protocol), with the knobs' latency, throttling, denials and faults applied before a
call reaches the registry; and `Sandbox`, which runs it."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from ecrgc.sandbox import api, apprunner, exceptions, identity, sts
from ecrgc.sandbox.identity import Caller, Identities
from ecrgc.sandbox.knobs import CallCounter, Clock, Knobs
from ecrgc.sandbox.registry import Registry

logger = logging.getLogger(__name__)

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
ACCESS_KEY = "sandbox"
SECRET_KEY = "sandbox"  # noqa: S105 - a dummy that botocore needs to sign requests; the sandbox checks nothing
_REGISTRY_ID = re.compile(r"[0-9]{12}")


@dataclass(frozen=True, slots=True)
class _Request:
    """Who signed the call and the region of its credential scope (the sandbox's own when unsigned)."""

    caller: Caller
    region: str


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
        sandbox = self.server.sandbox
        access_key, region = identity.signer(self.headers.get("Authorization"))
        request = _Request(sandbox.identities.caller(access_key), region or sandbox.registry.region)
        target = self.headers.get("X-Amz-Target") or ""
        if target.startswith(TARGET_PREFIX):
            self._serve(target.removeprefix(TARGET_PREFIX), raw, request, self._ecr, self._ecr_error)
        elif target.startswith(apprunner.TARGET_PREFIX):
            service = target.removeprefix(apprunner.TARGET_PREFIX)
            self._serve(service, raw, request, self._apprunner, self._apprunner_error)
        elif action := sts.operation(parse_qs(raw.decode())):
            self._serve(action, raw, request, self._sts, self._sts_error)
        else:
            self._json(400, {"__type": "UnknownOperationException", "message": "Unknown operation"}, "")

    def _serve(
        self,
        operation: str,
        raw: bytes,
        request: _Request,
        answer: Callable[[str, bytes, _Request], None],
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
                    f"User: {request.caller.arn} is not authorized to perform: {operation} because no"
                    " identity-based policy allows the action",
                )
            if knobs.roll(knobs.error_rate):
                raise exceptions.server_error()
            answer(operation, raw, request)
        except exceptions.ApiError as exc:
            fail(exc)

    def _ecr_error(self, exc: exceptions.ApiError) -> None:
        self._json(exc.status, {"__type": exc.code, "message": exc.message}, exc.code)

    def _apprunner_error(self, exc: exceptions.ApiError) -> None:
        payload = json.dumps({"__type": exc.code, "Message": exc.message}).encode()
        self._send(exc.status, payload, "application/x-amz-json-1.0", str(uuid.uuid4()), exc.code)

    def _sts_error(self, exc: exceptions.ApiError) -> None:
        request_id = str(uuid.uuid4())
        status, payload = sts.error(exc, request_id)
        self._send(status, payload.encode(), "text/xml", request_id, "")

    def _ecr(self, operation: str, raw: bytes, request: _Request) -> None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise exceptions.ApiError("SerializationException", "Request body is not valid JSON") from exc
        registry = self.server.sandbox.registry_of(request.caller, request.region, operation, body)
        self._json(200, api.handle(registry, operation, body), "")

    def _apprunner(self, operation: str, raw: bytes, _request: _Request) -> None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise exceptions.ApiError("SerializationException", "Request body is not valid JSON") from exc
        sandbox = self.server.sandbox
        reply = sandbox.apprunner.handle(operation, body, sandbox.clock.now_datetime())
        payload = json.dumps(reply, separators=(",", ":")).encode()
        self._send(200, payload, "application/x-amz-json-1.0", str(uuid.uuid4()), "")

    def _sts(self, operation: str, raw: bytes, request: _Request) -> None:
        sandbox, request_id = self.server.sandbox, str(uuid.uuid4())
        form = parse_qs(raw.decode())
        reply = sts.handle(
            operation,
            form,
            caller=request.caller,
            identities=sandbox.identities,
            denied_roles=sandbox.knobs.denied_roles,
            request_id=request_id,
        )
        self._send(200, reply.encode(), "text/xml", request_id, "")

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
    """A local ECR (and STS) endpoint over in-memory registries, one per (account, region): the region
    is the request's SigV4 credential scope, the account the caller's (its access key: the default
    account's, one from `user`, or an assumed role's) unless `registryId` names a registry that is
    `shared_with` the caller's account. `registry` is the default account's in the default region; see
    the package docstring."""

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
        self.identities = Identities(account)
        self.registries: dict[tuple[str, str], Registry] = {}
        self._registries_lock = threading.Lock()
        self.registry = self.registry_for(account, region)
        self.apprunner = apprunner.AppRunner(account=account, region=region)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def registry_for(self, account: str, region: str) -> Registry:
        """The registry of `account` in `region` (a new, empty one the first time it is asked for)."""
        with self._registries_lock:
            registry = self.registries.get((account, region))
            if registry is None:
                registry = Registry(account, region, self.clock, self.knobs)
                self.registries[(account, region)] = registry
            return registry

    def registry_of(self, caller: Caller, region: str, operation: str, body: Mapping[str, Any]) -> Registry:
        """The registry an ECR call acts on: the caller's own in `region`, or the one `registryId` names
        when it is shared with the caller (else AccessDeniedException, as IAM answers a cross-account call
        that no resource-based policy allows). A malformed registryId reaches the caller's registry, which
        answers the pattern error."""
        given = body.get("registryId")
        if not isinstance(given, str) or not _REGISTRY_ID.fullmatch(given) or given == caller.account:
            return self.registry_for(caller.account, region)
        with self._registries_lock:
            other = self.registries.get((given, region))
        if other is None or caller.account not in other.shared_with:
            resource = f"arn:aws:ecr:{region}:{given}:repository/{body.get('repositoryName') or '*'}"
            raise exceptions.ApiError(
                "AccessDeniedException",
                f"User: {caller.arn} is not authorized to perform: ecr:{operation} on resource: {resource}"
                f" because no resource-based policy allows the ecr:{operation} action",
            )
        return other

    def user(self, account: str, name: str = "sandbox") -> dict[str, str]:
        """`environ()` with the long-term access key of a new IAM user `name` in `account`."""
        issued = self.identities.user(account, name)
        return {
            **self.environ(),
            "AWS_ACCESS_KEY_ID": issued.access_key,
            "AWS_SECRET_ACCESS_KEY": issued.secret_key,
        }

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
