"""Views of plans and apply reports: exact renders (golden files), the comment size limit, escaping."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from importlib import import_module
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ecrgc import planfile, render
from ecrgc.model import Plan, Reason, RepositorySummary
from ecrgc.render import facts
from ecrgc.render.markup import code, day, html, size
from ecrgc.render.plan_markdown import MARKER, Piece
from ecrgc.render.sections_markdown import Section, sections_markdown
from tests import test_planfile
from tests.golden_files import assert_golden
from tests.test_planfile import GOLDEN, action, big_plan, empty_plan, plan, plans, small_plan
from tests.test_report import dry_run_report, report, small_report

VIEWS: dict[str, Callable[[Plan], str]] = {
    "txt": render.plan_text,
    "md": render.plan_markdown,
    "json": render.plan_json,
}


def first_visible_line(markdown: str) -> str:
    return next(line for line in markdown.splitlines() if line.strip() and not line.startswith("<!--"))


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("name", ["empty", "small"])
def test_plan_views_are_the_golden_ones(name: str, view: str) -> None:
    sample = {"empty": empty_plan, "small": small_plan}[name]()
    suffix = "summary.json" if view == "json" else view  # plan-*.json are the plan files themselves
    assert_golden(GOLDEN / f"plan-{name}.{suffix}", VIEWS[view](sample))


def test_plan_text_with_details_lists_every_image() -> None:
    assert_golden(GOLDEN / "plan-small-details.txt", render.plan_text(small_plan(), details=True))


def test_plan_text_wraps_the_kept_column_to_the_width() -> None:
    text = render.plan_text(small_plan(), width=80)  # a common terminal (tests/test_tables.py: the rest)
    assert_golden(GOLDEN / "plan-small-narrow.txt", text)
    table = text.split("\n\n")[2].splitlines()
    assert max(map(len, table)) <= 80
    assert len(table) > 1 + len(small_plan().summary)


def test_the_verdict_says_what_goes_and_what_stays() -> None:
    assert first_visible_line(render.plan_markdown(small_plan())) == (
        "**ecrgc: 8 images to delete and 2 images to archive (743.9 MiB, ≈ $0.08/month) in 3 repositories"
        " · 2 in use · 22 kept by policy · 1 empty repository to delete**"
    )
    assert first_visible_line(render.plan_markdown(empty_plan())) == (
        "**ecrgc: no changes: nothing to delete · 2 in use · 15 kept by policy**"
    )


def test_the_markdown_starts_with_the_hidden_marker() -> None:
    assert render.plan_markdown(small_plan()).startswith(MARKER + "\n")
    assert render.report_markdown(small_report()).startswith("<!-- ecrgc:apply -->\n")


# --- the size limit ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repositories", "golden", "left_out"),
    [
        (12, "plan-50k-12-repositories.md", "the per-image lists are left out"),
        (
            2_000,
            "plan-50k-2000-repositories.md",
            "the per-repository table and the per-image lists are left out",
        ),
    ],
)
def test_a_50000_action_plan_stays_under_the_limit(repositories: int, golden: str, left_out: str) -> None:
    big = big_plan(50_000, repositories)
    markdown = render.plan_markdown(big)
    assert len(markdown) <= 60_000
    assert first_visible_line(markdown).startswith("**ecrgc: 50,000 images to delete (")
    assert f"Shortened: {left_out} to keep this comment under 60,000 characters." in markdown
    assert_golden(GOLDEN / golden, markdown)


def test_a_20000_deletion_plan_keeps_the_lists_it_can_and_the_summary_keeps_more() -> None:
    """300 repositories: the comment leaves the largest lists out first and keeps as many others as fit;
    the job summary's rendering (1,000,000 characters) keeps many more."""
    big = big_plan(20_000, 300)

    comment = render.plan_markdown(big)
    summary = render.plan_markdown(big, limit=1_000_000)

    assert len(comment) <= 60_000
    assert 0 < comment.count("<details>") < summary.count("<details>") < 300
    assert len(summary) <= 1_000_000
    assert first_visible_line(comment) == first_visible_line(summary)
    assert_golden(GOLDEN / "plan-20k-300-repositories.md", comment)


