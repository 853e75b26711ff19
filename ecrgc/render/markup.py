"""Building blocks shared by the views: numbers, sizes, safe Markdown, fitting a size limit.

Names and tags come from the registry and from manifests other people pushed, so they are untrusted:
every one that reaches Markdown goes through `code` (a code span: no links, mentions, HTML or emphasis)
or `html` (inside HTML elements such as `<summary>`).
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BACKTICKS = re.compile(r"`+")
_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def plural(count: int, singular: str, plural_form: str = "") -> str:
    """`1 image`, `1,234 images`."""
    return f"{count:,} {singular if count == 1 else plural_form or singular + 's'}"


def size(size_bytes: int) -> str:
    """Binary units with one decimal (`3.4 GiB`), bytes below 1 KiB."""
    if size_bytes < 1024:
        return f"{size_bytes:,} B"
    value = float(size_bytes)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:,.1f} {unit}"


def money(amount: Decimal) -> str:
    """Dollars to the cent: `$1,234.50`."""
    return f"${amount:,.2f}"


def day(moment: datetime | None) -> str:
    """The UTC date of `moment`, or `never` (for an image never pulled)."""
    if not moment:
        return "never"
    # isoformat is several times faster than strftime (a line per image of 1,000,000); before the year
    # 1000 they differ (0999 against the C library's 999), so strftime keeps those.
    return moment.date().isoformat() if moment.year >= 1000 else moment.strftime("%Y-%m-%d")


def second(moment: datetime | None) -> str:
    """`moment` in UTC to the second (`2026-11-26 04:23:00`), or `never` (for an image never pulled)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else "never"


def short_digest(digest: str) -> str:
    """`sha256:` and the first 12 hex digits, as registries and `docker images` show them."""
    algorithm, _, hexdigits = digest.partition(":")
    return f"{algorithm}:{hexdigits[:12]}" if hexdigits else digest


def code(text: str, *, in_table: bool = False) -> str:
    """`text` as a Markdown code span that no backtick, pipe, newline or HTML in it can break out of."""
    text = _CONTROL.sub("\N{REPLACEMENT CHARACTER}", text)
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    span = f"{fence}{padding}{text}{padding}{fence}"
    # GFM splits table rows on pipes before it parses code spans; `\|` is the documented way to keep one.
    return span.replace("|", "\\|") if in_table else span


def html(text: str) -> str:
    """`text` escaped for HTML content (inside `<summary>` Markdown is not parsed)."""
    return _html.escape(_CONTROL.sub("\N{REPLACEMENT CHARACTER}", text), quote=True)


def markdown_table(header: Sequence[str], align: str, rows: Iterable[Sequence[str]]) -> str:
    """A GFM table; `align` has one letter per column: `l` left, `r` right. Cells must be escaped."""
    rule = ["--:" if a == "r" else "---" for a in align]
    lines = [_row(header), _row(rule), *(_row(r) for r in rows)]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def shortened(left_out: str, limit: int, where: str) -> str:
    """The explicit note a shortened comment carries (a GitHub alert box, so nobody misses it)."""
    note = f"Shortened: {left_out} left out to keep this comment under {limit:,} characters."
    return f"> [!NOTE]\n> {note} {where}"


def first_fitting(candidates: Iterable[str], limit: int) -> str:
    """The first candidate of at most `limit` characters. Candidates are generated lazily, richest first,
    so a big plan only pays for the levels it needs."""
    for candidate in candidates:
        if len(candidate) <= limit:
            return candidate
    raise ValueError(f"limit {limit:,} is too small for even the verdict")
