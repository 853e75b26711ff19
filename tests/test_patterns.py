"""The seed's pattern syntax: re.search semantics, `aORb`, `a&&b`, OR looser than &&, and how holdTags
match an image's tags together, checked against the seed's own reading (aws-ecr-cleaner)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecrgc.patterns import PatternError, compile_pattern, spacing_warning, trimmed

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
        ("a OR  ", "pattern 'a OR  ' has an empty part around OR or &&: remove the stray separator"),
    ],
)
def test_bad_patterns_say_which_part_and_why(source: str, message: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern(source)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("source", "expected"),
    [("release OR 2\\.85", "releaseOR2\\.85"), (" a && b OR\tc ", "a&&bORc"), ("aORb", "aORb")],
)
def test_spaces_around_parts_are_trimmed_as_the_seed_trims_them(source: str, expected: str) -> None:
    # util.MultiRegexMatch: strings.TrimSpace on every part after the split.
    assert trimmed(source) == expected
    compiled = compile_pattern(source)
    assert [[rx.pattern for rx in alt] for alt in compiled.alternatives] == [
        [rx.pattern for rx in alt] for alt in compile_pattern(expected).alternatives
    ]
    assert compiled.source == source
    assert spacing_warning(source) == (
        None
        if source == expected
        else f"pattern {source!r}: the spaces around its parts are ignored: write {expected!r}"
    )


@pytest.mark.parametrize(
    ("source", "tags", "expected"),
    [
        ("candidate&&2\\.87", ("2.87.0-rc1", "candidate"), ("2.87.0-rc1", "candidate")),
        ("candidate&&2\\.87", ("2.87.0-rc1",), ()),
        ("xORcandidate&&2\\.87&&rc", ("2.87.0-rc1", "candidate"), ("2.87.0-rc1", "candidate")),
        ("^v1ORprod", ("prod-2", "prod-1", "v1"), ("v1",)),
        ("^v1", (), ()),
    ],
)
def test_tags_holding_names_the_tags_that_match_together(
    source: str, tags: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert compile_pattern(source).tags_holding(tags) == expected


def seed_holds(source: str, tags: list[str]) -> bool:
    """aws-ecr-cleaner's hold test, from its code: `ecr.FilterImagesForDeletion` never holds an untagged image
    and prints the tag list as one string (`fmt.Sprintf("%s", tagList)`: `[a b]`), which
    `util.MultiRegexMatch` tests: split on OR when there is one (trimming each part, && kept as regex
    text), else on && (every part must match), else the whole pattern."""
    if not tags:
        return False
    combined = "[" + " ".join(tags) + "]"
    if "OR" in source:
        return any(re.search(part.strip(), combined) for part in source.split("OR"))
    if "&&" in source:
        return all(re.search(part.strip(), combined) for part in source.split("&&"))
    return re.search(source, combined) is not None


# Regexes that can match only inside one tag (no `.`, `\\s`, brackets or negated classes, which could match
# the seed's separators), some anchored (never true in the seed: the printed list starts with `[`).
_TAG_PARTS = ["rc", "^rc", "candidate", "2\\.87", "2\\.(84|87)", "^2", "1$", "v[0-9]+", "(2025|2024)", "x*"]
_tag_sources = st.builds(
    lambda separator, alternatives: separator.join(alternatives),
    st.sampled_from(["OR", " OR "]),  # the seed's README writes both
    st.lists(
        st.lists(st.sampled_from(_TAG_PARTS), min_size=1, max_size=3).map("&&".join), min_size=1, max_size=3
    ),
)
_image_tags = st.lists(st.sampled_from(["2.87.0-rc1", "candidate", "rc2", "v12", "2024-01", "x", "2.84"]))


@settings(deadline=None)  # a shared machine: per-example time limits would measure the neighbours
@given(source=_tag_sources, tags=_image_tags)
def test_holdtags_hold_at_least_what_the_seed_held(source: str, tags: list[str]) -> None:
    pattern = compile_pattern(source)
    if seed_holds(source, tags):
        assert pattern.tags_holding(tags), (source, tags)
