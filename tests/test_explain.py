"""`ecrgc explain PLAN REF` and `ecrgc show PLAN --images`: the installed CLI on a plan `ecrgc plan` wrote
against the sandbox, and on a plan file written by hand (not by ecrgc's writer)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest

from ecrgc.model import Action, HeldBy, Newest, PlannedAction, Reason, RecordedDecision, UsedBy
from ecrgc.render import images
from ecrgc.render.images import why
from ecrgc.sandbox import Sandbox
from ecrgc.schemafiles import load_schema
from tests import test_planfile
from tests.apply.tamper import sha256_of, write
from tests.test_decide import policy
from tests.test_plan_e2e import HOST, run_ecrgc

EXPLAIN = jsonschema.Draft202012Validator(
    load_schema("explain.schema.json"), format_checker=jsonschema.FormatChecker()
)
POLICY = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {name: svc}
spec:
  region: ap-northeast-1
  repositories:
    include: ['^svc/']
  rules:
    holdTags: ['^release-']
    keepLatest: 2
    olderThan: 14d
  protect:
    imageLists: ['../IMG_LIST/*_IMG_LIST.txt']
"""


@dataclass
class World:
    newest: str
    second: str
    expired: str
    used: str
    held: str
    index: str
    children: list[str]
    shared: str


def build_world(sandbox: Sandbox, workdir: Path) -> World:
    reg, now = sandbox.registry, datetime.fromtimestamp(sandbox.clock.now(), UTC)

    def push(days: int, *tags: str, **fields: Any) -> str:
        return reg.push_image("svc/api", tags=list(tags), pushed_at=now - timedelta(days=days), **fields)

    index = push(50, "v2", platforms=["linux/amd64", "linux/arm64"])
    shared = push(45, "shared", salt="shared")
    assert (
        reg.push_image("svc/web", tags=["shared"], pushed_at=now - timedelta(days=45), salt="shared")
        == shared
    )
    world = World(
        newest=push(20, "build-2"),
        second=push(21, "build-1"),
        expired=push(30, "build-0"),
        used=push(60, "build-u"),
        held=push(40, "release-7"),
        index=index,
        children=list(reg.get("svc/api").images[index].children),
        shared=shared,
    )
    (workdir / "IMG_LIST").mkdir()
    (workdir / "IMG_LIST" / "PRD_IMG_LIST.txt").write_text(f"{HOST}/svc/api:build-u\n")
    (workdir / "policies").mkdir()
    (workdir / "policies" / "svc.yaml").write_text(POLICY)
    return world


@pytest.fixture
def planned(sandbox: Sandbox, tmp_path: Path) -> World:
    world = build_world(sandbox, tmp_path)
    made = run_ecrgc(sandbox, tmp_path, "plan", "policies", "--out", "plans/p.json")
    assert made.returncode == 0, made.stderr
    return world


def _explain(sandbox: Sandbox, workdir: Path, *args: str) -> str:
    result = run_ecrgc(sandbox, workdir, "explain", "plans/p.json", *args)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return result.stdout


@pytest.mark.e2e
def test_explain_says_why_each_kind_of_image_is_kept_or_removed(
    sandbox: Sandbox, tmp_path: Path, planned: World
) -> None:
    used = _explain(sandbox, tmp_path, "svc/api:build-u")
    assert used.startswith(f"svc/api@{planned.used}\n  decision  keep (in use)\n")
    assert "  why       in use by IMG_LIST/PRD_IMG_LIST.txt:1\n" in used
    assert "  policy    svc (keepLatest 2, olderThan 14d, holdTags '^release-', untagged true" in used
    held = _explain(sandbox, tmp_path, "svc/api:release-7")
    assert (
        "  decision  keep (held tag)\n  why       tag 'release-7' matches hold pattern '^release-'\n" in held
    )
    second = _explain(sandbox, tmp_path, f"svc/api@{planned.second}")
    assert "  decision  keep (newest)\n  why       #2 of 2 newest (keepLatest 2)\n" in second
    expired = _explain(sandbox, tmp_path, "svc/api:build-0")
    assert "  decision  delete (expired)\n  why       pushed 30d ago, never pulled\n" in expired
    assert "decision  delete (expired)" in _explain(sandbox, tmp_path, planned.index[:19])  # a short digest
    child = _explain(sandbox, tmp_path, planned.children[0])
    assert "  decision  delete (goes with its parent)\n" in child
    assert f"  parent    {planned.index}\n" in child
    # The registry's own spelling of a reference names the same image.
    assert _explain(sandbox, tmp_path, f"{HOST}/svc/api:build-0").startswith(f"svc/api@{planned.expired}\n")


