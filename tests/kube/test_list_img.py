"""The shipped kubectl-only script (ecrgc/contrib/kubernetes/list_img.sh) against the real apiserver."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ecrgc import kube as kube_mod
from ecrgc.model import KubeContext, Usage
from ecrgc.refs import parse_reference
from tests.kube import objects as o
from tests.kube import servers
from tests.kube.fixtures import Cluster

pytestmark = pytest.mark.kube
SCRIPT = Path(__file__).parents[2] / "ecrgc" / "contrib" / "kubernetes" / "list_img.sh"


def run_script(kube: Cluster, workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    kubectl = servers.binaries() / "kubectl"
    assert os.access(kubectl, os.X_OK), f"{kubectl} missing: run tests/kube/build-apiserver.sh (make kube)"
    environ = {
        **os.environ,
        "PATH": f"{kubectl.parent}:{os.environ['PATH']}",
        "KUBECONFIG": str(kube.kubeconfig),
        **env,
    }
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=workdir,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def refs(usage: Usage) -> set[str]:
    return {str(use.ref) for use in usage.uses}


def test_the_script_lists_what_ecrgc_lists(kube_crds: Cluster, tmp_path: Path) -> None:
    kube, ns = kube_crds, kube_crds.namespace()
    spec = o.pod_spec(f"{o.ECR}/{ns}/api:v1", "nginx:1.27", volume=f"{o.ECR}/{ns}/models:v1")
    kube.create(o.pod(ns, "p", spec))
    kube.set_pod_status(
        ns,
        "p",
        o.running(
            spec,
            f"docker-pullable://{o.ECR}/{ns}/api@{o.digest('a')}",
            o.digest("b"),
            volume_ref=f"{o.ECR}/{ns}/models@{o.digest('c')}",
        ),
    )
    kube.create_all(
        [
            o.workload("ReplicaSet", ns, "old", o.pod_spec(f"{o.ECR}/{ns}/api:v0"), replicas=0),
            o.controller_revision(ns, "db-1", f"{o.ECR}/{ns}/db:v4", f"{o.ECR}/{ns}/seed:v4"),
            o.cron_job(ns, "report", o.pod_spec(f"{o.ECR}/{ns}/report:v2")),
            o.pod_template(ns, "tpl", o.pod_spec(f"{o.ECR}/{ns}/tpl:v1", f"{o.ECR}/{ns}/Bad:v1")),
            o.custom(
                "keda.sh/v1alpha1",
                "ScaledJob",
                ns,
                "worker",
                spec={"jobTargetRef": {"template": {"spec": o.pod_spec(f"{o.ECR}/{ns}/worker:v7")}}},
            ),
            o.custom(
                "serving.knative.dev/v1",
                "Revision",
                ns,
                "hello-1",
                spec=o.pod_spec(f"{o.ECR}/{ns}/hello:v1"),
                status={
                    "containerStatuses": [
                        {"name": "c0", "imageDigest": f"{o.ECR}/{ns}/hello@{o.digest('e')}"}
                    ]
                },
            ),
        ]
    )
    contexts = [KubeContext(name="a-admin")]
    before = refs(kube_mod.collect(contexts, kubeconfig=str(kube.kubeconfig)))

    result = run_script(kube, tmp_path, "PRD", "--context", "a-admin")

    after = refs(kube_mod.collect(contexts, kubeconfig=str(kube.kubeconfig)))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "IMG_LIST/PRD_IMG_LIST.txt\n"
    assert f"list_img.sh: skipped, not an image reference: {o.ECR}/{ns}/Bad:v1\n" in result.stderr
    lines = (tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt").read_text().splitlines()
    assert lines[0] == "# images in use in PRD: written by list_img.sh (kubectl --context a-admin)"
    listed = {str(parse_reference(line)) for line in lines[1:]}
    mine = {ref for ref in listed if f"/{ns}/" in ref or ref == "docker.io/library/nginx:1.27"}
    assert mine == {
        f"{o.ECR}/{ns}/{name}"
        for name in (
            "api:v1",
            f"api@{o.digest('a')}",
            "models:v1",
            f"models@{o.digest('c')}",
            "api:v0",
            "db:v4",
            "seed:v4",
            "report:v2",
            "tpl:v1",
            "worker:v7",
            "hello:v1",
            f"hello@{o.digest('e')}",
        )
    } | {"docker.io/library/nginx:1.27"}
    # Other tests share the cluster and only ever add objects: what ecrgc saw before ⊆ the script's ⊆ after.
    assert before <= listed <= after


def test_the_script_fails_closed(kube: Cluster, kube_b: Cluster, tmp_path: Path) -> None:
    (tmp_path / "IMG_LIST").mkdir()
    (tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt").write_text("previous\n")

    forbidden = run_script(kube, tmp_path, "PRD", "--context", "a-restricted")
    empty = run_script(kube_b, tmp_path, "PRD", "--context", "b-admin")

    assert forbidden.returncode != 0
    assert "forbidden" in forbidden.stderr.lower()
    assert empty.returncode == 1
    assert "no pods at all" in empty.stderr
    assert (tmp_path / "IMG_LIST" / "PRD_IMG_LIST.txt").read_text() == "previous\n"
    assert run_script(kube_b, tmp_path, "PRD", "--context", "b-admin", ALLOW_EMPTY="1").returncode == 0
