"""What the AWS-native sources share: the accounts and regions a policy set names, and one source per
service, account and region (a `Reach`, opened when the source is read).

The registry's own account and region (the plan's credentials, the policy's region) are always read;
`protect.aws.accounts` adds more. Each is read once however many policies name it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import msgspec

from ecrgc.model import AwsProtection, InputFingerprint, InputKind, Policy, Usage, Use

if TYPE_CHECKING:
    from ecrgc.aws.accounts import Reach


class Target(msgspec.Struct, frozen=True, kw_only=True, order=True):
    """One region, read with the plan's own credentials (`role_arn` None) or an assumed role's."""

    region: str
    role_arn: str | None = None


def targets(policies: Sequence[Policy], enabled: Callable[[AwsProtection], bool]) -> list[Target]:
    """Every account and region the policies that enable a service name, sorted, each once."""
    found: set[Target] = set()
    for policy in policies:
        aws = policy.protect.aws
        if not enabled(aws):
            continue
        assert policy.region is not None, "plan binds every policy to a region before collecting usage"
        found.add(Target(region=policy.region))
        for account in aws.accounts:
            for region in account.regions or (policy.region,):
                found.add(Target(region=region, role_arn=account.role_arn))
    return sorted(found, key=lambda t: (t.role_arn or "", t.region))


class AwsSource(msgspec.Struct, frozen=True, kw_only=True):
    """One service in one account and region; `read_uses` is the service's reader in `ecrgc.aws`."""

    service: str
    kind: InputKind
    target: Target
    read_uses: Callable[[Reach], list[Use]]

    @property
    def name(self) -> str:
        who = f"role {self.target.role_arn}" if self.target.role_arn else "the plan's own account"
        return f"{self.service} ({who}, {self.target.region})"

    def read(self) -> Usage:
        from ecrgc.aws.accounts import open_reach  # noqa: PLC0415 - only a plan that reads AWS usage (start-up)

        reach = open_reach(self.target.region, self.target.role_arn)
        uses = sorted(set(self.read_uses(reach)), key=lambda use: (str(use.ref), use.source))
        return Usage(uses=tuple(uses), inputs=(InputFingerprint.of_uses(self.kind, reach.label, uses),))
