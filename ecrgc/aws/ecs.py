"""ECS: the images of every task-definition revision a service deployment or a task uses, of the newest N
ACTIVE revisions of each family, and the digests tasks actually run.

Calls: ListClusters; per cluster ListServices + DescribeServices (10 at a time) and ListTasks (RUNNING,
then the STOPPED tasks ECS still lists) + DescribeTasks (100 at a time); ListTaskDefinitions (ACTIVE);
one DescribeTaskDefinition per revision kept. Revisions are ranked by their number here, never by the
order the service returns (moto, for one, ignores `sort`). An INACTIVE revision is protected only while a
deployment or a task uses it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ecrgc.aws.accounts import Reach, failing_closed, reader_pool, use_of
from ecrgc.errors import SourceUnavailable
from ecrgc.model import Use

if TYPE_CHECKING:
    from types_boto3_ecs import ECSClient

LIVE_DEPLOYMENTS = frozenset({"PRIMARY", "ACTIVE"})
"""A deployment (or task set) in one of these states runs or may run again; INACTIVE ones are gone."""

Users = Mapping[str, set[str]]
"""Task-definition ARN → who uses it (`service prod/api`, `task prod/0f3e…`, `newest 5 of api`)."""


def read_ecs(reach: Reach, *, revisions: int) -> list[Use]:
    """Every use ECS records in one account and region; see the module docstring."""
    client: ECSClient = reach.client("ecs")
    where = f"ecs {reach.label}"
    users: defaultdict[str, set[str]] = defaultdict(set)
    uses: list[Use] = []
    with failing_closed(f"{where}: ListClusters"):
        clusters = [
            a for page in client.get_paginator("list_clusters").paginate() for a in page["clusterArns"]
        ]
    with reader_pool("ecrgc-ecs") as pool:
        for cluster_users, cluster_uses in pool.map(lambda arn: _cluster(client, where, arn), clusters):
            for arn, who in cluster_users.items():
                users[arn] |= who
            uses += cluster_uses
        with failing_closed(f"{where}: ListTaskDefinitions"):
            active = [
                arn
                for page in client.get_paginator("list_task_definitions").paginate(
                    status="ACTIVE", PaginationConfig={"PageSize": 100}
                )
                for arn in page["taskDefinitionArns"]
            ]
        for arn, who in newest_revisions(active, revisions).items():
            users[arn] |= who
        for found in pool.map(lambda arn: _task_definition(client, where, arn, users[arn]), sorted(users)):
            uses += found
    return uses


def newest_revisions(arns: Iterable[str], keep: int) -> dict[str, set[str]]:
    """The newest `keep` revisions of each family among `arns`, by revision number, with why they are kept."""
    families: defaultdict[str, list[tuple[int, str]]] = defaultdict(list)
    for arn in arns:
        family, revision = family_revision(arn)
        families[family].append((revision, arn))
    return {
        arn: {f"newest {keep} of {family}"}
        for family, found in families.items()
        for _, arn in sorted(found, reverse=True)[:keep]
    }


def family_revision(arn: str) -> tuple[str, int]:
    """`arn:…:task-definition/api:41` → ("api", 41)."""
    family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
    return family, int(revision)


def deployment_users(cluster: str, services: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Task definition → `service <cluster>/<service>`: the service's own revision, and every PRIMARY or
    ACTIVE deployment's and task set's."""
    users: defaultdict[str, set[str]] = defaultdict(set)
    for service in services:
        who = f"service {cluster}/{service['serviceName']}"
        if service.get("taskDefinition"):  # the PRIMARY deployment's, on AWS; the newest, on moto (see tests)
            users[service["taskDefinition"]].add(who)
        for deployment in [*service.get("deployments", []), *service.get("taskSets", [])]:
            if deployment.get("status") in LIVE_DEPLOYMENTS and deployment.get("taskDefinition"):
                users[deployment["taskDefinition"]].add(who)
    return users


def task_uses(
    where: str, cluster: str, tasks: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, set[str]], list[Use]]:
    """Task definition → `task <cluster>/<id>`, and the digest each container of each task runs."""
    users: defaultdict[str, set[str]] = defaultdict(set)
    uses: list[Use] = []
    for task in tasks:
        who = f"task {cluster}/{task['taskArn'].rsplit('/', 1)[-1]}"
        users[task["taskDefinitionArn"]].add(who)
        for container in task.get("containers", []):
            digest, image = container.get("imageDigest"), container.get("image")
            if digest and image:
                source = f"{where} · {who} · container {container.get('name', '?')}"
                if (use := use_of(image, source, digest=digest)) is not None:
                    uses.append(use)
    return users, uses


def _cluster(client: ECSClient, where: str, arn: str) -> tuple[dict[str, set[str]], list[Use]]:
    name = arn.rsplit("/", 1)[-1]
    with failing_closed(f"{where}: ListServices (cluster {name})"):
        service_arns = _listed(client, "list_services", "serviceArns", cluster=arn)
    services: list[Any] = []
    for chunk in _chunks(service_arns, 10):
        what = f"{where}: DescribeServices (cluster {name})"
        with failing_closed(what):
            reply = client.describe_services(cluster=arn, services=chunk)
        services += reply["services"]
        check_failures(what, reply.get("failures", []))
    users = deployment_users(name, services)
    tasks: list[Any] = []
    for status in ("RUNNING", "STOPPED"):
        with failing_closed(f"{where}: ListTasks (cluster {name}, {status})"):
            task_arns = _listed(client, "list_tasks", "taskArns", cluster=arn, desiredStatus=status)
        for chunk in _chunks(task_arns, 100):
            what = f"{where}: DescribeTasks (cluster {name})"
            with failing_closed(what):
                described = client.describe_tasks(cluster=arn, tasks=chunk)
            tasks += described["tasks"]
            check_failures(what, described.get("failures", []))
    by_task, uses = task_uses(where, name, tasks)
    for task_definition, who in by_task.items():
        users.setdefault(task_definition, set()).update(who)
    return users, uses


def _task_definition(client: ECSClient, where: str, arn: str, users: set[str]) -> list[Use]:
    family, revision = family_revision(arn)
    with failing_closed(f"{where}: DescribeTaskDefinition ({family}:{revision})"):
        definition = client.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    uses = []
    for container in definition.get("containerDefinitions", []):
        for who in sorted(users):
            source = f"{where} · {who} · taskdef {family}:{revision}"
            if (use := use_of(container.get("image", ""), source)) is not None:
                uses.append(use)
    return uses


def check_failures(what: str, failures: Sequence[Mapping[str, Any]]) -> None:
    """A service or task gone since it was listed (MISSING) uses nothing; any other failure is unread."""
    unread = [f for f in failures if f.get("reason") != "MISSING"]
    if unread:
        first = unread[0]
        raise SourceUnavailable(
            f"{what} failed for {len(unread)} of them ({first.get('arn')}: {first.get('reason')}):"
            " nothing may be deleted while they cannot be read"
        )


def _listed(client: ECSClient, operation: Any, key: str, **arguments: Any) -> list[str]:
    pages = client.get_paginator(operation).paginate(**arguments, PaginationConfig={"PageSize": 100})
    return [item for page in pages for item in page[key]]


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
