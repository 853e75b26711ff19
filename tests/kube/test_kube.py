"""ecrgc.kube against a real kube-apiserver: every kind, every imageID form, pagination, identities."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ecrgc import kube as kube_mod
from ecrgc.errors import SourceUnavailable
from ecrgc.model import CURRENT_CONTEXT, IN_CLUSTER, InputKind, KubeContext, Usage
from tests.kube import objects as o
from tests.kube import servers
from tests.kube.fixtures import Cluster, write_kubeconfig

pytestmark = pytest.mark.kube
ECR = o.ECR


def collect(cluster: Cluster, *names: str, allow_empty: bool = False, **options: Any) -> Usage:
    """kube.collect over contexts of `cluster`'s kubeconfig (default: a-admin)."""
    contexts = [KubeContext(name=name, allow_empty=allow_empty) for name in names or ("a-admin",)]
    return kube_mod.collect(contexts, kubeconfig=str(cluster.kubeconfig), **options)


def uses_in(usage: Usage, namespace: str) -> set[tuple[str, str]]:
    """(reference, source) of the uses in one namespace: tests share the cluster, never a namespace."""
    return {(str(use.ref), use.source) for use in usage.uses if f" · {namespace} · " in use.source}


def test_every_builtin_kind_with_its_provenance(kube: Cluster) -> None:
    ns = kube.namespace()
    spec = o.pod_spec(f"{ECR}/api:v1", init=(f"{ECR}/migrate:v1",), volume=f"{ECR}/models:v1")
    kube.create(o.pod(ns, "api-7d4-x2", spec))
    kube.set_pod_status(
        ns,
        "api-7d4-x2",
        o.running(spec, f"{ECR}/api@{o.digest('a')}", volume_ref=f"{ECR}/models@{o.digest('b')}"),
    )
    pod = kube.request("GET", f"/api/v1/namespaces/{ns}/pods/api-7d4-x2")
    pod["spec"]["ephemeralContainers"] = [{"name": "debug", "image": f"{ECR}/debug:v1"}]
    kube.request("PUT", f"/api/v1/namespaces/{ns}/pods/api-7d4-x2/ephemeralcontainers", pod)
    kube.create_all(
        [
            o.workload("Deployment", ns, "api", o.pod_spec(f"{ECR}/api:v2"), replicas=0, paused=True),
            o.workload("ReplicaSet", ns, "api-7d4", o.pod_spec(f"{ECR}/api:v1"), replicas=0),
            o.workload("StatefulSet", ns, "db", o.pod_spec(f"{ECR}/db:v5")),
            o.workload("DaemonSet", ns, "agent", o.pod_spec(f"{ECR}/agent:v9")),
            o.controller_revision(ns, "db-5f6", f"{ECR}/db:v4", f"{ECR}/seed:v4"),
            o.job(ns, "backup", o.pod_spec(f"{ECR}/backup:v2")),
            o.cron_job(ns, "report", o.pod_spec(f"{ECR}/report@{o.digest('c')}")),
            o.replication_controller(ns, "legacy", o.pod_spec(f"{ECR}/legacy:v0")),
            o.pod_template(ns, "tpl", o.pod_spec(f"{ECR}/tpl:v1")),
        ]
    )
    where = f"a-admin · {ns} · "
    assert uses_in(collect(kube), ns) == {
        (f"{ECR}/api:v1", f"{where}Pod/api-7d4-x2"),
        (f"{ECR}/api@{o.digest('a')}", f"{where}Pod/api-7d4-x2"),
        (f"{ECR}/migrate:v1", f"{where}Pod/api-7d4-x2"),
        (f"{ECR}/debug:v1", f"{where}Pod/api-7d4-x2"),
        (f"{ECR}/models:v1", f"{where}Pod/api-7d4-x2"),
        (f"{ECR}/models@{o.digest('b')}", f"{where}Pod/api-7d4-x2"),
        (f"{ECR}/api:v2", f"{where}Deployment/api"),
        (f"{ECR}/api:v1", f"{where}ReplicaSet/api-7d4"),
        (f"{ECR}/db:v5", f"{where}StatefulSet/db"),
        (f"{ECR}/agent:v9", f"{where}DaemonSet/agent"),
        (f"{ECR}/db:v4", f"{where}ControllerRevision/db-5f6"),
        (f"{ECR}/seed:v4", f"{where}ControllerRevision/db-5f6"),
        (f"{ECR}/backup:v2", f"{where}Job/backup"),
        (f"{ECR}/report@{o.digest('c')}", f"{where}CronJob/report"),
        (f"{ECR}/legacy:v0", f"{where}ReplicationController/legacy"),
        (f"{ECR}/tpl:v1", f"{where}PodTemplate/tpl"),
    }


