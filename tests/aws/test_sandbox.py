"""The ECR adapter against the ECR sandbox: paging, indexes, referrers, archive, faults, per-item codes."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecrgc.aws import Registry
from ecrgc.aws.client import ecr_client, registry_session
from ecrgc.aws.transport import Transport
from ecrgc.aws.wire import ImageDetail, ImageManifest, RepositoryEntry
from ecrgc.errors import SourceUnavailable
from ecrgc.model import ImageStatus, Outcome, OutcomeReason, OutcomeStatus, Repository
from ecrgc.sandbox import Sandbox, manifests

REGION = "ap-northeast-1"
DAY = 86400.0


def _registry(**options: Any) -> Registry:
    return Registry(REGION, **options)


def _by_digest(repository: Repository) -> dict[str, Any]:
    return {image.digest: image for image in repository.images}


def _push_plain(sandbox: Sandbox, repo: str, count: int, *, tagged: bool = True) -> list[str]:
    return [
        sandbox.registry.push_image(repo, tags=[f"v{n}"] if tagged else [], salt=f"{repo}|{n}")
        for n in range(count)
    ]


def test_caller_account_is_the_sandbox_account(sandbox: Sandbox) -> None:
    assert _registry().caller_account() == "123456789012"


def test_repositories_and_images_are_read_across_pages(sandbox: Sandbox) -> None:
    for n in range(1_001):
        sandbox.registry.create_repository(f"r/{n:04d}")
    digests = _push_plain(sandbox, "r/0000", 2_345, tagged=False)
    registry = _registry()
    listed = registry.list_repositories(lambda name: name.endswith("0"))
    assert [name for name, _, _ in listed] == [f"r/{n:04d}" for n in range(0, 1_001, 10)]
    assert listed[0][1:] == (f"123456789012.dkr.ecr.{REGION}.amazonaws.com/r/0000", "123456789012")
    repository = registry.scan_repository("r/0000")
    assert sorted(_by_digest(repository)) == sorted(digests)
    assert sandbox.calls["DescribeRepositories"] == 2
    assert sandbox.calls["DescribeImages"] == 3  # ceil(2,345 / 1,000): the minimum
    assert sandbox.calls["BatchGetImage"] == 0  # no index, no pull


def test_scan_replies_are_the_wire_json_and_errors_keep_their_codes(sandbox: Sandbox) -> None:
    (digest,) = _push_plain(sandbox, "app", 1)
    session = registry_session()
    ecr = Transport(ecr_client(session, REGION), session)
    page = ecr.call("DescribeImages", {"repositoryName": "app"})
    (detail,) = page["imageDetails"]
    assert isinstance(detail, ImageDetail)  # decoded by msgspec, not botocore's shape parser
    assert detail.image_pushed_at.tzinfo is UTC
    reply = ecr.call("BatchGetImage", {"repositoryName": "app", "imageIds": [{"imageDigest": digest}]})
    (image,) = reply["images"]
    assert isinstance(image, ImageManifest)
    assert (image.image_id.image_digest, reply["failures"]) == (digest, [])
    assert json.loads(image.image_manifest)["schemaVersion"] == 2
    (listed,) = ecr.call("DescribeRepositories", {})["repositories"]
    assert isinstance(listed, RepositoryEntry)
    assert (listed.repository_name, listed.registry_id) == ("app", "123456789012")
    with pytest.raises(ClientError) as caught:
        ecr.call("DescribeImages", {"repositoryName": "ghost"})
    assert caught.value.response["Error"]["Code"] == "RepositoryNotFoundException"


def test_indexes_nested_indexes_and_referrers(sandbox: Sandbox) -> None:
    registry_state = sandbox.registry
    index = registry_state.push_image("app", tags=["v1"], platforms=["linux/amd64", "linux/arm64"])
    signature = registry_state.push_referrer("app", index)
    cosign = registry_state.push_cosign_signature("app", index)
    plain = _push_plain(sandbox, "app", 1)[0]
    outer_text = manifests.index(
        [(index, len(registry_state.get("app").images[index].manifest), "linux/multi")]
    )
    outer = registry_state.store("app", outer_text, manifests.parse(outer_text), tags=["bundle"]).digest
    pulled_before = registry_state.get("app").images[plain].last_pulled_at

    images = _by_digest(_registry().scan_repository("app"))

    children = registry_state.get("app").images[index].children
    assert len(children) == 2
    assert images[index].children == children
    assert images[outer].children == (index,)
    assert all(images[child].children == () and images[child].tags == () for child in children)
    assert images[signature].subject == index
    assert images[signature].referent == index
    assert images[cosign].referent == index
    assert images[plain].children == ()
    assert registry_state.get("app").images[plain].last_pulled_at == pulled_before  # never pulled
    assert registry_state.get("app").images[index].last_pulled_at is not None  # the accepted cost
    assert sandbox.calls["BatchGetImage"] == 1


def test_batch_get_image_takes_at_most_100_indexes_per_call(sandbox: Sandbox) -> None:
    for n in range(250):
        sandbox.registry.push_image("multi", tags=[f"v{n}"], platforms=["linux/amd64"], salt=f"m{n}")
    repository = _registry().scan_repository("multi")
    assert len(repository.images) == 500
    assert sum(bool(image.children) for image in repository.images) == 250
    assert sandbox.calls["BatchGetImage"] == 3


def test_archived_images_are_seen(sandbox: Sandbox) -> None:
    active, archived = _push_plain(sandbox, "app", 2)
    sandbox.registry.archive("app", archived)
    images = _by_digest(_registry().scan_repository("app"))
    assert images[active].status is ImageStatus.ACTIVE
    assert images[archived].status is ImageStatus.ARCHIVED


def test_an_archived_index_is_not_read_its_children_are_unknown(sandbox: Sandbox) -> None:
    archived = sandbox.registry.push_image("app", tags=["v1"], platforms=["linux/amd64", "linux/arm64"])
    restoring = sandbox.registry.push_image("app", tags=["v2"], platforms=["linux/amd64"], salt="r")
    active = sandbox.registry.push_image("app", tags=["v3"], platforms=["linux/amd64"], salt="a")
    sandbox.registry.archive("app", archived)
    sandbox.registry.archive("app", restoring)
    _registry().client.update_image_storage_class(
        repositoryName="app", imageId={"imageDigest": restoring}, targetStorageClass="STANDARD"
    )

    images = _by_digest(_registry().scan_repository("app"))

    assert images[restoring].status is ImageStatus.ACTIVATING
    for index in (archived, restoring):
        assert (images[index].children_known, images[index].children) == (False, ())
    assert images[active].children_known
    assert images[active].children == sandbox.registry.get("app").images[active].children
    assert sandbox.calls["BatchGetImage"] == 1  # the active index only: an archived one cannot be pulled


def test_an_index_archived_while_scanned_stops_the_scan(sandbox: Sandbox) -> None:
    index = sandbox.registry.push_image("app", tags=["v1"], platforms=["linux/amd64"])
    registry = _registry()
    # Listed ACTIVE, archived just before its manifest is read: an unreadable active index fails closed.
    registry.client.meta.events.register(
        "before-call.ecr.BatchGetImage", lambda **_: sandbox.registry.archive("app", index)
    )
    with pytest.raises(
        SourceUnavailable, match=f"index app@{index} \\(ImageInaccessible\\).* restore it to STANDARD"
    ):
        registry.scan_repository("app")


def test_an_unparseable_index_manifest_stops_the_scan(sandbox: Sandbox) -> None:
    index = sandbox.registry.push_image("app", tags=["v1"], platforms=["linux/amd64"])
    stored = sandbox.registry.get("app").images[index]
    stored.manifest = json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": {}})
    with pytest.raises(SourceUnavailable, match=f"index app@{index} \\(unparseable manifest"):
        list(_registry().scan(["app"]))


def test_a_batch_get_image_reply_of_another_shape_stops_the_scan(sandbox: Sandbox) -> None:
    index = sandbox.registry.push_image("app", tags=["v1"], platforms=["linux/amd64"])
    sandbox.registry.get("app").images[index].manifest = 7  # type: ignore[assignment]
    unreadable = r"^ecr BatchGetImage in app sent a reply ecrgc cannot read \(.*imageManifest"
    with pytest.raises(SourceUnavailable, match=unreadable):
        list(_registry().scan(["app"]))


def test_a_describe_images_reply_of_another_shape_stops_the_scan(sandbox: Sandbox) -> None:
    (digest,) = _push_plain(sandbox, "app", 1)
    sandbox.registry.get("app").images[digest].pushed_at = "yesterday"  # type: ignore[assignment]
    unreadable = r"^ecr DescribeImages of app sent a reply ecrgc cannot read \(.*imagePushedAt"
    with pytest.raises(SourceUnavailable, match=unreadable):
        list(_registry().scan(["app"]))


def test_throttled_calls_are_retried(sandbox: Sandbox) -> None:
    for n in range(12):
        sandbox.registry.push_image(f"r{n:02d}", tags=["a"], platforms=["linux/amd64"])
    sandbox.knobs.throttle("*", rate=20, burst=2)
    scanned = list(_registry(workers=8).scan([f"r{n:02d}" for n in range(12)]))
    assert len(scanned) == 12
    assert all(len(repository.images) == 2 for repository in scanned)
    calls = sandbox.calls.snapshot()
    assert calls["DescribeImages"] + calls["BatchGetImage"] > 24  # throttled answers were retried


def test_server_errors_are_retried_when_scanning(sandbox: Sandbox) -> None:
    _push_plain(sandbox, "app", 3)
    sandbox.knobs.reseed(7)
    sandbox.knobs.error_rate = 0.5
    assert len(_registry().scan_repository("app").images) == 3
    assert sandbox.calls["DescribeImages"] > 1


def test_server_errors_after_retries_fail_the_batch_as_data(sandbox: Sandbox) -> None:
    digests = _push_plain(sandbox, "app", 3)
    sandbox.knobs.error_rate = 1.0
    registry = _registry(max_attempts=2)
    outcomes = registry.delete_images("app", digests)
    assert outcomes == [
        Outcome(
            repository="app",
            digest=d,
            status=OutcomeStatus.FAILED,
            reason=OutcomeReason.REGISTRY_ERROR,
            code="ServerException",
        )
        for d in digests
    ]
    assert registry.archive_images("app", digests[:1])[0].code == "ServerException"
    assert registry.delete_repository_if_empty("app").status is OutcomeStatus.FAILED
    assert sandbox.calls["BatchDeleteImage"] == 2
    sandbox.knobs.error_rate = 0.0
    assert len(registry.scan_repository("app").images) == 3


def test_per_item_failure_codes_become_outcomes(sandbox: Sandbox) -> None:
    index = sandbox.registry.push_image("app", tags=["v1"], platforms=["linux/amd64", "linux/arm64"])
    children = sandbox.registry.get("app").images[index].children
    registry = _registry()
    missing = "sha256:" + "0" * 64
    first = registry.delete_images("app", [children[0], missing])
    assert [(o.status, o.reason, o.code) for o in first] == [
        (OutcomeStatus.SKIPPED, OutcomeReason.REFERENCED, "ImageReferencedByManifestList"),
        (OutcomeStatus.ALREADY_ABSENT, OutcomeReason.NOT_FOUND, "ImageNotFound"),
    ]
    assert registry.delete_images("app", [index])[0].status is OutcomeStatus.DELETED
    later = registry.delete_images("app", list(children))
    assert [o.status for o in later] == [OutcomeStatus.DELETED, OutcomeStatus.DELETED]
    assert registry.delete_repository_if_empty("app").status is OutcomeStatus.DELETED


def test_archive_images(sandbox: Sandbox) -> None:
    first, second = _push_plain(sandbox, "app", 2)
    registry = _registry()
    missing = "sha256:" + "0" * 64
    outcomes = registry.archive_images("app", [first, missing, first])
    assert [(o.digest, o.status, o.code) for o in outcomes] == [
        (first, OutcomeStatus.ARCHIVED, ""),
        (missing, OutcomeStatus.ALREADY_ABSENT, "ImageNotFoundException"),
    ]
    sandbox.registry.set_storage_class("app", {"imageDigest": second}, "ARCHIVE")
    sandbox.registry.set_storage_class("app", {"imageDigest": second}, "STANDARD")  # now ACTIVATING
    assert registry.archive_images("app", [second])[0].code == "ImageStorageClassUpdateNotSupportedException"
    statuses = {image.digest: image.status for image in registry.scan_repository("app").images}
    assert statuses == {first: ImageStatus.ARCHIVED, second: ImageStatus.ACTIVATING}


def test_a_repository_with_images_is_not_deleted(sandbox: Sandbox) -> None:
    _push_plain(sandbox, "app", 1)
    assert _registry().delete_repository_if_empty("app") == Outcome(
        repository="app",
        digest="",
        status=OutcomeStatus.SKIPPED,
        reason=OutcomeReason.NOT_EMPTY,
        code="RepositoryNotEmptyException",
    )
    assert "app" in sandbox.registry.repositories
