"""Text tables: laid out by rich within the width (the terminal's, or a fixed one for pipes and goldens),
a cell of phrases broken only between phrases while the table can fit, names never read as markup."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st

from ecrgc import render
from ecrgc.render import table
from ecrgc.render.table import Phrases, text_table
from tests.terminal import run_in_terminal
from tests.test_render import small_plan

ECRGC = shutil.which("ecrgc", path=str(Path(os.sys.executable).parent)) or "ecrgc"
HEADER = ["repository", "scanned", "delete", "kept"]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def kept_cells(table: str) -> list[list[str]]:
    """Each row's kept cell, line by line, read back from the laid-out table."""
    lines = table.splitlines()
    numbers, kept = lines[0].index("scanned"), lines[0].index("kept")
    cells: list[list[str]] = []
    for line in lines[1:]:
        if re.search(r"\d", line[numbers:kept]):
            cells.append([])
        cells[-1].append(line[kept:].strip())
    return [[part for part in cell if part] for cell in cells]


def assert_phrases_whole(table: str, expected: list[tuple[str, ...]]) -> None:
    """Every line of each kept cell holds whole phrases, and together the phrases of its row in order."""
    cells = kept_cells(table)
    assert len(cells) == len(expected)
    for lines, phrases in zip(cells, expected, strict=True):
        pieces = [p.removesuffix(",") for line in lines for p in line.split(", ")]
        assert pieces == list(phrases or ("-",))


def small_table(width: int) -> str:
    return render.plan_text(small_plan(), width=width).split("\n\n")[2]


def test_the_plan_table_fits_80_columns_and_breaks_no_phrase() -> None:
    table = small_table(80)
    assert max(map(len, table.splitlines())) <= 80
    assert_phrases_whole(
        table,
        [
            ("2 too young", "3 recently pulled", "1 already archived"),
            ("1 in use", "2 part of a kept image", "9 newest"),
            (),
            ("1 in use", "1 held tag", "4 newest"),
        ],
    )
    assert "tools/legacy-cron" in table  # a name folds at a space before a phrase breaks


def test_at_60_columns_the_table_still_fits() -> None:
    # Narrower than four numbers, a name and the widest phrase: phrases give way, lines never overflow.
    assert max(map(len, small_table(60).splitlines())) <= 60


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/.", min_size=1, max_size=40)
phrase = st.builds(
    lambda n, words: f"{n:,} {' '.join(words)}",
    st.integers(min_value=0, max_value=99_999),
    st.lists(
        st.sampled_from(["in", "use", "newest", "part", "of", "a", "kept", "image"]), min_size=1, max_size=5
    ),
)
rows = st.lists(st.tuples(names, st.lists(phrase, max_size=6, unique=True)), min_size=1, max_size=8)


@settings(deadline=None)  # rich lays out a table in tens of milliseconds, more on a busy machine
@given(rows=rows, extra=st.integers(min_value=0, max_value=80))
def test_phrases_break_only_between_phrases_when_the_width_allows(
    rows: list[tuple[str, list[str]]], extra: int
) -> None:
    body = [[name, "1", "22", Phrases(tuple(p)) if p else "-"] for name, p in rows]
    widest = max((len(p) + 1 for _, ps in rows for p in ps), default=1)
    fixed = len("scanned") + len("delete") + 2 * 3
    names_width = max(len("repository"), *(len(n) for n, _ in rows))
    width = fixed + min(names_width, 12) + max(widest, len("kept")) + extra

    table = text_table(HEADER, "lrrl", body, width=width)

    assert max(map(len, table.splitlines())) <= width
    assert_phrases_whole(table, [tuple(p) for _, p in rows])


def test_cells_are_text_not_markup() -> None:
    table = text_table(
        HEADER, "lrrl", [["[bold]x[/bold]", "1", "2", Phrases((":smile: [red]1 in use",))]], width=80
    )
    assert "[bold]x[/bold]" in table
    assert ":smile: [red]1 in use" in table


def demo_tables(output: str) -> tuple[str, str]:
    """The demo's plan table and its apply table, control sequences removed."""
    text = ANSI.sub("", output).replace("\r\n", "\n")
    plan = text.split("\nrepository ", 1)[1].split("\n\n", 1)[0]
    applied = text.split("\nrepository ", 2)[2].split("\n\n", 1)[0]
    return "repository " + plan, "repository " + applied


