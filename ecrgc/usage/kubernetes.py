"""Kubernetes clusters as a usage source: one source per context the policies name.

The kubernetes client and what it reads live in `ecrgc.kube`, imported only when a cluster is read: the
client costs a noticeable part of a second to import, which a plan that names no cluster never pays.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from ecrgc.model import KubeContext, Policy, Usage
from ecrgc.usage.source import SourceOptions


class KubernetesSource(msgspec.Struct, frozen=True, kw_only=True):
    """Every image one cluster runs, may run again or rolls back to (see `ecrgc.kube`)."""

    context: KubeContext
    kubeconfig: str | None

    @property
    def name(self) -> str:
        return f"kubernetes context {self.context.name!r}"

    def read(self) -> Usage:
        from ecrgc import kube  # noqa: PLC0415  # see the module docstring

        return kube.collect_context(self.context, kubeconfig=self.kubeconfig)


def sources(policies: Sequence[Policy], options: SourceOptions) -> list[KubernetesSource]:
    """One source per context (by name, sorted); a context named twice is read once."""
    contexts: dict[str, KubeContext] = {}
    for policy in policies:
        for context in policy.protect.kubernetes:
            known = contexts.get(context.name)
            # It may be empty only if every policy that names it allows that.
            allow_empty = context.allow_empty and (known is None or known.allow_empty)
            contexts[context.name] = KubeContext(
                name=context.name, in_cluster=context.in_cluster, allow_empty=allow_empty
            )
    return [
        KubernetesSource(context=contexts[name], kubeconfig=options.kubeconfig) for name in sorted(contexts)
    ]