def test_image_ids_in_every_runtime_form(kube: Cluster) -> None:
    ns = kube.namespace()
    images = [f"{ECR}/a:v1", f"{ECR}/b:v1", f"{ECR}/c:v1", f"{ECR}/d:v1", f"{ECR}/e:v1"]
    spec = o.pod_spec(*images)
    kube.create(o.pod(ns, "p", spec))
    kube.set_pod_status(
        ns,
        "p",
        o.running(
            spec,
            f"{ECR}/a@{o.digest('1')}",  # containerd, CRI-O
            f"docker-pullable://{ECR}/b@{o.digest('2')}",  # dockershim, cri-dockerd
            o.digest("3"),  # containerd without a repo digest: a config digest, no registry's
            f"docker://{o.digest('4')}",  # dockershim, built locally
            "",  # not started yet
        ),
    )
    refs = {ref for ref, _ in uses_in(collect(kube), ns)}
    assert refs == {*images, f"{ECR}/a@{o.digest('1')}", f"{ECR}/b@{o.digest('2')}"}


def test_a_re_pushed_tag_protects_the_digest_that_runs(kube: Cluster) -> None:
    """Spec says app:v1; the pod runs D1; CI re-pushed v1 as D2 (and pulled it under another name)."""
    ns = kube.namespace()
    spec = o.pod_spec(f"{ECR}/app:v1", f"{ECR}/app:v1")
    kube.create(o.pod(ns, "p", spec))
    kube.set_pod_status(
        ns, "p", o.running(spec, f"{ECR}/app@{o.digest('d')}", f"{ECR}/mirror@{o.digest('d')}")
    )
    refs = {ref for ref, _ in uses_in(collect(kube), ns)}
    assert refs == {f"{ECR}/app:v1", f"{ECR}/app@{o.digest('d')}", f"{ECR}/mirror@{o.digest('d')}"}


def test_pagination_over_more_than_1200_pods(kube: Cluster) -> None:
    ns = kube.namespace()
    kube.create_all([o.pod(ns, f"p{i}", o.pod_spec(f"{ECR}/app:v{i}")) for i in range(1300)])
    pages: list[tuple[str, int]] = []
    usage = collect(kube, on_page=lambda ctx, what, seen: pages.append((what, seen)))
    assert {ref for ref, _ in uses_in(usage, ns)} == {f"{ECR}/app:v{i}" for i in range(1300)}
    pod_pages = [seen for what, seen in pages if what == "v1 pods"]
    assert len(pod_pages) >= 3
    assert pod_pages[:2] == [500, 1000]


