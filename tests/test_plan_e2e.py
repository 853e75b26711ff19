"""`ecrgc plan` end to end: the real CLI against the sandbox and moto, asserting the exact planned digests.

The expected sets are written out from the scenario (which image is newest, held, in use …), not computed
with ecrgc's own decision code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from ecrgc.cli import app
from ecrgc.planfile import load_plan_file
from ecrgc.sandbox import Sandbox

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
ECRGC = shutil.which("ecrgc", path=str(Path(os.sys.executable).parent)) or "ecrgc"

POLICY = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {name: svc}
spec:
  region: ap-northeast-1
  repositories:
    include: ['^svc/']
    exclude: ['^svc/excluded$']
  rules:
    holdTags: ['^release-']
    keepLatest: 3
    olderThan: 14d
  protect:
    imageLists: ['../IMG_LIST/*_IMG_LIST.txt']
"""


@dataclass
class Scenario:
    """What the test registry holds, by role."""

    keep: set[str]
    delete: set[str]
    excluded: set[str]
    in_use: set[str]


def build_scenario(sandbox: Sandbox, workdir: Path) -> Scenario:
    """1,200+ images in one repository (pages of 1,000), indexes, referrers, archived and untagged images."""
    reg, now = sandbox.registry, datetime.fromtimestamp(sandbox.clock.now(), UTC)
    keep: set[str] = set()
    delete: set[str] = set()
    builds = [
        reg.push_image("svc/api", tags=[f"build-{i}"], pushed_at=now - timedelta(days=30, minutes=i))
        for i in range(1200)
    ]
    fresh = reg.push_image("svc/api", tags=["fresh"], pushed_at=now - timedelta(days=2))
    keep |= {fresh, builds[0], builds[1]}  # the three newest top-level images
    keep.add(builds[5])  # in use by tag (PRD list)
    keep.add(builds[50])  # in use by digest, through a reference to another repository
    held = reg.push_image("svc/api", tags=["build-7x", "release-7"], pushed_at=now - timedelta(days=40))
    keep.add(held)
    old_index = reg.push_image(
        "svc/api", tags=["v2"], pushed_at=now - timedelta(days=60), platforms=["linux/amd64", "linux/arm64"]
    )
    held_index = reg.push_image(
        "svc/api", tags=["release-3"], pushed_at=now - timedelta(days=90), platforms=["linux/amd64"]
    )
    held_sig = reg.push_referrer("svc/api", held_index, pushed_at=now - timedelta(days=89))
    keep |= {held_index, held_sig, *reg.get("svc/api").images[held_index].children}
    kept_cosign = reg.push_cosign_signature("svc/api", builds[1], pushed_at=now - timedelta(days=29))
    gone_cosign = reg.push_cosign_signature("svc/api", builds[100], pushed_at=now - timedelta(days=29))
    keep.add(kept_cosign)
    archived = reg.push_image("svc/api", tags=["ancient"], pushed_at=now - timedelta(days=400))
    reg.archive("svc/api", archived)
    untagged = reg.push_image("svc/api", pushed_at=now - timedelta(days=100), salt="untagged")
    delete |= set(builds) - keep
    delete |= {old_index, *reg.get("svc/api").images[old_index].children, gone_cosign, archived, untagged}
    excluded = {reg.push_image("svc/excluded", tags=["x"], pushed_at=now - timedelta(days=300))}
    outside = reg.push_image("other/thing", tags=["y"], pushed_at=now - timedelta(days=300))

    (workdir / "IMG_LIST").mkdir(parents=True)
    (workdir / "IMG_LIST" / "PRD_IMG_LIST.txt").write_text(
        f"# production\n{HOST}/svc/api:build-5\n{HOST}/other/thing@{builds[50]}\n\n"
        "docker.io/library/nginx:1\n"
    )
    (workdir / "IMG_LIST" / "STG_IMG_LIST.txt").write_text(f"{HOST}/other/thing:y\n")
    (workdir / "policies").mkdir()
    (workdir / "policies" / "svc.yaml").write_text(POLICY)
    assert outside not in keep | delete
    return Scenario(keep=keep, delete=delete, excluded=excluded, in_use={builds[5], builds[50]})


