"""`ecrgc inuse export`: the images clusters (and, with `--aws`, AWS-native workloads) use, in the seed's
IMG_LIST format, for a planner that cannot reach them (run it inside with ecrgc/contrib/kubernetes/)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ecrgc import imagelists
from ecrgc.aws import s3
from ecrgc.errors import UsageError
from ecrgc.model import CURRENT_CONTEXT, IN_CLUSTER, InputFingerprint, InputKind, KubeContext, Policy
from ecrgc.usage import AWS_SOURCES, SourceOptions, UsageSource
from ecrgc.usage.kubernetes import KubernetesSource
from ecrgc.usage.source import read_all


def contexts_for(
    names: Sequence[str], *, in_cluster: bool, allow_empty: bool, aws: bool = False
) -> list[KubeContext]:
    """The contexts the options name: each --context, the pod's own cluster, or else the current context
    (none when `aws` alone is asked for)."""
    if in_cluster and names:
        raise UsageError("--in-cluster reads the pod's own cluster: drop --context, or drop --in-cluster")
    if in_cluster:
        return [KubeContext(name=IN_CLUSTER, in_cluster=True, allow_empty=allow_empty)]
    default = [] if aws else [CURRENT_CONTEXT]
    return [KubeContext(name=name, allow_empty=allow_empty) for name in dict.fromkeys(names or default)]


def run_export(
    contexts: Sequence[KubeContext], *, kubeconfig: str | None = None, policies: Sequence[Policy] = ()
) -> str:
    """The image list of every image the contexts (and the AWS-native workloads the policies' protect.aws
    names) use: one reference per line (digests included), each preceded by a comment naming who uses it;
    the first lines say which clusters, accounts and regions were read."""
    sources: list[UsageSource] = [KubernetesSource(context=c, kubeconfig=kubeconfig) for c in contexts]
    sources += [s for found in AWS_SOURCES for s in found(policies, SourceOptions(kubeconfig=kubeconfig))]
    usage = read_all(sources)
    header = [f"# {_label(i)}: {i.references} references, sha256 {i.sha256}" for i in usage.inputs]
    return "".join(f"{line}\n" for line in header) + imagelists.format_image_list(usage.uses)


def _label(fingerprint: InputFingerprint) -> str:
    what = "kubernetes context" if fingerprint.kind is InputKind.KUBERNETES else str(fingerprint.kind)
    return f"{what} {fingerprint.name}"


def save(text: str, out: Path | str) -> None:
    """Write `text` to `out` (a path, or an `s3://bucket/key`) atomically: a reader (or a copy job) never
    sees half a list."""
    if isinstance(out, str):
        if s3.is_s3(out):
            s3.write_object(out, text.encode())
            return
        out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