def test_custom_resources_are_read_when_their_crds_exist(kube_crds: Cluster) -> None:
    kube, ns = kube_crds, kube_crds.namespace()
    tpl = {"spec": o.pod_spec(f"{ECR}/web:v1")}
    kube.create_all(
        [
            o.custom(
                "argoproj.io/v1alpha1",
                "Rollout",
                ns,
                "web",
                spec={"template": o.template({}, o.pod_spec(f"{ECR}/rollout:v3"))},
            ),
            o.custom("serving.knative.dev/v1", "Service", ns, "hello", spec={"template": tpl}),
            o.custom(
                "serving.knative.dev/v1",
                "Configuration",
                ns,
                "hello",
                spec={"template": {"spec": o.pod_spec(f"{ECR}/hello:v2")}},
            ),
            o.custom(
                "serving.knative.dev/v1",
                "Revision",
                ns,
                "hello-00001",
                spec=o.pod_spec(f"{ECR}/hello:v1"),
                status={"containerStatuses": [{"name": "c0", "imageDigest": f"{ECR}/hello@{o.digest('e')}"}]},
            ),
            o.custom(
                "keda.sh/v1alpha1",
                "ScaledJob",
                ns,
                "worker",
                spec={"jobTargetRef": {"template": {"spec": o.pod_spec(f"{ECR}/worker:v7")}}},
            ),
        ]
    )
    where = f"a-admin · {ns} · "
    assert uses_in(collect(kube), ns) == {
        (f"{ECR}/rollout:v3", f"{where}Rollout.argoproj.io/web"),
        (f"{ECR}/web:v1", f"{where}Service.serving.knative.dev/hello"),
        (f"{ECR}/hello:v2", f"{where}Configuration.serving.knative.dev/hello"),
        (f"{ECR}/hello:v1", f"{where}Revision.serving.knative.dev/hello-00001"),
        (f"{ECR}/hello@{o.digest('e')}", f"{where}Revision.serving.knative.dev/hello-00001"),
        (f"{ECR}/worker:v7", f"{where}ScaledJob.keda.sh/worker"),
    }


def test_without_the_crds_only_builtin_kinds_are_read(kube_b: Cluster) -> None:
    pages: list[str] = []
    usage = collect(kube_b, "b-admin", allow_empty=True, on_page=lambda ctx, what, seen: pages.append(what))
    assert sorted(set(pages)) == sorted(r.label for r in kube_mod.BUILTIN)
    assert not any(".argoproj.io/" in use.source for use in usage.uses)


def test_the_shipped_read_only_role_is_enough(kube_crds: Cluster) -> None:
    """a-reader holds a token of the manifest's ServiceAccount, bound to the manifest's ClusterRole."""
    ns = kube_crds.namespace()
    kube_crds.create(o.pod(ns, "p", o.pod_spec(f"{ECR}/app:v1")))
    assert uses_in(collect(kube_crds, "a-reader"), ns) == {(f"{ECR}/app:v1", f"a-reader · {ns} · Pod/p")}


def test_a_forbidden_resource_stops_the_collection(kube: Cluster) -> None:
    ns = kube.namespace()
    kube.create(o.pod(ns, "p", o.pod_spec(f"{ECR}/app:v1")))
    with pytest.raises(SourceUnavailable) as caught:
        collect(kube, "a-restricted")
    assert re.fullmatch(
        r"kubernetes context 'a-restricted': listing apps/v1 controllerrevisions: forbidden \(403\): "
        r'controllerrevisions\.apps is forbidden: User "ecrgc-restricted" cannot list resource '
        r'"controllerrevisions" in API group "apps" at the cluster scope; grant get/list on it '
        r"\(see ecrgc/contrib/kubernetes/rbac-cronjob\.yaml\)",
        str(caught.value),
    )


def test_a_forbidden_custom_resource_stops_the_collection(kube_crds: Cluster) -> None:
    """Discovery shows Argo Rollouts: an identity that may not list them is not one that saw none."""
    ns = kube_crds.namespace()
    kube_crds.create(o.pod(ns, "p", o.pod_spec(f"{ECR}/app:v1")))
    with pytest.raises(SourceUnavailable) as caught:
        collect(kube_crds, "a-builtin")
    assert str(caught.value).startswith(
        "kubernetes context 'a-builtin': listing argoproj.io/v1alpha1 rollouts: forbidden (403): "
        'rollouts.argoproj.io is forbidden: User "ecrgc-builtin" cannot list resource "rollouts"'
    )


def test_an_expired_credential_stops_the_collection(kube: Cluster) -> None:
    with pytest.raises(SourceUnavailable, match=r"^kubernetes context 'a-expired': .*unauthorized \(401\)"):
        collect(kube, "a-expired")


