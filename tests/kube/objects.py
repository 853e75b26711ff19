"""Kubernetes objects for the tests, as the plain dicts the API takes: one builder per kind."""

from __future__ import annotations

from typing import Any

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def digest(char: str) -> str:
    return "sha256:" + char * 64


def _meta(namespace: str, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace}


def pod_spec(*images: str, init: tuple[str, ...] = (), volume: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)],
    }
    if init:
        spec["initContainers"] = [{"name": f"i{i}", "image": image} for i, image in enumerate(init)]
    if volume:
        spec["volumes"] = [{"name": "data", "image": {"reference": volume}}]
        spec["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    return spec


def template(labels: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": labels}, "spec": spec}


def pod(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(namespace, name), "spec": spec}


def workload(kind: str, namespace: str, name: str, spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A Deployment, ReplicaSet, StatefulSet or DaemonSet running `spec`."""
    labels = {"app": name}
    body: dict[str, Any] = {"selector": {"matchLabels": labels}, "template": template(labels, spec), **extra}
    if kind == "StatefulSet":
        body["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": _meta(namespace, name), "spec": body}


def job(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    body = {"suspend": True, "template": template({"job": name}, {**spec, "restartPolicy": "Never"})}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(namespace, name), "spec": body}


def cron_job(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    body = {
        "schedule": "0 3 * * *",
        "suspend": True,
        "jobTemplate": {"spec": {"template": template({"job": name}, {**spec, "restartPolicy": "Never"})}},
    }
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta(namespace, name), "spec": body}


def replication_controller(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    labels = {"rc": name}
    body = {"replicas": 0, "selector": labels, "template": template(labels, spec)}
    return {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": _meta(namespace, name),
        "spec": body,
    }


def pod_template(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": _meta(namespace, name),
        "template": template({"t": name}, spec),
    }


def controller_revision(namespace: str, name: str, image: str, volume: str) -> dict[str, Any]:
    """What the StatefulSet controller stores: a strategic-merge patch of the template."""
    data = {
        "spec": {
            "template": {
                "$patch": "replace",
                "spec": {
                    "containers": [{"name": "db", "image": image}],
                    "volumes": [{"name": "seed", "image": {"reference": volume}}],
                },
            }
        }
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": _meta(namespace, name),
        "data": data,
        "revision": 1,
    }


def running(spec: dict[str, Any], *image_ids: str, volume_ref: str = "") -> dict[str, Any]:
    """A pod status as a kubelet writes it once the containers run, with these imageIDs."""
    statuses = []
    for container, image_id in zip(spec["containers"], image_ids, strict=True):
        status = {
            "name": container["name"],
            "ready": True,
            "restartCount": 0,
            "image": container["image"],
            "imageID": image_id,
            "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
        }
        if volume_ref and container.get("volumeMounts"):
            status["volumeMounts"] = [
                {"name": "data", "mountPath": "/data", "volumeStatus": {"image": {"imageRef": volume_ref}}}
            ]
        statuses.append(status)
    return {"phase": "Running", "containerStatuses": statuses}


def crd(group: str, version: str, kind: str, plural: str) -> dict[str, Any]:
    """A minimal CustomResourceDefinition that keeps whatever fields its objects carry."""
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [{"name": version, "served": True, "storage": True, "schema": schema}],
        },
    }


CRDS = (
    crd("argoproj.io", "v1alpha1", "Rollout", "rollouts"),
    crd("serving.knative.dev", "v1", "Service", "services"),
    crd("serving.knative.dev", "v1", "Configuration", "configurations"),
    crd("serving.knative.dev", "v1", "Revision", "revisions"),
    crd("keda.sh", "v1alpha1", "ScaledJob", "scaledjobs"),
)


def custom(api_version: str, kind: str, namespace: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": _meta(namespace, name), **fields}
