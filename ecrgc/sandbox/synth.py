"""Large synthetic registries from a fixed random seed, written straight into the state (no HTTP).

Speed matters (1,000,000 images across 2,000 repositories in well under a minute on 2 cores), so this is
the one place that builds manifests from templates and inserts `StoredImage`s itself instead of going
through `Registry.store`; the manifests are still real OCI JSON and every digest is the sha256 of the exact
manifest bytes, children exist before their index, and referrers name their subject.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from ecrgc.sandbox import manifests
from ecrgc.sandbox.registry import Registry
from ecrgc.sandbox.repository import RepositoryState, StoredImage

_DAY = 86400.0
_IMAGE = (
    '{"schemaVersion":2,"mediaType":"'
    + manifests.OCI_MANIFEST
    + '","config":{"mediaType":"'
    + manifests.OCI_CONFIG
    + '","digest":"sha256:%s","size":1469},"layers":[{"mediaType":"'
    + manifests.OCI_LAYER
    + '","digest":"sha256:%s","size":%d}]}'
)
_INDEX = (
    '{"schemaVersion":2,"mediaType":"' + manifests.OCI_INDEX + '","manifests":['
    '{"mediaType":"'
    + manifests.OCI_MANIFEST
    + '","digest":"%s","size":%d,"platform":{"architecture":"amd64","os":"linux"}},'
    '{"mediaType":"'
    + manifests.OCI_MANIFEST
    + '","digest":"%s","size":%d,"platform":{"architecture":"arm64","os":"linux"}}]}'
)
_REFERRER = (
    '{"schemaVersion":2,"mediaType":"'
    + manifests.OCI_MANIFEST
    + '","artifactType":"'
    + manifests.COSIGN_SIGNATURE
    + '","config":{"mediaType":"'
    + manifests.OCI_EMPTY
    + '","digest":"'
    + manifests.OCI_EMPTY_DIGEST
    + '","size":2},"layers":[{"mediaType":"'
    + manifests.COSIGN_SIGNATURE
    + '","digest":"sha256:%s","size":1024}],"subject":{"mediaType":"%s","digest":"%s","size":%d}}'
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SynthSpec:
    """The shape of a synthetic registry; `images` counts all stored manifests (children, referrers too)."""

    repositories: int = 2_000
    images: int = 1_000_000
    seed: int = 42
    skew: float = 1.0
    """Repository sizes follow a Zipf law of this exponent (0: all equal)."""
    index_share: float = 0.1
    """Share of pushes that are multi-arch: an index plus two children."""
    referrer_share: float = 0.05
    """Share of pushes that get an OCI 1.1 signature referrer."""
    tagged_share: float = 0.7
    pulled_share: float = 0.5
    max_age_days: float = 365.0
    prefix: str = "synth"


def sizes(spec: SynthSpec) -> list[int]:
    """How many images each repository gets (sums to `spec.images`)."""
    weights = [1.0 / (i + 1) ** spec.skew for i in range(spec.repositories)]
    total = sum(weights)
    counts = [int(spec.images * w / total) for w in weights]
    for i in range(spec.images - sum(counts)):
        counts[i % spec.repositories] += 1
    return counts


def generate(registry: Registry, spec: SynthSpec) -> int:
    """Add `spec`'s repositories and images to the registry; the number of images stored."""
    rng = random.Random(spec.seed)
    now = registry.clock.now()
    stored = 0
    with registry.lock:
        for number, count in enumerate(sizes(spec)):
            repo = registry.create_repository(
                f"{spec.prefix}/repo-{number:05d}", created_at=now, exist_ok=True
            )
            stored += _fill(repo, count, spec, rng, now)
    return stored


def _fill(repo: RepositoryState, count: int, spec: SynthSpec, rng: random.Random, now: float) -> int:
    span = spec.max_age_days * _DAY
    draw = rng.random
    stamps = sorted(now - span * draw() for _ in range(count))
    left, n = count, 0
    while left > 0:
        pushed = stamps[count - left]
        n += 1
        if left >= 3 and draw() < spec.index_share:
            image = _index(repo, rng, pushed)
            left -= 3
        else:
            image = _image(repo, rng, pushed)
            left -= 1
        if draw() < spec.tagged_share:
            repo.tag(image, f"b{n}")
        if draw() < spec.pulled_share:
            image.last_pulled_at = pushed + draw() * (now - pushed)
        if left >= 1 and draw() < spec.referrer_share:
            _referrer(repo, rng, pushed, image)
            left -= 1
    return count


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _image(repo: RepositoryState, rng: random.Random, pushed: float) -> StoredImage:
    size = int(rng.expovariate(1 / 40e6)) + 1_000  # mean ~40 MB, long tail
    blob = f"{rng.getrandbits(256):064x}"  # one random per image: its layer digest is a rotation
    text = _IMAGE % (blob, blob[32:] + blob[:32], size)
    image = StoredImage(
        _digest(text), text, manifests.OCI_MANIFEST, pushed, size, artifact_type=manifests.OCI_CONFIG
    )
    repo.add(image)
    return image


def _index(repo: RepositoryState, rng: random.Random, pushed: float) -> StoredImage:
    amd, arm = _image(repo, rng, pushed), _image(repo, rng, pushed)
    text = _INDEX % (amd.digest, len(amd.manifest), arm.digest, len(arm.manifest))
    size = max(amd.size, arm.size)
    image = StoredImage(
        _digest(text), text, manifests.OCI_INDEX, pushed, size, children=(amd.digest, arm.digest)
    )
    repo.add(image)
    return image


def _referrer(repo: RepositoryState, rng: random.Random, pushed: float, subject: StoredImage) -> None:
    text = _REFERRER % (
        f"{rng.getrandbits(256):064x}",
        subject.media_type,
        subject.digest,
        len(subject.manifest),
    )
    image = StoredImage(
        _digest(text),
        text,
        manifests.OCI_MANIFEST,
        pushed + 60,
        1024,
        subject=subject.digest,
        artifact_type=manifests.COSIGN_SIGNATURE,
    )
    repo.add(image)
