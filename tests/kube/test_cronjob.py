"""The shipped CronJob (ecrgc/contrib/kubernetes/rbac-cronjob.yaml) as written: the apiserver accepts every
object in it, and its export container's command, run as the manifest's ServiceAccount against the real
apiserver, puts the cluster's images in use at the S3 object (moto) that a planner then reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ecrgc.policy import load_policy_text
from ecrgc.usage import collect
from tests.aws.conftest import moto  # noqa: F401  # the fresh-moto fixture, used below by name
from tests.kube import objects as o
from tests.kube import servers
from tests.kube.fixtures import MANIFEST, Cluster

pytestmark = [pytest.mark.kube, pytest.mark.moto]
EXPORT = "s3://ecrgc-exports/clusters/prd/IMG_LIST.txt"


def manifest_objects() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(MANIFEST.read_text(encoding="utf-8")))


def export_container() -> dict[str, Any]:
    (cron,) = [obj for obj in manifest_objects() if obj["kind"] == "CronJob"]
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container


def test_the_apiserver_accepts_every_object_of_the_manifest(kube: Cluster) -> None:
    kubectl = servers.binaries() / "kubectl"
    done = subprocess.run(
        [str(kubectl), "--context", "a-admin", "apply", "--dry-run=server", "-f", str(MANIFEST)],
        env={**os.environ, "KUBECONFIG": str(kube.kubeconfig)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "cronjob.batch/ecrgc-inuse-export created (server dry run)" in done.stdout


@pytest.mark.usefixtures("moto")
def test_the_export_command_runs_as_written_and_the_plan_reads_its_list(
    kube: Cluster, tmp_path: Path
) -> None:
    ns = kube.namespace()
    spec = o.pod_spec(f"{o.ECR}/{ns}/api:v1")
    kube.create(o.pod(ns, "api", spec))
    kube.set_pod_status(ns, "api", o.running(spec, f"{o.ECR}/{ns}/api@{o.digest('a')}"))
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="ecrgc-exports")

    container = export_container()
    # what a user fills in, then what the kubelet does: the container's env, $(VAR) expanded in args
    env = {e["name"]: e["value"] for e in container["env"]} | {"ECRGC_EXPORT": EXPORT}
    args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], arg) for arg in container["args"]]
    # Outside a pod there is no mounted service-account token: the same ServiceAccount's token, through
    # the kubeconfig, stands in for --in-cluster (its RBAC is the manifest's own).
    args[args.index("--in-cluster")] = "--context=a-reader"
    assert container["command"] == ["python", "-m", "ecrgc"]
    done = subprocess.run(
        [sys.executable, "-m", "ecrgc", *args],
        env={
            **os.environ,
            **{k: v for k, v in env.items() if k not in ("PYTHONPATH", "HOME", "LOGDIR")},
            "LOGDIR": str(tmp_path / "logs"),
            "KUBECONFIG": str(kube.kubeconfig),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    policy = load_policy_text(
        textwrap.dedent(
            f"""\
            apiVersion: ecrgc/v1
            kind: Policy
            metadata: {{name: prd}}
            spec:
              region: {o.ECR.split(".")[3]}
              repositories: {{include: ['^{ns}/']}}
              rules: {{keepLatest: 1}}
              protect: {{imageLists: ['{EXPORT}']}}
            """
        ),
        "prd.yaml",
    )
    found = {str(u.ref) for u in collect([policy]).uses}
    assert found >= {f"{o.ECR}/{ns}/api:v1", f"{o.ECR}/{ns}/api@{o.digest('a')}"}
