"""targets.yaml: loading (every error, one line each, file and JSON path), binding policies to targets, and
`ecrgc validate` / `ecrgc targets` on a repository that has one. The files are written as a user would."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecrgc.cli import app
from ecrgc.errors import ConfigError
from ecrgc.policy import load_policies, policy_sha256
from ecrgc.targets import bind, load_targets

TOKYO, VIRGINIA = "ap-northeast-1", "us-east-1"
TEAM, TOOLS = "111111111111", "222222222222"

TARGETS = f"""\
apiVersion: ecrgc/v1
kind: Targets
spec:
  targets:
    - name: team-tokyo
      account: "{TEAM}"
      region: {TOKYO}
      planRoleArn: arn:aws:iam::{TEAM}:role/ecrgc-plan
      applyRoleArn: arn:aws:iam::{TEAM}:role/ecrgc-apply
      policies: [services]
    - name: team-virginia
      account: "{TEAM}"
      region: {VIRGINIA}
      policySelector:
        matchLabels: {{tier: services}}
    - name: tools
      account: "{TOOLS}"
      region: {TOKYO}
      policies: [services, runners]
"""

SERVICES = """\
apiVersion: ecrgc/v1
kind: Policy
metadata:
  name: services
  labels: {tier: services}
spec:
  repositories: {include: ['^svc/']}
  rules: {keepLatest: 3}
"""

RUNNERS = """\
apiVersion: ecrgc/v1
kind: Policy
metadata:
  name: runners
