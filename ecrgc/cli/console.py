"""Text output: on a terminal the words delete, archive and keep in colour; elsewhere the bytes as they are.

The views in `ecrgc.render` return plain strings (goldens, pipes and files get exactly those). Here a rich
highlighter colours the action words when stdout is a terminal, unless NO_COLOR is set (https://no-color.org);
FORCE_COLOR forces colour where there is no terminal. Nothing in the text is read as rich markup, so an image
or repository name holding `[red]` or `:emoji:` is printed as it is.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping
from typing import TextIO

import typer

# rich is imported only to colour text on a terminal: a pipe or a file gets the bytes as they are.
# A word, not part of a name: repository names and tags hold letters, digits and `._/-`.
_WORD = r"(?<![\w./-]){}(?![\w./-])"
HIGHLIGHTS = (
    _WORD.format(r"(?P<delete>delete[ds]?|deleting)"),
    _WORD.format(r"(?P<archive>archive[ds]?|archiving)"),
    _WORD.format(r"(?P<keep>keep|kept|keeps)"),
)
"""The action words of the text views, styled `ecrgc.<group>` (STYLES)."""
STYLES = {"ecrgc.delete": "bold red", "ecrgc.archive": "yellow", "ecrgc.keep": "green"}


def color_enabled(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """NO_COLOR (any non-empty value) wins; then FORCE_COLOR; else whether `stream` is a terminal."""
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


FILE_WIDTH = 100
"""The width of text views written to files and pipes (the goldens' layout)."""


def text_width(stream: TextIO) -> int:
    """How wide a text view may be: the terminal's width on a terminal (at least 60), else FILE_WIDTH."""
    if not stream.isatty():
        return FILE_WIDTH
    return max(shutil.get_terminal_size((FILE_WIDTH, 24)).columns, 60)


def echo_text(text: str, environ: Mapping[str, str]) -> None:
    """Print a text view to stdout, coloured when `color_enabled`."""
    if not color_enabled(sys.stdout, environ):
        typer.echo(text, nl=False)
        return
    from rich.console import Console
    from rich.highlighter import RegexHighlighter
    from rich.theme import Theme

    class ActionHighlighter(RegexHighlighter):
        """Styles the action words of the text views."""

        base_style = "ecrgc."
        highlights = list(HIGHLIGHTS)  # noqa: RUF012 (rich reads the class attribute)

    console = Console(
        file=sys.stdout,
        force_terminal=True,
        color_system="standard",
        theme=Theme(STYLES),
        highlighter=ActionHighlighter(),
        soft_wrap=True,  # the views lay out their own lines: never re-wrap them
        emoji=False,
        markup=False,
        tab_size=1,
    )
    console.print(text, end="")
