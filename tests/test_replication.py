"""Replication awareness, end to end against the multi-registry sandbox: `ecrgc plan --target/--all-targets`
notes where the planned registry replicates (a replica that is a target too, one that is not), warns when
DescribeRegistry is denied and still writes a plan that deletes nothing, and fails closed — that target
alone — when its deletions could replicate (unknown replication, or a rule with deleteReplication)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ecrgc.cli import app
from ecrgc.model import ReplicaDestination, ReplicationRule
from ecrgc.planfile import load_plan_file
from ecrgc.sandbox import Sandbox
from tests.test_planfile import _rehash

OWN, OTHER = "123456789012", "210987654321"
TOKYO, EAST, IRELAND = "ap-northeast-1", "us-east-1", "eu-west-1"
OTHER_ROLE = f"arn:aws:iam::{OTHER}:role/ecrgc-plan"
TARGETS = f"""\
apiVersion: ecrgc/v1
kind: Targets
spec:
  targets:
    - {{name: tokyo, account: "{OWN}", region: {TOKYO}, policies: [services]}}
    - {{name: east, account: "{OWN}", region: {EAST}, policies: [services]}}
    - {{name: other, account: "{OTHER}", region: {EAST}, planRoleArn: "{OTHER_ROLE}", policies: [services]}}
"""
POLICY = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {{name: services}}
spec:
  repositories: {{include: ['^svc/']}}
  rules: {{keepLatest: {keep}}}
"""
TO_EAST_AND_IRELAND = {
    "destinations": [{"region": IRELAND, "registryId": OTHER}, {"region": EAST, "registryId": OWN}],
    "repositoryFilters": [{"filter": "svc/", "filterType": "PREFIX_MATCH"}],
}
TO_OTHER = {"destinations": [{"region": EAST, "registryId": OTHER}]}
TO_OTHER_FILTER = {"filter": "web/", "filterType": "PREFIX_MATCH"}
NOTE = (
    f"replicates to target east = {OWN}/{EAST}, {OTHER}/{IRELAND}, not a target (repositories svc/*);"
    f" target other = {OTHER}/{EAST} (every repository): the replicas are separate registries, planned with"
    " their own in-use sources; nothing deleted here is assumed deleted there"
)


