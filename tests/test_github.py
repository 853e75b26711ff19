"""`ecrgc github comment|summary` and the REST client, against the stateful fake in `github_fake`."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from ecrgc import github as github_client
from ecrgc.cli import app
from ecrgc.commands.github import COMMENT_LIMIT, SUMMARY_LIMIT, compose_body, read_bodies, run_summary
from ecrgc.errors import RemoteError, UsageError
from ecrgc.github import ACTIONS_BOT_LOGIN, GitHub
from tests.github_fake import FakeGitHub, GitHubState, serve

REPO = "acme/policies"
PR = 7
STICKY = "<!-- ecrgc:plan -->"


_DEFAULT_RETRY = github_client.default_retry


def no_backoff() -> github_client.GithubRetry:
    """The client's retry policy without its waits between attempts (the tests inject failures)."""
    return _DEFAULT_RETRY().new(backoff_factor=0)


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(github_client, "default_retry", no_backoff)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    state = GitHubState(
        users={"alice-token": "alice", "actions-token": ACTIONS_BOT_LOGIN, "bob-token": "bob"},
        installation_tokens={"actions-token"},
    )
    yield from serve(state)


@pytest.fixture
def body(tmp_path: Path) -> Path:
    path = tmp_path / "plan.md"
    path.write_text("**ecrgc: 3 images to delete** in 1 repository\n\n| repo | delete |\n", encoding="utf-8")
    return path


ALICE = "alice-token"


