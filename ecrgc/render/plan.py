"""Plain views of a plan: the human summary for a terminal and the machine summary (JSON).

The plan file itself is `planfile.dumps`; `plan_json` is a small summary for scripts (no per-image list).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, assert_never

from ecrgc.model import (
    InputFingerprint,
    Plan,
    PlannedAction,
    PolicyMatch,
    ReplicaDestination,
    ReplicationRule,
)
from ecrgc.planfile import content_hash, format_timestamp, monthly_saving_usd
from ecrgc.render import facts
from ecrgc.render.markup import day, short_digest, size
from ecrgc.render.table import Phrases, text_table

# 2.0: warnings are objects (code, message, the facts), no longer sentences. Schema: plan-summary.schema.json.
SUMMARY_FORMAT_VERSION = "2.0"


def plan_text(
    plan: Plan,
    *,
    width: int = 100,
    details: bool = False,
    sha256: str | None = None,
    matches: Mapping[str, PolicyMatch] | None = None,
) -> str:
    """The human summary: the verdict first, then a table per repository (delete, archive, bytes freed,
    kept by reason), the warnings and what the plan stands on; `details` adds one line per image.
    `sha256`: the plan's content hash when the caller has it (`write_plan_file` returns it), else the one a
    loaded plan carries, else computed.
    `matches`: how each embedded policy compares with the repository's, when the caller compared them."""
    table = facts.rows(plan)
    total = facts.totals(table)
    parts = [facts.verdict(total), context_line(plan, sha256=sha256)]
    if note := replication_note(plan):
        parts.append(note)
    if table:
        parts.append(_repository_table(table, width))
    if alerts := facts.alerts(plan, table):
        parts.append("\n".join(f"warning: {facts.alert_text(a, str)}" for a in alerts))
    parts.append(_sources(plan, matches))
    if details and plan.actions:
        parts.append(_image_lines(plan.actions))
    return "\n\n".join(parts) + "\n"


def context_line(plan: Plan, *, sha256: str | None = None) -> str:
    """Target, dates and content hash (`sha256`, else the plan's own, else computed): what a reviewer
    checks before trusting the verdict."""
    sha256 = sha256 or plan.sha256 or content_hash(plan)
    return (
        f"account {plan.account} · {plan.region} · made {format_timestamp(plan.created_at)} · "
        f"expires {format_timestamp(plan.expires_at)} · plan sha256 {sha256[:12]}"
    )


def replication_note(plan: Plan, quote: Callable[[str], str] = str) -> str:
    """One line naming the registries the planned one replicates to ("" when it replicates nowhere or
    its replication was not read), and what that does not mean; `quote` marks up names (Markdown: code)."""
    rules = [rule for rule in plan.replication or () if rule.destinations]
    if not rules:
        return ""
    copies = "; ".join(
        f"{', '.join(_replica(d, quote) for d in rule.destinations)} ({_replicated(rule, quote)})"
        for rule in rules
    )
    return (
        f"replicates to {copies}: the replicas are separate registries, planned with their own in-use"
        " sources; nothing deleted here is assumed deleted there"
    )


def _replica(destination: ReplicaDestination, quote: Callable[[str], str]) -> str:
    registry = f"{destination.account}/{destination.region}"
    if destination.target is None:
        return f"{registry}, not a target"
    return f"target {quote(destination.target)} = {registry}"


def _replicated(rule: ReplicationRule, quote: Callable[[str], str]) -> str:
    if not rule.prefixes:
        return "every repository"
    return "repositories " + ", ".join(quote(f"{prefix}*") for prefix in rule.prefixes)


def _repository_table(table: list[facts.Row], width: int) -> str:
    header = ["repository", "scanned", "delete", "archive", "freed", "kept"]
    body = [
        [
            r.repository + (" (deleted)" if r.delete_repository else ""),
            f"{r.scanned:,}",
            f"{r.deleted:,}",
            f"{r.archived:,}",
            size(r.freed),
            Phrases(kept) if (kept := facts.kept_phrases(r.kept)) else "-",
        ]
        for r in table
    ]
    return text_table(header, "lrrrrl", body, width=width)


