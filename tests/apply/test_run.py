"""`ecrgc run`: the seed's .env one-shot mode (plan + confirm + apply) against the sandbox."""

from __future__ import annotations

import os
import re
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
    result = run(INTERACTIVE_MODE="false", AUTO_CONFIRM="true", DEBUG="true")

    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("", "")
    (log,) = logs().glob("*.log")  # DEBUG=true adds no second file
    assert re.fullmatch(r"ecr_cleaner_app_\d{8}_\d{6}\.log", log.name)  # config.LoadConfig's name
    text = log.read_text()
    # What the seed's log held (cleaner.Run printed into it): the scan, the candidates, each deletion.
    assert f"[Scanned] Repository: app/web, Tags: [release-1], Digest: {world.held}, PushedAt: " in text
    # ... and the decision, with its evidence in words
    assert "-> keep (held tag: tag 'release-1' matches hold pattern '^release-')\n" in text
    assert f"[Scanned] Repository: app/api, Tags: [v0], Digest: {world.api_old}, PushedAt: " in text
    assert f"delete app/api {world.api_old[:19]} v0 pushed " in text  # the candidate line
    assert f"deleted app/api {world.api_old[:19]}" in text  # its outcome
    assert "ecrgc apply: 8 deleted" in text
    assert "ecrgc: ecrgc:" not in text


def test_the_default_interactive_run_logs_as_much(ecr: Sandbox, world: World) -> None:
    result = run("--auto-confirm")

    assert result.exit_code == 0, result.output
    (log,) = logs().glob("ecr_cleaner_app_*.log")
    assert f"[Scanned] Repository: app/web, Tags: [v5], Digest: {world.newest}" in log.read_text()
    assert f"deleted app/web {world.expired[:19]}" in log.read_text()


def test_logdir_from_the_env_file(
    ecr: Sandbox, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOGDIR")
    with (tmp_path / ".env").open("a") as env:
        env.write("LOGDIR=seed-logs\nDRYRUN=true\n")

    result = run()

    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "seed-logs").glob("run-*.plan.json"))) == 1
    assert len(list((tmp_path / "seed-logs").glob("ecr_cleaner_app_*.log"))) == 1
    assert not (tmp_path / "logs").exists()  # no stray empty log where LOGDIR does not point


def test_a_non_empty_list_is_used_as_is_and_the_cluster_not_read(
    ecr: Sandbox, world: World, tmp_path: Path
) -> None:
    # cleaner.Run: k8s.LoadInUseImages when the file has content; FetchInUseImages only when it is missing
    # or empty. No kubeconfig here (KUBECONFIG=/dev/null): reading the cluster would stop the run.
    listed = "# written by the seed\napp/web:v1\n"
    seed_list(tmp_path, "PRD", listed)
    before = images(ecr)

    result = run(PROTECT_INUSE_BY_K8S="true", AUTO_CONFIRM="true")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt").read_text() == listed  # never rewritten
    assert images(ecr) == before - (seed_deletions(world) - {("app/web", world.expired)})
    assert "ecrgc run: in use: IMG_LIST/PRD_IMG_LIST.txt (used; the cluster not read)\n" in result.stdout


def test_the_images_in_use_the_seeds_protect_latest_deleted_are_counted(ecr: Sandbox, world: World) -> None:
    # ecr.FilterImagesForDeletion kept only the PROTECT_LATEST newest of the images in use: with
    # PROTECT_LATEST=1 it deleted app/api:v1 (v9 is newer); ecrgc keeps both and says so.
    seed_list(Path(), "PRD", "app/api:v1\napp/api:v9\n")

    result = run("--list-only", PROTECT_INUSE_BY_K8S="true")

    assert result.exit_code == 0, result.output
    assert (
        "ecrgc run: keeps 1 image in use beyond the newest PROTECT_LATEST=1 in use, which the seed would have"
        " deleted\n"
    ) in result.stdout


def test_only_this_envs_list_counts(ecr: Sandbox, world: World, tmp_path: Path) -> None:
    # config.LoadConfig maps ENV=prd to IMG_LIST/PRD_IMG_LIST.txt and to nothing else: another ENV's list
    # is no stand-in, so with the PRD list missing the cluster must be read, and it cannot be here.
    seed_list(tmp_path, "PRE", "app/web:v1\n")
    before = images(ecr)

    result = run(PROTECT_INUSE_BY_K8S="true", AUTO_CONFIRM="true")

    assert result.exit_code != 0
    assert "kube" in result.stderr.lower() or "kubeconfig" in result.stderr.lower(), result.stderr
    assert images(ecr) == before
    assert not (tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt").exists()


@pytest.mark.parametrize("content", [None, "", "# comments only\n\n"])
@pytest.mark.kube
def test_a_missing_or_empty_list_reads_the_cluster_and_writes_the_list_as_the_seed_did(
    ecr: Sandbox, world: World, tmp_path: Path, kube: Cluster, content: str | None
) -> None:
    namespace = kube.namespace()
    host = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    kube.create(o.pod(namespace, "api", o.pod_spec(f"{host}/app/api:v1")))
    if content is not None:
        seed_list(tmp_path, "PRD", content)
    before = images(ecr)

    result = run("--kubeconfig", str(kube.kubeconfig), PROTECT_INUSE_BY_K8S="true", AUTO_CONFIRM="true")

    assert result.exit_code == 0, result.output
    written = (tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt").read_text()
    assert "\napp/api:v1\n" in written  # without the host, as list_img.sh and FetchInUseImages write it
    assert images(ecr) == before - (seed_deletions(world) - {("app/api", world.api_used)})
    assert (
        "ecrgc run: in use: IMG_LIST/PRD_IMG_LIST.txt (written from the current kube context)\n"
        in result.stdout
    )


def seed_list(base: Path, env: str, text: str) -> None:
    (base / "IMG_LIST").mkdir(exist_ok=True)
    (base / "IMG_LIST" / f"{env}_IMG_LIST.txt").write_text(text, encoding="utf-8")
