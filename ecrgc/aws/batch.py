"""Batch: the images of every ACTIVE job definition (container, multi-node and ECS-properties jobs).

Calls: DescribeJobDefinitions with status ACTIVE, paginated. A deregistered (INACTIVE) revision is never
protected: Batch cannot submit jobs to it any more.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ecrgc.aws.accounts import Reach, failing_closed, use_of
from ecrgc.model import Use

if TYPE_CHECKING:
    from types_boto3_batch import BatchClient


def read_batch(reach: Reach) -> list[Use]:
    """Every use Batch records in one account and region; see the module docstring."""
    client: BatchClient = reach.client("batch")
    where = f"batch {reach.label}"
    with failing_closed(f"{where}: DescribeJobDefinitions"):
        pages = client.get_paginator("describe_job_definitions").paginate(
            status="ACTIVE", PaginationConfig={"PageSize": 100}
        )
        definitions = [d for page in pages for d in page["jobDefinitions"]]
    return [use for definition in definitions for use in job_definition_uses(where, definition)]


def job_definition_uses(where: str, definition: Mapping[str, Any]) -> list[Use]:
    """The uses of one job definition, as DescribeJobDefinitions returns it (INACTIVE ones: none)."""
    if definition.get("status") != "ACTIVE":
        return []
    source = f"{where} · jobdef {definition['jobDefinitionName']}:{definition['revision']}"
    return [use for image in _images(definition) if (use := use_of(image, source)) is not None]


def _images(definition: Mapping[str, Any]) -> Iterator[str]:
    containers: list[Any] = [definition.get("containerProperties") or {}]
    for node_range in (definition.get("nodeProperties") or {}).get("nodeRangeProperties", []):
        containers.append(node_range.get("container") or {})
    for task in (definition.get("ecsProperties") or {}).get("taskProperties", []):
        containers += task.get("containers", [])
    containers += ((definition.get("eksProperties") or {}).get("podProperties") or {}).get("containers", [])
    yield from (c["image"] for c in containers if c.get("image"))
