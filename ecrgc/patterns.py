"""Pattern strings: Python regexes with re.search semantics, plus the seed's `OR` and `&&`.

ecrgc splits a pattern on the literal text `OR` (either side may match) and each side on `&&` (every part
must match), so `OR` binds looser than `&&`: `a&&bORc` means (a and b) or c. The split is textual: an `OR`
inside a group or a character class splits too, so write `O[R]` to match a literal "OR".

The seed (aws-ecr-cleaner, `util.MultiRegexMatch`) splits on `OR` *or* on `&&`, never both: inside an `OR`
part it keeps `&&` as literal regex text, which no tag or repository name can contain. ecrgc's reading of a
mixed pattern therefore matches at least what the seed's did (`policy from-env` warns about it). Like the
seed, ecrgc trims spaces around each part (`release OR 2\\.85` is `releaseOR2\\.85`); a policy file is
warned about them (`spacing_warning`), since no tag or repository name contains a space.
"""

from __future__ import annotations

import re

from ecrgc.model import Pattern

OR = "OR"
AND = "&&"


class PatternError(ValueError):
    """A pattern string that cannot be compiled; the message names the offending part and the fix."""


def compile_pattern(source: str) -> Pattern:
    """Compile a pattern string into a `Pattern` whose `search` applies the OR/&& semantics."""
    alternatives = tuple(
        tuple(_compile_part(part.strip(), source) for part in alternative.split(AND))
        for alternative in source.split(OR)
    )
    return Pattern(source=source, alternatives=alternatives)


def trimmed(source: str) -> str:
    """`source` without the spaces around its OR and && parts: what `compile_pattern` compiles."""
    return OR.join(AND.join(part.strip() for part in alt.split(AND)) for alt in source.split(OR))


def spacing_warning(source: str) -> str | None:
    """A warning when `source` has spaces around its parts (ignored, as the seed ignored them)."""
    if trimmed(source) == source:
        return None
    return f"pattern {source!r}: the spaces around its parts are ignored: write {trimmed(source)!r}"


def _compile_part(part: str, source: str) -> re.Pattern[str]:
    if not part:
        # An empty regex matches everything: in `include` that would select every repository.
        raise PatternError(
            f"pattern {source!r} has an empty part around OR or &&: remove the stray separator"
        )
    try:
        return re.compile(part)
    except re.error as error:
        raise PatternError(f"pattern {source!r}: {part!r} is not a valid regex: {error}") from None


_DOTS = re.compile(r"(?<!\\)\\\.\*")
"""`\\.*` after anything but a backslash: 'any number of dots', which matches the empty string."""


def seed_warnings(source: str) -> list[str]:
    """What a seed value means otherwise than it may look: a mix of OR and &&, and `\\.*`."""
    warnings = []
    if OR in source and AND in source:
        warnings.append(
            f"pattern {source!r} mixes OR and &&: the seed kept && as regex text inside an OR part (so"
            " that part matched nothing); ecrgc reads 'a&&bORc' as (a and b) or c: check that you mean it"
        )
    for part in (part.strip() for alt in source.split(OR) for part in alt.split(AND)):
        if _DOTS.search(part):
            warnings.append(
                f"pattern {source!r}: {part!r} means any number of dots there (in the seed too), so it"
                f" matches without them: you probably mean {_DOTS.sub(lambda _: chr(92) + '..*', part)!r}"
            )
    return warnings