@pytest.mark.e2e
def test_a_bare_digest_shows_the_image_in_every_repository(
    sandbox: Sandbox, tmp_path: Path, planned: World
) -> None:
    text = _explain(sandbox, tmp_path, planned.shared)
    assert [line for line in text.splitlines() if not line.startswith(" ")] == [
        f"svc/api@{planned.shared}",
        "",
        f"svc/web@{planned.shared}",
    ]
    document = json.loads(_explain(sandbox, tmp_path, planned.shared, "--format", "json"))
    EXPLAIN.validate(document)
    assert [i["repository"] for i in document["images"]] == ["svc/api", "svc/web"]
    assert (document["kind"], document["reference"]) == ("ecrgc.explain", planned.shared)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("nope/x:1", "no repository 'nope/x' in the plan (its repositories: svc/api, svc/web)"),
        ("svc/api:nope", "no image svc/api:nope in the plan"),
        ("sha256:000000000000", "no image sha256:000000000000 in the plan"),
        ("svc/api", "name a tag or a digest"),
        ("svc/api@sha256:12", "is no sha256 digest"),
        ("Bad Name:1", "give REPO:TAG, REPO@DIGEST or DIGEST"),
        ("210987654321.dkr.ecr.ap-northeast-1.amazonaws.com/svc/api:v2", "names the registry of account"),
    ],
)
def test_a_reference_naming_no_image_is_one_line_and_exit_1(
    sandbox: Sandbox, tmp_path: Path, planned: World, reference: str, message: str
) -> None:
    result = run_ecrgc(sandbox, tmp_path, "explain", "plans/p.json", reference)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr


@pytest.mark.e2e
def test_show_images_lists_every_image_by_repository_then_push_time(
    sandbox: Sandbox, tmp_path: Path, planned: World
) -> None:
    result = run_ecrgc(sandbox, tmp_path, "show", "plans/p.json", "--images")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    lines = result.stdout.splitlines()
    # svc/api by push time (the index and its children at the same moment, by digest), then svc/web
    short = [d[:19] for d in (planned.used, *sorted([planned.index, *planned.children]), planned.shared)]
    short += [d[:19] for d in (planned.held, planned.expired, planned.second, planned.newest, planned.shared)]
    assert [line.split()[2] for line in lines] == short
    assert lines[0].startswith("keep svc/api sha256:")
    assert lines[0].endswith(" in use: in use by IMG_LIST/PRD_IMG_LIST.txt:1")
    actions = ["keep", *["delete"] * 4, "keep", "delete", "keep", "keep", "keep"]  # svc/web: its newest
    assert [line.split()[0] for line in lines] == actions
    as_json = run_ecrgc(sandbox, tmp_path, "show", "plans/p.json", "--images", "--format", "json")
    document = json.loads(as_json.stdout)
    EXPLAIN.validate(document)
    assert (document["kind"], len(document["images"])) == ("ecrgc.images", len(lines))
    # The compressed columns layout records the same decisions (the index's pull time moved: planning reads
    # its manifest with BatchGetImage, which the registry counts as a pull).
    made = run_ecrgc(sandbox, tmp_path, "plan", "policies", "--out", "plans/p.json.gz")
    assert made.returncode == 0, made.stderr
    again = run_ecrgc(sandbox, tmp_path, "show", "plans/p.json.gz", "--images")
    assert again.returncode == 0, again.stderr
    assert [line.split()[:3] for line in again.stdout.splitlines()] == [line.split()[:3] for line in lines]
    # explain reads only the named repository's columns there; a bare digest still finds it in each one.
    for ref in (f"svc/api@{planned.held}", "svc/web:shared", planned.shared[:19]):
        plain = run_ecrgc(sandbox, tmp_path, "explain", "plans/p.json", ref)
        columns = run_ecrgc(sandbox, tmp_path, "explain", "plans/p.json.gz", ref)
        assert plain.returncode == columns.returncode == 0, (ref, plain.stderr, columns.stderr)
        assert _decision_lines(columns.stdout) == _decision_lines(plain.stdout), ref
        assert _decision_lines(plain.stdout), ref


