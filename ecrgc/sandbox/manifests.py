"""Real OCI / Docker manifests: building them for seeds, and reading the facts ECR derives from them.

The digest of an image is the sha256 of its exact manifest bytes, so builders return the text and callers
never compute a digest any other way (`digest_of`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
COSIGN_SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SBOM_SPDX = "application/spdx+json"
INDEXES = frozenset({OCI_INDEX, DOCKER_LIST})
DEFAULT_ACCEPTED = frozenset(
    {DOCKER_MANIFEST, OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v1+json"}
)
"""What BatchGetImage returns when the caller names no acceptedMediaTypes (indexes must be asked for)."""


class ManifestError(ValueError):
    """The manifest is not JSON, or not an object a registry can store."""


@dataclass(frozen=True, slots=True)
class ManifestFacts:
    """What ECR learns from a manifest's bytes."""

    media_type: str
    size: int
    """Sum of the layer sizes (an index's size is its largest child's, computed by the repository)."""
    children: tuple[str, ...] = ()
    subject: str | None = None
    artifact_type: str | None = None


def digest_of(text: str) -> str:
    """`sha256:<hex>` of the exact UTF-8 bytes of a manifest."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def parse(text: str, media_type: str | None = None) -> ManifestFacts:
    """The facts of a manifest; `media_type` is PutImage's imageManifestMediaType, if given."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ManifestError("Invalid JSON syntax") from exc
    if not isinstance(body, dict):
        raise ManifestError("Invalid JSON syntax")
    kind = media_type or body.get("mediaType") or DOCKER_MANIFEST
    subject = body.get("subject")
    config = body.get("config")
    config = config if isinstance(config, dict) else {}
    return ManifestFacts(
        media_type=kind,
        size=sum(int(layer.get("size", 0)) for layer in body.get("layers", ()) if isinstance(layer, dict)),
        children=tuple(
            m["digest"] for m in body.get("manifests", ()) if isinstance(m, dict) and "digest" in m
        )
        if kind in INDEXES
        else (),
        subject=subject.get("digest") if isinstance(subject, dict) else None,
        artifact_type=body.get("artifactType") or config.get("mediaType"),
    )


def _dumps(body: Mapping[str, Any]) -> str:
    # Compact and key-ordered like most registries' clients, so equal inputs give equal digests.
    return json.dumps(body, separators=(",", ":"), sort_keys=False)


def _descriptor(media_type: str, digest: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


def image(salt: str, layer_sizes: Sequence[int], *, platform: str | None = None) -> str:
    """An OCI image manifest whose (fake) config and layer digests derive from `salt`."""
    base = hashlib.sha256(f"{salt}|{platform}".encode()).hexdigest()
    layers = [
        _descriptor(OCI_LAYER, f"sha256:{base[i:]}{base[:i]}", size) for i, size in enumerate(layer_sizes)
    ]
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(OCI_CONFIG, f"sha256:{base[::-1]}", 1469),
        "layers": layers,
    }
    return _dumps(body)


def index(children: Sequence[tuple[str, int, str]]) -> str:
    """An OCI image index over `(digest, manifest length, "os/arch[/variant]")` children."""
    manifests = []
    for digest, length, platform in children:
        os_name, arch, *variant = platform.split("/")
        plat: dict[str, str] = {"architecture": arch, "os": os_name}
        if variant:
            plat["variant"] = variant[0]
        manifests.append(_descriptor(OCI_MANIFEST, digest, length, platform=plat))
    return _dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})


def referrer(subject_digest: str, subject_media_type: str, subject_length: int, artifact_type: str) -> str:
    """An OCI 1.1 artifact manifest (signature, SBOM …) attached to a subject through `subject`."""
    payload = hashlib.sha256(f"{subject_digest}|{artifact_type}".encode()).hexdigest()
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": _descriptor(OCI_EMPTY, OCI_EMPTY_DIGEST, 2),
        "layers": [_descriptor(artifact_type, f"sha256:{payload}", 1024)],
        "subject": _descriptor(subject_media_type, subject_digest, subject_length),
    }
    return _dumps(body)


def cosign_signature(subject_digest: str) -> str:
    """A cosign-style (tag scheme, pre OCI 1.1) signature image, pushed as `sha256-<hex>.sig`."""
    payload = hashlib.sha256(f"cosign|{subject_digest}".encode()).hexdigest()
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(OCI_CONFIG, f"sha256:{payload[::-1]}", 233),
        "layers": [
            _descriptor(
                "application/vnd.dev.cosign.simplesigning.v1+json",
                f"sha256:{payload}",
                250,
                annotations={"dev.cosignproject.cosign/signature": "MEUCIQ" + payload[:40]},
            )
        ],
    }
    return _dumps(body)


def cosign_tag(subject_digest: str, suffix: str = "sig") -> str:
    """The tag cosign gives a signature of `subject_digest`: `sha256-<hex>.sig`."""
    return subject_digest.replace(":", "-") + "." + suffix
