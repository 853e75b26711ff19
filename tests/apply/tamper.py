"""What an attacker with push access to the plan's branch can do to a plan file, done as they would do it.

They edit the JSON, fix the summary counts `loads` checks and recompute `content_sha256` from the recipe in
the plan format's documentation (hashlib over the compact sorted JSON), not with ecrgc's own functions.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from ecrgc.aws import Registry
from ecrgc.model import Image
from tests.apply.world import REGION


def sha256_of(value: Any) -> str:
    """The documented canonical hash: UTF-8 of json.dumps(sort_keys, compact separators, no ASCII escapes)."""
    compact = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(compact.encode("utf-8")).hexdigest()


def record(
    image: Image, *, policy: str = "web", parent: str | None = None, action: str = "delete"
) -> dict[str, Any]:
    """A forged action record for a live image (an attacker reads these fields off the registry)."""
    return {
        "repository": image.repository,
        "imageDigest": image.digest,
        "imageTags": sorted(image.tags),
        "pushedAt": image.pushed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lastPulledAt": None
        if image.last_pulled_at is None
        else image.last_pulled_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sizeBytes": image.size_bytes,
        "mediaType": image.media_type,
        "action": action,
        "reason": "with_parent" if parent else "expired",
        "parent": parent,
        "policy": policy,
    }


def live_images(*repositories: str) -> dict[tuple[str, str], Image]:
    """The images as the registry describes them (through boto3, as the attacker would read them)."""
    registry = Registry(REGION)
    return {
        (i.repository, i.digest): i for name in repositories for i in registry.scan_repository(name).images
    }


def live_image(repository: str, digest: str) -> Image:
    """One image as the registry describes it."""
    return live_images(repository)[repository, digest]


def consistent(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with its summary counts agreeing with its actions, and re-hashed."""
    counted = Counter((a["repository"], a["action"]) for a in document["actions"])
    summary = document["summary"]
    for entry in summary["repositories"]:
        entry["deleted"] = counted[entry["repository"], "delete"]
        entry["archived"] = counted[entry["repository"], "archive"]
    summary["images_deleted"] = sum(e["deleted"] for e in summary["repositories"])
    summary["images_archived"] = sum(e["archived"] for e in summary["repositories"])
    document.pop("content_sha256", None)
    document["content_sha256"] = sha256_of(document)
    return document


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(consistent(document), indent=2) + "\n", encoding="utf-8")
    return path
