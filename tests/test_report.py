"""The apply report: JSON lines that round-trip, stream, and refuse to pass for complete when they are not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecrgc.apply.report import (
    ApplyReport,
    dumps_report,
    load_report_file,
    loads_report,
    outcome_line,
    start_line,
    summary_line,
)
from ecrgc.errors import ConfigError
from ecrgc.model import Outcome, OutcomeReason, OutcomeStatus, Reason
from tests.golden_files import assert_golden
from tests.test_planfile import GOLDEN, T0, digest

PLAN_SHA = "3f" * 32


def report(*outcomes: Outcome, dry_run: bool = False) -> ApplyReport:
    return ApplyReport(
        plan_sha256=PLAN_SHA,
        started_at=T0 + timedelta(days=1),
        finished_at=T0 + timedelta(days=1, seconds=42),
        dry_run=dry_run,
        outcomes=outcomes,
    )


def small_report() -> ApplyReport:
    """One of each status a real apply produces, a repository deletion among them."""
    return report(
        Outcome(repository="payments/api", digest=digest("api-index"), status=OutcomeStatus.DELETED),
        Outcome(repository="payments/api", digest=digest("api-amd64"), status=OutcomeStatus.DELETED),
        Outcome(repository="payments/api", digest=digest("api-arm64"), status=OutcomeStatus.ALREADY_ABSENT),
        Outcome(
            repository="payments/api",
            digest=digest("api-pr"),
            status=OutcomeStatus.SKIPPED,
            reason=OutcomeReason.TAGS_CHANGED,
            detail="tag v2.5.0 was pushed onto it after the plan",
        ),
        Outcome(repository="web/frontend", digest=digest("web-0"), status=OutcomeStatus.ARCHIVED),
        Outcome(
            repository="web/frontend",
            digest=digest("web-1"),
            status=OutcomeStatus.FAILED,
            reason=OutcomeReason.REGISTRY_ERROR,
            code="KmsException",
            detail="the registry's KMS key is disabled",
        ),
        Outcome(repository="tools/legacy-cron", digest=digest("cron-0"), status=OutcomeStatus.DELETED),
        Outcome(
            repository="tools/legacy-cron",
            digest="",
            status=OutcomeStatus.SKIPPED,
            reason=OutcomeReason.NOT_EMPTY,
            code="RepositoryNotEmptyException",
            detail="an image was pushed after the plan",
        ),
    )


def dry_run_report() -> ApplyReport:
    return report(
        Outcome(repository="payments/api", digest=digest("api-index"), status=OutcomeStatus.WOULD_APPLY),
        Outcome(
            repository="payments/api",
            digest=digest("api-pr"),
            status=OutcomeStatus.SKIPPED,
            reason=OutcomeReason.KEPT,
            kept_by=Reason.IN_USE,
            detail="prd · payments · Deployment/api",
        ),
        dry_run=True,
    )


moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
outcomes = st.builds(
    Outcome,
    repository=st.text(min_size=1, max_size=10),
    digest=st.sampled_from(["", digest("a"), digest("b")]),
    status=st.sampled_from(OutcomeStatus),
    reason=st.none() | st.sampled_from(OutcomeReason),
    kept_by=st.none() | st.sampled_from(Reason),
    code=st.text(max_size=10),
    detail=st.text(max_size=20),
)
reports = st.builds(
    ApplyReport,
    plan_sha256=st.sampled_from([PLAN_SHA, "00" * 32]),
    started_at=moments,
    finished_at=st.none() | moments,
    dry_run=st.booleans(),
    outcomes=st.lists(outcomes, max_size=8).map(tuple),
)


@settings(deadline=None)  # a shared machine: per-example time limits would measure the neighbours
@given(reports)
def test_reports_round_trip_both_ways(r: ApplyReport) -> None:
    text = dumps_report(r)
    assert loads_report(text) == r
    assert dumps_report(loads_report(text)) == text


def test_the_report_is_the_streamed_lines_then_the_summary() -> None:
    r = small_report()
    lines = [start_line(r), *(outcome_line(o) for o in r.outcomes)]
    assert dumps_report(r) == "".join(lines) + summary_line(r)
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in map(outcome_line, r.outcomes))


def test_small_report_is_the_golden_one() -> None:
    assert_golden(GOLDEN / "report-small.jsonl", dumps_report(small_report()))


def test_a_repository_outcome_has_a_null_digest_and_the_summary_counts_every_status() -> None:
    lines = [json.loads(line) for line in dumps_report(small_report()).splitlines()]
    assert lines[-2]["imageDigest"] is None
    assert lines[-1]["counts"] == {
        "deleted": 3,
        "archived": 1,
        "already_absent": 1,
        "skipped": 2,
        "failed": 1,
        "would_apply": 0,
    }


def test_a_report_without_its_summary_is_an_interrupted_apply_read_as_incomplete() -> None:
    full = small_report()
    streamed = start_line(full) + "".join(outcome_line(o) for o in full.outcomes)

    read = loads_report(streamed, source="r.jsonl")

    assert not read.complete
    assert read.outcomes == full.outcomes
    assert (read.plan_sha256, read.started_at) == (full.plan_sha256, full.started_at)


def test_a_last_line_cut_short_by_a_kill_is_dropped_and_the_rest_read() -> None:
    full = small_report()
    streamed = start_line(full) + "".join(outcome_line(o) for o in full.outcomes)

    read = loads_report(streamed + outcome_line(full.outcomes[0])[:30], source="r.jsonl")

    assert read.outcomes == full.outcomes
    assert not read.complete


def test_a_report_without_its_start_line_is_refused() -> None:
    text = "".join(outcome_line(o) for o in small_report().outcomes)
    with pytest.raises(ConfigError, match=r"^r\.jsonl:1: no start line: not an ecrgc 2\.x apply report"):
        loads_report(text, source="r.jsonl")


def test_counts_that_disagree_with_the_lines_are_an_error() -> None:
    lines = dumps_report(small_report()).splitlines()
    del lines[1]
    with pytest.raises(ConfigError, match=r"^r\.jsonl:9: the summary counts disagree"):
        loads_report("\n".join(lines), source="r.jsonl")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{", r"^r:2: not valid JSON"),
        ('{"record": "nope"}', r"^r:2: not an ecrgc report record"),
        (
            '{"record": "outcome", "repository": "a", "imageDigest": null, "status": "gone"}',
            r"^r:2: not a valid outcome",
        ),
        (start_line(report()).strip(), r"^r:2: not a valid outcome record: .*a start record among"),
    ],
)
def test_bad_lines_are_errors_naming_the_line(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        loads_report(start_line(report()) + line + "\n" + summary_line(report()), source="r")


def test_another_major_format_is_refused() -> None:
    start = json.loads(start_line(report()))
    start["format_version"] = "3.0"
    with pytest.raises(ConfigError, match=r"report format_version '3\.0' is not supported"):
        loads_report(json.dumps(start) + "\n" + summary_line(report()))


def test_report_files_are_read_with_their_name_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "apply.jsonl"
    path.write_text(dumps_report(small_report()), encoding="utf-8")
    assert load_report_file(path) == small_report()
    with pytest.raises(ConfigError, match=r"missing\.jsonl: cannot read the apply report"):
        load_report_file(tmp_path / "missing.jsonl")
