"""`ecrgc run`: the seed's .env one-shot mode (plan + confirm + apply) against the sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ecrgc.apply.report import load_report_file
from ecrgc.cli import app
from ecrgc.planfile import load_plan_file
from ecrgc.sandbox import Sandbox
from tests.apply.world import ACCOUNT, REGION, World, build_world, images
from tests.kube import objects as o
from tests.kube.fixtures import Cluster

SEED_ENV = """\
# the seed's PRD .env
ENV=PRD
AWS_REGION=ap-northeast-1
TARGET_REPO_REGEX='^app/'
HOLD_TAG_REGEX='^release-'
PROTECT_LATEST=1
PROTECT_INUSE_BY_K8S=false
"""


@pytest.fixture
def world(ecr: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """The World in the sandbox, the seed's .env in the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(SEED_ENV, encoding="utf-8")
    return build_world(ecr, tmp_path)


def seed_deletions(world: World) -> set[tuple[str, str]]:
    """The seed's policy: keep the newest and the held, delete the rest (no age rule, nothing in use)."""
    web = {world.expired, world.index, *world.children, world.signed, world.signature}
    return {("app/web", d) for d in web} | {("app/api", world.api_old), ("app/api", world.api_used)}


def run(*args: str, **env: str) -> Result:
    return CliRunner().invoke(app, ["run", *args], env=env or None)


def logs() -> Path:
    return Path(os.environ["LOGDIR"])


def test_auto_confirm_plans_and_applies_in_one_go(ecr: Sandbox, world: World) -> None:
    before = images(ecr)

    result = run("--auto-confirm")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ecrgc: 8 images to delete")
    assert "ecrgc apply: 8 deleted\n" in result.stdout
    assert images(ecr) == before - seed_deletions(world)
    (plan,) = logs().glob("run-*.plan.json")
    assert {(a.repository, a.digest) for a in load_plan_file(plan).actions} == seed_deletions(world)
    (report,) = logs().glob("run-*.jsonl")
    assert len(load_report_file(report).outcomes) == 8


def test_dryrun_verifies_and_deletes_nothing(ecr: Sandbox, world: World) -> None:
    before = images(ecr)

    result = run(DRYRUN="true")

    assert result.exit_code == 0, result.output
    assert "ecrgc apply (dry run): 8 would be applied\n" in result.stdout
    assert images(ecr) == before
    assert ecr.calls["BatchDeleteImage"] == 0


def test_list_only_prints_the_candidates_only(ecr: Sandbox, world: World) -> None:
    before = images(ecr)

    result = run("--list-only")

    assert result.exit_code == 0, result.output
    assert world.api_old.removeprefix("sha256:")[:12] in result.stdout
    assert "ecrgc apply" not in result.stdout
    assert images(ecr) == before
    assert not list(logs().glob("run-*.jsonl"))


def test_without_a_terminal_or_auto_confirm_nothing_is_deleted(ecr: Sandbox, world: World) -> None:
    before = images(ecr)

    result = run()

    assert result.exit_code == 3
    assert result.stderr.endswith(
        "ecrgc: no terminal to confirm on: set AUTO_CONFIRM=true or pass --auto-confirm\n"
    )
    assert images(ecr) == before


def test_the_environment_beats_the_file_and_flags_beat_both(ecr: Sandbox, world: World) -> None:
    before = images(ecr)

    dry = run(DRYRUN="true", AUTO_CONFIRM="true")
    assert images(ecr) == before
    wet = run("--no-dry-run", DRYRUN="true", AUTO_CONFIRM="true")

    assert "(dry run)" in dry.stdout
    assert wet.exit_code == 0, wet.output
    assert images(ecr) == before - seed_deletions(world)


def test_interactive_mode_false_writes_only_to_the_log_file(ecr: Sandbox, world: World) -> None:
    result = run(INTERACTIVE_MODE="false", AUTO_CONFIRM="true")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    (log,) = logs().glob("ecrgc-*-run.log")
    assert "ecrgc apply: 8 deleted" in log.read_text()


def test_logdir_from_the_env_file(
    ecr: Sandbox, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOGDIR")
    with (tmp_path / ".env").open("a") as env:
        env.write("LOGDIR=seed-logs\nDRYRUN=true\n")

    result = run()

    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "seed-logs").glob("run-*.plan.json"))) == 1


@pytest.mark.kube
def test_protect_inuse_by_k8s_refreshes_the_image_list_and_protects_every_list(
    ecr: Sandbox, world: World, tmp_path: Path, kube: Cluster
) -> None:
    namespace = kube.namespace()
    host = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    kube.create(o.pod(namespace, "api", o.pod_spec(f"{host}/app/api:v1")))
    (tmp_path / "IMG_LIST").mkdir()
    (tmp_path / "IMG_LIST" / "STG_IMG_LIST.txt").write_text(f"{host}/app/web:v1\n", encoding="utf-8")
    before = images(ecr)

    result = run("--kubeconfig", str(kube.kubeconfig), PROTECT_INUSE_BY_K8S="true", AUTO_CONFIRM="true")

    assert result.exit_code == 0, result.output
    refreshed = (tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt").read_text()
    assert f"{host}/app/api:v1\n" in refreshed
    kept = {("app/api", world.api_used), ("app/web", world.expired)}
    assert images(ecr) == before - (seed_deletions(world) - kept)
