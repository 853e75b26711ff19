"""Plain-text tables laid out by rich: the columns fitted to a width, returned as a plain string.

The width is the terminal's on a terminal and a fixed one for pipes, files and goldens (the CLI picks it:
`ecrgc.cli.console.text_width`), so the same rows always give the same bytes at the same width. Numbers
never wrap; a name too long for its column folds; a cell of `Phrases` (`3 in use, 10 newest`) breaks only
between its phrases, never inside one. The string holds no markup, colour or control sequence: colour is
added, on a terminal only, where the text is printed (`ecrgc.cli.console.echo_text`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.measure import Measurement

# rich is imported where a table is laid out by it (`_laid_out`): a table that fits as it is needs none of
# it, and every command would pay for its import at start-up.

_SEPARATOR = ", "


class Phrases(msgspec.Struct, frozen=True):
    """A cell of comma-separated phrases that wraps between phrases only (unless one is wider than the
    column: then it folds)."""

    phrases: tuple[str, ...]

    def __str__(self) -> str:
        return _SEPARATOR.join(self.phrases)

    @property
    def widest(self) -> int:
        """The width of the widest phrase and its comma: the least the cell needs to break only between."""
        from rich.cells import cell_len

        return max((cell_len(p) + 1 for p in self.phrases), default=1)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.cells import cell_len
        from rich.measure import Measurement

        return Measurement(self.widest, max(cell_len(str(self)), 1)).clamp(max_width=options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        yield Text("\n".join(_lines(self.phrases, options.max_width)), overflow="fold")


def _lines(phrases: Sequence[str], width: int) -> Iterable[str]:
    """Greedy: as many phrases on a line as fit `width`; each line but the last ends with the comma."""
    from rich.cells import cell_len

    line = ""
    for index, phrase in enumerate(phrases):
        piece = phrase + ("," if index < len(phrases) - 1 else "")
        if line and cell_len(line) + 1 + cell_len(piece) > width:
            yield line
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    if line:
        yield line


_NAME_FLOOR = 12
"""A name column keeps at least this width (or its own, if narrower) before a phrase is broken."""


def _phrases_width(columns: Sequence[Sequence[str | Phrases]], align: str, width: int) -> int | None:
    """The width to give the column of phrases (if any), or None while the table fits as it is.

    rich shrinks every wrapping column alike when a table is too wide; this gives the phrases first the
    width of their widest phrase (the names fold instead), so that a phrase breaks only when nothing fits.
    """
    kinds = [
        "phrases" if any(isinstance(c, Phrases) for c in cells) else side
        for cells, side in zip(columns, align, strict=True)
    ]
    if "phrases" not in kinds:
        return None
    from rich.cells import cell_len

    natural = dict.fromkeys(("l", "r", "phrases"), 0)
    for cells, kind in zip(columns, kinds, strict=True):
        natural[kind] += max(cell_len(str(c)) for c in cells)
    share = width - 2 * (len(columns) - 1) - natural["r"]  # what the names and the phrases share
    if natural["l"] + natural["phrases"] <= share:
        return None
    widest = max(p.widest for cells in columns for p in cells if isinstance(p, Phrases))
    return max(share - natural["l"], min(widest, share - min(natural["l"], _NAME_FLOOR)), 1)


def text_table(
    header: Sequence[str], align: str, rows: Sequence[Sequence[str | Phrases]], *, width: int
) -> str:
    """`rows` under `header` within `width` columns; `align` has one letter per column: `l` left, `r` right
    (right-aligned columns hold numbers and never wrap). Cells are text, never read as rich markup."""
    columns = list(zip(header, *rows, strict=True))
    fitted = _fitted(columns, align, width)
    return fitted if fitted is not None else _laid_out(header, align, rows, columns, width)


def _fitted(columns: Sequence[Sequence[str | Phrases]], align: str, width: int) -> str | None:
    """The table as rich lays it out, without rich's cost per cell (seconds for 2,000 repositories), when
    every cell is printable ASCII (no space at its ends, which rich drops) and only phrases wrap: each
    column as wide as its widest cell, the column of phrases as wide as `_phrases_width` gives it when the
    table is too wide (each cell broken between phrases, top-aligned), 2 spaces between columns. None when
    the table is not such a one (then rich lays it out)."""
    texts = [str(c) for cells in columns for c in cells]
    texts += [p for cells in columns for c in cells if isinstance(c, Phrases) for p in c.phrases]
    if not all(text.isascii() and text.isprintable() and text == text.strip() for text in texts):
        return None
    fixed = _phrases_width(columns, align, width)
    cells = [[_cell_lines(cell, fixed) for cell in column] for column in columns]
    widths = [
        fixed
        if fixed is not None and any(isinstance(c, Phrases) for c in column)
        else max(len(line) for cell in laid for line in cell)
        for column, laid in zip(columns, cells, strict=True)
    ]
    too_wide = any(
        len(line) > size for laid, size in zip(cells, widths, strict=True) for c in laid for line in c
    )
    if too_wide or sum(widths) + 2 * (len(widths) - 1) > width:
        return None
    lines = []
    for row in zip(*cells, strict=True):
        for n in range(max(map(len, row))):
            parts = (cell[n] if n < len(cell) else "" for cell in row)
            lines.append(
                "  ".join(
                    part.rjust(size) if side == "r" else part.ljust(size)
                    for part, side, size in zip(parts, align, widths, strict=True)
                ).rstrip()
            )
    return "\n".join(lines)


def _cell_lines(cell: str | Phrases, width: int | None) -> list[str]:
    """A cell's lines: phrases broken to `width` (None: on one line), anything else as it is."""
    if isinstance(cell, Phrases) and width is not None:
        return list(_lines(cell.phrases, width)) or [""]
    return [str(cell)]


def _laid_out(
    header: Sequence[str],
    align: str,
    rows: Sequence[Sequence[str | Phrases]],
    columns: Sequence[Sequence[str | Phrases]],
    width: int,
) -> str:
    """The table laid out by rich: columns shrunk and cells wrapped or folded to fit `width`."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    phrases = _phrases_width(columns, align, width)
    table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="", show_edge=False)
    for name, side, cells in zip(header, align, columns, strict=True):
        fixed = phrases if any(isinstance(c, Phrases) for c in cells) else None
        right = side == "r"
        table.add_column(
            name, justify="right" if right else "left", no_wrap=right, overflow="fold", width=fixed
        )
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Phrases) else Text(cell) for cell in row))
    out = io.StringIO()
    Console(
        file=out,
        width=width,
        color_system=None,
        force_terminal=False,
        force_jupyter=False,
        no_color=True,
        emoji=False,
        markup=False,
        highlight=False,
        legacy_windows=False,
    ).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())
