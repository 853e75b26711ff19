"""A stateful fake of the few GitHub REST endpoints ecrgc uses, served over real HTTP on 127.0.0.1.

It behaves like api.github.com where ecrgc could get it wrong: bearer-token auth (401 otherwise), a
User-Agent is required (403), GET /user is forbidden to Actions installation tokens (403), comments are paged
with `Link: <…>; rel="next"` headers, only a comment's author may edit it (403), bodies over 65,536
characters are rejected (422), and any request can be made to fail on purpose (`fail`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BODY_LIMIT = 65_536


@dataclass
class Failure:
    """Answer `count` requests matching `method` and the `path` regex with `status`."""

    method: str
    path: re.Pattern[str]
    status: int
    count: int = 1
    html: bool = False
    """Answer with an HTML page, as a proxy or load balancer in front of the API does."""
    message: str = ""
    """The JSON answer's `message` (GitHub's rate-limit answers say so there); default: `injected HTTP N`."""
    headers: dict[str, str] = field(default_factory=dict)
    """Response headers, e.g. `Retry-After` of a secondary rate limit."""


class _Html(str):
    """A response body that is not JSON."""


@dataclass
class GitHubState:
    """Everything the fake knows. Tests arrange it directly and assert on it afterwards."""

    users: dict[str, str] = field(default_factory=dict)
    """token -> login"""
    installation_tokens: set[str] = field(default_factory=set)
    """tokens that, like GITHUB_TOKEN, may not read GET /user"""
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    commit_pulls: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1000
    link_base: str | None = None
    """Pagination links point here instead of at the fake itself (to test that the client refuses)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_comment(self, repo: str, number: int, body: str, author: str) -> dict[str, Any]:
        """Store a comment as GitHub would return it."""
        self.next_id += 1
        item = {
            "id": self.next_id,
            "body": body,
            "user": {"login": author},
            "html_url": f"https://github.test/{repo}/pull/{number}#issuecomment-{self.next_id}",
        }
        self.comments.setdefault((repo, number), []).append(item)
        return item

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        count: int = 1,
        *,
        html: bool = False,
        message: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Make the next `count` requests to `method` + `path` (a regex) answer `status`."""
        self.failures.append(Failure(method, re.compile(path), status, count, html, message, headers or {}))

    def bodies(self, repo: str, number: int) -> list[str]:
        return [c["body"] for c in self.comments.get((repo, number), [])]


_TOO_LONG = {"message": "Validation Failed", "errors": [{"code": "custom", "message": "Body is too long"}]}
_NO_USER = "Resource not accessible by integration"
_COMMENTS = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_COMMENT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")
_COMMIT_PULLS = re.compile(r"^/repos/([^/]+/[^/]+)/commits/([0-9a-f]+)/pulls$")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr access log
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        with state.lock:
            state.requests.append((method, url.path))
            status, payload, headers = self._answer(state, method, url.path, parse_qs(url.query))
        self._send(status, payload, headers)

    def _answer(
        self, state: GitHubState, method: str, path: str, query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        refusal = self._refusal(state, method, path)
        if refusal is not None:
            return refusal
        token = self._token()
        if method == "GET" and path == "/user":
            forbidden = token in state.installation_tokens
            return (403, {"message": _NO_USER}, {}) if forbidden else (200, {"login": state.users[token]}, {})
        return self._route(state, method, path, query, state.users[token])

    def _refusal(self, state: GitHubState, method: str, path: str) -> tuple[int, Any, dict[str, str]] | None:
        """An injected failure, a missing User-Agent (403) or bad credentials (401), else None."""
        for failure in state.failures:
            if failure.count > 0 and failure.method == method and failure.path.search(path):
                failure.count -= 1
                page = _Html(f"<html><h1>{failure.status}</h1></html>")
                message = failure.message or f"injected HTTP {failure.status}"
                return failure.status, page if failure.html else {"message": message}, failure.headers
        if not self.headers.get("User-Agent"):
            return 403, {"message": "Request forbidden by administrative rules."}, {}
        return (401, {"message": "Bad credentials"}, {}) if self._token() not in state.users else None

    def _token(self) -> str:
        return self.headers.get("Authorization", "").removeprefix("Bearer ").removeprefix("token ")

    def _route(
        self, state: GitHubState, method: str, path: str, query: dict[str, list[str]], login: str
    ) -> tuple[int, Any, dict[str, str]]:
        if match := _COMMENTS.match(path):
            key = (match.group(1), int(match.group(2)))
            if method == "GET":
                return self._page(state.comments.get(key, []), path, query)
            if method == "POST":
                return self._create(state, key, login)
        if (match := _COMMENT.match(path)) and method == "PATCH":
            return self._update(state, int(match.group(2)), login)
        if (match := _COMMIT_PULLS.match(path)) and method == "GET":
            return 200, state.commit_pulls.get((match.group(1), match.group(2)), []), {}
        return 404, {"message": "Not Found"}, {}

    def _page(
        self, items: list[dict[str, Any]], path: str, query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            host = self.server.state.link_base or f"http://{self.headers['Host']}"
            headers["Link"] = f'<{host}{path}?per_page={per_page}&page={page + 1}>; rel="next"'
        return 200, chunk, headers

    def _create(
        self, state: GitHubState, key: tuple[str, int], login: str
    ) -> tuple[int, Any, dict[str, str]]:
        body = self._body()
        if body is None or len(body) > BODY_LIMIT:
            return 422, _TOO_LONG, {}
        return 201, state.add_comment(key[0], key[1], body, login), {}

    def _update(self, state: GitHubState, comment_id: int, login: str) -> tuple[int, Any, dict[str, str]]:
        found = [c for cs in state.comments.values() for c in cs if c["id"] == comment_id]
        if not found:
            return 404, {"message": "Not Found"}, {}
        if found[0]["user"]["login"] != login:
            return 403, {"message": "Must have admin rights to Repository."}, {}
        body = self._body()
        if body is None or len(body) > BODY_LIMIT:
            return 422, _TOO_LONG, {}
        found[0]["body"] = body
        return 200, found[0], {}

    def _body(self) -> str | None:
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length) or b"{}")
        body = payload.get("body")
        return body if isinstance(body, str) else None

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        html = isinstance(payload, _Html)
        data = payload.encode() if html else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if html else "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: GitHubState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@dataclass
class FakeGitHub:
    """A running fake: `url` is what GITHUB_API_URL should be."""

    url: str
    state: GitHubState


def serve(state: GitHubState) -> Iterator[FakeGitHub]:
    """Run the fake until the generator is closed (use as the body of a pytest fixture)."""
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield FakeGitHub(url=f"http://127.0.0.1:{server.server_address[1]}", state=state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
