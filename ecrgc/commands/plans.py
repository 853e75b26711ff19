"""`ecrgc plans list|prune-expired DIR`: the plan files of a GitOps repository, by age and expiry.

The apply workflow applies `plans list --unexpired` in order (oldest first, by `created_at`, not by file
name); the scheduled workflow removes `prune-expired` files in the pull request that adds a new plan.
Every file is loaded and verified through `planfile`, so a tampered or unreadable plan stops both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ecrgc import model
from ecrgc.errors import UsageError
from ecrgc.planfile import load_plan_file


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanFile:
    """One plan file, the two timestamps that order and expire it, and the registry it binds to."""

    path: Path
    created_at: datetime
    expires_at: datetime
    account: str
    region: str

    def expired(self, now: datetime) -> bool:
        """True once `now` has reached `expires_at` (apply refuses the plan from then on)."""
        return model.expired(self.expires_at, now)


def run_list(directory: Path) -> list[PlanFile]:
    """Every `*.json` and `*.json.gz` plan directly in `directory`, oldest first (ties broken by path)."""
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory of plan files")
    entries = []
    for path in sorted([*directory.glob("*.json"), *directory.glob("*.json.gz")]):
        plan = load_plan_file(path)
        entries.append(
            PlanFile(
                path=path,
                created_at=plan.created_at,
                expires_at=plan.expires_at,
                account=plan.account,
                region=plan.region,
            )
        )
    return sorted(entries, key=lambda e: (e.created_at, str(e.path)))


def run_prune_expired(
    directory: Path, *, now: datetime, dry_run: bool = False, listed: list[PlanFile] | None = None
) -> list[PlanFile]:
    """Remove the expired plan files of `directory` (none when `dry_run`) and return them; `listed`: the
    directory's plans when the caller has listed (and checked) them already."""
    entries = run_list(directory) if listed is None else listed
    expired = [entry for entry in entries if entry.expired(now)]
    if not dry_run:
        for entry in expired:
            entry.path.unlink()
    return expired
