"""Views of a plan and of an apply report; every function returns a string and prints nothing.

plan_text / plan_markdown / plan_json      a Plan (the plan file itself is `planfile.dumps`)
report_text / report_markdown              an ApplyReport (the report file itself is `report.dumps_report`)

A report's views are imported when first used: a plan's view does not load the apply machinery
(ecrgc.apply) that they need.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ecrgc.render.plan import plan_json, plan_text
from ecrgc.render.plan_markdown import plan_markdown

if TYPE_CHECKING:
    from ecrgc.render.apply import outcome_reason, report_markdown, report_text

__all__ = ["outcome_reason", "plan_json", "plan_markdown", "plan_text", "report_markdown", "report_text"]

_REPORT_VIEWS = frozenset({"outcome_reason", "report_markdown", "report_text"})


def __getattr__(name: str) -> Any:
    if name not in _REPORT_VIEWS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module("ecrgc.render.apply"), name)
