"""The seed's pattern syntax: re.search semantics, `aORb`, `a&&b`, OR looser than &&."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecrgc.patterns import PatternError, compile_pattern

# Regexes without the separators; some overlap, so that ORs and &&s change outcomes.
_PARTS = ["a", "b", "^a", "b$", "a.b", "[ab]+", "x*", r"\.", "(a|b)c", "ab?", "^$", ".", "^[^a]", "c{2}"]
parts = st.sampled_from(_PARTS)
conjunctions = st.lists(parts, min_size=1, max_size=3)
sources = st.lists(conjunctions, min_size=1, max_size=3).map(lambda alts: "OR".join(map("&&".join, alts)))
texts = st.text(alphabet="abcx.-ORa&", max_size=8)


def reference_search(source: str, text: str) -> bool:
    """The seed's semantics, written the obvious way."""
    return any(all(re.search(part, text) for part in alt.split("&&")) for alt in source.split("OR"))


@settings(deadline=None)  # a shared machine: per-example time limits would measure the neighbours
@given(source=sources, text=texts)
def test_search_agrees_with_the_reference(source: str, text: str) -> None:
    assert compile_pattern(source).search(text) == reference_search(source, text)


@settings(deadline=None)  # a shared machine: per-example time limits would measure the neighbours
@given(left=sources, right=sources, text=texts)
def test_or_matches_when_either_side_matches(left: str, right: str, text: str) -> None:
    either = compile_pattern(left).search(text) or compile_pattern(right).search(text)
    assert compile_pattern(f"{left}OR{right}").search(text) == either


@settings(deadline=None)  # a shared machine: per-example time limits would measure the neighbours
@given(a=parts, b=parts, c=parts, text=texts)
def test_or_binds_looser_than_and(a: str, b: str, c: str, text: str) -> None:
    def hit(part: str) -> bool:
        return re.search(part, text) is not None

    assert compile_pattern(f"{a}&&{b}OR{c}").search(text) == ((hit(a) and hit(b)) or hit(c))
    assert compile_pattern(f"{a}OR{b}&&{c}").search(text) == (hit(a) or (hit(b) and hit(c)))


@settings(deadline=None)  # a shared machine: per-example time limits would measure the neighbours
@given(part=parts, text=texts)
def test_a_plain_regex_is_re_search(part: str, text: str) -> None:
    assert compile_pattern(part).search(text) == (re.search(part, text) is not None)


@pytest.mark.parametrize(
    ("source", "text", "expected"),
    [
        ("release-ORv2\\.(84|85)", "release-2024.01", True),
        ("release-ORv2\\.(84|85)", "v2.85.1", True),
        ("release-ORv2\\.(84|85)", "v2.86.0", False),
        ("^hotfix-&&-signed$", "hotfix-12-signed", True),
        ("^hotfix-&&-signed$", "hotfix-12", False),
        ("^saas/", "fsaas/api", False),
        ("saas/", "fsaas/api", True),  # search, not match: anywhere in the name
    ],
)
def test_seed_examples(source: str, text: str, expected: bool) -> None:
    assert compile_pattern(source).search(text) is expected


def test_the_parsed_form_keeps_the_structure() -> None:
    pattern = compile_pattern("a&&bORc")
    assert [[rx.pattern for rx in alt] for alt in pattern.alternatives] == [["a", "b"], ["c"]]
    assert pattern.source == "a&&bORc"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "(saas",
            "pattern '(saas': '(saas' is not a valid regex: missing ), unterminated subpattern at position 0",
        ),
        ("aOR*", "pattern 'aOR*': '*' is not a valid regex: nothing to repeat at position 0"),
        ("aOR", "pattern 'aOR' has an empty part around OR or &&: remove the stray separator"),
        ("&&a", "pattern '&&a' has an empty part around OR or &&: remove the stray separator"),
        ("", "pattern '' has an empty part around OR or &&: remove the stray separator"),
        (
            "a OR b",
            "pattern 'a OR b': part 'a ' starts or ends with a space, "
            "which no tag or repository name contains: remove it (write 'aORb', not 'a OR b')",
        ),
    ],
)
def test_bad_patterns_say_which_part_and_why(source: str, message: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern(source)
    assert str(caught.value) == message
