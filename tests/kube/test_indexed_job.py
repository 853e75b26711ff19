"""The shipped indexed Job (ecrgc/contrib/kubernetes/indexed-job.yaml): the apiserver accepts it (and the
Job its CronJob starts), its completions match the targets it is told of, and its pod's own script, run
for every index against moto's three registries in two accounts and two regions (and a fourth target whose
role cannot be assumed), plans each index's target alone; a wrong index or completion count is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecrgc.commands.targets import BoundTarget, target_at
from ecrgc.errors import UsageError
from ecrgc.planfile import load_plan_file
from ecrgc.targets import Target
from tests.aws.conftest import moto  # noqa: F401  # the fresh-moto fixture, used by name
from tests.aws.test_targets_moto import EAST, LOCKED, OTHER, OWN, TOKYO, registries
from tests.kube import servers
from tests.kube.fixtures import MANIFEST, Cluster

INDEXED = MANIFEST.parent / "indexed-job.yaml"


def cron_job() -> dict[str, Any]:
    (cron,) = yaml.safe_load_all(INDEXED.read_text(encoding="utf-8"))
    assert cron["kind"] == "CronJob"
    return cron


def plan_container() -> dict[str, Any]:
    (container,) = cron_job()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.kube
def test_the_apiserver_accepts_the_indexed_job_and_the_job_it_starts(kube: Cluster) -> None:
    kubectl = servers.binaries() / "kubectl"
    done = subprocess.run(
        [
            str(kubectl),
            "--context",
            "a-admin",
            "apply",
            "--dry-run=server",
            "-f",
            str(MANIFEST),
            "-f",
            str(INDEXED),
        ],
        env={**os.environ, "KUBECONFIG": str(kube.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "cronjob.batch/ecrgc-plan-targets created (server dry run)" in done.stdout
    # What `kubectl create job --from=cronjob/...` makes, created for real (no kubelet runs it).
    ns = kube.namespace()
    spec = cron_job()["spec"]["jobTemplate"]["spec"]
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "plan-now", "namespace": ns},
        "spec": spec,
    }
    job["spec"]["template"]["spec"]["serviceAccountName"] = "default"
    created = kube.create(job)
    assert created["spec"]["completionMode"] == "Indexed"
    assert created["spec"]["completions"] == created["spec"]["maxFailedIndexes"]
    assert created["spec"]["backoffLimitPerIndex"] == 1


def test_the_job_is_told_its_own_completions() -> None:
    spec = cron_job()["spec"]["jobTemplate"]["spec"]
    env = {e["name"]: e["value"] for e in plan_container()["env"]}
    assert int(env["ECRGC_COMPLETIONS"]) == spec["completions"]
    assert '--index "$JOB_COMPLETION_INDEX" --completions "$ECRGC_COMPLETIONS"' in plan_container()["args"][0]


def _bound(*names: str) -> list[BoundTarget]:
    return [
        BoundTarget(target=Target(name=n, account=OWN, region=EAST, index=i), policies=())
        for i, n in enumerate(names)
    ]


def test_an_index_names_the_target_in_file_order_and_a_wrong_count_is_refused() -> None:
    bound = _bound("a", "b", "c")
    assert [target_at(bound, i, 3, Path("targets.yaml")).name for i in range(3)] == ["a", "b", "c"]
    assert target_at(bound, 1, None, Path("targets.yaml")).name == "b"
    with pytest.raises(UsageError) as caught:
        target_at(bound, 3, None, Path("targets.yaml"))
    assert str(caught.value) == "--index 3: targets.yaml has 3 targets (0=a, 1=b, 2=c), indexes 0 to 2"
    with pytest.raises(UsageError) as caught:
        target_at(bound, 0, 2, Path("targets.yaml"))
    assert str(caught.value) == (
        "--completions 2: targets.yaml has 3 targets (0=a, 1=b, 2=c): set the Job's spec.completions to 3"
    )


@pytest.fixture
def policy_repo(moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:  # noqa: F811
    repo = tmp_path / "repo"
    repo.mkdir()
    with registries(moto, repo, monkeypatch):
        yield repo


def _pod(repo: Path, index: int, completions: str) -> subprocess.CompletedProcess[str]:
    """The plan container's command as the kubelet runs it in pod `index`: its env (what a user fills in:
    the completions), JOB_COMPLETION_INDEX, the policy repository as the working directory."""
    container = plan_container()
    env = {e["name"]: e["value"] for e in container["env"]} | {
        "ECRGC_COMPLETIONS": completions,
        "ECRGC_OUT_DIR": str(repo / "plans"),
    }
    return subprocess.run(
        [*container["command"], *container["args"]],
        cwd=repo,
        env={
            **os.environ,
            **{k: v for k, v in env.items() if k not in ("PYTHONPATH", "HOME", "LOGDIR")},
            "JOB_COMPLETION_INDEX": str(index),
            "LOGDIR": str(repo / "logs"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # `python`: this one
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.moto
@pytest.mark.e2e
def test_each_pod_plans_its_own_target_and_the_unassumable_one_fails_alone(policy_repo: Path) -> None:
    pods = [_pod(policy_repo, index, "4") for index in range(4)]

    assert [pod.returncode for pod in pods] == [0, 0, 0, 1]
    assert pods[3].stderr.startswith(f"ecrgc: target locked ({LOCKED}/{TOKYO}) failed: aws account {LOCKED}")
    for name, account, region in (
        ("own-east", OWN, EAST),
        ("own-tokyo", OWN, TOKYO),
        ("other-east", OTHER, EAST),
    ):
        (path,) = (policy_repo / "plans" / name).glob("*.json*")
        plan = load_plan_file(path)
        assert (plan.account, plan.region, len(plan.actions)) == (account, region, 3)
    assert sorted(p.name for p in (policy_repo / "plans").iterdir()) == [
        "other-east",
        "own-east",
        "own-tokyo",
    ]

    wrong = _pod(policy_repo, 0, "3")
    assert (wrong.returncode, wrong.stdout) == (1, "")
    assert wrong.stderr == (
        "ecrgc: --completions 3: targets.yaml has 4 targets (0=own-east, 1=own-tokyo, 2=other-east,"
        " 3=locked): set the Job's spec.completions to 4\n"
    )
