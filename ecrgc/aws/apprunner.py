"""App Runner: the image of every service whose source is an ECR image repository.

Calls: ListServices (20 a page, the most it allows; it has no botocore paginator), then one
DescribeService per service not DELETED: the summaries do not carry the source. A PAUSED service is
protected too: resuming it pulls its image again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ecrgc.aws.accounts import Reach, failing_closed, reader_pool, use_of
from ecrgc.model import Use

if TYPE_CHECKING:
    from types_boto3_apprunner import AppRunnerClient

PAGE_SIZE = 20


def read_apprunner(reach: Reach) -> list[Use]:
    """Every use App Runner records in one account and region; see the module docstring."""
    client: AppRunnerClient = reach.client("apprunner")
    where = f"apprunner {reach.label}"
    summaries: list[Any] = []
    token = ""
    while True:
        with failing_closed(f"{where}: ListServices"):
            page = client.list_services(MaxResults=PAGE_SIZE, **({"NextToken": token} if token else {}))
        summaries += page["ServiceSummaryList"]
        token = page.get("NextToken", "")
        if not token:
            break
    live = [s["ServiceArn"] for s in summaries if s.get("Status") != "DELETED"]
    with reader_pool("ecrgc-apprunner") as pool:
        found = pool.map(lambda arn: _service(client, where, arn), live)
        return [use for uses in found for use in uses]


def service_uses(where: str, service: Mapping[str, Any]) -> list[Use]:
    """The use of one service (DescribeService's `Service`): its ECR image, if its source is one."""
    image = (service.get("SourceConfiguration") or {}).get("ImageRepository") or {}
    if image.get("ImageRepositoryType") != "ECR" or not image.get("ImageIdentifier"):
        return []
    use = use_of(image["ImageIdentifier"], f"{where} · service {service['ServiceName']}")
    return [use] if use is not None else []


def _service(client: AppRunnerClient, where: str, arn: str) -> list[Use]:
    with failing_closed(f"{where}: DescribeService ({arn.split('/')[1]})"):
        service = client.describe_service(ServiceArn=arn)["Service"]
    return service_uses(where, service)