def comment(github: FakeGitHub, *args: str, token: str = ALICE) -> Result:
    """Run `ecrgc github comment ARGS` as a workflow step would, against the fake."""
    env = {"GITHUB_TOKEN": token, "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPO}
    with tempfile.TemporaryDirectory() as logs:
        return CliRunner().invoke(app, ["--log-dir", logs, "github", "comment", *args], env=env)


def posts(github: FakeGitHub) -> list[tuple[str, str]]:
    return [r for r in github.state.requests if r[0] in ("POST", "PATCH")]


def test_creates_the_sticky_comment_with_the_marker_first(github: FakeGitHub, body: Path) -> None:
    result = comment(github, "--pr", str(PR), "--body-file", str(body))

    assert result.exit_code == 0, result.stderr
    [posted] = github.state.bodies(REPO, PR)
    assert posted == STICKY + "\n" + body.read_text(encoding="utf-8")
    assert result.stdout.startswith("created https://github.test/acme/policies/pull/7#issuecomment-")
    assert github.state.requests.count(("GET", "/user")) == 1


def test_updates_the_sticky_comment_found_on_a_later_page(github: FakeGitHub, body: Path) -> None:
    for i in range(230):
        github.state.add_comment(REPO, PR, f"chatter {i}", "bob")
    sticky = github.state.add_comment(REPO, PR, STICKY + "\nold plan\n", "alice")
    for i in range(40):
        github.state.add_comment(REPO, PR, f"more chatter {i}", "bob")

    result = comment(github, "--pr", str(PR), "--body-file", str(body))

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("updated ")
    assert sticky["body"] == STICKY + "\n" + body.read_text(encoding="utf-8")
    assert len(github.state.bodies(REPO, PR)) == 271
    assert posts(github) == [("PATCH", f"/repos/{REPO}/issues/comments/{sticky['id']}")]
    pages = [r for r in github.state.requests if r == ("GET", f"/repos/{REPO}/issues/{PR}/comments")]
    assert len(pages) == 3  # 100 per page: the sticky one is on page 3


def test_a_comment_by_someone_else_with_the_marker_is_never_touched(github: FakeGitHub, body: Path) -> None:
    quoted = github.state.add_comment(REPO, PR, STICKY + "\nbob quoting the bot\n", "bob")

    result = comment(github, "--pr", str(PR), "--body-file", str(body))

    assert result.exit_code == 0, result.stderr
    assert quoted["body"] == STICKY + "\nbob quoting the bot\n"
    assert [r[0] for r in posts(github)] == ["POST"]
    assert len(github.state.bodies(REPO, PR)) == 2


def test_the_marker_must_open_the_body(github: FakeGitHub, body: Path) -> None:
    github.state.add_comment(REPO, PR, "see the bot's " + STICKY + " comment", "alice")

    result = comment(github, "--pr", str(PR), "--body-file", str(body))

    assert result.stdout.startswith("created ")


def test_another_marker_is_another_sticky_comment(github: FakeGitHub, body: Path) -> None:
    plan = github.state.add_comment(REPO, PR, STICKY + "\nplan\n", "alice")

    result = comment(github, "--pr", str(PR), "--body-file", str(body), "--marker", "ecrgc:apply")

    assert result.stdout.startswith("created ")
    assert plan["body"] == STICKY + "\nplan\n"
    assert github.state.bodies(REPO, PR)[1].startswith("<!-- ecrgc:apply -->\n")


def test_an_actions_token_posts_as_the_actions_bot(github: FakeGitHub, body: Path) -> None:
    mine = github.state.add_comment(REPO, PR, STICKY + "\nold\n", ACTIONS_BOT_LOGIN)
    github.state.add_comment(REPO, PR, STICKY + "\nalice's\n", "alice")

    result = comment(github, "--pr", str(PR), "--body-file", str(body), token="actions-token")

    assert result.exit_code == 0, result.stderr
    assert mine["body"].endswith(body.read_text(encoding="utf-8"))
    assert posts(github) == [("PATCH", f"/repos/{REPO}/issues/comments/{mine['id']}")]


def test_author_option_skips_the_identity_lookup(github: FakeGitHub, body: Path) -> None:
    result = comment(github, "--pr", str(PR), "--body-file", str(body), "--author", "alice")

    assert result.exit_code == 0, result.stderr
    assert ("GET", "/user") not in github.state.requests


@pytest.mark.parametrize(
    ("status", "method", "fragment"),
    [
        (401, "GET", "HTTP 401 (injected HTTP 401); GITHUB_TOKEN is invalid or expired"),
        (403, "POST", "HTTP 403 (injected HTTP 403); grant the workflow `permissions: pull-requests: write`"),
        (422, "POST", "HTTP 422 (injected HTTP 422); GitHub rejected the content"),
        (500, "GET", "HTTP 500 (injected HTTP 500)"),
        (502, "POST", "HTTP 502 (injected HTTP 502)"),
    ],
)
def test_a_failed_request_exits_non_zero_with_one_line(
    github: FakeGitHub, body: Path, status: int, method: str, fragment: str
) -> None:
    github.state.fail(method, r"/issues/\d+/comments$", status, count=100)  # more than the retries

    result = comment(github, "--pr", str(PR), "--body-file", str(body))

    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"ecrgc: github: {method} {github.url}/repos/{REPO}/issues/{PR}/comments")
    assert line.count("ecrgc:") == 1
    assert fragment in line
    assert github.state.bodies(REPO, PR) == []


def test_bad_credentials_are_one_line(github: FakeGitHub, body: Path) -> None:
    result = comment(github, "--pr", str(PR), "--body-file", str(body), token="stolen")

    assert result.exit_code == 1
    assert result.stderr == (
        f"ecrgc: github: GET {github.url}/user failed: HTTP 401 (Bad credentials); "
        "GITHUB_TOKEN is invalid or expired\n"
    )


def test_editing_a_comment_one_may_not_edit_fails_loudly(github: FakeGitHub, body: Path) -> None:
    """--author claiming someone else's comment: GitHub answers 403 and nothing is changed."""
    bobs = github.state.add_comment(REPO, PR, STICKY + "\nbob\n", "bob")

    result = comment(github, "--pr", str(PR), "--body-file", str(body), "--author", "bob")

    assert result.exit_code == 1
    assert "PATCH" in result.stderr
    assert "HTTP 403" in result.stderr
    assert bobs["body"] == STICKY + "\nbob\n"