def test_each_step_is_taken_only_when_the_richer_one_is_one_character_too_long() -> None:
    sample = small_plan()
    full = render.plan_markdown(sample, limit=10**9)
    assert render.plan_markdown(sample, limit=len(full)) == full
    steps = [full]
    for _ in range(5):
        steps.append(render.plan_markdown(sample, limit=len(steps[-1]) - 1))
    with pytest.raises(ValueError, match="too small for even the verdict"):
        render.plan_markdown(sample, limit=len(first_visible_line(full)))
    # All lists; payments/api's (5 images) left out, then tools/legacy-cron's (3); counts, totals, verdict.
    full, largest, two, counts, totals, verdict_only = steps
    assert "payments/api: 5 to delete" not in largest
    assert "tools/legacy-cron: 3 to delete" in largest
    assert "tools/legacy-cron: 3 to delete" not in two
    assert "web/frontend: 2 to archive" in two
    assert_golden(GOLDEN / "plan-small-largest-left-out.md", largest)
    assert_golden(GOLDEN / "plan-small-counts.md", counts)
    assert_golden(GOLDEN / "plan-small-totals.md", totals)
    assert_golden(GOLDEN / "plan-small-verdict.md", verdict_only)
    assert [len(s) for s in steps] == sorted((len(s) for s in steps), reverse=True)
    for shortened in steps[1:]:
        assert first_visible_line(shortened) == first_visible_line(full)
        assert "> Shortened: " in shortened
    for kept in (largest, two, counts, totals):  # the in-use table is never dropped before the verdict
        assert "2 images in use, protected" in kept


def test_rows_are_sorted_by_push_time_with_times_to_the_second() -> None:
    markdown = render.plan_markdown(small_plan(), limit=10**9)
    rows = [line for line in markdown.splitlines() if line.startswith("| `sha256:")]
    pushed = [line.split(" | ")[2] for line in rows if " | delete | " in line or " | archive | " in line]

    assert pushed
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", p) for p in pushed)


def test_the_ci_run_is_linked() -> None:
    url = "https://github.com/acme/policies/actions/runs/42"

    markdown = render.plan_markdown(small_plan(), run_url=url)

    assert f"[the CI run]({url}) has the full rendering in its job summary" in markdown


def test_the_report_comment_shrinks_in_steps_too() -> None:
    sample = small_report()
    full = render.report_markdown(sample, limit=10**9)
    problems = render.report_markdown(sample, limit=len(full) - 1)
    counts = render.report_markdown(sample, limit=len(problems) - 1)
    assert_golden(GOLDEN / "report-small-problems.md", problems)
    assert "tags_changed" in problems
    assert "tags_changed" not in counts
    assert "the per-image lists are left out" in counts


@settings(deadline=None)  # a shared machine: per-example time limits would measure the neighbours
@given(plans(), st.integers(800, 8_000))
def test_no_plan_comment_exceeds_its_limit_or_loses_its_verdict(p: Plan, limit: int) -> None:
    markdown = render.plan_markdown(p, limit=limit)
    event("shortened" if "> Shortened:" in markdown else "full")
    assert len(markdown) <= limit
    assert markdown.startswith(MARKER + "\n")
    assert first_visible_line(markdown) == f"**{facts.verdict(facts.totals(facts.rows(p)))}**"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 400), st.integers(1, 30), st.integers(0, 99)), min_size=1, max_size=3),
    st.integers(3_000, 60_000),
)
def test_lists_too_long_to_show_are_never_built_and_leaving_them_unbuilt_changes_nothing(
    shapes: list[tuple[int, int, int]], limit: int
) -> None:
    """`_image_lists` builds only the lists some rendering within `limit` could show (each row is longer
    than _MIN_ROW): a comment, of one plan or of several sections, is the one that building every list
    gives (_MIN_ROW 0)."""
    plans_ = [big_plan(actions, repositories, seed=seed) for actions, repositories, seed in shapes]
    sections = [Section(title=f"target {n}", plan=p) for n, p in enumerate(plans_)]

    def both() -> tuple[str, str]:
        return render.plan_markdown(plans_[0], limit=limit), sections_markdown(sections, limit=limit)

    pruned = both()
    # The module, not the function `render` exports under its name.
    with patch.object(import_module("ecrgc.render.plan_markdown"), "_MIN_ROW", 0):
        assert both() == pruned
    event("shortened" if "> Shortened:" in pruned[1] else "full")
    lists = Piece.of(plans_[0], limit=limit).lists.values()
    event("some lists unbuilt" if any(block is None for _, block in lists) else "every list built")


