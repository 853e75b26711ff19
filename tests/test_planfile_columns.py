"""The columns layout (`.json.gz`) read from a document written by hand from the schema, not by our writer,
and every hand edit of it refused with one line naming the field."""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrgc import planfile
from ecrgc.errors import ConfigError
from ecrgc.model import Action, Reason, UsedBy
from ecrgc.planfile.columns import digest_base64, digests_base64
from tests.test_planfile import INDEX, MANIFEST, _rehash, digest, policy_record, properties

POLICY = policy_record("default", {"name": "default"})
INDEX_DIGEST, CHILD, LIVE = digest("hand-index"), digest("hand-child"), digest("hand-live")
PUSHED = datetime(2025, 3, 1, 8, 30, 15, 250_000, tzinfo=UTC)


def b64(sha256: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256.removeprefix("sha256:"))).decode().rstrip("=")


def hand_written() -> dict[str, Any]:
    """One repository: an index deleted, its child with it (row 0), an image kept in use by two sources."""
    return {
        "format_version": "2.0",
        "ecrgc_version": "9.9.9",
        "created_at": "2026-01-15T12:00:00Z",
        "expires_at": "2026-01-22T12:00:00Z",
        "target": {"account_id": "123456789012", "region": "eu-west-1"},
        "policies": [{"name": POLICY.name, "sha256": POLICY.sha256, "document": dict(POLICY.document)}],
        "inputs": [],
        "repository_deletions": [],
        "summary": {
            "images_scanned": 3,
            "images_kept": 1,
            "kept_by_reason": {"in_use": 1},
            "images_deleted": 2,
            "images_archived": 0,
            "bytes_reclaimed": 300,
            "estimated_monthly_saving_usd": "0.00",
            "repositories": [
                {
                    "repository": "payments/api",
                    "policy": "default",
                    "scanned": 3,
                    "kept": {"in_use": 1},
                    "deleted": 2,
                    "archived": 0,
                    "bytes_reclaimed": 300,
                    "delete_repository": False,
                }
            ],
        },
        "columns": [
            {
                "repository": "payments/api",
                "policy": "default",
                "imageDigest": b64(INDEX_DIGEST) + b64(CHILD) + b64(LIVE),
                "imageTags": ["v1", None, ["v2", "latest"]],
                "pushedAt": [1_740_817_815_250_000, 1_740_817_815_250_000, 1_740_817_815_250_000],
                "lastPulledAt": [None, None, 1_740_817_815_250_000],
                "sizeBytes": [100, 200, 300],
                "mediaTypes": [INDEX, MANIFEST],
                "mediaType": [0, 1, 1],
                "action": [1, 1, 0],  # delete, delete, keep ($defs.actionCodes)
                "reason": [8, 9, 0],  # expired, with_parent, in_use ($defs.reasonCodes)
                "parent": [None, 0, None],
                "sourceNames": ["prd · payments · Deployment/api", "IMG_LIST/prd.txt:3"],
                "sources": [[1, 0]],  # the one row kept in use
                "evidence": [["used_by"]],  # one per kept row: used by its sources
            }
        ],
    }


def test_a_hand_written_columns_plan_loads_as_the_plan_it_describes() -> None:
    text = _rehash(hand_written())
    loaded = planfile.loads(text)
    assert loaded.sha256 == json.loads(text)["content_sha256"]
    assert [(a.digest, a.action, a.reason, a.parent, a.size_bytes, a.media_type) for a in loaded.actions] == [
        (INDEX_DIGEST, Action.DELETE, Reason.EXPIRED, None, 100, INDEX),
        (CHILD, Action.DELETE, Reason.WITH_PARENT, INDEX_DIGEST, 200, MANIFEST),
    ]
    (live,) = loaded.kept
    assert (live.digest, live.action, live.reason, live.tags) == (
        LIVE,
        Action.KEEP,
        Reason.IN_USE,
        ("v2", "latest"),
    )
    assert live.pushed_at == PUSHED == live.last_pulled_at
    assert (live.policy, live.repository) == ("default", "payments/api")
    ((protected),) = loaded.protected
    assert protected.digest == LIVE
    assert protected.sources == ("IMG_LIST/prd.txt:3", "prd · payments · Deployment/api")
    assert live.evidence == UsedBy(protected.sources)
    assert loaded.actions[-1] == loaded.actions[1]
    assert loaded.actions[0:1] == [loaded.actions[0]]
    with pytest.raises(IndexError):
        loaded.actions[2]


def test_the_columns_file_our_writer_makes_of_it_is_byte_for_byte_canonical(tmp_path: Path) -> None:
    """Our writer sorts tags and sources; apart from that it writes what the schema describes."""
    loaded = planfile.loads(_rehash(hand_written()))
    path = tmp_path / "plan.json.gz"
    planfile.write_plan_file(loaded, path)
    written = json.loads(gzip.decompress(path.read_bytes()))
    expected = hand_written()
    expected["columns"][0]["imageTags"][2] = ["latest", "v2"]
    expected["columns"][0]["sourceNames"].reverse()
    expected["columns"][0]["sources"][0] = [0, 1]
    del written["content_sha256"]
    assert written == expected


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = document["columns"][0]
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return edit


