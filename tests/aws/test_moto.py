"""The ECR adapter against a real moto server (the third-party cross-check of ECR's behaviour)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from ecrgc.aws import NO_CREDENTIALS, Registry
from ecrgc.errors import RemoteError, SourceUnavailable
from ecrgc.model import ImageStatus, Outcome, OutcomeReason, OutcomeStatus

if TYPE_CHECKING:
    from types_boto3_ecr import ECRClient

pytestmark = pytest.mark.moto

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def ecr(moto: str) -> ECRClient:
    """A plain boto3 client to arrange the registry (the code under test builds its own)."""
    return boto3.client("ecr", region_name="us-east-1")


def push(ecr: ECRClient, repo: str, seed: str, tag: str | None = None) -> str:
    """Pushes a single-platform image; moto derives its digest from the layers."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": _sha(seed),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 9,
                "digest": _sha(seed + "l"),
            }
        ],
    }
    extra: dict[str, Any] = {"imageTag": tag} if tag else {}
    reply = ecr.put_image(repositoryName=repo, imageManifest=json.dumps(manifest), **extra)
    return reply["image"]["imageId"]["imageDigest"]


def push_index(
    ecr: ECRClient, repo: str, children: list[str], *, tag: str, media_type: str = OCI_INDEX
) -> str:
    """Pushes an index listing `children`; its digest is the sha256 of the manifest text."""
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": [{"mediaType": DOCKER_MANIFEST, "size": 1, "digest": child} for child in children],
        }
    )
    return push_raw(ecr, repo, manifest, tag=tag, media_type=media_type)


def push_raw(ecr: ECRClient, repo: str, manifest: str, *, tag: str, media_type: str) -> str:
    digest = _sha(manifest)
    ecr.put_image(
        repositoryName=repo,
        imageManifest=manifest,
        imageManifestMediaType=media_type,
        imageTag=tag,
        imageDigest=digest,
    )
    return digest


def test_caller_account_comes_from_sts(moto: str) -> None:
    assert Registry("us-east-1").caller_account() == "123456789012"


def test_list_repositories_keeps_the_selected_ones_sorted(ecr: ECRClient) -> None:
    for name in ("web", "api", "team/batch", "legacy"):
        ecr.create_repository(repositoryName=name)
    listed = Registry("us-east-1").list_repositories(lambda name: name != "legacy")
    assert listed == [
        (name, f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}", "123456789012")
        for name in ("api", "team/batch", "web")
    ]


def test_scan_repository_reads_images_and_the_children_of_indexes(ecr: ECRClient) -> None:
    ecr.create_repository(repositoryName="app")
    amd, arm, loose = push(ecr, "app", "amd"), push(ecr, "app", "arm"), push(ecr, "app", "loose", tag="old")
    inner = push_index(ecr, "app", [amd, arm], tag="inner", media_type=DOCKER_LIST)
    outer = push_index(ecr, "app", [inner, loose], tag="outer")
    registry = Registry("us-east-1")
    registry.list_repositories(lambda _: True)
    repo = registry.scan_repository("app")
    assert (repo.name, repo.registry_id) == ("app", "123456789012")
    assert repo.uri == "123456789012.dkr.ecr.us-east-1.amazonaws.com/app"
    by_digest = {image.digest: image for image in repo.images}
    assert [image.digest for image in repo.images] == sorted(by_digest)
    assert by_digest[outer].children == (inner, loose)
    assert by_digest[inner].children == (amd, arm)
    assert by_digest[amd].children == ()
    assert by_digest[amd].tags == ()
    assert by_digest[loose].tags == ("old",)
    assert all(image.status is ImageStatus.ACTIVE for image in repo.images)
    assert all(image.pushed_at.utcoffset() is not None for image in repo.images)


def test_an_index_without_a_manifest_list_stops_the_scan(ecr: ECRClient) -> None:
    ecr.create_repository(repositoryName="app")
    broken = push_raw(
        ecr, "app", json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX}), tag="x", media_type=OCI_INDEX
    )
    with pytest.raises(SourceUnavailable, match=f"index app@{broken} "):
        Registry("us-east-1").scan_repository("app")


def test_scan_yields_every_repository_once(ecr: ECRClient) -> None:
    names = [f"repo-{n:02d}" for n in range(25)]
    for name in reversed(names):
        ecr.create_repository(repositoryName=name)
        push(ecr, name, name, tag="latest")
    registry = Registry("us-east-1", workers=4)
    scanned = list(registry.scan([*reversed(names), names[0]]))
    assert sorted(repo.name for repo in scanned) == names
    assert all(len(repo.images) == 1 and repo.images[0].tags == ("latest",) for repo in scanned)


