"""Apply against moto, the third-party cross-check, and where moto and ECR (our sandbox) part ways.

Divergences that matter to apply:
- moto deletes a child that an index still lists (ECR and the sandbox answer ImageReferencedByManifestList),
  so on moto nothing but apply's own verification keeps such a child: the tests below rely on it alone.
- moto answers an empty `imageIds` when it deletes an untagged image by digest (mutations cope).
- moto drops an image whose only tag is pushed onto another image (ECR keeps it, untagged), so a "new push
  onto a planned tag" cannot be staged on moto; the sandbox tests cover it.
- moto stamps pushes with the current time, so these policies select by hold tags and keepLatest, not age.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from ecrgc.apply import ApplyResult
from ecrgc.aws import Registry
from ecrgc.model import OutcomeStatus, Reason
from ecrgc.planfile import load_plan_file
from tests.apply.world import apply_file, make_plan, why, write_policy
from tests.aws.conftest import moto  # noqa: F401  # the moto fixture of tests/aws (moto_server is global)
from tests.aws.test_moto import push, push_index

pytestmark = pytest.mark.moto

REGION = "us-east-1"


def apply(path: Path) -> ApplyResult:
    return apply_file(path, region=REGION)


def listed(repository: str) -> set[str]:
    client = boto3.client("ecr", region_name=REGION)
    return {i["imageDigest"] for i in client.list_images(repositoryName=repository)["imageIds"]}


def plan_for(directory: Path) -> Path:
    policy = write_policy(
        directory, keep_latest=0, hold="^(v2|keep)$", older_than=None, image_list=None, region=REGION
    )
    return make_plan(directory, policy, region=REGION)


@pytest.fixture
def family(moto: str) -> tuple[str, str, str, str]:  # noqa: F811  # the fixture imported above
    """app/web on moto: an index v1 over two children (planned), and a held image v2."""
    client = boto3.client("ecr", region_name=REGION)
    client.create_repository(repositoryName="app/web")
    amd, arm = push(client, "app/web", "amd"), push(client, "app/web", "arm")
    index = push_index(client, "app/web", [amd, arm], tag="v1")
    held = push(client, "app/web", "held", tag="v2")
    return index, amd, arm, held


def test_apply_on_moto_deletes_the_index_then_its_children(family: tuple[str, ...], tmp_path: Path) -> None:
    index, amd, arm, held = family
    plan = plan_for(tmp_path)
    assert {a.digest for a in load_plan_file(plan).actions} == {index, amd, arm}

    first, again = apply(plan), apply(plan)

    assert {o.digest: o.status for o in first.report.outcomes} == dict.fromkeys(
        (index, amd, arm), OutcomeStatus.DELETED
    )
    assert listed("app/web") == {held}
    assert {o.status for o in again.report.outcomes} == {OutcomeStatus.ALREADY_ABSENT}


def test_on_moto_only_verification_keeps_a_child_of_a_new_kept_index(
    family: tuple[str, ...], tmp_path: Path
) -> None:
    index, amd, arm, held = family
    plan = plan_for(tmp_path)
    client = boto3.client("ecr", region_name=REGION)
    keeper = push_index(client, "app/web", [amd], tag="keep")  # a held index that lists amd

    result = apply(plan)

    statuses = {o.digest: (o.status, why(o)) for o in result.report.outcomes}
    assert statuses[amd] == (OutcomeStatus.SKIPPED, Reason.PART_OF_KEPT_IMAGE)
    assert statuses[index] == statuses[arm] == (OutcomeStatus.DELETED, None)
    assert listed("app/web") >= {keeper, amd}
    # The divergence itself: asked directly, moto deletes a child its index still lists; ECR refuses.
    assert Registry(REGION).delete_images("app/web", [amd])[0].status is OutcomeStatus.DELETED
    assert listed("app/web") == {keeper, held}