@pytest.mark.e2e
def test_markdown_is_refused_for_these_views(sandbox: Sandbox, tmp_path: Path, planned: World) -> None:
    result = run_ecrgc(sandbox, tmp_path, "show", "plans/p.json", "--images", "--format", "markdown")
    assert (result.returncode, result.stdout) == (1, "")
    assert "this view is text or json" in result.stderr


# --- a plan file written by hand, as a person (or another tool) would write one -------------------------

DOCUMENT = {
    "apiVersion": "ecrgc/v1",
    "kind": "Policy",
    "metadata": {"name": "web"},
    "spec": {
        "region": "eu-west-1",
        "repositories": {"include": ["^web$"]},
        "rules": {"keepLatest": 1, "holdTags": ["^prod"]},
    },
}
A, B, C = ("sha256:" + c * 64 for c in "abc")


def _record(digest: str, tags: list[str], pushed: str, reason: str, **fields: Any) -> dict[str, Any]:
    return {
        "repository": "web",
        "imageDigest": digest,
        "imageTags": tags,
        "pushedAt": pushed,
        "lastPulledAt": None,
        "sizeBytes": 1000,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "parent": None,
        "policy": "web",
        "reason": reason,
        **fields,
    }


def hand_written_plan(path: Path) -> Path:
    return write(
        path,
        {
            "format_version": "2.0",
            "ecrgc_version": "0.0.1",
            "created_at": "2026-03-01T00:00:00Z",
            "expires_at": "2026-03-08T00:00:00Z",
            "target": {"account_id": "123456789012", "region": "eu-west-1"},
            "policies": [{"name": "web", "sha256": sha256_of(DOCUMENT), "document": DOCUMENT}],
            "inputs": [],
            "actions": [_record(A, ["old"], "2025-01-01T00:00:00Z", "expired", action="delete")],
            "kept": [
                _record(
                    B,
                    ["prod-1"],
                    "2025-06-01T00:00:00Z",
                    "held_tag",
                    sources=[],
                    evidence=["held_by", "^prod", ["prod-1"], False],
                ),
                _record(
                    C,
                    ["v3"],
                    "2026-02-01T00:00:00Z",
                    "in_use",
                    sources=["prd · web · Pod/web-1"],
                    evidence=["used_by"],
                ),
            ],
            "repository_deletions": [],
            "summary": {
                "images_scanned": 3,
                "images_kept": 2,
                "images_deleted": 0,
                "images_archived": 0,
                "bytes_reclaimed": 1000,
                "estimated_monthly_saving_usd": "0.00",
                "kept_by_reason": {"held_tag": 1, "in_use": 1},
                "repositories": [
                    {
                        "repository": "web",
                        "policy": "web",
                        "scanned": 3,
                        "kept": {"held_tag": 1, "in_use": 1},
                        "deleted": 0,
                        "archived": 0,
                        "bytes_reclaimed": 1000,
                        "delete_repository": False,
                    }
                ],
            },
        },
    )