def test_a_missing_token_is_one_line(github: FakeGitHub, body: Path) -> None:
    result = comment(github, "--pr", str(PR), "--body-file", str(body), token="")

    assert result.exit_code == 1
    assert result.stderr == (
        "ecrgc: GITHUB_TOKEN is not set: add `GITHUB_TOKEN: ${{ github.token }}` to the step's env\n"
    )
    assert github.state.requests == []


def test_a_body_over_the_limit_is_refused_before_any_request(github: FakeGitHub, tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    big.write_text("x" * COMMENT_LIMIT, encoding="utf-8")

    result = comment(github, "--pr", str(PR), "--body-file", str(big))

    assert result.exit_code == 1
    assert result.stderr == (
        f"ecrgc: {big}: comment body is 65,557 characters, over GitHub's 65,536; "
        "render it with `ecrgc show --format markdown`, which stays under 60,000\n"
    )
    assert github.state.requests == []


def test_a_body_exactly_at_the_limit_is_posted(github: FakeGitHub, tmp_path: Path) -> None:
    exact = tmp_path / "exact.md"
    exact.write_text("x" * (COMMENT_LIMIT - len(STICKY) - 2) + "\n", encoding="utf-8")

    result = comment(github, "--pr", str(PR), "--body-file", str(exact))

    assert result.exit_code == 0, result.stderr
    assert len(github.state.bodies(REPO, PR)[0]) == COMMENT_LIMIT


def test_the_fake_enforces_the_limit_too(github: FakeGitHub) -> None:
    client = GitHub(token=ALICE, api_url=github.url)
    with pytest.raises(RemoteError, match=r"HTTP 422 \(Validation Failed\)"):
        client.create_comment(REPO, PR, "x" * (COMMENT_LIMIT + 1))


def test_several_parts_too_long_together_keep_every_verdict(github: FakeGitHub, tmp_path: Path) -> None:
    files = []
    for i in range(3):
        files.append(tmp_path / f"plan{i}.md")
        files[-1].write_text(f"### plan{i}.json\n{STICKY}\n\n**verdict {i}**\n" + "row\n" * 10_000, "utf-8")

    result = comment(github, "--pr", str(PR), *(a for f in files for a in ("--body-file", str(f))))

    assert result.exit_code == 0, result.stderr
    assert github.state.bodies(REPO, PR) == [
        STICKY + "\n### plan0.json\n**verdict 0**\n\n### plan1.json\n**verdict 1**\n\n"
        "### plan2.json\n**verdict 2**\n\n"
        "_Shortened to each plan's verdict: the full renderings are in the workflow run's job summary._\n"
    ]


def test_parts_that_fit_are_joined_by_rules_under_one_marker() -> None:
    parts = [STICKY + "\n\na\n", "b\n<!-- ecrgc:apply -->\n<!-- other -->\n"]

    body = compose_body(parts, marker="ecrgc:plan", sources=["x"])

    assert body == STICKY + "\na\n\n---\n\nb\n<!-- other -->\n"


def test_comment_on_the_pull_request_a_commit_merged(github: FakeGitHub, body: Path) -> None:
    sha = "0123abcd" * 5
    github.state.commit_pulls[(REPO, sha)] = [
        {"number": 3, "merge_commit_sha": "f" * 40},
        {"number": 9, "merge_commit_sha": sha},
    ]

    result = comment(github, "--commit", sha, "--body-file", str(body), "--marker", "ecrgc:apply")

    assert result.exit_code == 0, result.stderr
    assert github.state.bodies(REPO, 9)[0].startswith("<!-- ecrgc:apply -->\n")
    assert github.state.bodies(REPO, 3) == []


def test_a_commit_without_a_pull_request_posts_nothing_and_says_so(github: FakeGitHub, body: Path) -> None:
    result = comment(github, "--commit", "abc123", "--body-file", str(body))

    assert result.exit_code == 0
    assert result.stderr == "ecrgc: no pull request contains commit abc123; nothing posted\n"
    assert posts(github) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--body-file", "{body}"], "ecrgc: pass exactly one of --pr N or --commit SHA\n"),
        (
            ["--pr", "1", "--commit", "ab", "--body-file", "{body}"],
            "ecrgc: pass exactly one of --pr N or --commit SHA\n",
        ),
        (
            ["--pr", "1", "--repo", "nope", "--body-file", "{body}"],
            "ecrgc: --repo: 'nope' is not OWNER/NAME; pass --repo or set GITHUB_REPOSITORY\n",
        ),
        (
            ["--pr", "1", "--marker", "x -->", "--body-file", "{body}"],
            "ecrgc: --marker: 'x -->' may only hold letters, digits and `:._-`, e.g. ecrgc:plan\n",
        ),
    ],
)
def test_usage_errors(github: FakeGitHub, body: Path, args: list[str], message: str) -> None:
    result = comment(github, *(a.format(body=body) for a in args))

    assert result.exit_code == 1
    assert result.stderr == message