def test_scan_stops_at_a_repository_that_cannot_be_read(ecr: ECRClient) -> None:
    ecr.create_repository(repositoryName="here")
    with pytest.raises(RemoteError, match="DescribeImages of gone failed: RepositoryNotFoundException"):
        list(Registry("us-east-1", workers=2).scan(["here", "gone"]))


def test_delete_images_in_batches_of_100_reports_each_digest(ecr: ECRClient) -> None:
    ecr.create_repository(repositoryName="app")
    digests = [push(ecr, "app", f"img{n}", tag=f"t{n}") for n in range(150)]
    missing = _sha("never pushed")
    registry = Registry("us-east-1")
    calls = _count_calls(registry, "BatchDeleteImage")
    outcomes = registry.delete_images("app", [*digests, missing])
    assert calls == [100, 51]
    assert outcomes[:150] == [
        Outcome(repository="app", digest=d, status=OutcomeStatus.DELETED) for d in digests
    ]
    assert outcomes[150] == Outcome(
        repository="app",
        digest=missing,
        status=OutcomeStatus.ALREADY_ABSENT,
        reason=OutcomeReason.NOT_FOUND,
        code="ImageNotFound",
    )
    assert ecr.describe_images(repositoryName="app")["imageDetails"] == []


def test_delete_images_in_a_missing_repository_is_already_absent(moto: str) -> None:
    outcomes = Registry("us-east-1").delete_images("gone", [_sha("a")])
    assert [(o.status, o.code) for o in outcomes] == [
        (OutcomeStatus.ALREADY_ABSENT, "RepositoryNotFoundException")
    ]


def test_delete_repository_only_when_empty(ecr: ECRClient) -> None:
    ecr.create_repository(repositoryName="full")
    ecr.create_repository(repositoryName="empty")
    push(ecr, "full", "x", tag="v1")
    registry = Registry("us-east-1")
    assert registry.delete_repository_if_empty("full") == Outcome(
        repository="full",
        digest="",
        status=OutcomeStatus.SKIPPED,
        reason=OutcomeReason.NOT_EMPTY,
        code="RepositoryNotEmptyException",
    )
    assert registry.delete_repository_if_empty("empty").status is OutcomeStatus.DELETED
    assert registry.delete_repository_if_empty("empty").status is OutcomeStatus.ALREADY_ABSENT
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["full"]


def test_missing_credentials_are_one_clear_line(
    moto: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    registry = Registry("us-east-1")
    with pytest.raises(RemoteError) as caught:
        registry.caller_account()
    assert str(caught.value) == NO_CREDENTIALS
    with pytest.raises(RemoteError, match=r"^no AWS credentials found"):
        registry.delete_images("app", [_sha("a")])


def test_rejected_credentials_are_one_clear_line(moto_checking_credentials: str) -> None:
    registry = Registry("us-east-1")
    with pytest.raises(RemoteError, match=r"^the AWS credentials were rejected \(InvalidClientTokenId\): "):
        registry.caller_account()
    # moto answers ECR with a bare HTTP 403 (real ECR: UnrecognizedClientException); a RemoteError either way
    with pytest.raises(RemoteError, match=r"^ecr DescribeRepositories failed: "):
        registry.list_repositories(lambda _: True)


def test_an_unreachable_endpoint_fails_the_batch_not_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """The autouse guard points AWS at a closed port: every image of the call comes back FAILED."""
    registry = Registry("us-east-1", max_attempts=1)
    outcomes = registry.delete_images("app", [_sha("a"), _sha("b")])
    assert {(o.status, o.code) for o in outcomes} == {(OutcomeStatus.FAILED, "EndpointConnectionError")}
    assert registry.delete_repository_if_empty("app").code == "EndpointConnectionError"
    unreachable = r"DescribeRepositories failed: EndpointConnectionError \(http://\S+ cannot be reached\)"
    with pytest.raises(RemoteError, match=unreachable):
        registry.list_repositories(lambda _: True)


def _count_calls(registry: Registry, operation: str) -> list[int]:
    """Records the number of imageIds of each call (botocore's own event hooks; nothing is patched)."""
    sizes: list[int] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sizes.append(len(params["imageIds"]))

    registry.client.meta.events.register(f"provide-client-params.ecr.{operation}", record)
    return sizes
