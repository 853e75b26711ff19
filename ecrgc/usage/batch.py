"""Batch as a usage source (`protect.aws.batch`): one source per account and region; reader
`ecrgc.aws.batch`."""

from __future__ import annotations

from collections.abc import Sequence

from ecrgc.model import InputKind, Policy
from ecrgc.usage.aws import AwsSource, targets
from ecrgc.usage.source import SourceOptions


def sources(policies: Sequence[Policy], options: SourceOptions) -> list[AwsSource]:
    """Batch in every account and region the policies that enable it name."""
    found = targets(policies, lambda aws: aws.batch)
    if not found:
        return []
    from ecrgc.aws.batch import read_batch  # noqa: PLC0415 - imported only when a policy reads Batch: start-up (issue 14)

    return [AwsSource(service="batch", kind=InputKind.BATCH, target=t, read_uses=read_batch) for t in found]
