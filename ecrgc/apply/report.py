"""The apply report: JSON lines — a start line, one line per Outcome, a summary line — the audit trail.

Each line is a compact JSON object with sorted keys and a `record` discriminator:

    {"dry_run":false,"format_version":"2.0","plan_sha256":"…","record":"start","started_at":"…Z"}
    {"code":"","detail":"","imageDigest":"sha256:…","keptBy":null,"reason":null,"record":"outcome",
     "repository":"web","status":"deleted"}
    {"counts":{"already_absent":0,…},"dry_run":false,"finished_at":"…Z","format_version":"2.0",
     "plan_sha256":"…","record":"summary","started_at":"…Z"}

`imageDigest` is null for a repository outcome (Outcome.digest == ""); `reason` and `keptBy` are null when
there is none. Apply streams the start line, then each registry call's outcome lines as the call returns
(flushed before the next call), and writes the summary line last: a report without a summary line is an
apply that did not finish (killed), and reads as an incomplete report (`ApplyReport.complete` is False),
its last line possibly cut short. Format 1.x reports (no start line, reasons as free strings) are refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ecrgc.errors import ConfigError
from ecrgc.model import Outcome, OutcomeReason, OutcomeStatus, Reason
from ecrgc.planfile import format_timestamp

REPORT_FORMAT_VERSION = "2.0"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyReport:
    """What one apply (or dry run) of one plan did, image by image."""

    plan_sha256: str
    started_at: datetime
    finished_at: datetime | None
    """None: the apply did not finish (the report was read from a killed apply's streamed lines)."""
    dry_run: bool
    outcomes: tuple[Outcome, ...]

    @property
    def complete(self) -> bool:
        """False for the report of an apply that did not finish."""
        return self.finished_at is not None

    def counts(self) -> dict[OutcomeStatus, int]:
        """How many outcomes have each status (every status present, in declaration order)."""
        counts = dict.fromkeys(OutcomeStatus, 0)
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        return counts


def start_line(report: ApplyReport) -> str:
    """The opening line of `report` (with its newline): which plan, when, whether a dry run."""
    return _line(
        {
            "record": "start",
            "format_version": REPORT_FORMAT_VERSION,
            "plan_sha256": report.plan_sha256,
            "started_at": format_timestamp(report.started_at),
            "dry_run": report.dry_run,
        }
    )


def outcome_line(outcome: Outcome) -> str:
    """One outcome as a JSON line (with its newline), for streaming while apply runs."""
    return _line(
        {
            "record": "outcome",
            "repository": outcome.repository,
            "imageDigest": outcome.digest or None,
            "status": str(outcome.status),
            "reason": None if outcome.reason is None else str(outcome.reason),
            "keptBy": None if outcome.kept_by is None else str(outcome.kept_by),
            "code": outcome.code,
            "detail": outcome.detail,
        }
    )


def summary_line(report: ApplyReport) -> str:
    """The closing summary line of a finished `report` (with its newline)."""
    if report.finished_at is None:
        raise ValueError("an unfinished report has no summary line")
    return _line(
        {
            "record": "summary",
            "format_version": REPORT_FORMAT_VERSION,
            "plan_sha256": report.plan_sha256,
            "started_at": format_timestamp(report.started_at),
            "finished_at": format_timestamp(report.finished_at),
            "dry_run": report.dry_run,
            "counts": {str(status): count for status, count in report.counts().items()},
        }
    )


def dumps_report(report: ApplyReport) -> str:
    """The whole report: the start line, every outcome line in order, then (if finished) the summary."""
    lines = [start_line(report), *(outcome_line(o) for o in report.outcomes)]
    return "".join(lines) + (summary_line(report) if report.complete else "")


def loads_report(text: str, *, source: str = "report") -> ApplyReport:
    """Parse a report, complete or cut short by a kill; a broken line is a ConfigError naming `source`."""
    # split("\n"), not splitlines(): a detail may hold U+2028 or NEL, which JSON leaves unescaped.
    lines = text.split("\n")
    if lines and lines[-1].strip() and not _parses(lines[-1]):
        lines.pop()  # a kill cut the line being written: everything before it was flushed whole
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    records = [(n, _record(line, f"{source}:{n}")) for n, line in numbered]
    if not records or records[0][1]["record"] != "start":
        raise ConfigError(
            f"{source}:1: no start line: not an ecrgc {REPORT_FORMAT_VERSION.partition('.')[0]}.x apply "
            "report (reports of older ecrgc versions are not read)"
        )
    (first, start), *rest = records
    summary = rest.pop() if rest and rest[-1][1]["record"] == "summary" else None
    outcomes = tuple(_outcome(r, f"{source}:{n}") for n, r in rest)
    report = _report(start, summary[1] if summary else None, outcomes, f"{source}:{first}")
    if summary is not None:
        _check_counts(report, summary[1], f"{source}:{summary[0]}")
    return report


def load_report_file(path: str | os.PathLike[str]) -> ApplyReport:
    """Read and parse the report at `path` (see `loads_report`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the apply report: {exc}") from exc
    return loads_report(text, source=str(path))


class ReportFiles:
    """The apply report files: the start line and outcome lines stream in as apply goes, each flushed (a
    killed apply leaves a report with no summary line, which says it did not finish), then `finish`
    rewrites each file complete and in order."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = tuple(dict.fromkeys(paths))
        self._files: list[IO[str]] = []
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._files.append(path.open("w", encoding="utf-8"))

    def begin(self, report: ApplyReport) -> None:
        """Write the start line of `report` (its outcomes are not written: `write` streams them)."""
        self._append(start_line(report))

    def write(self, outcome: Outcome) -> None:
        """Append one outcome line to every file (flushed: it must survive a kill)."""
        self._append(outcome_line(outcome))

    def _append(self, line: str) -> None:
        for file in self._files:
            file.write(line)
            file.flush()

    def finish(self, report: ApplyReport) -> None:
        """Replace the streamed lines with the complete report."""
        self.close()
        text = dumps_report(report)
        for path in self.paths:
            partial = path.with_name(f".{path.name}.partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(path)

    def close(self) -> None:
        """Close the streams (what was written stays: the report of an apply that did not finish)."""
        for file in self._files:
            file.close()
        self._files = []

    def __enter__(self) -> ReportFiles:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _line(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _record(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc}); is this an ecrgc apply report?") from exc
    if not isinstance(record, dict) or record.get("record") not in ("start", "outcome", "summary"):
        raise ConfigError(f"{where}: not an ecrgc report record (record must be start, outcome or summary)")
    return record


def _outcome(record: Mapping[str, Any], where: str) -> Outcome:
    try:
        if record["record"] != "outcome":
            raise ValueError(f"a {record['record']} record among the outcomes")
        return Outcome(
            repository=_text(record, "repository"),
            digest=record["imageDigest"] or "",
            status=OutcomeStatus(record["status"]),
            reason=None if record["reason"] is None else OutcomeReason(record["reason"]),
            kept_by=None if record["keptBy"] is None else Reason(record["keptBy"]),
            code=_text(record, "code"),
            detail=_text(record, "detail"),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: not a valid outcome record: {exc}") from exc


def _report(
    start: Mapping[str, Any], summary: Mapping[str, Any] | None, outcomes: tuple[Outcome, ...], where: str
) -> ApplyReport:
    for record in (start, summary or start):
        major = str(record.get("format_version", "")).partition(".")[0]
        if major != REPORT_FORMAT_VERSION.partition(".")[0]:
            version = record.get("format_version")
            raise ConfigError(f"{where}: report format_version {version!r} is not supported")
    try:
        return ApplyReport(
            plan_sha256=_text(start, "plan_sha256"),
            started_at=_timestamp(start["started_at"]),
            finished_at=_timestamp(summary["finished_at"]) if summary else None,
            dry_run=bool(start["dry_run"]),
            outcomes=outcomes,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: not a valid start or summary record: {exc}") from exc


def _check_counts(report: ApplyReport, summary: Mapping[str, Any], where: str) -> None:
    if summary.get("counts") != {str(s): n for s, n in report.counts().items()}:
        raise ConfigError(f"{where}: the summary counts disagree with the outcome lines above them")
    if summary.get("plan_sha256") != report.plan_sha256:
        raise ConfigError(f"{where}: the summary names another plan than the start line")


def _timestamp(text: Any) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string")
    return value