def test_an_unreadable_body_file_is_one_line(github: FakeGitHub, tmp_path: Path) -> None:
    missing = tmp_path / "missing.md"

    result = comment(github, "--pr", "1", "--body-file", str(missing))

    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert str(missing) in result.stderr


@pytest.mark.parametrize("link_base", ["http://127.0.0.1:9", "http://example.test", "https://api.github.com"])
def test_pagination_never_follows_a_link_off_the_api_host(github: FakeGitHub, link_base: str) -> None:
    for i in range(101):
        github.state.add_comment(REPO, PR, f"c{i}", "bob")
    github.state.link_base = link_base
    client = GitHub(token=ALICE, api_url=github.url, retry=no_backoff())

    with pytest.raises(RemoteError, match="refusing to follow a pagination link outside"):
        list(client.issue_comments(REPO, PR))
    assert github.state.requests == [("GET", f"/repos/{REPO}/issues/{PR}/comments")]


def test_a_server_error_on_a_read_is_retried(github: FakeGitHub, body: Path) -> None:
    github.state.fail("GET", r"/issues/\d+/comments$", 503, count=2)

    result = comment(github, "--pr", str(PR), "--body-file", str(body))

    assert result.exit_code == 0, result.stderr
    assert github.state.requests.count(("GET", f"/repos/{REPO}/issues/{PR}/comments")) == 3
    assert len(github.state.bodies(REPO, PR)) == 1


def test_a_failed_create_is_not_repeated(github: FakeGitHub, body: Path) -> None:
    """A POST that failed with a 5xx may have created the comment: a retry could post it twice."""
    github.state.fail("POST", r"/issues/\d+/comments$", 502)

    result = comment(github, "--pr", str(PR), "--body-file", str(body))

    assert result.exit_code == 1
    assert posts(github) == [("POST", f"/repos/{REPO}/issues/{PR}/comments")]


def test_a_secondary_rate_limit_is_waited_out(github: FakeGitHub, body: Path) -> None:
    """GitHub's secondary rate limit: 403 with Retry-After; the client waits and asks again."""
    github.state.fail(
        "GET",
        r"/issues/\d+/comments$",
        403,
        message="You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        headers={"Retry-After": "0"},
    )

    result = comment(github, "--pr", str(PR), "--body-file", str(body))

    assert result.exit_code == 0, result.stderr
    assert github.state.requests.count(("GET", f"/repos/{REPO}/issues/{PR}/comments")) == 2


def test_a_comment_update_is_one_patch(github: FakeGitHub) -> None:
    """The client builds the comment from its URL: no GET of the comment before the PATCH."""
    mine = github.state.add_comment(REPO, PR, "old", "alice")
    client = GitHub(token=ALICE, api_url=github.url)

    updated = client.update_comment(REPO, PR, mine["id"], "new")

    assert (updated.id, updated.body, updated.author) == (mine["id"], "new", "alice")
    assert github.state.requests == [("PATCH", f"/repos/{REPO}/issues/comments/{mine['id']}")]