# --- warnings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag", ["v1.2.3", "1.2", "2.0.1-rc.1", "v2", "release-2023", "Release", "latest", "prod"]
)
def test_release_looking_tags(tag: str) -> None:
    assert facts.RELEASE_TAG.search(tag)
    assert facts.release_tags(["main", tag]) == [tag]


@pytest.mark.parametrize("tag", ["build-12", "pr-1234", "feature-x", "main", "sha256-0a1b.sig", "latest-pr"])
def test_tags_that_do_not_look_like_releases(tag: str) -> None:
    assert not facts.RELEASE_TAG.search(tag)
    assert facts.release_tags(["main", tag]) == []


_TAG_PIECES = st.sampled_from(
    [
        "v",
        "V",
        "1",
        ".2",
        "-rc",
        "release",
        "RELEASE",
        "rele\u017fe",
        "RELEA\u017fE",
        "0",
        "9",
        "latest",
        "Stable",
        "prod",
    ]
)


@settings(max_examples=2000)
@given(
    st.lists(
        st.lists(
            st.one_of(_TAG_PIECES, st.text(alphabet=st.characters(max_codepoint=0x17F), max_size=3)),
            max_size=4,
        ).map("".join),
        max_size=4,
    )
)
def test_release_tags_are_the_tags_the_regex_finds(tags: list[str]) -> None:
    found = [t for t in tags if facts.RELEASE_TAG.search(t)]
    event("some release-looking" if found else "none")
    assert facts.release_tags(tags) == found


@pytest.mark.parametrize(("removed", "warned"), [(5, False), (6, True)])
def test_a_repository_losing_more_than_half_its_images_is_a_warning(removed: int, warned: bool) -> None:
    actions = tuple(action("a/b", f"x{n}", tags=(f"build-{n}",)) for n in range(removed))
    summary = RepositorySummary(
        repository="a/b",
        policy="default",
        scanned=10,
        kept={},
        deleted=removed,
        archived=0,
        bytes_reclaimed=0,
    )
    sample = plan(actions=actions, summary=(summary,))
    assert ("loses" in render.plan_markdown(sample)) is warned
    assert bool(render.plan_json(sample).count("loses 6 of its 10 images")) is warned


def test_warnings_are_capped_but_counted() -> None:
    actions = tuple(action(f"r{n:02d}", "x", tags=(f"v{n}.0.0",)) for n in range(25))
    markdown = render.plan_markdown(plan(actions=actions))
    assert markdown.count("> - ⚠️ `r") == 20
    assert "> - ⚠️ … and 5 more warnings" in markdown


# --- escaping ---------------------------------------------------------------------------------------

HOSTILE = "x|y`z<img src=x onerror=alert(1)>@octocat **b**\n| a |"


def test_untrusted_names_cannot_break_out_of_their_cell() -> None:
    live = test_planfile.kept("evil/repo", "y", Reason.IN_USE, tags=(HOSTILE,))
    sample = plan(
        actions=(action("evil/repo", "x", tags=(HOSTILE, "v1.0.0")),),
        kept=(live,),
        protected=(test_planfile.in_use(live, HOSTILE),),
    )
    markdown = render.plan_markdown(sample)
    image_rows = [line for line in markdown.splitlines() if line.startswith("| `sha256:")]
    assert len(image_rows) == 1
    assert len(re.findall(r"(?<!\\)\|", image_rows[0])) == 8  # 7 cells: no pipe from the tag splits a cell
    assert "\n| a |" not in markdown


