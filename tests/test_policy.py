"""Policy loading: every schema rule (data-driven), duplicate keys, typed scalars, the Policy built."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from ecrgc.errors import ConfigError
from ecrgc.model import CURRENT_CONTEXT, IN_CLUSTER, Action, KubeContext, Policy
from ecrgc.policy import (
    check_overlaps,
    document_sha256,
    load_policies,
    load_policy_text,
    parse_duration,
    policy_from_document,
    policy_sha256,
)
from ecrgc.schemafiles import load_schema, schema_path
from ecrgc.yamlfile import json_path
from tests.golden_files import assert_golden

DATA = Path(__file__).parent / "data" / "policies"
ROOT = Path(__file__).parent.parent
VALID = sorted((DATA / "valid").iterdir())
INVALID = sorted((DATA / "invalid").glob("*.yaml"))


def _load(path: Path) -> Policy:
    return load_policy_text(path.read_text(encoding="utf-8"), path.name)


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(load_schema("policy.schema.json"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_examples_load(path: Path) -> None:
    assert _load(path).source == path.name


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_examples_report_exactly_the_expected_errors(path: Path) -> None:
    """Each invalid file has a sibling `.expected` holding every error line, in order."""
    with pytest.raises(ConfigError) as caught:
        _load(path)
    assert caught.value.errors, "a ConfigError lists its errors"
    assert_golden(path.with_suffix(".expected"), "\n".join(caught.value.errors) + "\n")


def test_every_invalid_example_has_its_expected_file() -> None:
    expected = sorted(p.with_suffix(".yaml") for p in (DATA / "invalid").glob("*.expected"))
    assert expected == INVALID


def test_the_error_summary_counts_the_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        _load(DATA / "invalid" / "many-errors.yaml")
    assert str(caught.value) == "the policies do not validate (11 errors, listed below)"


def test_a_minimal_policy_gets_the_documented_defaults() -> None:
    policy = _load(DATA / "valid" / "minimal.yml")
    assert policy.name == "saas"
    assert policy.region == "ap-northeast-1"
    assert policy.registry_id is None
    assert [p.source for p in policy.include] == ["^saas/"]
    assert policy.exclude == ()
    assert policy.untagged is True
    assert policy.hold_tags == ()
    assert policy.keep_latest == 3
    assert policy.older_than is None
    assert policy.not_pulled_for is None
    assert policy.protect.kubernetes == ()
    assert policy.protect.image_lists == ()
    assert policy.action is Action.DELETE
    assert policy.delete_empty_repositories is False


def test_every_field_reaches_the_policy() -> None:
    policy = _load(DATA / "valid" / "full.yaml")
    assert policy.name == "saas-pre"
    assert policy.registry_id == "123456789012"
    assert [p.source for p in policy.include] == ["^(f?saas)/", "^web$"]
    assert [p.source for p in policy.exclude] == ["saas/logstash"]
    assert policy.untagged is False
    assert [p.source for p in policy.hold_tags] == ["^release-", r"2\.(84|85)"]
    assert policy.older_than == timedelta(days=14)
    assert policy.not_pulled_for == timedelta(days=30)
    assert policy.protect.kubernetes == (KubeContext(name="prd"), KubeContext(name="pre"))
    assert policy.protect.image_lists == ("IMG_LIST/PRD_IMG_LIST.txt",)
    assert policy.action is Action.ARCHIVE
    assert policy.delete_empty_repositories is True


def test_contexts_as_names_or_objects_with_allow_empty() -> None:
    policy = _load(DATA / "valid" / "contexts-objects.yaml")
    assert policy.protect.kubernetes == (
        KubeContext(name=CURRENT_CONTEXT, allow_empty=True),  # the block's allowEmpty is the default
        KubeContext(name="tools", allow_empty=True),
        KubeContext(name="prd", allow_empty=False),  # an entry's own allowEmpty wins
    )
    assert policy.protect.image_lists == ("IMG_LIST/*_IMG_LIST.txt", "exports/prd.txt", "exports/stg.txt")
    assert policy.protect.empty_lists_allowed == {"exports/prd.txt"}
    assert (policy.older_than, policy.not_pulled_for) == (timedelta(hours=1), timedelta(minutes=90))


def test_in_cluster() -> None:
    policy = _load(DATA / "valid" / "in-cluster.yaml")
    assert policy.protect.kubernetes == (KubeContext(name=IN_CLUSTER, in_cluster=True, allow_empty=True),)
    assert (policy.older_than, policy.not_pulled_for) == (timedelta(weeks=2), timedelta(hours=720))


def test_quoted_tags_stay_strings() -> None:
    policy = _load(DATA / "valid" / "quoted-scalars.yaml")
    assert [p.source for p in policy.hold_tags] == ["1.10", "yes", "2024-01-31", "~", "null"]


def test_anchors_and_merge_keys_resolve() -> None:
    policy = _load(DATA / "valid" / "anchors-and-merge.yaml")
    assert [p.source for p in policy.hold_tags] == ["^saas/"]
    assert (policy.untagged, policy.keep_latest) == (True, 2)


def test_seed_syntax_patterns_select_as_the_seed_did() -> None:
    policy = _load(DATA / "valid" / "seed-syntax.yaml")
    assert policy.selects("saas/api")
    assert policy.selects("fsaas/billing")
    assert not policy.selects("saas/logstash")  # logstash && ^saas/
    assert not policy.selects("fsaas/kibana")  # kibana
    assert policy.selects("fsaas/logstash")  # not ^saas/, so not excluded


def test_spaces_around_or_are_trimmed_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # The seed trimmed them (util.MultiRegexMatch); a policy file is ecrgc's own syntax, so it is warned.
    policy = _load(DATA / "valid" / "pattern-spaces-around-or.yaml")
    assert [p.source for p in policy.hold_tags] == ["^release- OR ^stable$"]
    assert policy.hold_tags[0].search("release-1")
    assert policy.hold_tags[0].search("stable")
    assert [r.getMessage() for r in caplog.records] == [
        "pattern-spaces-around-or.yaml::$.spec.rules.holdTags[0]: pattern '^release- OR ^stable$': "
        "the spaces around its parts are ignored: write '^release-OR^stable$'"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0s", timedelta(0)),
        ("90m", timedelta(minutes=90)),
        ("36h", timedelta(hours=36)),
        ("14d", timedelta(days=14)),
        ("999999w", timedelta(weeks=999999)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_the_document_is_the_validated_json_and_its_hash_is_canonical() -> None:
    policy = _load(DATA / "valid" / "anchors-and-merge.yaml")
    assert policy.document == {
        "apiVersion": "ecrgc/v1",
        "kind": "Policy",
        "metadata": {"name": "anchors"},
        "spec": {
            "region": "ap-northeast-1",
            "repositories": {"include": ["^saas/"]},
            "rules": {"untagged": True, "keepLatest": 2, "holdTags": ["^saas/"]},
        },
    }
    canonical = json.dumps(policy.document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert policy_sha256(policy) == hashlib.sha256(canonical.encode()).hexdigest()
    assert policy_sha256(policy) == document_sha256(dict(reversed(list(policy.document.items()))))


def test_a_document_embedded_in_a_plan_rebuilds_the_same_policy() -> None:
    policy = _load(DATA / "valid" / "full.yaml")
    again = policy_from_document(json.loads(json.dumps(policy.document)), "plans/x.json", directory=Path("p"))
    assert again == dataclasses.replace(policy, source="plans/x.json", directory=Path("p"))
    assert policy_sha256(again) == policy_sha256(policy)


def test_a_document_from_a_plan_is_validated_too() -> None:
    with pytest.raises(ConfigError) as caught:
        policy_from_document(
            {"apiVersion": "ecrgc/v1"}, "plans/x.json::$.policies[0].document", directory=Path()
        )
    assert caught.value.errors == (
        "plans/x.json::$.policies[0].document::$: 'kind' is a required property",
        "plans/x.json::$.policies[0].document::$: 'metadata' is a required property",
        "plans/x.json::$.policies[0].document::$: 'spec' is a required property",
    )


def test_load_policies_reads_directories_and_files_in_order(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(_policy("b", "^b/"))
    (tmp_path / "a.yml").write_text(_policy("a", "^a/"))
    (tmp_path / "notes.txt").write_text("not a policy")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "c.yaml").write_text(_policy("c", "^c/"))
    policies = load_policies([tmp_path, tmp_path / "nested" / "c.yaml"])
    assert [(p.name, p.source) for p in policies] == [
        ("a", str(tmp_path / "a.yml")),
        ("b", str(tmp_path / "b.yaml")),
        ("c", str(tmp_path / "nested" / "c.yaml")),
    ]


def test_load_policies_reports_every_file_and_duplicate_names(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(_policy("web", "^a/"))
    (tmp_path / "b.yaml").write_text(_policy("web", "^b/"))
    (tmp_path / "c.yaml").write_text(_policy("c", "^c/") + "  rules: {}\n")
    (tmp_path / "d.yaml").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError) as caught:
        load_policies([tmp_path, tmp_path / "missing.yaml"])
    assert caught.value.errors == (
        f"{tmp_path}/missing.yaml: no such file or directory",
        f"{tmp_path}/c.yaml::$.spec: duplicate key 'rules' (lines 9 and 11): keep one",
        f"{tmp_path}/d.yaml: cannot read it as UTF-8 text "
        "('utf-8' codec can't decode byte 0xff in position 0: invalid start byte)",
        f"{tmp_path}/b.yaml::$.metadata.name: 'web' is already the name of the policy in "
        f"{tmp_path}/a.yaml: names must be unique",
    )
    assert str(caught.value) == "the policies do not validate (4 errors, listed below)"


def test_the_example_policies_validate_and_do_not_overlap() -> None:
    policies = load_policies([ROOT / "policies"])
    assert sorted(p.name for p in policies) == ["infrastructure", "legacy-cleanup", "saas"]
    names = ["saas/api", "fsaas/billing", "saas/logstash", "infra/nginx", "platform/base", "ci-runner"]
    check_overlaps(policies, [*names, "legacy/monolith", "other/thing"])
    owners = {n: [p.name for p in policies if p.selects(n)] for n in names}
    assert owners == {
        "saas/api": ["saas"],
        "fsaas/billing": ["saas"],
        "saas/logstash": [],
        "infra/nginx": ["infrastructure"],
        "platform/base": ["infrastructure"],
        "ci-runner": ["infrastructure"],
    }


def test_overlapping_policies_are_an_error_naming_both_and_the_repositories() -> None:
    a = load_policy_text(_policy("a", "^saas/"), "policies/a.yaml")
    b = load_policy_text(_policy("b", "api$"), "policies/b.yaml")
    c = load_policy_text(_policy("c", "^saas/"), "policies/c.yaml")
    repositories = [f"saas/svc{i}" for i in range(7)] + ["saas/api", "web/api", "other"]
    with pytest.raises(ConfigError) as caught:
        check_overlaps([a, b, c], repositories)
    assert caught.value.errors == (
        "policies 'a' (policies/a.yaml), 'b' (policies/b.yaml), 'c' (policies/c.yaml) all select saas/api: "
        "narrow an include or add an exclude so that one policy owns each repository",
        "policies 'a' (policies/a.yaml), 'c' (policies/c.yaml) all select saas/svc0, saas/svc1, saas/svc2, "
        "saas/svc3, saas/svc4 and 2 more: narrow an include or add an exclude so that one policy owns each "
        "repository",
    )


def test_no_overlap_is_fine() -> None:
    a = load_policy_text(_policy("a", "^saas/"), "a.yaml")
    b = load_policy_text(_policy("b", "^web/"), "b.yaml")
    check_overlaps([a, b], ["saas/api", "web/api", "other"])


def _policy(name: str, include: str) -> str:
    return (
        f"apiVersion: ecrgc/v1\nkind: Policy\nmetadata:\n  name: {name}\nspec:\n  region: ap-northeast-1\n"
        f"  repositories:\n    include: ['{include}']\n  rules:\n    keepLatest: 1\n"
    )


def test_json_paths_quote_keys_that_are_not_names() -> None:
    assert json_path(()) == "$"
    assert json_path(("spec", "rules", "holdTags", 1)) == "$.spec.rules.holdTags[1]"
    assert json_path(("my key", "a.b", 0, "ok_1")) == "$['my key']['a.b'][0].ok_1"


def test_a_duplicate_key_under_an_odd_key_names_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy_text("my key:\n  a: 1\n  a: 2\n", "x.yaml")
    assert caught.value.errors == ("x.yaml::$['my key']: duplicate key 'a' (lines 2 and 3): keep one",)


def test_characters_yaml_cannot_read_are_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy_text("apiVersion: ecrgc/v1\x07\n", "x.yaml")
    assert caught.value.errors == (
        "x.yaml: invalid YAML: character #x0007 at position 20 is not allowed: remove it",
    )


def test_tags_no_safe_constructor_knows_are_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        load_policy_text("apiVersion: ecrgc/v1\nkind: !!python/name:os.system Policy\n", "x.yaml")
    assert caught.value.errors == (
        "x.yaml: invalid YAML at line 2, column 7: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'",
    )


def test_a_missing_schema_names_where_it_was_looked_for() -> None:
    with pytest.raises(
        FileNotFoundError, match=r"^schema nope\.json is missing from .*schemas and .*schemas$"
    ):
        schema_path("nope.json")
