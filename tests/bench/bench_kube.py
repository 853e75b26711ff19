"""Benchmark: `ecrgc.kube.collect` over 20,000 pods, 5,000 ReplicaSets and 2,000 Deployments (issue 6).

A real etcd + kube-apiserver (tests/kube/build-apiserver.sh) is filled concurrently with realistic objects
(pods with env, probes, resources and a kubelet-like status), then every measurement runs in a fresh
process, so that wall time, CPU time and peak RSS are its own:

    collect        ecrgc.kube.collect: every kind of the default table, discovery, pages of 500
    raw_get        a plain paginated GET of pods, replicasets and deployments, bytes only (the floor)
    raw_get_json   the same plus json.loads of each page (what collect does before extracting images)
    raw_client     the generated client's list_*_for_all_namespaces with _preload_content=False + json.loads
    typed_client   the same calls deserialised into the client's typed models (the usual way)
    kubectl        `kubectl get pods,replicasets,deployments -A -o json` (peak RSS: kubectl's own)

    ECRGC_BENCH_SCALE=small|full (default full)   ECRGC_BENCH_REPEAT=N (default 3; medians reported)
    ECRGC_BENCH_KUBE_MODES=collect,raw_get,…     (default: all of them)
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tests.kube import servers
from tests.kube.fixtures import Cluster, write_kubeconfig

SCALES = {"full": (20_000, 5_000, 2_000), "small": (2_000, 500, 200)}
NAMESPACES = 50
CONTEXT = "bench"
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
MODES = ("collect", "raw_get", "raw_get_json", "raw_client", "typed_client", "kubectl")
LISTED = (("", "v1", "pods"), ("apps", "v1", "replicasets"), ("apps", "v1", "deployments"))


def run() -> dict[str, object]:
    """Measure and report; never asserts a time."""
    name = os.environ.get("ECRGC_BENCH_SCALE", "full")
    pods, replica_sets, deployments = SCALES[name]
    repeat = int(os.environ.get("ECRGC_BENCH_REPEAT", "3"))
    report: dict[str, object] = {
        "scale": name,
        "repeat": repeat,
        "pods": pods,
        "replicasets": replica_sets,
        "deployments": deployments,
    }
    with tempfile.TemporaryDirectory(prefix="ecrgc-bench-kube-") as root, _apiserver(Path(root)) as cluster:
        started = time.perf_counter()
        populate(cluster, pods=pods, replica_sets=replica_sets, deployments=deployments)
        report["populate_s"] = round(time.perf_counter() - started, 1)
        kubeconfig = str(cluster.kubeconfig)
        bin_dir = str(servers.binaries())
        modes = os.environ.get("ECRGC_BENCH_KUBE_MODES", ",".join(MODES)).split(",")
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
        for _ in range(repeat):  # interleaved, so that a busy moment of the machine hits every mode alike
            for mode in modes:
                runs[mode].append(_fresh_process(mode, kubeconfig, bin_dir))
        report["runs"] = {mode: _summary(each) for mode, each in runs.items()}
    return report


def _apiserver(root: Path) -> Any:
    """An ExitStack holding etcd and the apiserver; entering it yields the admin `Cluster`."""

    class _Running(ExitStack):
        def __enter__(self) -> Cluster:  # type: ignore[override]
            super().__enter__()
            bin_dir = servers.binaries()
            etcd = self.enter_context(servers.shared(root, "etcd", lambda d: servers.start_etcd(bin_dir, d)))
            state = self.enter_context(
                servers.shared(
                    root, "apiserver", lambda d: servers.start_apiserver(bin_dir, d, etcd["url"], "/registry")
                )
            )
            directory = Path(state["dir"])
            user = {
                "server": state["server"],
                "ca": str(directory / "ca.crt"),
                "cert": str(directory / "admin.crt"),
                "key": str(directory / "admin.key"),
            }
            kubeconfig = write_kubeconfig(root / "kubeconfig", {CONTEXT: user}, CONTEXT)
            cluster = Cluster(name=CONTEXT, state=state, kubeconfig=kubeconfig, etcd_url=etcd["url"])
            self.callback(cluster.api.close)
            return cluster

    return _Running()


def populate(cluster: Cluster, *, pods: int, replica_sets: int, deployments: int) -> None:
    """Create the objects concurrently; every pod gets a kubelet-like status with repo@digest imageIDs."""
    namespaces = [f"bench-{i:02d}" for i in range(NAMESPACES)]
    for namespace in namespaces:
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    def ns(i: int) -> str:
        return namespaces[i % NAMESPACES]

    cluster.create_all(
        [_workload("Deployment", ns(i), f"app-{i}", i) for i in range(deployments)], workers=16
    )
    cluster.create_all(
        [_workload("ReplicaSet", ns(i), f"app-{i % deployments}-{i}", i) for i in range(replica_sets)],
        workers=16,
    )
    with ThreadPoolExecutor(16) as pool:
        for _ in pool.map(
            lambda i: _running_pod(cluster, ns(i), f"app-{i % deployments}-{i}", i), range(pods)
        ):
            pass


def _running_pod(cluster: Cluster, namespace: str, name: str, i: int) -> None:
    """Create a pod, then write its status as a kubelet would (create ignores a status)."""
    status = _pod_status(i)
    created = cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "spec": {"containers": _containers(i)},
            "metadata": {"name": name, "namespace": namespace, "labels": _labels(name, i)},
        }
    )
    created["status"] = status
    cluster.request("PUT", f"/api/v1/namespaces/{namespace}/pods/{name}/status", created)


def _containers(i: int) -> list[dict[str, Any]]:
    env = [{"name": f"SETTING_{n}", "value": f"value-{n}-{i}"} for n in range(10)]
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10}
    resources = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
    return [
        {
            "name": "app",
            "image": f"{ECR}/team-{i % 40}/app:build-{i % 500}",
            "env": env,
            "resources": resources,
            "ports": [{"containerPort": 8080}],
            "readinessProbe": probe,
            "livenessProbe": probe,
        },
        {"name": "proxy", "image": f"{ECR}/platform/proxy:1.{i % 7}", "resources": resources},
    ]


def _workload(kind: str, namespace: str, name: str, i: int) -> dict[str, Any]:
    labels = _labels(name, i)
    template = {"metadata": {"labels": labels}, "spec": {"containers": _containers(i)}}
    spec = {"replicas": 0, "selector": {"matchLabels": labels}, "template": template}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
    }


def _labels(name: str, i: int) -> dict[str, str]:
    return {"app": name, "team": f"team-{i % 40}"}


def _pod_status(i: int) -> dict[str, Any]:
    digest = f"sha256:{i:064x}"
    return {
        "phase": "Running",
        "containerStatuses": [
            {
                "name": c["name"],
                "ready": True,
                "restartCount": 0,
                "image": c["image"],
                "imageID": f"{c['image'].rsplit(':', 1)[0]}@{digest}",
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
            }
            for c in _containers(i)
        ],
    }


def _fresh_process(mode: str, kubeconfig: str, bin_dir: str) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure, mode, kubeconfig, bin_dir).result()


def _summary(runs: list[dict[str, Any]]) -> dict[str, object]:
    summary: dict[str, object] = {
        key: statistics.median(r[key] for r in runs) for key in ("wall_s", "cpu_s", "peak_rss_mib")
    }
    summary["wall_s_each"] = [r["wall_s"] for r in runs]
    summary["result"] = runs[-1]["result"]
    return summary


def measure(mode: str, kubeconfig: str, bin_dir: str) -> dict[str, Any]:
    """One measured run of `mode` (in a fresh process)."""
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    result = MEASURED[mode](kubeconfig, bin_dir)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (
        time.process_time() - start_cpu + (children.ru_utime + children.ru_stime if mode == "kubectl" else 0)
    )
    rss = (children if mode == "kubectl" else own).ru_maxrss
    return {
        "wall_s": round(time.perf_counter() - start_wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mib": round(rss / 1024),
        "result": result,
    }


def _collect(kubeconfig: str, _bin: str) -> dict[str, int]:
    from ecrgc import kube
    from ecrgc.model import KubeContext

    usage = kube.collect([KubeContext(name=CONTEXT)], kubeconfig=kubeconfig)
    return {"uses": len(usage.uses), "references": usage.inputs[0].references}


def _raw_get(parse: bool) -> Callable[[str, str], dict[str, int]]:
    def run(kubeconfig: str, _bin: str) -> dict[str, int]:
        from kubernetes import config

        api = config.new_client_from_config(config_file=kubeconfig, context=CONTEXT)  # type: ignore[no-untyped-call]
        counts = {}
        with api:
            for group, version, plural in LISTED:
                path = f"/api/{version}/{plural}" if not group else f"/apis/{group}/{version}/{plural}"
                counts[plural] = sum(_pages(api, path, parse))
        return counts

    return run


def _pages(api: Any, path: str, parse: bool) -> Iterator[int]:
    """Bytes of each page (or its item count when parsing), following continue tokens."""
    token = ""
    while True:
        query = [("limit", 500)] + ([("continue", token)] if token else [])
        request = api.param_serialize("GET", path, query_params=query, auth_settings=["BearerToken"])
        body = api.call_api(*request[:3]).read()
        if not parse:
            # The token sits in the list's metadata, before the items: a search, not a parse.
            head = body[:2048].decode(errors="replace")
            token = head.split('"continue":"', 1)[1].split('"', 1)[0] if '"continue":"' in head else ""
            yield len(body)
        else:
            page = json.loads(body)
            token = page["metadata"].get("continue", "")
            yield len(page["items"])
        if not token:
            return


def _client(typed: bool) -> Callable[[str, str], dict[str, int]]:
    def run(kubeconfig: str, _bin: str) -> dict[str, int]:
        from kubernetes import client, config

        api = config.new_client_from_config(config_file=kubeconfig, context=CONTEXT)  # type: ignore[no-untyped-call]
        with api:
            core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
            lists = {
                "pods": core.list_pod_for_all_namespaces,
                "replicasets": apps.list_replica_set_for_all_namespaces,
                "deployments": apps.list_deployment_for_all_namespaces,
            }
            return {name: _client_count(call, typed) for name, call in lists.items()}

    return run


def _client_count(call: Callable[..., Any], typed: bool) -> int:
    count, token = 0, None
    while True:
        if typed:
            page = call(limit=500, _continue=token)
            count, token = count + len(page.items), page.metadata._continue
        else:
            raw = json.loads(call(limit=500, _continue=token, _preload_content=False).data)
            count, token = count + len(raw["items"]), raw["metadata"].get("continue")
        if not token:
            return count


def _kubectl(kubeconfig: str, bin_dir: str) -> dict[str, int]:
    argv = [
        f"{bin_dir}/kubectl",
        "--kubeconfig",
        kubeconfig,
        "get",
        "pods,replicasets,deployments",
        "-A",
        "-o",
        "json",
        "--chunk-size=500",
    ]
    output = subprocess.run(argv, capture_output=True, check=True).stdout
    return {"bytes": len(output)}


MEASURED: dict[str, Callable[[str, str], dict[str, int]]] = {
    "collect": _collect,
    "raw_get": _raw_get(parse=False),
    "raw_get_json": _raw_get(parse=True),
    "raw_client": _client(typed=False),
    "typed_client": _client(typed=True),
    "kubectl": _kubectl,
}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
