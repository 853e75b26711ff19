"""Pattern strings: Python regexes with re.search semantics, plus the seed's `OR` and `&&`.

The seed's shell script split a pattern on the literal text `OR` (either side may match) and each side on
`&&` (every part must match), so `OR` binds looser than `&&`: `a&&bORc` means (a and b) or c. Keeping that
syntax lets seed values paste unchanged. The split is textual, exactly like the seed's: an `OR` inside a
group or a character class splits too, so write `O[R]` to match a literal "OR".
"""

from __future__ import annotations

import re

from ecrgc.model import Pattern

OR = "OR"
AND = "&&"


class PatternError(ValueError):
    """A pattern string that cannot be compiled; the message names the offending part and the fix."""


def compile_pattern(source: str) -> Pattern:
    """Compile a pattern string into a `Pattern` whose `search` applies the seed's OR/&& semantics."""
    alternatives = tuple(
        tuple(_compile_part(part, source) for part in alternative.split(AND))
        for alternative in source.split(OR)
    )
    return Pattern(source=source, alternatives=alternatives)


def _compile_part(part: str, source: str) -> re.Pattern[str]:
    if not part:
        # An empty regex matches everything: in `include` that would select every repository.
        raise PatternError(
            f"pattern {source!r} has an empty part around OR or &&: remove the stray separator"
        )
    if part != part.strip():
        # Tags and repository names never contain spaces, so `a OR b` would silently never match `b`.
        raise PatternError(
            f"pattern {source!r}: part {part!r} starts or ends with a space, "
            "which no tag or repository name contains: remove it (write 'aORb', not 'a OR b')"
        )
    try:
        return re.compile(part)
    except re.error as error:
        raise PatternError(f"pattern {source!r}: {part!r} is not a valid regex: {error}") from None
