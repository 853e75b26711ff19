"""A `.json.gz` plan forged as an attacker with push access would: the columns edited by hand so that every
image of the registry is a deletion, the summary counts fixed and the content hash recomputed from the
documented recipe. The columns reader accepts the file (it is a well-formed plan); apply still deletes only
what a fresh decision on the live registry, its usage and the repository's policies removes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from ecrgc.planfile import load_plan_file, write_plan_file
from ecrgc.sandbox import Sandbox
from tests.apply.tamper import sha256_of
from tests.apply.test_narrowing import fresh_removals
from tests.apply.world import apply_file, build_world, images, make_plan, write_policy

_DELETE, _EXPIRED = 1, 8  # positions in the schema's $defs.actionCodes and $defs.reasonCodes


def _every_image_deleted(document: dict[str, Any]) -> dict[str, Any]:
    summary = document["summary"]
    for repository, entry in zip(document["columns"], summary["repositories"], strict=True):
        rows = len(repository["action"])
        repository["action"] = [_DELETE] * rows
        repository["reason"] = [_EXPIRED] * rows  # no row is in use any more: no sources, no kept evidence
        repository["sources"], repository["sourceNames"], repository["evidence"] = [], [], []
        entry.update(deleted=rows, archived=0, kept={})
    summary["images_deleted"] = sum(e["deleted"] for e in summary["repositories"])
    summary.update(images_archived=0, images_kept=0, kept_by_reason={})
    document.pop("content_sha256")
    document["content_sha256"] = sha256_of(document)
    return document


def test_a_columns_plan_forged_to_delete_everything_deletes_only_what_a_fresh_decision_removes(
    ecr: Sandbox, tmp_path: Path
) -> None:
    build_world(ecr, tmp_path)
    honest = load_plan_file(make_plan(tmp_path, write_policy(tmp_path)))
    packed = tmp_path / "plan.json.gz"
    write_plan_file(honest, packed)
    document = json.loads(gzip.decompress(packed.read_bytes()))
    forged = tmp_path / "forged.json.gz"
    forged.write_bytes(gzip.compress(json.dumps(_every_image_deleted(document)).encode()))
    before = images(ecr)
    assert len(load_plan_file(forged).actions) == len(before)  # read as the attacker meant it
    allowed = fresh_removals(tmp_path)
    assert allowed < before  # the world keeps images: in use, held, newest, part of a kept index

    apply_file(forged, workers=2)

    # Exactly what a fresh decision removes: nothing it keeps is gone, and apply did run the forged file.
    assert before - images(ecr) == allowed
