"""Pytest fixtures: a real etcd + kube-apiserver (RBAC on, client certificates), one per test run.

`kube` is cluster "a" with contexts a-admin (the current one), a-restricted (a user whose role lacks
controllerrevisions), a-builtin (a user who may read no custom resource), a-expired (an expired
certificate) and a-reader (a service account bound to the shipped read-only ClusterRole). `kube_b` is a
second apiserver with its own etcd, so that two clusters really are two. No kubelet runs: pods are never
scheduled, and tests write pod status through the status subresource the way a kubelet would.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient, Configuration

from tests.kube import objects, servers

MANIFEST = Path(__file__).parents[2] / "ecrgc" / "contrib" / "kubernetes" / "rbac-cronjob.yaml"
_CORE = {
    "apiGroups": [""],
    "resources": ["pods", "replicationcontrollers", "podtemplates"],
    "verbs": ["list"],
}
_APPS = ["deployments", "replicasets", "statefulsets", "daemonsets"]
_BATCH = {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["list"]}
ROLES = {
    # user (certificate CN) -> rules: every built-in kind but controllerrevisions
    "ecrgc-restricted": [_CORE, {"apiGroups": ["apps"], "resources": _APPS, "verbs": ["list"]}, _BATCH],
    # every built-in kind, none of the custom resources
    "ecrgc-builtin": [
        _CORE,
        {"apiGroups": ["apps"], "resources": [*_APPS, "controllerrevisions"], "verbs": ["list"]},
        _BATCH,
    ],
}


class ApiError(Exception):
    """The test apiserver refused a request a test made."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status


@dataclass
class Cluster:
    """One running apiserver, its admin client, and the kubeconfig contexts that reach it."""

    name: str
    state: dict[str, Any]
    kubeconfig: Path
    etcd_url: str
    api: ApiClient = field(init=False)

    def __post_init__(self) -> None:
        configuration = Configuration()
        configuration.host = self.state["server"]
        configuration.ssl_ca_cert = self.file("ca.crt")
        configuration.cert_file, configuration.key_file = self.file("admin.crt"), self.file("admin.key")
        configuration.connection_pool_maxsize = 16
        self.api = ApiClient(configuration)

    def file(self, name: str) -> str:
        return str(Path(self.state["dir"]) / name)

    def request(self, method: str, path: str, body: Any = None, query: list[Any] | None = None) -> Any:
        """A raw JSON request as the admin; raises ApiError on a non-2xx answer."""
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        request = self.api.param_serialize(
            method, path, query_params=query or [], header_params=headers, body=body, auth_settings=[]
        )
        response = self.api.call_api(*request[:4], _request_timeout=60)
        data = response.read()  # type: ignore[no-untyped-call]
        if not 200 <= response.status < 300:
            raise ApiError(response.status, data.decode(errors="replace"))
        return json.loads(data) if data else None

    def create(self, obj: Mapping[str, Any], *, exist_ok: bool = False) -> Any:
        """POST an object to its collection (namespaced when metadata.namespace is set)."""
        try:
            return self.request("POST", collection_path(obj), dict(obj))
        except ApiError as exc:
            if exist_ok and exc.status == 409:
                return None
            raise

    def create_all(self, objects: list[Mapping[str, Any]], *, workers: int = 8) -> None:
        """Create many objects concurrently (the apiserver is the bottleneck, not this client)."""
        with ThreadPoolExecutor(workers) as pool:
            for _ in pool.map(self.create, objects):
                pass

    def namespace(self, prefix: str = "t") -> str:
        """A fresh namespace: tests share the cluster, so each one works in namespaces of its own."""
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name

    def set_pod_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """What a kubelet would report: the pod's status, written through the status subresource."""
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        pod = self.request("GET", path)
        pod["status"] = dict(status)
        self.request("PUT", f"{path}/status", pod)


def collection_path(obj: Mapping[str, Any]) -> str:
    """The REST collection of an object, from its apiVersion, kind and namespace."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    plural = kind.lower() + "s"  # true of every kind the tests create
    root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    namespace = obj.get("metadata", {}).get("namespace")
    return f"{root}/namespaces/{namespace}/{plural}" if namespace else f"{root}/{plural}"


def write_kubeconfig(path: Path, contexts: Mapping[str, Mapping[str, Any]], current: str) -> Path:
    """A kubeconfig whose context `name` reaches `server` as `user` ({"cert", "key"} or {"token"})."""
    clusters, users, entries = [], [], []
    for name, spec in contexts.items():
        cluster = {"server": spec["server"]}
        if "ca" in spec:
            cluster["certificate-authority"] = spec["ca"]
        clusters.append({"name": name, "cluster": cluster})
        user = (
            {"token": spec["token"]}
            if "token" in spec
            else {"client-certificate": spec["cert"], "client-key": spec["key"]}
        )
        users.append({"name": name, "user": user})
        entries.append({"name": name, "context": {"cluster": name, "user": name}})
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": users,
        "contexts": entries,
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(document))
    return path


def _root(factory: pytest.TempPathFactory) -> Path:
    """The directory shared by every xdist worker of this run (the workers' base temp's parent)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _etcd(factory: pytest.TempPathFactory, name: str) -> Iterator[str]:
    bin_dir = servers.binaries()
    with servers.shared(_root(factory), name, lambda d: servers.start_etcd(bin_dir, d)) as state:
        yield state["url"]


