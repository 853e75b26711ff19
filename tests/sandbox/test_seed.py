"""Seeding: the declarative YAML description and the synthetic generator."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ecrgc.errors import ConfigError
from ecrgc.sandbox import Sandbox, manifests, seed
from ecrgc.sandbox.synth import SynthSpec, generate, sizes
from tests.sandbox.clients import ecr

DATA = Path(__file__).parents[1] / "data" / "sandbox"
DAY = 86400


def _all(repo: str) -> dict[str, dict[str, Any]]:
    pages = (
        ecr().get_paginator("describe_images").paginate(repositoryName=repo, filter={"imageStatus": "ANY"})
    )
    return {d["imageDigest"]: d for page in pages for d in page["imageDetails"]}


def test_yaml_seed(sandbox: Sandbox) -> None:
    summary = seed.load(sandbox.registry, DATA / "registry.yaml")
    # shop/api: index + 2 children + 2 referrers, then 3 images with 3 cosign signatures; shop/old: 2
    assert summary == seed.SeedSummary(repositories=2, images=13)
    assert sandbox.clock.now_datetime() == datetime(2026, 6, 1, tzinfo=UTC)
    api = _all("shop/api")
    index = next(d for d in api.values() if d.get("imageTags") == ["v1.0.0", "release-1.0"])
    assert index["imageManifestMediaType"] == manifests.OCI_INDEX
    assert index["imagePushedAt"] == datetime(2026, 3, 3, tzinfo=UTC)
    assert index["lastRecordedPullTime"] == datetime(2026, 5, 30, tzinfo=UTC)
    referrers = [d for d in api.values() if d.get("subjectManifestDigest") == index["imageDigest"]]
    assert {str(d["artifactMediaType"]) for d in referrers} == {
        manifests.COSIGN_SIGNATURE,
        manifests.SBOM_SPDX,
    }
    tags = {t for d in api.values() for t in d.get("imageTags", [])}
    assert {"v1.1.1", "v1.2.1", "v1.3.1"} <= tags
    assert sum(1 for t in tags if t.startswith("sha256-") and t.endswith(".sig")) == 3
    old = _all("shop/old")
    archived = [d for d in old.values() if d["imageStatus"] == "ARCHIVED"]
    assert [d["imageTags"] for d in archived] == [["ancient"]]
    assert (
        ecr().describe_repositories(repositoryNames=["shop/api"])["repositories"][0]["imageTagMutability"]
        == "IMMUTABLE"
    )


def test_seeded_index_is_a_real_oci_index(sandbox: Sandbox) -> None:
    seed.load(sandbox.registry, DATA / "registry.yaml")
    reply = ecr().batch_get_image(
        repositoryName="shop/api", imageIds=[{"imageTag": "v1.0.0"}], acceptedMediaTypes=[manifests.OCI_INDEX]
    )
    body = json.loads(reply["images"][0]["imageManifest"])
    assert [m["platform"] for m in body["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
    ]
    children = ecr().batch_get_image(
        repositoryName="shop/api", imageIds=[{"imageDigest": m["digest"]} for m in body["manifests"]]
    )
    for child, listed in zip(children["images"], body["manifests"], strict=True):
        assert hashlib.sha256(child["imageManifest"].encode()).hexdigest() == listed["digest"].removeprefix(
            "sha256:"
        )
        assert len(child["imageManifest"]) == listed["size"]


def test_seed_digests_do_not_depend_on_when_it_runs() -> None:
    first, second = Sandbox(), Sandbox()
    second.clock.advance(30 * DAY)
    seed.load(first.registry, seed.DEMO)
    seed.load(second.registry, seed.DEMO)
    assert first.registry.get("saas/api").tags == second.registry.get("saas/api").tags


def test_demo_image_list_names_images_of_the_demo() -> None:
    demo = Sandbox()
    seed.load(demo.registry, seed.DEMO)
    lines = [
        line for line in seed.DEMO_IMAGE_LIST.read_text().splitlines() if line and not line.startswith("#")
    ]
    assert len(lines) == 7
    for line in lines:
        path = line.split("/", 1)[1]
        if "@" in path:
            repo, digest = path.split("@")
            assert digest in demo.registry.get(repo).images
        else:
            repo, tag = path.rsplit(":", 1)
            assert tag in demo.registry.get(repo).tags


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"repositories": [{"images": []}]}, "::$.repositories[0].name: a repository needs a name"),
        (
            {"repositories": [{"name": "a1", "images": [{"pushed": "yesterday"}]}]},
            "::$.repositories[0].images[0].pushed:",
        ),
        (
            {"repositories": [{"name": "a1", "images": [{"tagz": ["x"]}]}]},
            "::$.repositories[0].images[0].tagz: unknown key",
        ),
        ({"repositories": {"name": "a1"}}, "::$.repositories: expected a list"),
    ],
)
def test_bad_seed_names_the_place(document: object, message: str) -> None:
    with pytest.raises(
        ConfigError, match=message.replace("[", r"\[").replace("]", r"\]").replace("$", r"\$")
    ):
        seed.apply(Sandbox().registry, document, "seed.yaml")


def test_synthetic_registry_counts_and_shape() -> None:
    spec = SynthSpec(repositories=7, images=2_000, seed=3, index_share=0.2, referrer_share=0.2)
    box = Sandbox()
    assert generate(box.registry, spec) == 2_000
    repos = box.registry.repositories
    assert [len(r.images) for r in repos.values()] == sizes(spec)
    for repo in repos.values():
        for image in repo.images.values():
            assert image.digest == manifests.digest_of(image.manifest)
            assert all(child in repo.images for child in image.children)
            facts = manifests.parse(image.manifest)
            assert (facts.children, facts.subject) == (image.children, image.subject)
    kinds = [i for r in repos.values() for i in r.images.values()]
    assert any(i.children for i in kinds)
    assert any(i.subject for i in kinds)


def test_synthetic_registry_is_deterministic() -> None:
    def digests(seed_value: int) -> list[str]:
        box = Sandbox()
        box.clock.set(1_700_000_000)
        generate(box.registry, SynthSpec(repositories=3, images=300, seed=seed_value))
        return [d for r in box.registry.repositories.values() for d in r.images]

    assert digests(1) == digests(1)
    assert digests(1) != digests(2)