def _kept_first(document: dict[str, Any]) -> None:
    columns = document["columns"][0]
    for name, column in columns.items():
        if isinstance(column, list) and len(column) == 3 and name not in ("mediaTypes", "sourceNames"):
            column.insert(0, column.pop())
    columns["imageDigest"] = b64(LIVE) + b64(INDEX_DIGEST) + b64(CHILD)
    columns["parent"] = [None, None, 1]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            _set("imageDigest", b64(INDEX_DIGEST) + b64(CHILD)[:-1] + "B" + b64(LIVE)),
            r"\$\.columns\[0\]\.imageDigest: '.*' does not match",
        ),
        (_set("imageDigest", b64(INDEX_DIGEST) + CHILD + b64(LIVE)), r"\$\.columns\[0\]\.imageDigest: "),
        (_set("imageTags.1", ""), r"\$\.columns\[0\]\.imageTags\[1\]: '' should be non-empty"),
        (_set("reason.0", 10), r"\$\.columns\[0\]\.reason\[0\]: 10 is greater than the maximum of 9"),
        (_set("action.0", "delete"), r"\$\.columns\[0\]\.action\[0\]: 'delete' is not of type 'integer'"),
        (_set("sizeBytes.2", "300"), r"\$\.columns\[0\]\.sizeBytes\[2\]: '300' is not of type 'integer'"),
        (_set("pushedAt.0", "2025-03-01T08:30:15Z"), r"\$\.columns\[0\]\.pushedAt\[0\]: .* is not of type"),
        (_set("explanation", []), r"\$\.columns\[0\]: Additional properties are not allowed \('explanation'"),
    ],
)
def test_a_bad_value_is_refused_by_the_schema_naming_its_field(
    edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    document = hand_written()
    edit(document)
    with pytest.raises(ConfigError, match=r"^p\.json\.gz: not a valid plan file \([12] errors\)") as raised:
        planfile.loads(_rehash(document), source="p.json.gz")
    assert re.search(rf"^p\.json\.gz::{message}", raised.value.errors[0])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("pushedAt", [0, 0]), r"\.pushedAt: 2 rows where imageDigest has 3"),
        (_set("mediaType.2", 2), r"\.mediaType: a code beyond the 2 mediaTypes"),
        (_set("imageDigest", b64(INDEX_DIGEST) + b64(CHILD)), r"\.imageTags: 3 rows where imageDigest has 2"),
        (_set("sources.0", [0, 2]), r"\.sources: a code beyond the 2 sourceNames"),
        (_set("parent.1", 3), r"\.parent: a row beyond the 3 rows"),
        (
            _set("action.0", 0),
            r"\.action: keep for expired \(an image is kept exactly when its reason keeps it\)",
        ),
        (_set("reason.2", 8), r"\.action: keep for expired"),
        (_kept_first, r"\.action: a deleted or archived image after a kept one"),
        (_set("sources", [[0], [1]]), r"\.sources: 2 entries for 1 images kept in use"),
        (_set("evidence", []), r"\.evidence: 0 entries for 1 kept images"),
        (_set("evidence.0", ["newest", 1, 1]), r"\.evidence\[0\]: \['newest', 1, 1\] is no known"),
    ],
)
def test_what_the_schema_cannot_say_is_refused_in_one_line_naming_the_field(
    edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    document = hand_written()
    edit(document)
    with pytest.raises(
        ConfigError, match=rf"^p\.json\.gz::\$\.columns\[0\]{message}.*: the plan was edited"
    ) as e:
        planfile.loads(_rehash(document), source="p.json.gz")
    assert "\n" not in str(e.value)


def test_a_child_kept_for_its_index_names_the_row_of_its_parent() -> None:
    document = copy.deepcopy(hand_written())
    columns = document["columns"][0]
    columns["action"][1], columns["reason"][1], columns["parent"][1] = 0, 1, 2  # part_of_kept_image of LIVE
    assert columns["action"] == [1, 0, 0]  # the deleted row still comes before the kept ones
    columns["evidence"].insert(0, ["part_of", "listed"])
    summary = document["summary"]
    summary["repositories"][0].update(
        deleted=1, kept={"in_use": 1, "part_of_kept_image": 1}, bytes_reclaimed=100
    )
    summary.update(
        images_deleted=1,
        images_kept=2,
        kept_by_reason={"in_use": 1, "part_of_kept_image": 1},
        bytes_reclaimed=100,
    )
    loaded = planfile.loads(_rehash(document))
    child = next(k for k in loaded.kept if k.digest == CHILD)
    assert (child.reason, child.parent) == (Reason.PART_OF_KEPT_IMAGE, LIVE)


def test_the_content_hash_is_the_documented_recipe_for_the_columns_layout_too() -> None:
    text = planfile.dumps(planfile.loads(_rehash(hand_written())), columns=True)
    document = json.loads(text)
    claimed = document.pop("content_sha256")
    recipe = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(recipe.encode("utf-8")).hexdigest() == claimed == planfile.loads(text).sha256


_hex = st.text("0123456789abcdefABCDEF", min_size=64, max_size=64)
_odd_digests = st.text("0123456789abcdef :sha256", max_size=75) | _hex  # no prefix, spaces, lengths


@properties
@given(st.lists(_hex.map("sha256:".__add__) | _odd_digests, max_size=8))
def test_a_repositorys_digests_are_converted_at_once_as_each_one_alone(digests: list[str]) -> None:
    try:
        expected: str | type[ValueError] = "".join(map(digest_base64, digests))
    except ValueError:
        expected = ValueError
    try:
        assert digests_base64(digests) == expected
    except ValueError:
        assert expected is ValueError