def test_an_unreachable_api_is_a_remote_error() -> None:
    client = GitHub(token="t", api_url="http://127.0.0.1:9", retry=no_backoff())
    with pytest.raises(
        RemoteError, match=r"^github: GET http://127.0.0.1:9/user failed: .*check GITHUB_API_URL$"
    ):
        client.login()


def test_a_non_http_api_url_is_refused() -> None:
    with pytest.raises(UsageError, match="GITHUB_API_URL: 'file:///etc' is not an http"):
        GitHub(token="t", api_url="file:///etc")


def summary(path: Path | None, body: Path, tmp: Path) -> Result:
    env = {"GITHUB_STEP_SUMMARY": str(path) if path else ""}
    args = ["--log-dir", str(tmp / "logs"), "github", "summary", "--body-file", str(body)]
    return CliRunner().invoke(app, args, env=env)


def test_summary_appends(tmp_path: Path, body: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("# earlier step\n", encoding="utf-8")

    result = summary(target, body, tmp_path)

    assert result.exit_code == 0, result.stderr
    assert target.read_text(encoding="utf-8") == "# earlier step\n" + body.read_text(encoding="utf-8")


def test_summary_over_one_mib_is_cut_at_a_line_with_a_note(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_bytes(b"a" * 1000 + b"\n")
    big = tmp_path / "big.md"
    big.write_text("| row | é |\n" * 100_000, encoding="utf-8")

    result = summary(target, big, tmp_path)

    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"ecrgc: {big} was cut to fit the 1 MiB job summary\n"
    data = target.read_bytes()
    assert len(data) <= SUMMARY_LIMIT
    text = data.decode()
    kept, note = text.split("\n\n> **Truncated**")
    assert kept.endswith("| row | é |")
    assert f"the full text is `{big}`" in note


def test_summary_without_the_variable_is_one_line(tmp_path: Path, body: Path) -> None:
    result = summary(None, body, tmp_path)

    assert result.exit_code == 1
    assert result.stderr == (
        "ecrgc: GITHUB_STEP_SUMMARY is not set: run in GitHub Actions or pass --summary-file\n"
    )


@given(used=st.integers(0, SUMMARY_LIMIT - 200), lines=st.lists(st.text(max_size=300), max_size=40))
def test_the_summary_never_exceeds_one_mib_and_keeps_a_prefix(used: int, lines: list[str]) -> None:
    text = "".join(line.replace("\n", " ") + "\n" for line in lines) * 100
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "s.md"
        target.write_bytes(b"x" * used)

        result = run_summary(target, text, source="plan.md")

        data = target.read_bytes()
    assert len(data) <= SUMMARY_LIMIT
    added = data[used:].decode()
    assert result.truncated == (used + len(text.encode()) > SUMMARY_LIMIT)
    assert text.startswith(added.split("\n> **Truncated**")[0]) if result.truncated else added == text


def test_an_html_error_page_is_still_one_line(github: FakeGitHub, body: Path) -> None:
    github.state.fail("POST", r"/comments$", 502, html=True)

    result = comment(github, "--pr", str(PR), "--body-file", str(body))

    assert result.exit_code == 1
    assert (
        result.stderr
        == f"ecrgc: github: POST {github.url}/repos/{REPO}/issues/{PR}/comments failed: HTTP 502\n"
    )


def test_no_body_file_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no --body-file given"):
        read_bodies([])


def test_parts_whose_verdicts_alone_are_too_long_are_refused() -> None:
    parts = ["v" * 200 + "\n" + "w" * 200 + "\n"] * 400

    expected = r"^a\.md, b\.md: comment body is 163,214 characters, over GitHub's 65,536"
    with pytest.raises(UsageError, match=expected):
        compose_body(parts, marker="ecrgc:plan", sources=["a.md", "b.md"])


def test_a_full_summary_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_bytes(b"x" * SUMMARY_LIMIT)

    with pytest.raises(
        UsageError, match="the job summary is already 1,048,576 bytes, no room left under 1 MiB"
    ):
        run_summary(target, "more\n", source="plan.md")
    assert target.stat().st_size == SUMMARY_LIMIT