def _sources(plan: Plan, matches: Mapping[str, PolicyMatch] | None) -> str:
    policies = ", ".join(f"{p.name} ({facts.policy_line(p, matches)})" for p in plan.policies) or "none"
    inputs = "".join(f"\n  {facts.input_figures(i, str)}" for i in plan.inputs) or " none"
    return f"policies: {policies}\ninputs:{inputs}"


def _image_lines(actions: Sequence[PlannedAction]) -> str:
    return "\n".join(
        " ".join(
            [
                str(a.action),
                a.repository,
                short_digest(a.digest),
                ",".join(a.tags) or "-",
                f"pushed {day(a.pushed_at)}",
                f"pulled {day(a.last_pulled_at)}",
                size(a.size_bytes),
                f"with {short_digest(a.parent)}" if a.parent else facts.reason_label(a.reason),
            ]
        )
        for a in actions
    )


def plan_json(plan: Plan, *, sha256: str | None = None) -> str:
    """A machine summary of `plan` (verdict, totals, per-repository counts, warnings): not the plan file.
    `sha256`: the plan's content hash when the caller has it (`write_plan_file` returns it), else the one a
    loaded plan carries, else computed."""
    table = facts.rows(plan)
    total = facts.totals(table)
    document: dict[str, Any] = {
        "kind": "ecrgc.plan-summary",
        "format_version": SUMMARY_FORMAT_VERSION,
        "verdict": facts.verdict(total),
        "changes": total.changes,
        "content_sha256": sha256 or plan.sha256 or content_hash(plan),
        "account_id": plan.account,
        "region": plan.region,
        "created_at": format_timestamp(plan.created_at),
        "expires_at": format_timestamp(plan.expires_at),
        "totals": {
            "images_scanned": total.scanned,
            "images_to_delete": total.deleted,
            "images_to_archive": total.archived,
            "bytes_reclaimed": total.freed,
            "estimated_monthly_saving_usd": str(monthly_saving_usd(total.freed)),
            "images_in_use": total.in_use,
            "images_kept_by_policy": total.kept_by_policy,
            "repositories_changed": total.changed_repositories,
            "repositories_to_delete": total.repository_deletions,
        },
        "repositories": [_repository_json(r) for r in table],
        "warnings": [_warning_json(a) for a in facts.alerts(plan, table)],
    }
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _repository_json(row: facts.Row) -> dict[str, Any]:
    return {
        "repository": row.repository,
        "policy": row.policy,
        "scanned": row.scanned,
        "to_delete": row.deleted,
        "to_archive": row.archived,
        "bytes_reclaimed": row.freed,
        "kept": {str(reason): count for reason, count in sorted(row.kept.items())},
        "delete_repository": row.delete_repository,
    }


def _warning_json(alert: facts.Alert) -> dict[str, Any]:
    """A warning as data: its `code`, the whole sentence (every tag named) and the facts it states."""
    document: dict[str, Any] = {
        "code": facts.alert_code(alert.kind),
        "message": facts.alert_text(alert, str, max_tags=None),
    }
    match alert.kind:
        case facts.AlertKind.LOSES_MOST:
            document |= {"repository": alert.repository, "removed": alert.removed, "scanned": alert.scanned}
        case facts.AlertKind.RELEASE_TAGS:
            document |= {"repository": alert.repository, "tags": list(alert.tags)}
        case facts.AlertKind.DELETES_REPOSITORY:
            document |= {"repository": alert.repository}
        case facts.AlertKind.PROTECTS_NOTHING | facts.AlertKind.OTHER_ECR if alert.source is not None:
            document["input"] = _input_json(alert.source)
        case facts.AlertKind.PROTECTS_NOTHING | facts.AlertKind.OTHER_ECR:
            raise ValueError(f"an alert about an input names no input: {alert}")
        case _:
            assert_never(alert.kind)
    return document


def _input_json(source: InputFingerprint) -> dict[str, Any]:
    return {
        "kind": str(source.kind),
        "name": source.name,
        "references": source.references,
        "this_registry": source.this_registry,
        "other_accounts": source.other_accounts,
        "other_registries": source.other_registries,
        "protected": source.protected,
    }
