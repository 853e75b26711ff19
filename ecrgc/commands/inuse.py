"""`ecrgc inuse export`: the images a cluster uses, in the seed's IMG_LIST format, for a planner that
cannot reach the cluster (run it inside with ecrgc/contrib/kubernetes/rbac-cronjob.yaml)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ecrgc import imagelists, kube
from ecrgc.errors import UsageError
from ecrgc.model import CURRENT_CONTEXT, IN_CLUSTER, KubeContext


def contexts_for(names: Sequence[str], *, in_cluster: bool, allow_empty: bool) -> list[KubeContext]:
    """The contexts the options name: each --context, the pod's own cluster, or else the current context."""
    if in_cluster and names:
        raise UsageError("--in-cluster reads the pod's own cluster: drop --context, or drop --in-cluster")
    if in_cluster:
        return [KubeContext(name=IN_CLUSTER, in_cluster=True, allow_empty=allow_empty)]
    return [
        KubeContext(name=name, allow_empty=allow_empty) for name in dict.fromkeys(names or [CURRENT_CONTEXT])
    ]


def run_export(contexts: Sequence[KubeContext], *, kubeconfig: str | None = None) -> str:
    """The image list of every image the contexts use: one reference per line (digests included), each
    preceded by a comment naming who uses it; the first lines say which clusters were read."""
    usage = kube.collect(contexts, kubeconfig=kubeconfig)
    header = [
        f"# kubernetes context {i.name}: {i.references} references, sha256 {i.sha256}" for i in usage.inputs
    ]
    return "".join(f"{line}\n" for line in header) + imagelists.format_image_list(usage.uses)


def save(text: str, out: Path) -> None:
    """Write `text` to `out` atomically: a reader (or a copy job) never sees half a list."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