def test_an_unreachable_cluster_stops_the_collection(kube: Cluster, tmp_path: Path) -> None:
    config = _kubeconfig_to(kube, tmp_path, f"https://127.0.0.1:{servers.free_port()}")
    with pytest.raises(SourceUnavailable, match=r"^kubernetes context 'elsewhere': listing v1 pods failed: "):
        kube_mod.collect([KubeContext(name="elsewhere")], kubeconfig=str(config), timeout=2)


def test_a_cluster_that_does_not_answer_times_out(kube: Cluster, tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        config = _kubeconfig_to(kube, tmp_path, f"https://127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(
            SourceUnavailable, match=r"^kubernetes context 'elsewhere': .* failed: .*timed out"
        ):
            kube_mod.collect([KubeContext(name="elsewhere")], kubeconfig=str(config), timeout=0.5)


def _kubeconfig_to(kube: Cluster, tmp_path: Path, server: str) -> Path:
    user = {"ca": kube.file("ca.crt"), "cert": kube.file("admin.crt"), "key": kube.file("admin.key")}
    return write_kubeconfig(tmp_path / "config", {"elsewhere": {"server": server, **user}}, "elsewhere")


@pytest.mark.parametrize(
    ("context", "kubeconfig", "message"),
    [
        ("nope", "cluster", r"^kubernetes context 'nope': cannot load the kubeconfig .*: .*nope"),
        ("a-admin", "missing", r"^kubernetes context 'a-admin': cannot load the kubeconfig "),
    ],
)
def test_a_context_that_cannot_be_loaded_stops_the_collection(
    kube: Cluster, tmp_path: Path, context: str, kubeconfig: str, message: str
) -> None:
    path = str(kube.kubeconfig) if kubeconfig == "cluster" else str(tmp_path / "absent")
    with pytest.raises(SourceUnavailable, match=message):
        kube_mod.collect([KubeContext(name=context)], kubeconfig=path)


def test_in_cluster_outside_a_pod_stops_the_collection() -> None:
    with pytest.raises(
        SourceUnavailable, match=r"^kubernetes context 'in-cluster': cannot load the in-cluster"
    ):
        kube_mod.collect([KubeContext(name=IN_CLUSTER, in_cluster=True)])


def test_current_means_the_kubeconfigs_current_context(
    kube: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = kube.namespace()
    kube.create(o.pod(ns, "p", o.pod_spec(f"{ECR}/app:v1")))
    monkeypatch.setenv("KUBECONFIG", f"{kube.kubeconfig}")
    usage = kube_mod.collect([KubeContext(name=CURRENT_CONTEXT)])
    assert uses_in(usage, ns) == {(f"{ECR}/app:v1", f"a-admin · {ns} · Pod/p")}
    assert [i.name for i in usage.inputs] == ["a-admin"]


def test_a_cluster_without_pods_stops_unless_allowed(kube_b: Cluster) -> None:
    ns = kube_b.namespace()
    kube_b.create(o.workload("Deployment", ns, "web", o.pod_spec(f"{ECR}/web:v3"), replicas=0))
    with pytest.raises(SourceUnavailable) as caught:
        collect(kube_b, "b-admin")
    assert str(caught.value) == (
        "kubernetes context 'b-admin': the cluster returned no pods at all; refusing to treat it as using"
        " nothing (set allowEmpty: true for this context if that is expected)"
    )
    usage = collect(kube_b, "b-admin", allow_empty=True)
    assert uses_in(usage, ns) == {(f"{ECR}/web:v3", f"b-admin · {ns} · Deployment/web")}


def test_two_clusters_merge_with_one_fingerprint_each(kube: Cluster, kube_b: Cluster) -> None:
    ns_a, ns_b = kube.namespace(), kube_b.namespace()
    kube.create(o.pod(ns_a, "p", o.pod_spec(f"{ECR}/app:v1")))
    kube_b.create(o.workload("Deployment", ns_b, "web", o.pod_spec(f"{ECR}/web:v3"), replicas=0))
    contexts = [KubeContext(name="a-admin"), KubeContext(name="b-admin", allow_empty=True)]
    # Two files in KUBECONFIG merge, as kubectl merges them.
    usage = kube_mod.collect(contexts, kubeconfig=f"{kube.kubeconfig}:{kube_b.kubeconfig}")
    assert uses_in(usage, ns_a) | uses_in(usage, ns_b) == {
        (f"{ECR}/app:v1", f"a-admin · {ns_a} · Pod/p"),
        (f"{ECR}/web:v3", f"b-admin · {ns_b} · Deployment/web"),
    }
    assert [(i.kind, i.name) for i in usage.inputs] == [
        (InputKind.KUBERNETES, "a-admin"),
        (InputKind.KUBERNETES, "b-admin"),
    ]
    for fingerprint in usage.inputs:
        refs = sorted({str(u.ref) for u in usage.uses if u.source.startswith(f"{fingerprint.name} · ")})
        assert fingerprint.references == len(refs)
        assert fingerprint.sha256 == hashlib.sha256("".join(f"{r}\n" for r in refs).encode()).hexdigest()


def test_an_expired_continue_token_restarts_the_list_and_a_persistent_one_stops(kube_b: Cluster) -> None:
    """Cluster b has no watch cache, so compacting its etcd expires a continue token (410 Gone)."""
    ns = kube_b.namespace()
    kube_b.create_all([o.pod_template(ns, f"t{i}", o.pod_spec(f"{ECR}/tpl:v{i}")) for i in range(5)])
    compactions: list[int] = []

    def compact_once(context: str, what: str, seen: int) -> None:
        if what == "v1 podtemplates" and not compactions:
            compactions.append(compact(kube_b.etcd_url))

    usage = collect(kube_b, "b-admin", allow_empty=True, page_size=2, on_page=compact_once)
    assert {ref for ref, _ in uses_in(usage, ns)} == {f"{ECR}/tpl:v{i}" for i in range(5)}

    def compact_always(context: str, what: str, seen: int) -> None:
        if what == "v1 podtemplates":
            compactions.append(compact(kube_b.etcd_url))

    with pytest.raises(SourceUnavailable) as caught:
        collect(kube_b, "b-admin", allow_empty=True, page_size=2, on_page=compact_always)
    assert str(caught.value) == (
        "kubernetes context 'b-admin': listing v1 podtemplates kept failing with 410 Gone (3 attempts);"
        " the cluster changes faster than it can be listed, retry later"
    )
    assert len(compactions) == 1 + kube_mod.GONE_ATTEMPTS


def compact(etcd_url: str) -> int:
    """Write a key outside the apiserver's prefix, then compact etcd up to that revision."""
    put = {"key": base64.b64encode(b"/ecrgc-test/tick").decode(), "value": base64.b64encode(b"x").decode()}
    revision = int(_etcd(etcd_url, "/v3/kv/put", put)["header"]["revision"])
    _etcd(etcd_url, "/v3/kv/compaction", {"revision": revision, "physical": True})
    return revision


def _etcd(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (a local etcd)
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_unparseable_references_are_logged_and_skipped(
    kube: Cluster, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CLI test in the same worker leaves ecrgc's logger detached from the root (cli.setup_logging).
    monkeypatch.setattr(logging.getLogger("ecrgc"), "propagate", True)
    monkeypatch.setattr(logging.getLogger("ecrgc"), "handlers", [])
    ns = kube.namespace()
    kube.create(o.pod(ns, "p", o.pod_spec(f"{ECR}/app:v1", f"{ECR}/Upper/Case:v1")))
    refs = {ref for ref, _ in uses_in(collect(kube), ns)}
    assert refs == {f"{ECR}/app:v1"}
    assert any(f"a-admin · {ns} · Pod/p: ignoring an image" in r.getMessage() for r in caplog.records)