@pytest.mark.e2e
def test_a_hand_written_plan_is_explained_and_listed(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    hand_written_plan(tmp_path / "plans" / "p.json")

    assert _explain(sandbox, tmp_path, "web:v3") == (
        f"web@{C}\n"
        "  decision  keep (in use)\n"
        "  why       in use by prd · web · Pod/web-1\n"
        "  policy    web (keepLatest 1, holdTags '^prod', untagged true, action delete)\n"
        "  tags      v3\n"
        "  pushed    2026-02-01 00:00:00 UTC\n"
        "  pulled    never\n"
        "  size      1,000 B\n"
    )
    listed = run_ecrgc(sandbox, tmp_path, "show", "plans/p.json", "--images")
    assert (listed.returncode, listed.stderr) == (0, ""), listed.stderr
    assert listed.stdout == (
        "delete web sha256:aaaaaaaaaaaa old pushed 2025-01-01 pulled never 1,000 B expired:"
        " pushed 424d ago, never pulled\n"
        "keep web sha256:bbbbbbbbbbbb prod-1 pushed 2025-06-01 pulled never 1,000 B held tag:"
        " tag 'prod-1' matches hold pattern '^prod'\n"
        "keep web sha256:cccccccccccc v3 pushed 2026-02-01 pulled never 1,000 B"
        " in use: in use by prd · web · Pod/web-1\n"
    )


def test_the_words_come_from_the_recorded_evidence() -> None:
    """When the plan records evidence, the views word it: rank, pattern, sources."""
    image = PlannedAction(
        repository="web",
        digest=A,
        tags=("v3",),
        pushed_at=datetime(2026, 1, 1, tzinfo=UTC),
        last_pulled_at=None,
        size_bytes=0,
        media_type="",
        action=Action.KEEP,
        reason=Reason.NEWEST_N,
        policy="web",
    )
    pol = policy(keep_latest=3)
    assert why(RecordedDecision(image=image, policy=pol, evidence=Newest(2, 3, 3))) == (
        "#2 of 3 newest (keepLatest 3)"
    )
    held = RecordedDecision(image=image, policy=pol, evidence=HeldBy("^prod", ("prod-1",), False))
    assert why(held) == "tag 'prod-1' matches hold pattern '^prod'"
    used = RecordedDecision(image=image, policy=pol, sources=("a", "b"), evidence=UsedBy(("a", "b")))
    assert why(used) == "in use by a, b"
    assert why(RecordedDecision(image=image, policy=None)) == "policy 'web' is not among the plan's policies"


@pytest.mark.parametrize("count", [0, 1, 3])
def test_show_images_json_in_pieces_is_the_whole_documents_json(count: int) -> None:
    """show --images prints its JSON image by image: the bytes of the document dumped whole."""
    plan = test_planfile.small_plan()
    sizes = [1_000, 1e16, 2.0]  # a hand-edited plan's size may be a float: json writes it its way
    decided = [
        RecordedDecision(
            image=msgspec.structs.replace(
                image, repository=f'we"b/{n}', tags=(*image.tags, "é\\"), size_bytes=sizes[n % 3]
            ),
            policy=policy(keep_latest=3),
        )
        for n, image in enumerate([*plan.actions, *plan.kept][:count])
    ]
    pieces = list(images.images_json(plan, 'plans/"images": [].json', decided))
    assert len(pieces) == count + 2
    whole = images._json(plan, 'plans/"images": [].json', decided, reference=None)
    assert "".join(pieces) == whole
    assert len(json.loads(whole)["images"]) == count


def test_the_schema_is_valid_and_tells_the_two_kinds_apart() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema("explain.schema.json"))
    head = {
        "format_version": "1.0",
        "plan": "p.json",
        "content_sha256": "0" * 64,
        "account_id": "123456789012",
        "region": "eu-west-1",
        "created_at": "2026-03-01T00:00:00Z",
        "images": [],
    }
    assert EXPLAIN.is_valid({**head, "kind": "ecrgc.images"})
    assert not EXPLAIN.is_valid({**head, "kind": "ecrgc.images", "reference": "web:v1"})
    assert not EXPLAIN.is_valid({**head, "kind": "ecrgc.explain", "reference": "web:v1"})  # names no image


def _decision_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "@sha256:" in line or line.strip().startswith("decision")]
