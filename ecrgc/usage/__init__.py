"""Which images are in use: every source the policies name, behind one seam, read by one `collect`.

    UsageSource      the Protocol a source implements (`name`, `read() -> Usage`), in `source.py`
    SOURCES          the registration: one factory per source module (lists, clusters, ...)
    collect          what plan, `plan --check`, apply, run and demo all call: read, concurrently and
                     failing closed, every source a policy set names

Adding a source touches the policy schema, its own module here and one line of `SOURCES`, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from ecrgc.model import Policy, Usage
from ecrgc.usage import apprunner, awslambda, batch, ecs, imagelists, kubernetes
from ecrgc.usage.source import SOURCE_TIMEOUT, SourceFactory, SourceOptions, UsageSource, read_all

__all__ = ["AWS_SOURCES", "SOURCES", "Collector", "SourceOptions", "UsageSource", "collect", "collector"]

AWS_SOURCES: tuple[SourceFactory, ...] = (ecs.sources, awslambda.sources, batch.sources, apprunner.sources)
"""The AWS-native sources (`protect.aws`), which `ecrgc inuse export --aws` exports on their own."""

SOURCES: tuple[SourceFactory, ...] = (imagelists.sources, kubernetes.sources, *AWS_SOURCES)

Collector = Callable[[Sequence[Policy]], Usage]
"""What planning and apply call with the policies (`collector(...)`); raises SourceUnavailable."""


def collect(
    policies: Sequence[Policy],
    *,
    kubeconfig: str | None = None,
    timeout: float = SOURCE_TIMEOUT,
) -> Usage:
    """The union of every source the policies name (image lists relative to each policy's file), each
    read once."""
    options = SourceOptions(kubeconfig=kubeconfig)
    return read_all([source for found in SOURCES for source in found(policies, options)], timeout=timeout)


def collector(*, kubeconfig: str | None = None) -> Collector:
    """`collect` with the composition root's options bound: the shape run_plan and apply take."""
    return partial(collect, kubeconfig=kubeconfig)
