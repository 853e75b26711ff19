"""What a first-time user meets: where the plan went, AWS profiles and regions, colour, logs, completion."""

from __future__ import annotations

import io
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ecrgc.cli import app
from ecrgc.cli.console import color_enabled, echo_text
from ecrgc.sandbox import Sandbox

POLICY = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {name: svc}
spec:
  region: ap-northeast-1
  repositories:
    include: ['^svc/']
  rules:
    keepLatest: 1
    olderThan: 14d
"""
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def workdir(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A policy repository whose policy deletes two of three month-old builds; the sandbox as AWS."""
    now = datetime.fromtimestamp(sandbox.clock.now(), UTC)
    for i in range(3):
        sandbox.registry.push_image("svc/api", tags=[f"build-{i}"], pushed_at=now - timedelta(days=30 + i))
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "svc.yaml").write_text(POLICY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def ecrgc(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def test_plan_out_says_where_the_plan_is_and_how_to_apply_it(workdir: Path) -> None:
    result = ecrgc("plan", "--out", "plans/next plan.json")

    assert result.exit_code == 0, result.output
    assert result.stderr.endswith(
        "Saved the plan to plans/next plan.json. To apply it: ecrgc apply 'plans/next plan.json'\n"
    )
    assert (workdir / "plans" / "next plan.json").is_file()
    assert result.stdout.startswith("ecrgc: 2 images to delete")
    assert not ANSI.search(result.stdout)  # not a terminal: no colour


@pytest.mark.parametrize(
    ("out", "fix"),
    [
        ("plan.json", "write it compressed, about 7 times smaller (plan --out NAME.json.gz)"),
        ("plan.json.gz", "the plan is compressed already: narrow the policies' repositories"),
    ],
)
def test_a_plan_file_too_big_for_a_pull_request_is_written_and_warned_about(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, out: str, fix: str
) -> None:
    monkeypatch.setattr("ecrgc.cli.shared.PULL_REQUEST_WARNING_BYTES", 0)  # this small plan is "too big"
    result = ecrgc("plan", "--out", out)

    assert result.exit_code == 0, result.output
    saved, warning = result.stderr.splitlines()[-2:]
    assert saved.startswith(f"Saved the plan to {out}.")
    written = (workdir / out).stat().st_size
    assert warning.startswith(
        f"warning: {out} is {written / 1e6:.1f} MB: GitHub warns about a file over 50 MB in a pull request"
        f" and refuses one over 100 MB; {fix}"
    )


def test_a_plan_file_that_fits_a_pull_request_is_not_warned_about(workdir: Path) -> None:
    assert "warning" not in ecrgc("plan", "--out", "plan.json.gz").stderr


def test_a_what_if_plan_saves_nothing_and_says_nothing_about_it(workdir: Path) -> None:
    result = ecrgc("plan")

    assert result.exit_code == 0, result.output
    assert "Saved the plan" not in result.output


def test_profile_names_the_credentials_to_use(
    workdir: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = sandbox.environ()
    credentials = workdir / "aws-credentials"
    credentials.write_text(
        f"[sbx]\naws_access_key_id = {environ['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {environ['AWS_SECRET_ACCESS_KEY']}\n",
        encoding="utf-8",
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(workdir / "no-config"))

    without = ecrgc("plan")
    with_profile = ecrgc("plan", "--profile", "sbx")

    assert without.exit_code == 1
    assert "no AWS credentials found" in without.stderr
    assert with_profile.exit_code == 0, with_profile.output
    assert with_profile.stdout.startswith("ecrgc: 2 images to delete")


def test_an_unknown_profile_is_one_line_naming_it(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(workdir / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(workdir / "no-credentials"))

    for args in (["plan", "--profile", "nope"], ["plan", "--check", "p.json", "--profile", "nope"]):
        if "--check" in args:
            assert ecrgc("plan", "--out", "p.json").exit_code == 0
        result = ecrgc(*args)

        assert result.exit_code == 1, result.output
        assert result.stderr == (
            "ecrgc: the AWS profile 'nope' (--profile or AWS_PROFILE) is not in the AWS config files;"
            " list them with `aws configure list-profiles`\n"
        )


def test_region_picks_the_policies_to_plan(workdir: Path) -> None:
    other = POLICY.replace("name: svc", "name: eu").replace("ap-northeast-1", "eu-west-1")
    (workdir / "policies" / "eu.yaml").write_text(other.replace("'^svc/'", "'^eu/'"), encoding="utf-8")

    both = ecrgc("plan")
    chosen = ecrgc("plan", "--region", "ap-northeast-1", "--format", "json")
    none = ecrgc("plan", "--region", "us-east-1")

    assert both.exit_code == 1
    assert "pass --region" in both.stderr
    assert chosen.exit_code == 0, chosen.output
    assert '"images_to_delete": 2' in chosen.stdout
    assert none.exit_code == 1
    assert none.stderr == (
        "ecrgc: --region us-east-1: no policy is for that region (they are for ap-northeast-1, eu-west-1)\n"
    )


@pytest.mark.parametrize("verb", ["plan", "validate"])
def test_a_directory_without_policies_says_so(
    verb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = ecrgc(verb)

    assert result.exit_code == 1
    assert result.stderr == (
        f"ecrgc: no policies/ directory in {tmp_path}: pass policy files or directories, "
        "or run `ecrgc demo` to see ecrgc plan and apply against a sample registry\n"
    )


def test_only_plan_apply_and_run_write_log_files_by_default(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOGDIR")  # the suite's own, set for every test
    assert ecrgc("validate").exit_code == 0
    assert ecrgc("show", "--help").exit_code == 0
    assert not (workdir / "logs").exists()

    assert ecrgc("plan").exit_code == 0
    [log] = (workdir / "logs").iterdir()
    assert log.name.endswith("-plan.log")

    assert ecrgc("--log-dir", "asked", "validate").exit_code == 0
    assert ecrgc("validate", env={"LOGDIR": "by-variable"}).exit_code == 0
    assert [p.name[-12:] for p in (workdir / "asked").iterdir()] == ["validate.log"]
    assert len(list((workdir / "by-variable").iterdir())) == 1


def test_text_output_is_coloured_on_demand_and_unchanged_otherwise(workdir: Path) -> None:
    assert ecrgc("plan", "--out", "p.json").exit_code == 0
    plain = ecrgc("show", "p.json")

    forced = ecrgc("show", "p.json", env={"FORCE_COLOR": "1"})
    refused = ecrgc("show", "p.json", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    markdown = ecrgc("show", "p.json", "--format", "markdown", env={"FORCE_COLOR": "1"})

    assert not ANSI.search(plain.stdout)
    assert ANSI.search(forced.stdout)
    assert ANSI.sub("", forced.stdout) == plain.stdout
    assert refused.stdout == plain.stdout
    assert not ANSI.search(markdown.stdout)


def test_colour_marks_the_action_words_and_reads_no_markup_in_names() -> None:
    text = "delete [red]svc/delete-me[/red]:v1 :smile: kept 3 · archived 2\n"
    out = io.StringIO()

    echo_to(out, text)

    coloured = out.getvalue()
    assert ANSI.sub("", coloured) == text
    words = re.findall(r"\x1b\[[0-9;]+m([^\x1b]+)\x1b\[0m", coloured)
    assert words == ["delete", "kept", "archived"]  # not the `delete` inside the repository name


def echo_to(out: io.StringIO, text: str) -> None:
    saved, sys.stdout = sys.stdout, out
    try:
        echo_text(text, {"FORCE_COLOR": "1"})
    finally:
        sys.stdout = saved


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("tty", "environ", "expected"),
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"NO_COLOR": "1"}, False),
        (True, {"NO_COLOR": ""}, True),  # https://no-color.org: set and not empty
        (False, {"FORCE_COLOR": "1"}, True),
        (False, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    ],
)
def test_when_colour_is_on(tty: bool, environ: dict[str, str], expected: bool) -> None:
    assert color_enabled(_Tty() if tty else io.StringIO(), environ) is expected


def test_shell_completion_is_offered() -> None:
    result = ecrgc("--help")

    assert "--install-completion" in result.stdout
    assert "--show-completion" in result.stdout


SEED_ENV = """\
ENV=PRD
AWS_REGION=ap-northeast-1
TARGET_REPO_REGEX='^svc/'
PROTECT_LATEST=1
PROTECT_INUSE_BY_K8S=false
"""


def test_run_takes_region_and_profile_too(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / ".env").write_text(SEED_ENV, encoding="utf-8")
    (workdir / "IMG_LIST").mkdir()
    (workdir / "IMG_LIST" / "PRD_IMG_LIST.txt").write_text("svc/api:build-0\n", encoding="utf-8")

    listed = ecrgc("run", "--list-only", "--region", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(workdir / "no-config"))
    unknown = ecrgc("run", "--list-only", "--profile", "nope")

    assert listed.exit_code == 0, listed.output
    assert " · eu-west-1 · " in listed.stdout
    assert unknown.exit_code == 1
    assert unknown.stderr.endswith(
        "ecrgc: the AWS profile 'nope' (--profile or AWS_PROFILE) is not in the AWS config files;"
        " list them with `aws configure list-profiles`\n"
    )
