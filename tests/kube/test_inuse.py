"""`ecrgc inuse export` and `ecrgc plan` reading a real kube-apiserver, through the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ecrgc.cli import app
from ecrgc.imagelists import read_image_list
from ecrgc.planfile import load_plan_file
from ecrgc.sandbox import Sandbox
from tests.kube import objects as o
from tests.kube.fixtures import Cluster

pytestmark = pytest.mark.kube
ECRGC = shutil.which("ecrgc", path=str(Path(sys.executable).parent)) or "ecrgc"


def export(kube: Cluster, tmp_path: Path, *args: str) -> Result:
    argv = [
        "--log-dir",
        str(tmp_path / "logs"),
        "inuse",
        "export",
        "--kubeconfig",
        str(kube.kubeconfig),
        *args,
    ]
    return CliRunner().invoke(app, argv)


def test_export_writes_the_image_list_with_provenance(kube: Cluster, tmp_path: Path) -> None:
    ns = kube.namespace()
    spec = o.pod_spec(f"{o.ECR}/{ns}/api:v1")
    kube.create(o.pod(ns, "api-1", spec))
    kube.set_pod_status(ns, "api-1", o.running(spec, f"{o.ECR}/{ns}/api@{o.digest('f')}"))
    kube.create(o.workload("Deployment", ns, "api", o.pod_spec(f"{o.ECR}/{ns}/api:v1")))

    result = export(kube, tmp_path, "--context", "a-admin", "--out", str(tmp_path / "IMG_LIST" / "A.txt"))

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    text = (tmp_path / "IMG_LIST" / "A.txt").read_text()
    assert text.startswith("# kubernetes context a-admin: ")
    assert (
        f"# used by a-admin · {ns} · Deployment/api, a-admin · {ns} · Pod/api-1\n{o.ECR}/{ns}/api:v1\n"
        f"# used by a-admin · {ns} · Pod/api-1\n{o.ECR}/{ns}/api@{o.digest('f')}\n"
    ) in text
    read_back = {str(use.ref) for use in read_image_list(tmp_path / "IMG_LIST" / "A.txt").uses}
    assert {f"{o.ECR}/{ns}/api:v1", f"{o.ECR}/{ns}/api@{o.digest('f')}"} <= read_back
    assert not list((tmp_path / "IMG_LIST").glob(".*"))  # the atomic write left no temporary behind


def test_export_without_out_prints_the_current_context(kube: Cluster, tmp_path: Path) -> None:
    ns = kube.namespace()
    kube.create(o.pod(ns, "p", o.pod_spec(f"{o.ECR}/{ns}/app:v2")))
    result = export(kube, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert f"# used by a-admin · {ns} · Pod/p\n{o.ECR}/{ns}/app:v2\n" in result.stdout


def errors(stderr: str) -> list[str]:
    """stderr without the warnings about unusable references, which other tests' pods in the shared
    cluster may cause: the error itself must be exactly one line."""
    return [line for line in stderr.splitlines() if "no registry could serve" not in line]


def test_export_fails_closed_with_one_line(kube: Cluster, tmp_path: Path) -> None:
    ns = kube.namespace()  # a pod, so that the Forbidden on controllerrevisions is what stops the export
    kube.create(o.pod(ns, "p", o.pod_spec(f"{o.ECR}/{ns}/app:v1")))
    result = export(kube, tmp_path, "--context", "a-restricted", "--out", str(tmp_path / "x.txt"))
    assert result.exit_code == 1
    [error] = errors(result.stderr)
    assert error.startswith("ecrgc: kubernetes context 'a-restricted': listing apps/v1 controllerrevisions")
    assert not (tmp_path / "x.txt").exists()


def test_in_cluster_and_context_together_are_refused(kube: Cluster, tmp_path: Path) -> None:
    result = export(kube, tmp_path, "--in-cluster", "--context", "a-admin")
    assert result.exit_code == 1
    assert result.stderr == (
        "ecrgc: --in-cluster reads the pod's own cluster: drop --context, or drop --in-cluster\n"
    )


POLICY = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {{name: svc}}
spec:
  region: ap-northeast-1
  repositories: {{include: ['^{repo}$']}}
  rules: {{keepLatest: 1, olderThan: 14d}}
  protect:
    kubernetes: {{contexts: [{context}]}}
"""


@pytest.mark.e2e
@pytest.mark.parametrize("context", ["a-admin", "a-restricted"])
def test_installed_plan_protects_what_the_cluster_runs(
    kube: Cluster, sandbox: Sandbox, tmp_path: Path, context: str
) -> None:
    """A re-pushed tag: the pod's spec says v1, it runs D1; v1 now names D2 and D1 is untagged and old.
    Only the pod's status keeps D1; a plan that cannot read the cluster stops."""
    ns, host = kube.namespace(), "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"
    repo, old = f"svc/{ns}", datetime.fromtimestamp(sandbox.clock.now(), UTC) - timedelta(days=60)
    running = sandbox.registry.push_image(repo, tags=["v1"], pushed_at=old)
    repushed = sandbox.registry.push_image(repo, tags=["v1"], pushed_at=old + timedelta(days=1))
    newest = sandbox.registry.push_image(repo, tags=["v2"], pushed_at=old + timedelta(days=2))
    stale = sandbox.registry.push_image(repo, tags=["v0"], pushed_at=old - timedelta(days=1))
    spec = o.pod_spec(f"{host}/{repo}:v1")
    kube.create(o.pod(ns, "api", spec))
    kube.set_pod_status(ns, "api", o.running(spec, f"{host}/{repo}@{running}"))
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "svc.yaml").write_text(POLICY.format(repo=repo, context=context))
    env = {
        **os.environ,
        **sandbox.environ(),
        "LOGDIR": str(tmp_path / "logs"),
        "KUBECONFIG": str(kube.kubeconfig),
    }

    result = subprocess.run(
        [ECRGC, "plan", "policies", "--out", "plan.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    if context == "a-restricted":
        assert result.returncode == 1
        [error] = errors(result.stderr)
        assert error.startswith(
            "ecrgc: kubernetes context 'a-restricted': listing apps/v1 controllerrevisions: forbidden (403)"
        )
        assert not (tmp_path / "plan.json").exists()
        return
    assert result.returncode == 0, result.stderr
    plan = load_plan_file(tmp_path / "plan.json")
    assert {a.digest for a in plan.actions} == {stale}
    protected = {p.digest: p.sources for p in plan.protected}
    assert protected == {
        running: (f"a-admin · {ns} · Pod/api",),
        repushed: (f"a-admin · {ns} · Pod/api",),
    }
    assert newest not in protected
    assert [(i.kind.value, i.name) for i in plan.inputs] == [("kubernetes", "a-admin")]
