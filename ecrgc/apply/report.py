"""The apply report: JSON lines, one per Outcome, then one summary line — the audit trail of an apply.

Each line is a compact JSON object with sorted keys and a `record` discriminator:

    {"detail":"","imageDigest":"sha256:…","reason":"","record":"outcome","repository":"web","status":"deleted"}
    {"counts":{"already_absent":0,…},"dry_run":false,"finished_at":"…Z","format_version":"1.0",
     "plan_sha256":"…","record":"summary","started_at":"…Z"}

`imageDigest` is null for a repository outcome (Outcome.digest == ""). Apply can stream `outcome_line`s as
it goes and write `summary_line` last, so a report without a summary line is an apply that did not finish;
`ReportFiles` does both for the files apply writes.
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
from ecrgc.model import Outcome, OutcomeStatus
from ecrgc.planfile import format_timestamp

REPORT_FORMAT_VERSION = "1.0"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyReport:
    """What one apply (or dry run) of one plan did, image by image."""

    plan_sha256: str
    started_at: datetime
    finished_at: datetime
    dry_run: bool
    outcomes: tuple[Outcome, ...]

    def counts(self) -> dict[OutcomeStatus, int]:
        """How many outcomes have each status (every status present, in declaration order)."""
        counts = dict.fromkeys(OutcomeStatus, 0)
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        return counts


def outcome_line(outcome: Outcome) -> str:
    """One outcome as a JSON line (with its newline), for streaming while apply runs."""
    return _line(
        {
            "record": "outcome",
            "repository": outcome.repository,
            "imageDigest": outcome.digest or None,
            "status": str(outcome.status),
            "reason": outcome.reason,
            "detail": outcome.detail,
        }
    )


def summary_line(report: ApplyReport) -> str:
    """The closing summary line of `report` (with its newline)."""
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
    """The whole report: every outcome line in order, then the summary line."""
    return "".join(outcome_line(o) for o in report.outcomes) + summary_line(report)


def loads_report(text: str, *, source: str = "report") -> ApplyReport:
    """Parse a report; a missing or disagreeing summary line is a ConfigError naming `source`."""
    # split("\n"), not splitlines(): a detail may hold U+2028 or NEL, which JSON leaves unescaped.
    numbered = enumerate(text.split("\n"), 1)
    records = [_record(line, f"{source}:{number}") for number, line in numbered if line.strip()]
    if not records or records[-1].get("record") != "summary":
        raise ConfigError(
            f"{source}: no summary line: the apply did not finish; re-run ecrgc apply on the same plan"
        )
    *lines, summary = records
    outcomes = tuple(_outcome(r, f"{source}:{n}") for n, r in enumerate(lines, 1))
    return _report(summary, outcomes, f"{source}:{len(records)}")


def load_report_file(path: str | os.PathLike[str]) -> ApplyReport:
    """Read and parse the report at `path` (see `loads_report`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the apply report: {exc}") from exc
    return loads_report(text, source=str(path))


class ReportFiles:
    """The apply report files: outcome lines stream in as apply goes (a killed apply leaves a report with
    no summary line, which says it did not finish), then `finish` rewrites each file complete and in order.
    """

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = tuple(dict.fromkeys(paths))
        self._files: list[IO[str]] = []
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._files.append(path.open("w", encoding="utf-8"))

    def write(self, outcome: Outcome) -> None:
        """Append one outcome line to every file (flushed: it must survive a kill)."""
        line = outcome_line(outcome)
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


def _record(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc}); is this an ecrgc apply report?") from exc
    if not isinstance(record, dict) or record.get("record") not in ("outcome", "summary"):
        raise ConfigError(f"{where}: not an ecrgc report record (record must be outcome or summary)")
    return record


def _outcome(record: Mapping[str, Any], where: str) -> Outcome:
    try:
        return Outcome(
            repository=_text(record, "repository"),
            digest=record["imageDigest"] or "",
            status=OutcomeStatus(record["status"]),
            reason=_text(record, "reason"),
            detail=_text(record, "detail"),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: not a valid outcome record: {exc}") from exc


def _report(record: Mapping[str, Any], outcomes: tuple[Outcome, ...], where: str) -> ApplyReport:
    major = str(record.get("format_version", "")).partition(".")[0]
    if major != REPORT_FORMAT_VERSION.partition(".")[0]:
        raise ConfigError(f"{where}: report format_version {record.get('format_version')!r} is not supported")
    try:
        report = ApplyReport(
            plan_sha256=_text(record, "plan_sha256"),
            started_at=datetime.fromisoformat(record["started_at"]).astimezone(UTC),
            finished_at=datetime.fromisoformat(record["finished_at"]).astimezone(UTC),
            dry_run=bool(record["dry_run"]),
            outcomes=outcomes,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: not a valid summary record: {exc}") from exc
    if record.get("counts") != {str(s): n for s, n in report.counts().items()}:
        raise ConfigError(f"{where}: the summary counts disagree with the outcome lines above them")
    return report


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string")
    return value