def test_on_an_80_column_terminal_the_demos_tables_fit_it(tmp_path: Path) -> None:
    code, shown = run_in_terminal(
        [ECRGC, "demo", "--workdir", tmp_path / "demo"], cwd=tmp_path, env=os.environ, columns=80
    )

    assert code == 0, shown
    plan, applied = demo_tables(shown)
    assert max(map(len, plan.splitlines())) <= 80
    assert max(map(len, plan.splitlines())) > 70  # the terminal's width, not the pipe's 100
    assert all(", " not in line or not line.endswith(" ") for line in plan.splitlines())
    for cell in kept_cells(plan):
        assert all(
            not piece.endswith(("of", "a", "kept", "part")) for line in cell for piece in line.split(", ")
        )
    assert max(map(len, applied.splitlines())) <= 80
    assert "\x1b[" in shown  # a terminal: coloured action words


def test_no_color_on_a_terminal_means_no_colour(tmp_path: Path) -> None:
    code, shown = run_in_terminal(
        [ECRGC, "demo", "--workdir", tmp_path / "demo"],
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
        columns=80,
    )

    assert code == 0, shown
    assert not re.search(r"\x1b\[[0-9;]*3[0-7]m", shown)  # no foreground colour anywhere
    plan, _ = demo_tables(shown)
    assert max(map(len, plan.splitlines())) <= 80


def test_through_a_pipe_the_demo_writes_plain_text_at_the_fixed_width(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    done = subprocess.run(
        [ECRGC, "demo", "--workdir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        env={**environ, "COLUMNS": "80"},  # a pipe's width is fixed, whatever COLUMNS says
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert not CONTROL.search(done.stdout)
    plan, _ = demo_tables(done.stdout)
    assert 80 < max(map(len, plan.splitlines())) <= 100


_CELL_TEXT = (
    st.text(st.characters(codec="ascii"), max_size=14)
    | st.from_regex(r"[a-z0-9/.,() -]{0,14}", fullmatch=True)
    | st.sampled_from(["", " a", "b ", "é", "宽", "1,234", "12.5 MiB"])
)
_CELLS = _CELL_TEXT | st.lists(_CELL_TEXT.filter(bool), min_size=1, max_size=3).map(
    lambda p: Phrases(tuple(p))
)


@settings(deadline=None, max_examples=400)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            st.lists(_CELL_TEXT, min_size=n, max_size=n),
            st.text("lr", min_size=n, max_size=n),
            st.lists(st.lists(_CELLS, min_size=n, max_size=n), max_size=6),
        )
    ),
    st.integers(10, 200),
)
def test_a_table_that_fits_is_laid_out_as_rich_lays_it_out(
    case: tuple[list[str], str, list[list[str | Phrases]]], width: int
) -> None:
    """The quick layout of a table whose cells need no wrapping gives rich's bytes (else rich lays it out)."""
    header, align, rows = case
    columns = list(zip(header, *rows, strict=True))
    event(f"quick layout: {table._fitted(columns, align, width) is not None}")
    assert text_table(header, align, rows, width=width) == table._laid_out(
        header, align, rows, columns, width
    )


_WORDS = st.from_regex(r"[a-z0-9]{1,8}( [a-z0-9]{1,8}){0,3}", fullmatch=True)


@settings(deadline=None, max_examples=400)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z0-9/-]{0,30}", fullmatch=True),
            st.integers(0, 10**7).map("{:,}".format),
            st.lists(_WORDS, max_size=5).map(lambda p: Phrases(tuple(p)) if p else "-"),
        ),
        max_size=8,
    ),
    st.integers(20, 110),
)
def test_a_table_of_wrapped_phrases_is_laid_out_as_rich_lays_it_out(
    rows: list[tuple[str, str, str | Phrases]], width: int
) -> None:
    """Names, numbers and phrases as the plan's table has them: the phrases broken between phrases."""
    header = ["repository", "scanned", "kept"]
    columns = list(zip(header, *rows, strict=True))
    event(f"quick layout: {table._fitted(columns, 'lrl', width) is not None}")
    assert text_table(header, "lrl", rows, width=width) == table._laid_out(
        header, "lrl", rows, columns, width
    )
