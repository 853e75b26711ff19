"""Compressed plan files (`*.json.gz`): the columns layout, gzip-compressed, under every loader check (a
`.json.gz` holding the records layout, as a person gzipping a `.json` plan makes it, loads too).

The compressed files here are made by the system `gzip` (a name and a time in the header, as a person
compressing a plan would make them) or by hand, not only by our writer.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from ecrgc import planfile, render
from ecrgc.commands.plans import run_list
from ecrgc.commands.validate import run_validate
from ecrgc.errors import ConfigError, PlanRefused
from tests.test_planfile import _rehash, small_plan


def _gzip_cli(text: str, path: Path) -> Path:
    """`text` compressed by the system gzip into `path` (its header names the file and its time)."""
    plain = path.with_suffix("")
    plain.write_text(text, encoding="utf-8")
    subprocess.run(["gzip", "-f", str(plain)], check=True)
    assert path.exists()
    return path


def test_a_compressed_plan_is_the_canonical_columns_text_in_deterministic_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "plan.json.gz", tmp_path / "b" / "plan.json.gz"
    sha256 = planfile.write_plan_file(small_plan(), first)
    planfile.write_plan_file(small_plan(), second)
    assert first.read_bytes() == second.read_bytes()
    unpacked = subprocess.run(["gzip", "-dc", str(first)], check=True, capture_output=True).stdout
    assert unpacked == planfile.dumps(small_plan(), columns=True).encode("utf-8")
    assert [p.name for p in first.parent.iterdir()] == ["plan.json.gz"]  # no scratch file left behind
    loaded = planfile.load_plan_file(first)
    assert loaded == small_plan()
    assert loaded.sha256 == sha256 == json.loads(unpacked)["content_sha256"]


def test_a_plan_compressed_by_the_gzip_tool_loads(tmp_path: Path) -> None:
    path = _gzip_cli(planfile.dumps(small_plan()), tmp_path / "plan.json.gz")
    assert path.read_bytes()[3] & 0x08  # FNAME: the header names the file, as ours never does
    assert planfile.load_plan_file(path) == small_plan()


def test_a_key_given_twice_inside_a_compressed_plan_is_refused(tmp_path: Path) -> None:
    text = planfile.dumps(small_plan())
    doubled = text.replace('"region": "eu-west-1"', '"region": "eu-west-1", "region": "us-east-1"', 1)
    assert doubled != text
    path = _gzip_cli(doubled, tmp_path / "plan.json.gz")
    with pytest.raises(PlanRefused, match=r"plan\.json\.gz: the key 'region' appears twice in one object"):
        planfile.load_plan_file(path)


def test_an_edited_compressed_plan_is_refused_rehashed_or_not(tmp_path: Path) -> None:
    document = json.loads(planfile.dumps(small_plan()))
    document["target"]["account_id"] = "210987654321"
    path = _gzip_cli(json.dumps(document), tmp_path / "plan.json.gz")
    with pytest.raises(PlanRefused, match="content hash mismatch"):
        planfile.load_plan_file(path)
    # Re-hashed, an edit of an embedded policy is still caught by its own hash.
    document["policies"][0]["document"]["name"] = "loosened"
    path = _gzip_cli(_rehash(document), tmp_path / "plan.json.gz")
    with pytest.raises(PlanRefused, match=r"\$\.policies\[0\]\.sha256: .* is not the hash of the policy"):
        planfile.load_plan_file(path)


def test_a_compressed_plan_is_schema_checked(tmp_path: Path) -> None:
    document = json.loads(planfile.dumps(small_plan()))
    document["actions"][0]["sizeBytes"] = -1
    path = _gzip_cli(_rehash(document), tmp_path / "plan.json.gz")
    with pytest.raises(ConfigError, match=r"not a valid plan file \(1 errors\)") as raised:
        planfile.load_plan_file(path)
    assert raised.value.errors == (f"{path}::$.actions[0].sizeBytes: -1 is less than the minimum of 0",)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda packed: packed[: len(packed) // 2], "Compressed file ended before the end-of-stream"),
        (lambda packed: packed[:-8] + bytes(8), "CRC check failed"),
        (lambda packed: b"not gzip at all", "Not a gzipped file"),
    ],
    ids=["truncated", "bad-crc", "not-gzip"],
)
def test_a_broken_gzip_stream_is_a_one_line_error(tmp_path: Path, damage: object, message: str) -> None:
    path = tmp_path / "plan.json.gz"
    planfile.write_plan_file(small_plan(), path)
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(ConfigError, match=rf"^{path}: cannot read the plan file: .*{message}"):
        planfile.load_plan_file(path)


def test_a_damaged_deflate_stream_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.json.gz"
    planfile.write_plan_file(small_plan(), path)
    packed = bytearray(path.read_bytes())
    for n in range(20, len(packed) - 8, 3):  # the compressed blocks, not the header or the CRC
        packed[n] ^= 0xFF
    path.write_bytes(packed)
    with pytest.raises(ConfigError, match=rf"^{path}: cannot read the plan file: .+; re-run ecrgc plan$"):
        planfile.load_plan_file(path)


def test_a_gzip_bomb_is_refused_before_it_fills_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planfile, "MAX_DECOMPRESSED_BYTES", 4 * 2**20)
    path = tmp_path / "plan.json.gz"
    with gzip.open(path, "wb") as bomb:
        bomb.write(b"{" + b" " * (5 * 2**20))
    assert path.stat().st_size < 64 * 2**10
    with pytest.raises(ConfigError, match=rf"^{path}: decompresses to more than 4,194,304 bytes"):
        planfile.load_plan_file(path)


def test_validate_and_the_plans_listing_read_compressed_plans(tmp_path: Path) -> None:
    planfile.write_plan_file(small_plan(), tmp_path / "a.json.gz")
    planfile.write_plan_file(small_plan(), tmp_path / "b.json")
    assert run_validate([tmp_path]).errors == ()
    assert sorted(entry.path.name for entry in run_list(tmp_path)) == ["a.json.gz", "b.json"]
    (tmp_path / "c.json.gz").write_bytes(b"broken")
    assert [line.split(":")[0] for line in run_validate([tmp_path]).errors] == [str(tmp_path / "c.json.gz")]


def test_views_of_a_loaded_plan_use_the_hash_it_verified() -> None:
    loaded = replace(small_plan(), sha256="f" * 64)  # a hash no computation would give: proves none ran
    assert "plan sha256 ffffffffffff" in render.plan_text(loaded)
    assert json.loads(render.plan_json(loaded))["content_sha256"] == "f" * 64
