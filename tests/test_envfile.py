"""The seed's .env workflow: parsing, precedence, the policy it converts to, and its run options."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecrgc.commands.policy import run_from_env
from ecrgc.envfile import (
    RunOptions,
    SeedEnv,
    load_seed_env,
    parse_env_text,
    policy_document_from_env,
    policy_from_env,
    run_options_from_env,
)
from ecrgc.errors import ConfigError
from ecrgc.imagelists import shown_path
from ecrgc.model import Policy
from ecrgc.policy import load_policy_text
from ecrgc.seedwarnings import env_warnings
from tests.golden_files import assert_golden

DATA = Path(__file__).parent / "data" / "env"
EXAMPLES = sorted(DATA.glob("*.env"))
SEED = {
    "ENV": "PRD",
    "AWS_REGION": "ap-northeast-1",
    "TARGET_REPO_REGEX": "^(f?saas)/",
    "PROTECT_LATEST": "3",
    "PROTECT_INUSE_BY_K8S": "true",
}


def _env(**values: str) -> SeedEnv:
    return load_seed_env(None, {**SEED, **values})


def _errors(call: object) -> tuple[str, ...]:
    assert callable(call)
    with pytest.raises(ConfigError) as caught:
        call()
    return caught.value.errors


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_seed_examples_convert_exactly(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DATA)  # so the header names the file as a user would: prd.env
    text = run_from_env(Path(path.name), {}).text
    assert_golden(path.with_suffix(".policy.yaml"), text)
    assert_same_policy(text, policy_from_env(load_seed_env(path, {})))


def assert_same_policy(printed: str, expected: Policy) -> None:
    """The printed YAML, committed as policies/x.yaml, is the policy of the seed's variables: the same
    document but for the image-list paths, which name from policies/ the files the seed's name from the
    working directory (where the seed and `ecrgc run` read them)."""
    loaded = load_policy_text(printed, "policies/x.yaml")
    assert _without_lists(loaded.document) == _without_lists(expected.document)
    assert _lists(loaded) == _lists(expected)


def _without_lists(document: Mapping[str, Any]) -> Any:
    copy = json.loads(json.dumps(document))
    copy["spec"].get("protect", {}).pop("imageLists", None)
    return copy


def _lists(policy: Policy) -> list[str]:
    return [shown_path(policy.directory, path) for path in policy.protect.image_lists]


def test_the_prd_example_is_the_seed_policy() -> None:
    policy = policy_from_env(load_seed_env(DATA / "prd.env", {}))
    assert policy.name == "seed-prd"
    assert policy.selects("saas/api")
    assert policy.selects("fsaas/web")
    assert not policy.selects("saas/logstash")
    assert [p.search("release-42") for p in policy.hold_tags] == [True]
    assert [p.search("v2.85.3") for p in policy.hold_tags] == [True]
    assert [p.search("v2.86.0") for p in policy.hold_tags] == [False]
    assert policy.keep_latest == 3
    assert [c.name for c in policy.protect.kubernetes] == ["current"]
    assert policy.protect.image_lists == ("IMG_LIST/PRD_IMG_LIST.txt",)  # config.LoadConfig: ENV -> its list


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("prd", RunOptions(dry_run=True, log_dir=Path("logs"))),
        ("pre", RunOptions(auto_confirm=True, interactive=False, log_dir=Path("/var/log/ecr-cleaner"))),
        ("mgmt", RunOptions(list_only=True, debug=True)),
    ],
)
def test_run_options_of_the_examples(name: str, expected: RunOptions) -> None:
    assert run_options_from_env(load_seed_env(DATA / f"{name}.env", {})) == expected


def test_unset_run_options_take_the_defaults() -> None:
    assert run_options_from_env(_env()) == RunOptions(
        dry_run=False,
        list_only=False,
        auto_confirm=False,
        interactive=True,
        log_dir=Path("logs"),
        debug=False,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[("true", True), ("TRUE", True), ("yes", True), ("1", True), (" Yes ", True)],
        *[("false", False), ("False", False), ("no", False), ("0", False), ("", False)],
    ],
)
def test_booleans_are_lenient(value: str, expected: bool) -> None:
    assert run_options_from_env(_env(DRYRUN=value)).dry_run is expected


def test_every_bad_boolean_is_named() -> None:
    env = _env(DRYRUN="maybe", DEBUG="2")
    assert _errors(lambda: run_options_from_env(env)) == (
        "$DRYRUN: 'maybe' is not a boolean: write true or false",
        "$DEBUG: '2' is not a boolean: write true or false",
    )


def test_parsing_quotes_comments_and_export() -> None:
    # godotenv's syntax (the seed's cmd/main.go calls godotenv.Load), as python-dotenv reads it.
    text = (
        "# comment\n\n"
        "export A=plain value # trailing comment\n"
        "B='single #not a comment \\.'\n"
        'C="double #kept"  # comment\n'
        "D=#not-a-comment\n"
        "E=\n"
        "  F = spaced  \n"
        "G=a=b\n"
        "H=.*2\\.(84|85).*$\n"
    )
    assert parse_env_text(text, ".env") == {
        "A": "plain value",
        "B": "single #not a comment \\.",
        "C": "double #kept",
        "D": "#not-a-comment",
        "E": "",
        "F": "spaced",
        "G": "a=b",
        "H": ".*2\\.(84|85).*$",
    }


def test_every_malformed_line_is_reported() -> None:
    text = (
        'not an assignment\nC="x" z\nD=1\nD=2\n1X=3\nKEY\n'
        "H=v$ORx\nI=\"${HOME}\"\nJ=\"2\\.85\"\nK='a\\\\b'\nL='$OR'\n"
        "A='open\nB=1\n"  # a quote left open runs on to the end (a quoted value may span lines)
    )
    assert _errors(lambda: parse_env_text(text, "prd.env")) == (
        "prd.env: line 1: expected NAME=VALUE, got 'not an assignment'",
        "prd.env: line 2: C: the value does not parse: close its quote, and write nothing after it but a"
        " # comment",
        "prd.env: line 4: D is already set on line 3: keep one",
        "prd.env: line 5: expected NAME=VALUE, got '1X=3'",
        "prd.env: line 6: expected NAME=VALUE, got 'KEY'",
        "prd.env: line 7: H: 'v$ORx' holds a $ that the seed (godotenv) would have expanded and ecrgc does"
        " not: write the value you mean, in single quotes",
        "prd.env: line 8: I: '${HOME}' holds a $ that the seed (godotenv) would have expanded and ecrgc"
        " does not: write the value you mean, in single quotes",
        "prd.env: line 9: J: the seed (godotenv) read the backslashes of this quoted value otherwise than"
        " ecrgc would: write the value unquoted, or in single quotes without \\\\ or \\'",
        "prd.env: line 10: K: the seed (godotenv) read the backslashes of this quoted value otherwise than"
        " ecrgc would: write the value unquoted, or in single quotes without \\\\ or \\'",
        "prd.env: line 12: A: the value does not parse: close its quote, and write nothing after it but a"
        " # comment",
    )


def test_the_environment_overrides_the_file_and_is_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ENV=PRD\nAWS_REGION=ap-northeast-1\nPROTECT_LATEST=3\n")
    environ = {"AWS_REGION": "us-east-1", "PROTECT_LATEST": "x", "HOME": "/root", "PATH": "/bin"}
    env = load_seed_env(tmp_path / ".env", environ)
    assert env.values == {"ENV": "PRD", "AWS_REGION": "us-east-1", "PROTECT_LATEST": "x"}
    assert env.from_environment == ("AWS_REGION", "PROTECT_LATEST")
    assert (env.where("ENV"), env.where("PROTECT_LATEST")) == (f"{tmp_path}/.env::ENV", "$PROTECT_LATEST")


def test_the_header_names_variables_taken_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "prd.env").write_text((DATA / "prd.env").read_text())
    text = run_from_env(tmp_path / "prd.env", {"AWS_REGION": "us-east-1", "DEBUG": "1"}).text
    assert text.splitlines()[:5] == [
        f"# Generated by `ecrgc policy from-env` from {tmp_path}/prd.env.",
        "# Taken from the environment, not the file: AWS_REGION, DEBUG.",
        "# warning: $DEBUG: the seed read only 'true' as true, so it read '1' as false",
        "# Review it, then commit it under policies/ (README: 'Migrating from .env'): image-list",
        "# paths are relative to the policy file.",
    ]
    assert "  region: us-east-1 " in text


def test_the_environment_alone_works() -> None:
    text = run_from_env(None, {**SEED, "EXCLUDE_REPO_REGEX": "", "HOLD_TAG_REGEX": "release-"}).text
    assert text.splitlines()[0] == "# Generated by `ecrgc policy from-env` from the environment."
    assert text.splitlines()[1].startswith("# Review it")


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_seed_env(tmp_path / "nope.env", {})
    assert str(caught.value).startswith(f"{tmp_path}/nope.env: cannot read the .env file (")


def test_missing_variables_are_all_named() -> None:
    assert _errors(lambda: policy_document_from_env(load_seed_env(None, {"ENV": "PRD"}))) == (
        "the environment: AWS_REGION is not set: set the registry's region, e.g. AWS_REGION=ap-northeast-1",
        "the environment: TARGET_REPO_REGEX is not set: "
        "set the regex of the repositories to clean, e.g. TARGET_REPO_REGEX='^saas/'",
        "the environment: PROTECT_LATEST is not set: "
        "set how many of the newest images to keep per repository, e.g. PROTECT_LATEST=3",
        "the environment: PROTECT_INUSE_BY_K8S is not set: "
        "set true to keep the images the current kube context and IMG_LIST/ use",
    )


def test_bad_values_name_their_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "ENV=prd/jp\nAWS_REGION=tokyo\nTARGET_REPO_REGEX='(saas'\nEXCLUDE_REPO_REGEX='a OR '\n"
        "HOLD_TAG_REGEX='release-OR'\nPROTECT_LATEST=three\nPROTECT_INUSE_BY_K8S=sure\n"
    )
    env = load_seed_env(tmp_path / ".env", {})
    where = f"{tmp_path}/.env::"
    assert _errors(lambda: policy_from_env(env)) == (
        f"{where}ENV: 'prd/jp' is not pre, prd or mgmt: set ENV=pre, prd or mgmt "
        "(the seed knows these three, and their IMG_LIST/<ENV>_IMG_LIST.txt)",
        f"{where}PROTECT_LATEST: 'three' is not a whole number: "
        "set how many of the newest images to keep per repository, e.g. PROTECT_LATEST=3",
        f"{where}PROTECT_INUSE_BY_K8S: 'sure' is not a boolean: write true or false",
        f"{where}AWS_REGION: 'tokyo' is not an AWS region like ap-northeast-1",
        f"{where}EXCLUDE_REPO_REGEX: pattern 'aOR' has an empty part around OR or &&: "
        "remove the stray separator",
        f"{where}TARGET_REPO_REGEX: pattern '(saas': '(saas' is not a valid regex: "
        "missing ), unterminated subpattern at position 0",
        f"{where}HOLD_TAG_REGEX: pattern 'release-OR' has an empty part around OR or &&: "
        "remove the stray separator",
    )


@pytest.mark.parametrize(("env", "name"), [("PRD", "seed-prd"), ("pre", "seed-pre"), (" Mgmt", "seed-mgmt")])
def test_env_names_the_policy(env: str, name: str) -> None:
    assert policy_from_env(_env(ENV=env)).name == name


def test_an_empty_exclude_means_no_exclusion_and_false_means_no_protection() -> None:
    document = policy_document_from_env(_env(EXCLUDE_REPO_REGEX="", PROTECT_INUSE_BY_K8S="false"))
    assert "exclude" not in document["spec"]["repositories"]
    assert "protect" not in document["spec"]
    assert policy_from_env(_env(EXCLUDE_REPO_REGEX="", PROTECT_INUSE_BY_K8S="no")).protect.kubernetes == ()


# Literal text that stresses YAML quoting: quotes, '#', ':', backslashes, unicode, control characters.
_literal = st.text(
    alphabet=st.characters(codec="utf-8", include_characters="'\"#:\\{}[]&*!|>%@"),
    min_size=1,
    max_size=12,
)
_regex = _literal.map(re.escape).filter(lambda s: "OR" not in s and "&&" not in s and s == s.strip())
_seed_pattern = st.lists(_regex, min_size=1, max_size=3).map("OR".join)


@settings(deadline=None)  # a shared machine: per-example time limits would measure the neighbours
@given(
    env=st.sampled_from(["pre", "PRD", "Mgmt"]),
    include=_seed_pattern,
    exclude=st.one_of(st.just(""), _seed_pattern),
    hold=st.one_of(st.just(""), _seed_pattern),
    keep=st.integers(min_value=0, max_value=10**6),
    protect=st.sampled_from(["true", "false", "yes", "no", "1", "0"]),
)
def test_the_printed_yaml_reads_back_as_the_same_policy(
    *, env: str, include: str, exclude: str, hold: str, keep: int, protect: str
) -> None:
    environ = {
        "ENV": env,
        "AWS_REGION": "ap-northeast-1",
        "TARGET_REPO_REGEX": include,
        "EXCLUDE_REPO_REGEX": exclude,
        "HOLD_TAG_REGEX": hold,
        "PROTECT_LATEST": str(keep),
        "PROTECT_INUSE_BY_K8S": protect,
    }
    expected = policy_from_env(load_seed_env(None, environ))
    assert_same_policy(run_from_env(None, environ).text, expected)


@pytest.mark.parametrize(
    ("hold", "expected"),
    [
        # The seed README's hold patterns: only `v\.*` says something (its own warning, from patterns).
        (".*2\\.(84|85|86|87|88|89|90).*$", []),
        ("releaseOR2\\.(84|85|86|87|88|89|90)", []),
        ("^release-", ["anchored"]),
        ("rc1 candidate", ["across two tags"]),
        ("a\\sbORc", ["across two tags"]),
    ],
)
def test_hold_patterns_the_seed_read_otherwise_are_warned_about(hold: str, expected: list[str]) -> None:
    warnings = env_warnings(_env(HOLD_TAG_REGEX=hold))
    assert [w for w in expected if not any(w in line for line in warnings)] == []
    assert len(warnings) == len(expected)
    assert all(line.startswith("$HOLD_TAG_REGEX: ") for line in warnings)


def test_a_boolean_the_seed_read_as_false_is_warned_about() -> None:
    assert env_warnings(_env(AUTO_CONFIRM="yes", DRYRUN="TRUE", DEBUG="maybe", LIST_ONLY="true")) == [
        "$DRYRUN: the seed read only 'true' as true, so it read 'TRUE' as false",
        "$AUTO_CONFIRM: the seed read only 'true' as true, so it read 'yes' as false",
    ]
