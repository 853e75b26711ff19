"""Kubernetes objects -> the images they use: which fields of each kind name an image, and who uses it.

Pure: objects are the apiserver's raw JSON (mappings and lists), so this module needs no kubernetes client
and is tested without an apiserver. `ecrgc.kube` lists the objects and reduces them with `uses_of`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ecrgc.model import ImageRef, Use
from ecrgc.refs import parse_image_id, parse_reference

log = logging.getLogger(__name__)

Object = Mapping[str, Any]
Extract = Callable[[Object], Iterator[tuple[str, bool]]]
"""Yields (text, is_image_id) for every image an object names; image IDs go through `parse_image_id`."""


def dig(obj: Any, *path: str) -> Any:
    """The value at `path` in nested mappings, or None where a key is missing or a level is not a mapping."""
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def list_at(obj: Any, *path: str) -> list[Any]:
    """The list at `path` (see `dig`), or an empty list where there is none."""
    found = dig(obj, *path)
    return found if isinstance(found, list) else []


def pod_spec_images(spec: Any) -> Iterator[tuple[str, bool]]:
    """Containers, init containers (sidecars), ephemeral containers and OCI image volumes of a PodSpec."""
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for container in list_at(spec, field):
            yield dig(container, "image") or "", False
    for volume in list_at(spec, "volumes"):
        yield dig(volume, "image", "reference") or "", False


def pod_status_images(status: Any) -> Iterator[tuple[str, bool]]:
    """The digests actually running: every container status's imageID and image-volume imageRef."""
    for field in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for container in list_at(status, field):
            yield dig(container, "imageID") or "", True
            for mount in list_at(container, "volumeMounts"):
                yield dig(mount, "volumeStatus", "image", "imageRef") or "", True


def _pod(obj: Object) -> Iterator[tuple[str, bool]]:
    yield from pod_spec_images(obj.get("spec"))
    yield from pod_status_images(obj.get("status"))


def _at(*path: str) -> Extract:
    """The images of the PodSpec found at `path` (a workload's template, a CronJob's job template …)."""
    return lambda obj: pod_spec_images(dig(obj, *path))


def walk_images(data: Any) -> Iterator[tuple[str, bool]]:
    """Every `image: <str>` and `image: {reference: <str>}` anywhere in `data` (ControllerRevision data)."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if key == "image" and isinstance(value, str):
                yield value, False
            elif key == "image" and isinstance(value, Mapping) and isinstance(value.get("reference"), str):
                yield value["reference"], False
            else:
                yield from walk_images(value)
    elif isinstance(data, list):
        for item in data:
            yield from walk_images(item)


def _knative_revision(obj: Object) -> Iterator[tuple[str, bool]]:
    yield from pod_spec_images(obj.get("spec"))
    for status in list_at(obj, "status", "containerStatuses"):
        yield dig(status, "imageDigest") or "", True


@dataclass(frozen=True, slots=True)
class Resource:
    """One listable resource; `kind` names its objects in provenance (custom resources as Kind.group)."""

    kind: str
    group: str
    version: str
    plural: str
    extract: Extract

    @property
    def label(self) -> str:
        return f"{self.group + '/' if self.group else ''}{self.version} {self.plural}"

    def path(self, version: str | None = None) -> str:
        group_version = f"{self.group}/{version or self.version}" if self.group else self.version
        return f"/{'apis' if self.group else 'api'}/{group_version}/{self.plural}"


_TEMPLATE = _at("spec", "template", "spec")
BUILTIN = (
    Resource("Pod", "", "v1", "pods", _pod),
    Resource("ReplicationController", "", "v1", "replicationcontrollers", _TEMPLATE),
    Resource("PodTemplate", "", "v1", "podtemplates", _at("template", "spec")),
    Resource("Deployment", "apps", "v1", "deployments", _TEMPLATE),
    Resource("ReplicaSet", "apps", "v1", "replicasets", _TEMPLATE),
    Resource("StatefulSet", "apps", "v1", "statefulsets", _TEMPLATE),
    Resource("DaemonSet", "apps", "v1", "daemonsets", _TEMPLATE),
    Resource("ControllerRevision", "apps", "v1", "controllerrevisions", lambda o: walk_images(o.get("data"))),
    Resource("Job", "batch", "v1", "jobs", _TEMPLATE),
    Resource("CronJob", "batch", "v1", "cronjobs", _at("spec", "jobTemplate", "spec", "template", "spec")),
)
"""Always read: a Forbidden or a failure on any of them fails the context."""
CUSTOM = (
    Resource("Rollout.argoproj.io", "argoproj.io", "v1alpha1", "rollouts", _TEMPLATE),
    Resource("Service.serving.knative.dev", "serving.knative.dev", "v1", "services", _TEMPLATE),
    Resource("Configuration.serving.knative.dev", "serving.knative.dev", "v1", "configurations", _TEMPLATE),
    Resource("Revision.serving.knative.dev", "serving.knative.dev", "v1", "revisions", _knative_revision),
    Resource(
        "ScaledJob.keda.sh",
        "keda.sh",
        "v1alpha1",
        "scaledjobs",
        _at("spec", "jobTargetRef", "template", "spec"),
    ),
)
"""Read when discovery shows them (in whichever version the cluster serves)."""


def uses_of(obj: Object, resource: Resource, *, cluster: str) -> Iterator[Use]:
    """The uses one object makes, each with its provenance; unparseable references are logged and skipped
    (no registry could serve them, so they protect nothing)."""
    meta = obj.get("metadata") or {}
    source = f"{cluster} · {meta.get('namespace', '')} · {resource.kind}/{meta.get('name', '')}"
    for text, is_image_id in resource.extract(obj):
        if ref := _parse(text, is_image_id, source):
            yield Use(ref=ref, source=source)


def _parse(text: str, is_image_id: bool, source: str) -> ImageRef | None:
    if not text:
        return None
    try:
        return parse_image_id(text) if is_image_id else parse_reference(text)
    except ValueError as exc:
        log.warning("%s: ignoring an image that no registry could serve: %s", source, exc)
        return None
