"""A small GitHub REST client (stdlib `urllib` only) for the few endpoints the GitOps workflows need.

Issue comments (list with pagination, create, update), the token's identity, and the pull requests a commit
belongs to. Every HTTP failure becomes a `RemoteError` naming the method, the path and the status code.
See https://docs.github.com/en/rest/issues/comments and https://docs.github.com/en/rest/commits/commits.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ecrgc import __version__
from ecrgc.errors import RemoteError, UsageError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
ACTIONS_BOT_LOGIN = "github-actions[bot]"
"""Who GITHUB_TOKEN (an installation token) posts as; such tokens may not read GET /user."""

_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
_API_VERSION = "2022-11-28"


@dataclass(frozen=True, slots=True, kw_only=True)
class Comment:
    """One issue or pull-request comment."""

    id: int
    body: str
    author: str
    html_url: str = ""


def comment_from_api(item: Mapping[str, Any]) -> Comment:
    """Build a `Comment` from the REST API's JSON object."""
    user = item.get("user") or {}
    return Comment(
        id=int(item["id"]),
        body=str(item.get("body") or ""),
        author=str(user.get("login", "")),
        html_url=str(item.get("html_url", "")),
    )


class GitHub:
    """The REST client. `api_url` is GITHUB_API_URL (GitHub Enterprise Server: https://HOST/api/v3)."""

    def __init__(self, *, token: str, api_url: str = DEFAULT_API_URL, timeout: float = 30.0) -> None:
        if not api_url.startswith(("https://", "http://")):
            raise UsageError(f"GITHUB_API_URL: {api_url!r} is not an http(s) URL")
        self._token = token
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GitHub:
        """Build the client from GITHUB_TOKEN and GITHUB_API_URL, as GitHub Actions sets them."""
        token = environ.get("GITHUB_TOKEN", "")
        if not token:
            raise UsageError(
                "GITHUB_TOKEN is not set: add `GITHUB_TOKEN: ${{ github.token }}` to the step's env"
            )
        return cls(token=token, api_url=environ.get("GITHUB_API_URL") or DEFAULT_API_URL)

    def login(self) -> str:
        """The login the token posts as: GET /user, or the Actions bot when the token may not read /user."""
        try:
            user, _ = self._request("GET", "/user")
        except _Forbidden:
            return ACTIONS_BOT_LOGIN
        return str(user["login"])

    def issue_comments(self, repo: str, number: int) -> Iterator[Comment]:
        """Every comment of an issue or pull request, oldest first, following the Link headers."""
        url: str | None = f"/repos/{repo}/issues/{number}/comments?per_page=100"
        while url is not None:
            page, url = self._request("GET", url)
            yield from (comment_from_api(item) for item in page)

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        """Post a new comment on an issue or pull request."""
        item, _ = self._request("POST", f"/repos/{repo}/issues/{number}/comments", {"body": body})
        return comment_from_api(item)

    def update_comment(self, repo: str, comment_id: int, body: str) -> Comment:
        """Replace the body of an existing comment."""
        item, _ = self._request("PATCH", f"/repos/{repo}/issues/comments/{comment_id}", {"body": body})
        return comment_from_api(item)

    def pulls_for_commit(self, repo: str, sha: str) -> list[dict[str, Any]]:
        """The pull requests a commit belongs to (for a merge commit on main: the merged pull request)."""
        pulls, _ = self._request("GET", f"/repos/{repo}/commits/{sha}/pulls?per_page=100")
        return [dict(p) for p in pulls]

    def _request(
        self, method: str, url: str, payload: Mapping[str, Any] | None = None
    ) -> tuple[Any, str | None]:
        """One call: returns the decoded JSON and the next page's URL (from the Link header), if any."""
        full = self._absolute(url)
        data = json.dumps(payload).encode() if payload is not None else None
        # S310: the scheme is checked in __init__ and by _next_link, so no file:// or custom scheme gets here.
        request = urllib.request.Request(full, data=data, method=method, headers=self._headers(data))  # noqa: S310
        log.debug("github %s %s", method, full)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310 (https or a test's http)
                body = response.read()
                link = response.headers.get("Link", "")
        except urllib.error.HTTPError as e:
            raise _http_error(method, full, e) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise RemoteError(f"github: {method} {full} failed: {reason}; check GITHUB_API_URL") from None
        return (json.loads(body) if body else None), self._next_link(link)

    def _absolute(self, url: str) -> str:
        return url if url.startswith(("http://", "https://")) else self._api_url + url

    def _next_link(self, link: str) -> str | None:
        match = _NEXT_LINK.search(link)
        if match is None:
            return None
        url = match.group(1)
        # The token goes with every request: never follow a link off the configured API host.
        if not url.startswith(self._api_url + "/"):
            raise RemoteError(f"github: refusing to follow a pagination link outside {self._api_url}: {url}")
        return url

    def _headers(self, data: bytes | None) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "User-Agent": f"ecrgc/{__version__}",  # GitHub rejects requests without one
            "X-GitHub-Api-Version": _API_VERSION,
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        return headers


class _Forbidden(RemoteError):
    """HTTP 403: the token may not do this (GITHUB_TOKEN on GET /user, a missing `permissions:` entry)."""


def _http_error(method: str, url: str, error: urllib.error.HTTPError) -> RemoteError:
    """Classify by status code; GitHub's own message is added for context only."""
    try:
        detail = str(json.loads(error.read() or b"{}").get("message", ""))
    except (ValueError, AttributeError):
        detail = ""
    hint = _HINTS.get(error.code, "")
    message = f"github: {method} {url} failed: HTTP {error.code}" + (f" ({detail})" if detail else "") + hint
    return (_Forbidden if error.code == 403 else RemoteError)(message)


_HINTS = {
    401: "; GITHUB_TOKEN is invalid or expired",
    403: "; grant the workflow `permissions: pull-requests: write` (or check the token's scopes)",
    404: "; check --repo, the pull request number and the token's access to the repository",
    422: "; GitHub rejected the content (a body over 65,536 characters?)",
}
