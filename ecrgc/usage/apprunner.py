"""App Runner as a usage source (`protect.aws.appRunner`): one source per account and region; reader
`ecrgc.aws.apprunner`."""

from __future__ import annotations

from collections.abc import Sequence

from ecrgc.model import InputKind, Policy
from ecrgc.usage.aws import AwsSource, targets
from ecrgc.usage.source import SourceOptions


def sources(policies: Sequence[Policy], options: SourceOptions) -> list[AwsSource]:
    """App Runner in every account and region the policies that enable it name."""
    found = targets(policies, lambda aws: aws.app_runner)
    if not found:
        return []
    from ecrgc.aws.apprunner import read_apprunner  # noqa: PLC0415 - imported only when a policy reads App Runner: start-up (issue 14)

    return [
        AwsSource(service="apprunner", kind=InputKind.APP_RUNNER, target=t, read_uses=read_apprunner)
        for t in found
    ]