@pytest.mark.parametrize(
    ("text", "in_table", "span"),
    [
        ("plain", False, "`plain`"),
        ("a|b", True, "`a\\|b`"),
        ("a|b", False, "`a|b`"),
        ("a`b", False, "``a`b``"),
        ("`x", False, "`` `x ``"),
        ("a\nb", False, "`a\N{REPLACEMENT CHARACTER}b`"),
    ],
)
def test_code_spans(text: str, in_table: bool, span: str) -> None:
    assert code(text, in_table=in_table) == span


def test_html_escaping_for_summaries() -> None:
    assert html('<b>"x" & y</b>') == "&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;"


@pytest.mark.parametrize(
    ("size_bytes", "text"),
    [(0, "0 B"), (1023, "1,023 B"), (1024, "1.0 KiB"), (3_650_722_202, "3.4 GiB"), (2**60, "1,024.0 PiB")],
)
def test_sizes_are_binary_with_one_decimal(size_bytes: int, text: str) -> None:
    assert size(size_bytes) == text


def test_a_tiny_saving_is_not_shown_as_nothing() -> None:
    assert facts.saving(1_000) == "< $0.01"
    assert facts.saving(0) == "$0.00"


# --- apply report -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make"), [("small", small_report), ("dry-run", dry_run_report), ("empty", report)]
)
def test_report_views_are_the_golden_ones(name: str, make: object) -> None:
    sample = make()  # type: ignore[operator]
    assert_golden(GOLDEN / f"report-{name}.txt", render.report_text(sample))
    assert_golden(GOLDEN / f"report-{name}.md", render.report_markdown(sample))


def test_the_report_verdict_leads_with_the_worst_news() -> None:
    assert first_visible_line(render.report_markdown(small_report())) == (
        "**❌ ecrgc apply: 3 deleted · 1 archived · 1 already absent · 2 skipped · 1 failed**"
    )
    assert first_visible_line(render.report_markdown(dry_run_report())) == (
        "**⚠️ ecrgc apply (dry run): 1 skipped · 1 would be applied**"
    )
    assert first_visible_line(render.report_markdown(report())) == "**✅ ecrgc apply: nothing to do**"


def test_report_text_details_list_every_image() -> None:
    text = render.report_text(small_report(), details=True)
    assert text.count("\ndeleted payments/api sha256:") == 2


def test_the_views_take_the_hash_the_caller_already_has() -> None:
    sample = small_plan()
    sha256 = planfile.content_hash(sample)
    assert render.plan_json(sample, sha256=sha256) == render.plan_json(sample)
    assert render.plan_text(sample, sha256=sha256) == render.plan_text(sample)
    assert f"plan sha256 {sha256[:12]}" in render.plan_text(sample)
    assert '"content_sha256": "' + "f" * 64 in render.plan_json(sample, sha256="f" * 64)


@pytest.mark.parametrize("made", [small_plan(), big_plan(3_000, 40, keeps=100)], ids=["small", "big"])
def test_a_loaded_columns_plan_renders_as_the_plan_it_was_made_from(made: Plan, tmp_path: Path) -> None:
    path = tmp_path / "plan.json.gz"
    planfile.write_plan_file(made, path)
    loaded = planfile.load_plan_file(path)
    # The views read the repositories and tags of its columns, not a record per image.
    assert isinstance(loaded.actions, facts.TagsByRepository)
    assert not isinstance(made.actions, facts.TagsByRepository)
    assert facts.tags_by_repository(loaded.actions) == facts.tags_by_repository(made.actions)
    sha256 = loaded.sha256
    assert render.plan_text(loaded) == render.plan_text(made, sha256=sha256)
    assert render.plan_json(loaded) == render.plan_json(made, sha256=sha256)
    assert render.plan_markdown(loaded) == render.plan_markdown(made, sha256=sha256)
    assert "release-looking tags" in render.plan_text(loaded)


@given(st.datetimes(timezones=st.none() | st.timezones()))
def test_a_day_is_written_as_strftime_writes_it(moment: datetime) -> None:
    assert day(moment) == moment.strftime("%Y-%m-%d")
