"""The GitHub REST client for the few endpoints the GitOps workflows need, on PyGithub.

Issue comments (list with pagination, create, update), the token's identity, and the pull requests a commit
belongs to. PyGithub brings retries with backoff, primary and secondary rate-limit handling and Link-header
pagination; this module keeps ecrgc's side of the contract: every failure becomes one `RemoteError` line
naming the method, the URL and the status code, and a pagination link to another host than GITHUB_API_URL's
is refused (PyGithub checks it with an `assert`, which this module turns into that error).
See https://docs.github.com/en/rest/issues/comments and https://docs.github.com/en/rest/commits/commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from github import Auth, Github, GithubException, GithubRetry

from ecrgc import __version__
from ecrgc.errors import RemoteError, UsageError

if TYPE_CHECKING:
    from github.IssueComment import IssueComment
    from github.Repository import Repository

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
ACTIONS_BOT_LOGIN = "github-actions[bot]"
"""Who GITHUB_TOKEN (an installation token) posts as; such tokens may not read GET /user."""


def default_retry() -> GithubRetry:
    """Five attempts, backing off 0, 2, 4, 8 s on 5xx and waiting out rate limits (403/429 with Retry-After).

    POST is not retried: a create that failed with a 5xx may still have created the comment, and a second one
    would be a duplicate. GET and PATCH (which sets the whole body) are safe to repeat. `raise_on_status` is
    off so that, once the attempts are spent, the last answer's status code reaches the error message.
    """
    return GithubRetry(
        total=4, backoff_factor=1.0, allowed_methods=frozenset({"GET", "PATCH"}), raise_on_status=False
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Comment:
    """One issue or pull-request comment."""

    id: int
    body: str
    author: str
    html_url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PullRequestRef:
    """A pull request a commit belongs to: its number, and the merge commit once merged."""

    number: int
    merge_commit_sha: str | None


def comment_from_api(item: IssueComment) -> Comment:
    """Build a `Comment` from PyGithub's object (its attributes come from the listing: no extra request)."""
    return Comment(
        id=item.id,
        body=item.body or "",
        author=item.user.login,
        html_url=item.html_url or "",
    )


class GitHub:
    """The REST client. `api_url` is GITHUB_API_URL (GitHub Enterprise Server: https://HOST/api/v3)."""

    def __init__(
        self,
        *,
        token: str,
        api_url: str = DEFAULT_API_URL,
        timeout: int = 30,
        retry: GithubRetry | None = None,
    ) -> None:
        if not api_url.startswith(("https://", "http://")):
            raise UsageError(f"GITHUB_API_URL: {api_url!r} is not an http(s) URL")
        self._api_url = api_url.rstrip("/")
        # lazy: objects are built from the URLs we give, so only the calls listed here reach the API.
        self._client = Github(
            auth=Auth.Token(token),
            base_url=self._api_url,
            timeout=timeout,
            user_agent=f"ecrgc/{__version__}",  # GitHub rejects requests without one
            per_page=100,
            retry=retry or default_retry(),
            seconds_between_requests=None,  # reads are few; writes keep PyGithub's one-second spacing
            lazy=True,
        )

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
            with self._call("GET", "/user"):
                return self._client.get_user().login
        except _Forbidden:
            return ACTIONS_BOT_LOGIN

    def issue_comments(self, repo: str, number: int) -> Iterator[Comment]:
        """Every comment of an issue or pull request, oldest first, page by page."""
        path = f"/repos/{repo}/issues/{number}/comments"
        with self._call("GET", path):
            try:
                for item in self._repo(repo).get_issue(number).get_comments():
                    yield comment_from_api(item)
            except AssertionError:  # PyGithub's check that a Link header stays on the API host
                raise RemoteError(
                    f"github: GET {self._api_url}{path}: refusing to follow a pagination link outside "
                    f"{self._api_url}"
                ) from None

    def create_comment(self, repo: str, number: int, body: str) -> Comment:
        """Post a new comment on an issue or pull request."""
        with self._call("POST", f"/repos/{repo}/issues/{number}/comments"):
            return comment_from_api(self._repo(repo).get_issue(number).create_comment(body))

    def update_comment(self, repo: str, number: int, comment_id: int, body: str) -> Comment:
        """Replace the body of an existing comment of issue or pull request `number`."""
        with self._call("PATCH", f"/repos/{repo}/issues/comments/{comment_id}"):
            # The client is lazy: the comment is built from its URL, and only the PATCH is sent.
            comment = self._repo(repo).get_issue(number).get_comment(comment_id)
            comment.edit(body)
            return comment_from_api(comment)

    def pulls_for_commit(self, repo: str, sha: str) -> list[PullRequestRef]:
        """The pull requests a commit belongs to (for a merge commit on main: the merged pull request)."""
        with self._call("GET", f"/repos/{repo}/commits/{sha}/pulls"):
            return [
                PullRequestRef(number=p.number, merge_commit_sha=p.merge_commit_sha)
                for p in self._repo(repo).get_commit(sha).get_pulls()
            ]

    def _repo(self, repo: str) -> Repository:
        return self._client.get_repo(repo)

    @contextmanager
    def _call(self, method: str, path: str) -> Iterator[None]:
        """Turns any failure of the calls inside into one `RemoteError` naming `method` and the URL."""
        url = self._api_url + path
        log.debug("github %s %s", method, url)
        try:
            yield
        except GithubException as e:
            raise _http_error(method, url, e.status, e.data) from None
        except requests.RequestException as e:
            reason = e.args[0] if e.args else e
            raise RemoteError(f"github: {method} {url} failed: {reason}; check GITHUB_API_URL") from None


class _Forbidden(RemoteError):
    """HTTP 403: the token may not do this (GITHUB_TOKEN on GET /user, a missing `permissions:` entry)."""


def _http_error(method: str, url: str, status: int, data: Any) -> RemoteError:
    """Classify by status code; GitHub's own message is added for context only."""
    detail = str(data.get("message") or "") if isinstance(data, dict) else ""
    hint = _HINTS.get(status, "")
    message = f"github: {method} {url} failed: HTTP {status}" + (f" ({detail})" if detail else "") + hint
    return (_Forbidden if status == 403 else RemoteError)(message)


_HINTS = {
    401: "; GITHUB_TOKEN is invalid or expired",
    403: "; grant the workflow `permissions: pull-requests: write` (or check the token's scopes)",
    404: "; check --repo, the pull request number and the token's access to the repository",
    422: "; GitHub rejected the content (a body over 65,536 characters?)",
}