spec:
  repositories: {include: ['^ci-runner$']}
  rules: {keepLatest: 1}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A policy repository with targets.yaml beside policies/, as the working directory."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "services.yaml").write_text(SERVICES, encoding="utf-8")
    (tmp_path / "policies" / "runners.yaml").write_text(RUNNERS, encoding="utf-8")
    (tmp_path / "targets.yaml").write_text(TARGETS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--log-dir", "logs", *args])
    return result.exit_code, result.stdout, result.stderr


def test_each_target_gets_its_policies_bound_to_its_account_and_region(repo: Path) -> None:
    bound = bind(load_targets(Path("targets.yaml")), load_policies([Path("policies")]))
    assert {name: [(p.name, p.region, p.registry_id) for p in ps] for name, ps in bound.items()} == {
        "team-tokyo": [("services", TOKYO, TEAM)],
        "team-virginia": [("services", VIRGINIA, TEAM)],
        "tools": [("runners", TOKYO, TOOLS), ("services", TOKYO, TOOLS)],
    }
    # The bound document is what a plan embeds: the repository's document plus the target's registry.
    services = bound["team-virginia"][0]
    assert services.document["spec"] == {
        "region": VIRGINIA,
        "registryId": TEAM,
        "repositories": {"include": ["^svc/"]},
        "rules": {"keepLatest": 3},
    }
    assert policy_sha256(services) != policy_sha256(bound["team-tokyo"][0])


def test_every_problem_of_the_file_is_one_sorted_line_naming_file_and_path(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            apiVersion: ecrgc/v1
            kind: Targets
            spec:
              targets:
                - name: Team
                  account: 1111
                  region: tokyo
                  policies: []
                  planRoleArn: arn:aws:iam::{TEAM}:user/me
                  extra: 1
                - name: b
                  account: "{TEAM}"
                  region: {TOKYO}
            """),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_targets(path)
    assert str(caught.value) == f"{path} does not validate (6 errors, listed below)"
    assert caught.value.errors == tuple(
        f"{path}::$.spec.targets[{line}"
        for line in (
            "0]: unknown key 'extra': the keys allowed here are name, account, region, planRoleArn,"
            " applyRoleArn, policies, policySelector",
            '0].account: 1111 is a number, not a 12-digit AWS account id (quote it: "123456789012")',
            "0].name: 'Team' is not a name of lowercase letters, digits and '-' (at most 63, starting and"
            " ending with a letter or digit)",
            f"0].planRoleArn: 'arn:aws:iam::{TEAM}:user/me' is not an IAM role ARN like"
            " arn:aws:iam::123456789012:role/ecrgc-plan",
            "0].policies: is empty: list at least one",
            "0].region: 'tokyo' is not an AWS region like ap-northeast-1",
        )
    )


def test_duplicate_keys_and_registries_roles_elsewhere_and_both_selectors_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(TARGETS.replace("  targets:\n", "  targets:\n  targets:\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_targets(path)
    assert caught.value.errors == (f"{path}::$.spec: duplicate key 'targets' (lines 4 and 5): keep one",)
    path.write_text(
        TARGETS.replace("role/ecrgc-apply", "role/ecrgc-apply\n      policySelector: {matchLabels: {a: b}}")
        .replace(f"iam::{TEAM}:role/ecrgc-plan", f"iam::{TOOLS}:role/ecrgc-plan")
        .replace(f"region: {VIRGINIA}", f"region: {TOKYO}")
        .replace("name: tools", "name: team-tokyo"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_targets(path)
    assert caught.value.errors == (
        f"{path}::$.spec.targets[0]: give exactly one of policies (names) and policySelector (labels)",
        f"{path}::$.spec.targets[0].planRoleArn: the role is in account {TOOLS}, not the target's {TEAM}:"
        " name a role in the registry's own account",
        f"{path}::$.spec.targets[1]: account {TEAM} in {TOKYO} is already target 0: a plan binds to one"
        " account and region, so each registry is one target",
        f"{path}::$.spec.targets[2].name: 'team-tokyo' is already the name of target 0: keep names unique",
    )


def test_policies_that_do_not_fit_the_targets_are_each_named(repo: Path) -> None:
    (repo / "policies" / "runners.yaml").write_text(
        RUNNERS.replace("spec:\n", f"spec:\n  region: {TOKYO}\n"), encoding="utf-8"
    )
    (repo / "policies" / "orphan.yaml").write_text(RUNNERS.replace("runners", "orphan"), encoding="utf-8")
    ecs = "  protect: {aws: {ecs: {taskDefinitionRevisions: 2}}}\n"
    (repo / "policies" / "services.yaml").write_text(SERVICES + ecs, encoding="utf-8")
    (repo / "targets.yaml").write_text(
        TARGETS.replace("policies: [services]", "policies: [services, gone]").replace(
            "tier: services", "tier: none"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        bind(load_targets(Path("targets.yaml")), load_policies([Path("policies")]))
    assert str(caught.value) == "the policies do not fit targets.yaml (5 errors, listed below)"
    assert caught.value.errors == (
        "targets.yaml::$.spec.targets[0].policies[1]: no policy is named 'gone': add it to policies/ or"
        " remove it",
        "policies/services.yaml::$.spec.protect.aws: policy 'services' reads AWS workloads with the process's"
        " own credentials, but targets.yaml::$.spec.targets[0] (team-tokyo) is planned through planRoleArn:"
        f" list account {TEAM}'s role under protect.aws.accounts (regions: [] or {TOKYO})",
        "targets.yaml::$.spec.targets[1].policySelector: the labels select no policy: label a policy or fix"
        " the selector",
        "policies/runners.yaml::$.spec: policy 'runners' sets its registry (region or registryId) and"
        " targets.yaml::$.spec.targets[2] (tools) attaches it: a target gives them; remove spec.region and"
        " registryId",
        "policies/orphan.yaml::$.spec: policy 'orphan' names no region and no target in targets.yaml"
        " attaches it: set spec.region, or attach it to a target",
    )


def test_a_role_in_the_target_account_lets_a_policy_read_aws_workloads(repo: Path) -> None:
    role = f"arn:aws:iam::{TEAM}:role/ecrgc-read"
    aws = f"  protect: {{aws: {{lambda: true, accounts: [{{roleArn: '{role}'}}]}}}}\n"
    (repo / "policies" / "services.yaml").write_text(SERVICES + aws, encoding="utf-8")
    bound = bind(load_targets(Path("targets.yaml")), load_policies([Path("policies")]))
    assert [p.protect.aws.lambda_functions for p in bound["team-tokyo"]] == [True]


def test_validate_with_no_arguments_checks_targets_policies_and_plans(repo: Path) -> None:
    assert _cli("validate") == (0, "3 files valid\n", "")
    (repo / "plans" / "tools").mkdir(parents=True)
    (repo / "plans" / "tools" / "20261201T000000Z.json").write_text("{}", encoding="utf-8")
    (repo / "targets.yaml").write_text(TARGETS.replace("[services, runners]", "[services]"), encoding="utf-8")
    code, out, err = _cli("validate")
    assert (code, out) == (1, "2 errors in 4 files\n")
    assert err.splitlines()[0].startswith("plans/tools/20261201T000000Z.json: ")
    assert err.splitlines()[1] == (
        "policies/runners.yaml::$.spec: policy 'runners' names no region and no target in targets.yaml"
        " attaches it: set spec.region, or attach it to a target"
    )


def test_a_region_less_policy_without_targets_yaml_is_an_error(repo: Path) -> None:
    (repo / "targets.yaml").unlink()
    code, out, err = _cli("validate")
    assert (code, out) == (1, "2 errors in 2 files\n")
    assert err == "".join(
        f"policies/{name}.yaml::$.spec: policy {name!r} names no region and there is no targets.yaml: set"
        " spec.region, or attach it to a target\n"
        for name in ("runners", "services")
    )


def test_targets_prints_the_ci_matrix(repo: Path) -> None:
    code, out, err = _cli("targets", "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "include": [
            {"target": "team-tokyo", "account": TEAM, "region": TOKYO},
            {"target": "team-virginia", "account": TEAM, "region": VIRGINIA},
            {"target": "tools", "account": TOOLS, "region": TOKYO},
        ]
    }
    assert _cli("targets") == (
        0,
        f"team-tokyo     {TEAM} {TOKYO}  services\n"
        f"team-virginia  {TEAM} {VIRGINIA}       services\n"
        f"tools          {TOOLS} {TOKYO}  runners, services\n",
        "",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--all-targets"], "--all-targets writes one plan per target: pass --out-dir plans/"),
        (
            ["--all-targets", "--out", "p.json", "--out-dir", "d"],
            "--all-targets writes one plan per target: pass --out-dir, not --out",
        ),
        (["--target", "tools", "--out", "p.json", "--out-dir", "d"], "--out and --out-dir: pass one of them"),
        (["--target", "tools", "--expires-in", "0d"], "--expires-in: '0d' is not"),
        (
            ["--all-targets", "--region", TOKYO],
            f"--region {TOKYO}: a target names its own region in targets.yaml",
        ),
    ],
)
def test_plan_target_options_are_checked_before_any_aws_call(
    repo: Path, args: list[str], message: str
) -> None:
    code, out, err = _cli("plan", *args)
    assert (code, out) == (1, "")
    assert err.startswith(f"ecrgc: {message}")
    assert "\n" not in err.rstrip("\n")


def test_a_policy_left_to_targets_is_not_planned_without_one(repo: Path) -> None:
    assert _cli("plan") == (
        1,
        "",
        "ecrgc: policies/runners.yaml::$.spec.region: policy 'runners' takes its region and registry from"
        " targets.yaml: plan it with --target NAME or --all-targets\n",
    )


def test_plans_list_and_prune_per_target_refuse_a_plan_of_another_registry(repo: Path) -> None:
    golden = (Path(__file__).parent / "golden" / "plan-small.json").read_text(encoding="utf-8")
    # The golden plan binds to 123456789012/eu-west-1 and expired in January 2026.
    (repo / "targets.yaml").write_text(
        TARGETS.replace(f'"{TOOLS}"', '"123456789012"').replace(
            f"region: {TOKYO}\n      policies: [services, runners]",
            "region: eu-west-1\n      policies: [runners]",
        ),
        encoding="utf-8",
    )
    (repo / "plans" / "tools").mkdir(parents=True)
    (repo / "plans" / "tools" / "20260115T120000Z.json").write_text(golden, encoding="utf-8")
    assert _cli("plans", "list", "plans", "--target", "tools") == (
        0,
        "plans/tools/20260115T120000Z.json\n",
        "",
    )
    assert _cli("plans", "list", "plans", "--target", "tools", "--unexpired") == (0, "", "")
    assert _cli("plans", "list", "plans", "--target", "team-tokyo") == (0, "", "")  # no plans yet
    assert _cli("plans", "list", "plans", "--target", "nope")[2].startswith(
        "ecrgc: --target nope: targets.yaml"
    )
    (repo / "plans" / "team-tokyo").mkdir()
    (repo / "plans" / "team-tokyo" / "x.json").write_text(golden, encoding="utf-8")
    for verb in ("list", "prune-expired"):
        assert _cli("plans", verb, "plans", "--target", "team-tokyo") == (
            3,
            "",
            "ecrgc: plans/team-tokyo/x.json: the plan binds to 123456789012/eu-west-1, not to target"
            f" team-tokyo ({TEAM}/{TOKYO}): move it to its target's directory or delete it\n",
        )
    assert (repo / "plans" / "team-tokyo" / "x.json").exists()
    assert _cli("plans", "prune-expired", "plans", "--target", "tools") == (
        0,
        "plans/tools/20260115T120000Z.json\n",
        "",
    )
    assert not (repo / "plans" / "tools" / "20260115T120000Z.json").exists()
