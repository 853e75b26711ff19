"""Lambda as a usage source (`protect.aws.lambda`): one source per account and region; reader
`ecrgc.aws.lambdas`."""

from __future__ import annotations

from collections.abc import Sequence

from ecrgc.model import InputKind, Policy
from ecrgc.usage.aws import AwsSource, targets
from ecrgc.usage.source import SourceOptions


def sources(policies: Sequence[Policy], options: SourceOptions) -> list[AwsSource]:
    """Lambda in every account and region the policies that enable it name."""
    found = targets(policies, lambda aws: aws.lambda_functions)
    if not found:
        return []
    from ecrgc.aws.lambdas import read_lambda  # noqa: PLC0415 - imported only when a policy reads Lambda: start-up (issue 14)

    return [
        AwsSource(service="lambda", kind=InputKind.LAMBDA, target=t, read_uses=read_lambda) for t in found
    ]
