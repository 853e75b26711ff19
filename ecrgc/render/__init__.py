"""Views of a plan and of an apply report; every function returns a string and prints nothing.

plan_text / plan_markdown / plan_json      a Plan (the plan file itself is `planfile.dumps`)
report_text / report_markdown              an ApplyReport (the report file itself is `report.dumps_report`)
"""

from ecrgc.render.apply import outcome_reason, report_markdown, report_text
from ecrgc.render.plan import plan_json, plan_text
from ecrgc.render.plan_markdown import plan_markdown

__all__ = ["outcome_reason", "plan_json", "plan_markdown", "plan_text", "report_markdown", "report_text"]