@pytest.fixture
def repo(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three registries with svc/api's five images each; Tokyo replicates by two rules. The policy
    repository (keepLatest 2: three deletions per target) is the working directory."""
    for account, region in ((OWN, TOKYO), (OWN, EAST), (OTHER, EAST)):
        registry = sandbox.registry_for(account, region)
        now = sandbox.clock.now()
        for n in range(5):
            registry.push_image("svc/api", tags=[f"v{n}"], pushed_at=now - (10 - n) * 86400)
    sandbox.registry.replication = {"rules": [TO_EAST_AND_IRELAND, TO_OTHER]}
    _policy(tmp_path, keep=2)
    (tmp_path / "targets.yaml").write_text(TARGETS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _policy(root: Path, *, keep: int) -> None:
    (root / "policies").mkdir(exist_ok=True)
    (root / "policies" / "services.yaml").write_text(POLICY.format(keep=keep), encoding="utf-8")


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--log-dir", "logs", *args])
    return result.exit_code, result.stdout, result.stderr


def _written(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "plans").glob("*/*.json"))


def test_the_plan_names_the_replicas_that_are_targets_and_those_that_are_not(repo: Path) -> None:
    code, out, err = _cli("plan", "--target", "tokyo")
    assert (code, err) == (0, "")
    assert NOTE in out.splitlines()
    code, out, _ = _cli("plan", "--target", "tokyo", "--format", "markdown")
    assert code == 0
    assert (
        f"replicates to target `east` = {OWN}/{EAST}, {OTHER}/{IRELAND}, not a target (repositories `svc/*`);"
        f" target `other` = {OTHER}/{EAST} (every repository)"
    ) in out
    code, out, err = _cli("plan", "--target", "east")
    assert (code, err) == (0, "")
    assert "replicates to" not in out  # a registry without replication says nothing of it


def test_all_targets_plans_each_registry_noting_only_its_own_replication(repo: Path) -> None:
    code, out, err = _cli("plan", "--all-targets", "--out-dir", "plans")
    assert code == 0, err
    assert _written(repo) == ["east", "other", "tokyo"]
    assert [line.split(":")[0] for line in out.splitlines()] == ["tokyo", "east", "other"]


def test_denied_describe_registry_warns_and_a_plan_that_deletes_nothing_is_written(
    repo: Path, sandbox: Sandbox
) -> None:
    sandbox.knobs.denied.add("DescribeRegistry")
    _policy(repo, keep=10)
    code, out, err = _cli("plan", "--all-targets", "--out-dir", "plans")
    assert code == 0, err
    assert _written(repo) == ["east", "other", "tokyo"]
    warnings = sorted(line for line in err.splitlines() if "replication" in line)
    assert warnings == [
        f"ecrgc: aws {account}/{region}: cannot read the registry's replication (ecr DescribeRegistry:"
        " AccessDeniedException)"
        for account, region in sorted([(OWN, TOKYO), (OWN, EAST), (OTHER, EAST)])
    ]
    assert "replicates to" not in out


def test_denied_describe_registry_stops_a_plan_that_deletes(repo: Path, sandbox: Sandbox) -> None:
    sandbox.knobs.denied.add("DescribeRegistry")
    code, out, err = _cli("plan", "--target", "east")
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == (
        f"ecrgc: target east ({OWN}/{EAST}) failed: registry {OWN}/{EAST}: its replication could not be"
        " read (ecr DescribeRegistry) and the plan deletes images in 1 repository: ECR replicates deletions"
        " when a replication rule enables deleteReplication, so nothing may be deleted while it is unknown;"
        " grant ecr:DescribeRegistry to the role that plans and applies (docs/gitops.md)"
    )


def test_a_rule_that_replicates_deletions_fails_its_target_alone(repo: Path, sandbox: Sandbox) -> None:
    deleting: dict[str, Any] = {**TO_EAST_AND_IRELAND, "deleteReplication": {"enabled": True}}
    sandbox.registry.replication = {"rules": [TO_OTHER, deleting]}
    code, out, err = _cli("plan", "--all-targets", "--out-dir", "plans")
    assert code == 1
    assert _written(repo) == ["east", "other"]
    assert [line for line in err.splitlines() if line.startswith("ecrgc: target")] == [
        f"ecrgc: target tokyo ({OWN}/{TOKYO}) failed: registry {OWN}/{TOKYO}: replication rule 2 replicates"
        f" deletions (deleteReplication) of 1 repository the plan deletes in (first svc/api) to {OWN}/{EAST},"
        f" {OTHER}/{IRELAND}, whose in-use images this plan never read: turn deleteReplication off for them,"
        " or leave those repositories out of the policies"
    ]
    sandbox.registry.replication = {"rules": [{**deleting, "repositoryFilters": [TO_OTHER_FILTER]}]}
    code, out, err = _cli("plan", "--target", "tokyo")
    assert (code, err) == (0, "")  # the rule replicates deletions of other repositories only
    assert "(repositories web/*): the replicas are separate registries" in out


def test_plain_plan_notes_the_replication_too(repo: Path) -> None:
    (repo / "targets.yaml").unlink()
    policy = (repo / "policies" / "services.yaml").read_text(encoding="utf-8")
    (repo / "policies" / "services.yaml").write_text(
        policy.replace("spec:\n", f"spec:\n  region: {TOKYO}\n"), encoding="utf-8"
    )
    code, out, err = _cli("plan")
    assert code == 0, err
    assert "warning" not in err
    assert (
        f"replicates to {OWN}/{EAST}, not a target, {OTHER}/{IRELAND}, not a target (repositories svc/*);"
        f" {OTHER}/{EAST}, not a target (every repository)"
    ) in out


def test_apply_rereads_the_replication_and_stops_when_deletions_would_replicate(
    repo: Path, sandbox: Sandbox
) -> None:
    assert _cli("plan", "--target", "tokyo", "--out", "tokyo.json")[0] == 0
    sandbox.registry.replication = {"rules": [{**TO_OTHER, "deleteReplication": {"enabled": True}}]}
    code, out, err = _cli("apply", "tokyo.json", "--auto-approve")
    assert (code, out) == (1, "")
    assert err.splitlines()[-1].startswith(
        f"ecrgc: registry {OWN}/{TOKYO}: replication rule 1 replicates deletions (deleteReplication) of"
        f" 1 repository the plan deletes in (first svc/api) to {OTHER}/{EAST},"
    )
    assert len(sandbox.registry.get("svc/api").images) == 5


def test_run_notes_the_replication_and_stops_when_deletions_would_replicate(
    repo: Path, sandbox: Sandbox
) -> None:
    (repo / ".env").write_text(
        f"ENV=PRD\nAWS_REGION={TOKYO}\nTARGET_REPO_REGEX='^svc/'\nPROTECT_LATEST=2\nPROTECT_INUSE_BY_K8S=false\n",
        encoding="utf-8",
    )
    code, out, _ = _cli("run", "--dry-run")
    assert code == 0
    assert "replicates to" in out
    sandbox.registry.replication = {"rules": [{**TO_OTHER, "deleteReplication": {"enabled": True}}]}
    code, out, err = _cli("run", "--auto-confirm")
    assert code == 1
    assert "replication rule 1 replicates deletions (deleteReplication)" in err
    assert len(sandbox.registry.get("svc/api").images) == 5


def test_the_plan_file_records_the_replication_and_show_says_it(repo: Path) -> None:
    assert _cli("plan", "--all-targets", "--out-dir", "plans")[0] == 0
    (tokyo,) = (repo / "plans" / "tokyo").glob("*.json")
    assert load_plan_file(tokyo).replication == (
        ReplicationRule(
            destinations=(
                ReplicaDestination(account=OWN, region=EAST, target="east"),
                ReplicaDestination(account=OTHER, region=IRELAND),
            ),
            prefixes=("svc/",),
        ),
        ReplicationRule(destinations=(ReplicaDestination(account=OTHER, region=EAST, target="other"),)),
    )
    (east,) = (repo / "plans" / "east").glob("*.json")
    assert load_plan_file(east).replication == ()
    code, out, _ = _cli("show", str(tokyo))
    assert code == 0
    assert NOTE in out.splitlines()
    assert _cli("plan", "--target", "tokyo", "--out", "tokyo.json.gz")[0] == 0
    assert load_plan_file(repo / "tokyo.json.gz").replication == load_plan_file(tokyo).replication


def test_a_hand_written_replication_block_reads_and_a_bad_one_is_refused_naming_the_field(repo: Path) -> None:
    """The attacker (or a migrant) writes the block by hand and rehashes it by the documented recipe."""
    assert _cli("plan", "--target", "east", "--out", "east.json")[0] == 0
    document = json.loads((repo / "east.json").read_text(encoding="utf-8"))
    document["replication"] = json.loads(
        '[{"delete_replication": true, "prefixes": ["web/", "svc/"],'
        f' "destinations": [{{"target": null, "region": "{IRELAND}", "account_id": "{OTHER}"}}]}}]'
    )
    (repo / "east.json").write_text(_rehash(document), encoding="utf-8")
    assert load_plan_file(repo / "east.json").replication == (
        ReplicationRule(
            destinations=(ReplicaDestination(account=OTHER, region=IRELAND),),
            prefixes=("web/", "svc/"),
            delete_replication=True,
        ),
    )
    document["replication"][0]["delete_replication"] = "no"
    (repo / "east.json").write_text(_rehash(document), encoding="utf-8")
    code, out, err = _cli("show", "east.json")
    assert (code, out) == (1, "")
    assert "east.json::$.replication[0].delete_replication" in err, err