def _cluster(
    factory: pytest.TempPathFactory, etcd_url: str, name: str, extra_flags: tuple[str, ...] = ()
) -> Iterator[Cluster]:
    bin_dir = servers.binaries()
    start = lambda d: servers.start_apiserver(bin_dir, d, etcd_url, f"/registry-{name}", extra_flags)  # noqa: E731
    with servers.shared(_root(factory), f"apiserver-{name}", start) as state:
        directory = Path(state["dir"])
        contexts = {
            f"{name}-{user}": {
                "server": state["server"],
                "ca": str(directory / "ca.crt"),
                "cert": str(directory / f"{user}.crt"),
                "key": str(directory / f"{user}.key"),
            }
            for user in state["identities"]
        }
        kubeconfig = factory.mktemp(f"kubeconfig-{name}") / "config"
        write_kubeconfig(kubeconfig, contexts, current=f"{name}-admin")
        cluster = Cluster(name=name, state=state, kubeconfig=kubeconfig, etcd_url=etcd_url)
        try:
            yield cluster
        finally:
            cluster.api.close()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Cluster "a" (watch cache on, as in production), with the restricted and the reader identities."""
    for etcd_url in _etcd(tmp_path_factory, "etcd-a"):
        for cluster in _cluster(tmp_path_factory, etcd_url, "a"):
            _roles(cluster)
            _reader_context(cluster)
            yield cluster


@pytest.fixture(scope="session")
def kube_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Cluster "b": its own apiserver and etcd, and no watch cache, so that every list reads etcd and a
    compaction there expires continue tokens (410) the way an old token does. Tests never create pods in
    it: it is the cluster that has workloads but no pods."""
    for etcd_url in _etcd(tmp_path_factory, "etcd-b"):
        yield from _cluster(tmp_path_factory, etcd_url, "b", ("--watch-cache=false",))


@pytest.fixture(scope="session")
def kube_crds(kube: Cluster) -> Cluster:
    """Cluster "a" with the Argo Rollouts, Knative Serving and KEDA CRDs installed and served."""
    for definition in objects.CRDS:
        kube.create(definition, exist_ok=True)
    deadline = time.monotonic() + 60
    for definition in objects.CRDS:
        spec = definition["spec"]
        path = f"/apis/{spec['group']}/{spec['versions'][0]['name']}"
        while not _serves(kube, path, spec["names"]["plural"]):
            assert time.monotonic() < deadline, f"{path} does not serve {spec['names']['plural']}"
            time.sleep(0.1)
    return kube


def _serves(cluster: Cluster, path: str, plural: str) -> bool:
    try:
        return any(r["name"] == plural for r in cluster.request("GET", path)["resources"])
    except ApiError:
        return False


def _roles(cluster: Cluster) -> None:
    """A ClusterRole and its binding for each user of ROLES."""
    for user, rules in ROLES.items():
        meta = {"name": user}
        rbac = "rbac.authorization.k8s.io"
        cluster.create(
            {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole", "metadata": meta, "rules": rules},
            exist_ok=True,
        )
        binding = {
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": user},
            "subjects": [{"apiGroup": rbac, "kind": "User", "name": user}],
        }
        cluster.create(
            {"apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding", "metadata": meta, **binding},
            exist_ok=True,
        )


def _reader_context(cluster: Cluster) -> None:
    """Applies the shipped manifest's namespace, ServiceAccount and RBAC, and adds a context that holds a
    token of that ServiceAccount: the identity the example CronJob runs as."""
    account = None
    for obj in yaml.safe_load_all(MANIFEST.read_text()):
        if obj["kind"] in ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
            cluster.create(obj, exist_ok=True)
        account = obj["metadata"] if obj["kind"] == "ServiceAccount" else account
    assert account is not None, f"{MANIFEST} has no ServiceAccount"
    token = cluster.request(
        "POST",
        f"/api/v1/namespaces/{account['namespace']}/serviceaccounts/{account['name']}/token",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 7200},
        },
    )["status"]["token"]
    document = yaml.safe_load(cluster.kubeconfig.read_text())
    document["clusters"].append({"name": "a-reader", "cluster": dict(document["clusters"][0]["cluster"])})
    document["users"].append({"name": "a-reader", "user": {"token": token}})
    document["contexts"].append({"name": "a-reader", "context": {"cluster": "a-reader", "user": "a-reader"}})
    cluster.kubeconfig.write_text(yaml.safe_dump(document))
