"""The machine-readable outputs match their JSON Schemas in schemas/: the installed CLI's real outputs
against the sandbox, the golden files, and hand-written documents a consumer must not accept."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ecrgc.model import InputKind, OutcomeReason, OutcomeStatus, Reason
from ecrgc.render import facts
from ecrgc.sandbox import Sandbox
from ecrgc.schemafiles import load_schema
from tests.apply.world import build_world, make_plan, write_policy
from tests.test_planfile import GOLDEN

ECRGC = Path(sys.executable).parent / "ecrgc"
SUMMARY = jsonschema.Draft202012Validator(load_schema("plan-summary.schema.json"))
REPORT = jsonschema.Draft202012Validator(load_schema("apply-report.schema.json"))


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def errors(validator: jsonschema.Draft202012Validator, document: object) -> list[str]:
    return [e.message for e in validator.iter_errors(document)]


def ecrgc(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ECRGC, *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=300)


def test_the_schemas_are_valid_draft_2020_12() -> None:
    for validator in (SUMMARY, REPORT):
        jsonschema.Draft202012Validator.check_schema(validator.schema)


def test_the_schemas_name_every_value_of_the_enums_and_every_warning_code() -> None:
    outcome = REPORT.schema["$defs"]["outcome"]["properties"]
    assert outcome["status"]["enum"] == [str(s) for s in OutcomeStatus]
    assert outcome["reason"]["oneOf"][0]["enum"] == [str(r) for r in OutcomeReason]
    assert outcome["keptBy"]["oneOf"][0]["enum"] == [str(r) for r in Reason]
    assert list(REPORT.schema["$defs"]["summary"]["properties"]["counts"]["properties"]) == [
        str(s) for s in OutcomeStatus
    ]
    definitions = SUMMARY.schema["$defs"]
    assert definitions["input"]["properties"]["kind"]["enum"] == [str(k) for k in InputKind]
    kept = SUMMARY.schema["properties"]["repositories"]["items"]["properties"]["kept"]
    assert list(kept["properties"]) == [str(r) for r in Reason if r.keeps]
    codes = [
        ref["$ref"].rpartition("/")[2] for ref in SUMMARY.schema["properties"]["warnings"]["items"]["oneOf"]
    ]
    assert codes == [facts.alert_code(kind) for kind in facts.AlertKind]
    assert all(definitions[code]["properties"]["code"]["const"] == code for code in codes)


@pytest.mark.parametrize("name", ["empty", "small"])
def test_the_golden_summaries_match_the_schema(name: str) -> None:
    document = json.loads((GOLDEN / f"plan-{name}.summary.json").read_text(encoding="utf-8"))
    assert errors(SUMMARY, document) == []


def test_the_golden_report_lines_match_the_schema() -> None:
    records = lines((GOLDEN / "report-small.jsonl").read_text(encoding="utf-8"))
    assert {r["record"] for r in records} == {"start", "outcome", "summary"}
    assert [errors(REPORT, r) for r in records] == [[] for _ in records]


@pytest.mark.e2e
def test_the_installed_clis_outputs_match_the_schemas(ecr: Sandbox, tmp_path: Path) -> None:
    build_world(ecr, tmp_path)
    (tmp_path / "policies").mkdir()
    plan = make_plan(tmp_path, write_policy(tmp_path / "policies", image_list="../in-use.txt"))

    made, shown = (
        ecrgc(tmp_path, "plan", "policies", "--format", "json"),
        ecrgc(tmp_path, "show", str(plan), "--format", "json"),
    )
    dry = ecrgc(tmp_path, "apply", str(plan), "--dry-run", "--report", "dry.jsonl")
    applied = ecrgc(tmp_path, "apply", str(plan), "--auto-approve", "--report", "r.jsonl")
    again = ecrgc(tmp_path, "apply", str(plan), "--auto-approve", "--report", "again.jsonl")  # all absent now
    report = ecrgc(tmp_path, "show", "r.jsonl", "--format", "json")

    for run in (made, shown, dry, applied, again, report):
        assert run.returncode == 0, run.stderr
    summaries = [json.loads(made.stdout), json.loads(shown.stdout)]
    assert all(s["warnings"] for s in summaries)  # the release tag v1 and app/web losing most of it
    assert [errors(SUMMARY, s) for s in summaries] == [[], []]
    records = [
        *lines((tmp_path / "dry.jsonl").read_text(encoding="utf-8")),
        *lines((tmp_path / "r.jsonl").read_text(encoding="utf-8")),
        *lines((tmp_path / "again.jsonl").read_text(encoding="utf-8")),
        *lines(report.stdout),
    ]
    statuses = {r["status"] for r in records if r["record"] == "outcome"}
    assert {"would_apply", "deleted", "already_absent"} <= statuses, again.stderr
    assert [errors(REPORT, r) for r in records] == [[] for _ in records]


def small_summary() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((GOLDEN / "plan-small.summary.json").read_text(encoding="utf-8"))
    return document


def golden_outcome() -> dict[str, Any]:
    records = lines((GOLDEN / "report-small.jsonl").read_text(encoding="utf-8"))
    return next(r for r in records if r["record"] == "outcome")


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda d: d.update(format_version="1.0"), id="format 1.x"),
        pytest.param(
            lambda d: d["warnings"].append("payments/api loses 3 of its 4 images"), id="prose warning"
        ),
        pytest.param(lambda d: d["warnings"][0].update(code="loses_everything"), id="unknown code"),
        pytest.param(lambda d: d["warnings"][1].pop("scanned"), id="warning missing a fact"),
        pytest.param(lambda d: d["warnings"][0].update(tags=[]), id="release warning without tags"),
        pytest.param(lambda d: d["warnings"][4]["input"].update(kind="ftp"), id="unknown input kind"),
        pytest.param(lambda d: d["totals"].update(bytes_reclaimed=-1), id="negative total"),
        pytest.param(lambda d: d["totals"].update(estimated_monthly_saving_usd=0.08), id="money as a float"),
        pytest.param(
            lambda d: d["repositories"][0]["kept"].update(expired=1), id="kept by a removing reason"
        ),
        pytest.param(lambda d: d.update(extra=True), id="unknown key"),
        pytest.param(lambda d: d.pop("content_sha256"), id="no hash"),
    ],
)
def test_a_spoilt_summary_is_refused(spoil: Any) -> None:
    document = small_summary()
    assert errors(SUMMARY, document) == []
    spoil(document)
    assert errors(SUMMARY, document)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param({**golden_outcome(), "status": "gone"}, id="unknown status"),
        pytest.param({**golden_outcome(), "reason": "because"}, id="unknown reason"),
        pytest.param({**golden_outcome(), "imageDigest": "latest"}, id="a tag for a digest"),
        pytest.param({**golden_outcome(), "record": "result"}, id="unknown record"),
        pytest.param({k: v for k, v in golden_outcome().items() if k != "keptBy"}, id="missing keptBy"),
        pytest.param(
            {
                "record": "start",
                "format_version": "1.0",
                "plan_sha256": "3" * 64,
                "started_at": "2026-01-16T12:00:00Z",
                "dry_run": False,
            },
            id="a 1.x start line",
        ),
        pytest.param(
            {
                "record": "summary",
                "format_version": "2.0",
                "plan_sha256": "3" * 64,
                "started_at": "2026-01-16T12:00:00Z",
                "finished_at": "2026-01-16 12:01",
                "dry_run": False,
                "counts": {str(s): 0 for s in OutcomeStatus},
            },
            id="a timestamp without its zone",
        ),
    ],
)
def test_a_spoilt_report_line_is_refused(line: dict[str, Any]) -> None:
    assert errors(REPORT, golden_outcome()) == []
    assert errors(REPORT, line)
