"""ECS as a usage source (`protect.aws.ecs`): one source per account and region; reader `ecrgc.aws.ecs`."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from ecrgc.model import InputKind, Policy
from ecrgc.usage.aws import AwsSource, targets
from ecrgc.usage.source import SourceOptions


def sources(policies: Sequence[Policy], options: SourceOptions) -> list[AwsSource]:
    """ECS in every account and region named; two policies asking for different N keep the larger."""
    asked = [p.protect.aws.ecs_revisions for p in policies if p.protect.aws.ecs_revisions is not None]
    if not asked:
        return []
    from ecrgc.aws.ecs import read_ecs  # noqa: PLC0415 - imported only when a policy reads ECS: start-up (issue 14)

    read = partial(read_ecs, revisions=max(asked))
    found = targets(policies, lambda aws: aws.ecs_revisions is not None)
    return [AwsSource(service="ecs", kind=InputKind.ECS, target=t, read_uses=read) for t in found]