def run_ecrgc(sandbox: Sandbox, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **sandbox.environ(), "LOGDIR": str(workdir / "logs")}
    return subprocess.run(
        [ECRGC, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.e2e
def test_installed_cli_plans_exactly_the_expected_digests(sandbox: Sandbox, tmp_path: Path) -> None:
    scenario = build_scenario(sandbox, tmp_path)

    result = run_ecrgc(sandbox, tmp_path, "plan", "policies", "--out", "plans/p.json", "--detailed-exitcode")

    assert result.returncode == 2, result.stderr
    plan = load_plan_file(tmp_path / "plans" / "p.json")
    planned = {a.digest for a in plan.actions}
    assert planned == scenario.delete
    assert not planned & (scenario.keep | scenario.excluded)
    assert {p.digest for p in plan.protected} == scenario.in_use
    assert result.stdout.startswith(f"ecrgc: {len(scenario.delete):,} images to delete")
    assert {i.name for i in plan.inputs} == {"IMG_LIST/PRD_IMG_LIST.txt", "IMG_LIST/STG_IMG_LIST.txt"}
    # every page of 1,000 was read once: 1,200+ images in svc/api → 2 DescribeImages calls, 1 for svc/excluded
    # is not even scanned (excluded), so exactly 2.
    assert sandbox.calls["DescribeImages"] == 2
    assert sandbox.calls["GetCallerIdentity"] == 1  # asked before the scan, and remembered for replication
    assert sandbox.calls["DescribeRegistry"] == 1


@pytest.mark.e2e
def test_planning_the_same_state_twice_gives_identical_actions(sandbox: Sandbox, tmp_path: Path) -> None:
    build_scenario(sandbox, tmp_path)
    first = run_ecrgc(sandbox, tmp_path, "plan", "policies", "--out", "a.json")
    second = run_ecrgc(sandbox, tmp_path, "plan", "policies", "--out", "b.json")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr

    def body(name: str) -> dict[str, object]:
        document = json.loads((tmp_path / name).read_text())
        # Reading an index manifest is a pull (BatchGetImage), so the first plan moved the indexes'
        # lastPulledAt: the one field that may differ, and only on indexes.
        for image in [*document["actions"], *document["kept"]]:
            if image["mediaType"] == "application/vnd.oci.image.index.v1+json":
                image["lastPulledAt"] = None
        for image in document["kept"]:  # ages are counted to the plan's time, which differs
            if image["evidence"][0] == "ages":
                image["evidence"] = None
        return {k: v for k, v in document.items() if k not in ("created_at", "expires_at", "content_sha256")}

    assert body("a.json") == body("b.json")


@pytest.mark.e2e
def test_missing_image_list_stops_the_plan(sandbox: Sandbox, tmp_path: Path) -> None:
    build_scenario(sandbox, tmp_path)
    for listed in (tmp_path / "IMG_LIST").iterdir():
        listed.unlink()

    result = run_ecrgc(sandbox, tmp_path, "plan", "policies", "--out", "p.json")

    assert result.returncode == 1
    assert not (tmp_path / "p.json").exists()
    assert result.stderr.count("\n") == 1, result.stderr
    assert "IMG_LIST/*_IMG_LIST.txt" in result.stderr
    assert "Traceback" not in result.stderr


def test_plan_cli_what_if_writes_no_file(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = build_scenario(sandbox, tmp_path)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["plan", "policies", "--format", "json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["totals"]["images_to_delete"] == len(scenario.delete)
    assert not list(tmp_path.glob("*.json"))


def test_policies_for_two_regions_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.yaml").write_text(
        POLICY.replace("protect:\n    imageLists: ['../IMG_LIST/*_IMG_LIST.txt']\n", "")
    )
    other = (
        POLICY.replace("name: svc", "name: eu").replace("ap-northeast-1", "eu-west-1").replace("svc/", "eu/")
    )
    (tmp_path / "b.yaml").write_text(other)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["plan", "a.yaml", "b.yaml"])

    assert result.exit_code == 1
    assert result.stderr == (
        "ecrgc: the policies target 2 regions (ap-northeast-1, eu-west-1): a plan binds to one region;"
        " plan each region's policies separately (pass --region, or their files or directories)\n"
    )


MOTO_POLICY = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {name: moto}
spec:
  region: us-east-1
  repositories: {include: ['^app$']}
  rules: {holdTags: ['^release-'], keepLatest: 0}
  protect: {imageLists: ['in-use.txt']}
"""


def _manifest(n: int) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 100 + n,
                "digest": f"sha256:{n:064x}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 1000 + n,
                    "digest": f"sha256:{n + 1000:064x}",
                }
            ],
        }
    )


@pytest.mark.e2e
def test_installed_cli_against_moto(moto_server: str, tmp_path: Path) -> None:
    """moto is someone else's reading of the API: no pagination, push time = now, no pull times."""
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server, "AWS_REGION": "us-east-1", "LOGDIR": str(tmp_path)}
    ecr = boto3.client("ecr", region_name="us-east-1", endpoint_url=moto_server)
    ecr.create_repository(repositoryName="app")
    digests = {}
    for n, tag in enumerate(["a", "b", "release-1", "c", "d"]):
        digests[tag] = ecr.put_image(repositoryName="app", imageManifest=_manifest(n), imageTag=tag)["image"][
            "imageId"
        ]["imageDigest"]
    (tmp_path / "in-use.txt").write_text(f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app:b\n")
    (tmp_path / "moto.yaml").write_text(MOTO_POLICY)

    result = subprocess.run(
        [ECRGC, "plan", "moto.yaml", "--out", "p.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    plan = load_plan_file(tmp_path / "p.json")
    assert {a.digest for a in plan.actions} == {digests["a"], digests["c"], digests["d"]}
    assert [p.digest for p in plan.protected] == [digests["b"]]
    assert plan.account == ACCOUNT  # moto's STS answers with its default account


def test_plan_is_bound_to_now_and_expiry(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_scenario(sandbox, tmp_path)
    monkeypatch.chdir(tmp_path)
    before = datetime.now(UTC)

    result = CliRunner().invoke(app, ["plan", "policies", "--out", "p.json", "--expires-in", "2d"])

    assert result.exit_code == 0, result.output
    plan = load_plan_file(tmp_path / "p.json")
    assert before <= plan.created_at <= datetime.now(UTC)
    assert plan.expires_at - plan.created_at == timedelta(days=2)
    assert (plan.account, plan.region) == (ACCOUNT, REGION)


@pytest.mark.e2e
def test_check_passes_until_a_planned_image_comes_into_use(sandbox: Sandbox, tmp_path: Path) -> None:
    build_scenario(sandbox, tmp_path)
    assert run_ecrgc(sandbox, tmp_path, "plan", "policies", "--out", "p.json").returncode == 0
    before = sandbox.calls["BatchDeleteImage"]

    clean = run_ecrgc(sandbox, tmp_path, "plan", "--check", "p.json")
    victim = load_plan_file(tmp_path / "p.json").actions[0]
    with (tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt").open("a") as listing:
        listing.write(f"{HOST}/{victim.repository}@{victim.digest}\n")
    drifted = run_ecrgc(sandbox, tmp_path, "plan", "--check", "p.json")

    assert clean.returncode == 0, clean.stderr
    assert drifted.returncode == 3
    [line] = drifted.stderr.splitlines()
    assert line.startswith("ecrgc: p.json: 1 planned images would not pass apply's checks now: kept (in_use)")
    assert victim.digest[:19] in drifted.stdout or victim.digest in drifted.stdout
    assert sandbox.calls["BatchDeleteImage"] == before  # a check deletes nothing


@pytest.mark.parametrize("expires_in", ["1y", "10", "1month", "-1d", "0d"])
def test_an_expiry_that_is_no_duration_is_one_line_naming_the_option(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expires_in: str
) -> None:
    build_scenario(sandbox, tmp_path)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["plan", "policies", "--out", "p.json", "--expires-in", expires_in])

    assert result.exit_code == 1
    assert result.stderr == (
        f"ecrgc: --expires-in: {expires_in!r} is not a duration: a number followed by s, m, h, d or w"
        " (e.g. 14d), above zero\n"
    )
    assert not (tmp_path / "p.json").exists()
    assert sandbox.calls.total() == 0  # refused before any AWS call
