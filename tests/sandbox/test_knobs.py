"""The knobs: throttling, injected faults, the clock, call counters and the ⚠ behaviours' choices."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

from ecrgc.sandbox import SameCallChildren, Sandbox, SubjectDelete
from tests.sandbox.clients import NO_RETRY, ecr, error_of


def test_throttling_answers_400_throttling_exception(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    sandbox.knobs.throttle("DescribeImages", rate=0.001, burst=1)
    client = ecr()
    client.describe_images(repositoryName="app")
    error = error_of(client.describe_images, repositoryName="app")
    assert error.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    client.list_images(repositoryName="app")  # other operations have their own bucket
    assert sandbox.calls["DescribeImages"] == 2


def test_global_throttle(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    sandbox.knobs.throttle("*", rate=0.001, burst=1)
    ecr().list_images(repositoryName="app")
    assert (
        error_of(ecr().describe_images, repositoryName="app").response["Error"]["Code"]
        == "ThrottlingException"
    )


def test_injected_server_errors(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    sandbox.knobs.error_rate = 1.0
    error = error_of(ecr().describe_images, repositoryName="app")
    assert error.response["Error"]["Code"] == "ServerException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_injected_sts_faults_are_query_protocol_errors(sandbox: Sandbox) -> None:
    sts = boto3.client("sts", config=NO_RETRY)
    sandbox.knobs.error_rate = 1.0
    error = error_of(sts.get_caller_identity)
    assert error.response["Error"] == {
        "Type": "Receiver",
        "Code": "ServiceUnavailable",
        "Message": "Internal service error (injected by the sandbox)",
    }
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    sandbox.knobs.error_rate = 0.0
    sandbox.knobs.throttle("GetCallerIdentity", rate=0.001, burst=0)
    error = error_of(sts.get_caller_identity)
    assert error.response["Error"] == {"Type": "Sender", "Code": "Throttling", "Message": "Rate exceeded"}
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_boto3_retries_an_injected_sts_fault_and_succeeds(sandbox: Sandbox) -> None:
    def fails_then_passes(seed: int) -> bool:
        sandbox.knobs.reseed(seed)
        return [sandbox.knobs.roll(0.5) for _ in range(2)] == [True, False]

    sandbox.knobs.reseed(next(seed for seed in range(100) if fails_then_passes(seed)))
    sandbox.knobs.error_rate = 0.5
    sts = boto3.client("sts", config=Config(retries={"mode": "standard", "total_max_attempts": 3}))

    assert sts.get_caller_identity()["Account"] == "123456789012"
    assert sandbox.calls["GetCallerIdentity"] == 2  # one injected 503, one retry that got through


def test_injected_faults_follow_the_seed(sandbox: Sandbox) -> None:
    def pattern() -> list[bool]:
        sandbox.knobs.reseed(7)
        return [sandbox.knobs.roll(0.5) for _ in range(32)]

    assert pattern() == pattern()
    assert 0 < sum(pattern()) < 32


def test_dropped_connections(sandbox: Sandbox) -> None:
    sandbox.registry.create_repository("app")
    sandbox.knobs.drop_rate = 1.0
    with pytest.raises(ConnectionClosedError):
        ecr().describe_images(repositoryName="app")
    sandbox.knobs.drop_rate = 0.0
    assert ecr().describe_images(repositoryName="app")["imageDetails"] == []


def test_latency_knob_per_operation(sandbox: Sandbox) -> None:
    sandbox.knobs.latency_ms = 2
    sandbox.knobs.latency_ms_by_operation["DescribeImages"] = 0
    assert sandbox.knobs.latency_for("DescribeImages") == 0
    assert sandbox.knobs.latency_for("ListImages") == 0.002
    sandbox.registry.create_repository("app")
    assert ecr().list_images(repositoryName="app")["imageIds"] == []


def test_clock_stamps_pushes_and_calls_are_counted(sandbox: Sandbox) -> None:
    sandbox.clock.set(datetime(2025, 6, 1, tzinfo=UTC))
    sandbox.registry.create_repository("app")
    manifest = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}'
    ecr().put_image(repositoryName="app", imageManifest=manifest, imageTag="v1")
    (detail,) = ecr().describe_images(repositoryName="app")["imageDetails"]
    assert detail["imagePushedAt"] == datetime(2025, 6, 1, tzinfo=UTC)
    assert sandbox.calls.snapshot() == {"PutImage": 1, "DescribeImages": 1}
    sandbox.calls.reset()
    assert sandbox.calls.total() == 0


def test_pull_time_refresh_granularity(sandbox: Sandbox) -> None:
    sandbox.clock.set(datetime(2026, 1, 1, tzinfo=UTC))
    sandbox.registry.push_image("app", tags=["v1"])
    sandbox.knobs.pull_time_refresh_seconds = 86400
    for _ in range(2):
        ecr().batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])
        sandbox.clock.advance(3600)
    (detail,) = ecr().describe_images(repositoryName="app")["imageDetails"]
    assert detail["lastRecordedPullTime"] == datetime(2026, 1, 1, tzinfo=UTC)


def _family(sandbox: Sandbox) -> tuple[str, str]:
    index = sandbox.registry.push_image("app", tags=["v1"], platforms=["linux/amd64"])
    return index, sandbox.registry.get("app").images[index].children[0]


@pytest.mark.parametrize(
    ("mode", "order", "children_deleted"),
    [
        (SameCallChildren.REJECT, "index_first", False),
        (SameCallChildren.REJECT, "child_first", False),
        (SameCallChildren.IN_ORDER, "index_first", True),
        (SameCallChildren.IN_ORDER, "child_first", False),
        (SameCallChildren.INDEXES_FIRST, "child_first", True),
    ],
)
def test_index_and_children_in_one_call(
    sandbox: Sandbox, mode: SameCallChildren, order: str, children_deleted: bool
) -> None:
    sandbox.knobs.same_call_children = mode
    index, child = _family(sandbox)
    ids = [{"imageDigest": index}, {"imageDigest": child}]
    reply = ecr().batch_delete_image(
        repositoryName="app", imageIds=ids if order == "index_first" else ids[::-1]
    )
    assert {"imageDigest": index, "imageTag": "v1"} in reply["imageIds"]
    assert (child not in sandbox.registry.get("app").images) is children_deleted
    if not children_deleted:
        assert [f["failureCode"] for f in reply["failures"]] == ["ImageReferencedByManifestList"]


@pytest.mark.parametrize(
    ("mode", "subject_left", "referrer_left"),
    [
        (SubjectDelete.ORPHAN, False, True),
        (SubjectDelete.CASCADE, False, False),
        (SubjectDelete.BLOCK, True, True),
    ],
)
def test_deleting_a_subject(
    sandbox: Sandbox, mode: SubjectDelete, subject_left: bool, referrer_left: bool
) -> None:
    sandbox.knobs.subject_delete = mode
    subject = sandbox.registry.push_image("app", tags=["v1"])
    referrer = sandbox.registry.push_referrer("app", subject)
    ecr().batch_delete_image(repositoryName="app", imageIds=[{"imageDigest": subject}])
    images = sandbox.registry.get("app").images
    assert (subject in images, referrer in images) == (subject_left, referrer_left)


def test_a_stopped_sandbox_answers_nothing_even_on_kept_alive_connections() -> None:
    running = Sandbox().start()
    client = boto3.client(
        "ecr",
        endpoint_url=running.endpoint_url,
        region_name="ap-northeast-1",
        config=NO_RETRY,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    assert client.describe_repositories()["repositories"] == []
    running.stop()
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        client.describe_repositories()
