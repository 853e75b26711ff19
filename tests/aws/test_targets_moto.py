"""`ecrgc plan --target/--all-targets` against moto: three registries in two accounts and two regions (the
other account reached only through its target's planRoleArn, with moto checking every call's credentials)
and a fourth target whose role cannot be assumed, which fails alone.

moto's multi-account model: credentials from AssumeRole act in the role's account; with its IAM checks on
(`reset-auth`), a call is allowed only by the caller's IAM policies, so the other account's registry is
readable only with the assumed role's credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from typer.testing import CliRunner

from ecrgc.cli import app
from ecrgc.planfile import load_plan_file
from tests.aws.conftest import _moto_api
from tests.aws.test_moto import push

if TYPE_CHECKING:
    from types_boto3_ecr import ECRClient

pytestmark = pytest.mark.moto

OWN, OTHER, LOCKED = "123456789012", "210987654321", "333333333333"
EAST, TOKYO = "us-east-1", "ap-northeast-1"
OTHER_ROLE = f"arn:aws:iam::{OTHER}:role/ecrgc-plan"
OTHER_APPLY = f"arn:aws:iam::{OTHER}:role/ecrgc-apply"
LOCKED_ROLE = f"arn:aws:iam::{LOCKED}:role/ecrgc-plan"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

TARGETS = f"""\
apiVersion: ecrgc/v1
kind: Targets
spec:
  targets:
    - {{name: own-east, account: "{OWN}", region: {EAST}, policies: [services]}}
    - {{name: own-tokyo, account: "{OWN}", region: {TOKYO}, policies: [services]}}
    - name: other-east
      account: "{OTHER}"
      region: {EAST}
      planRoleArn: {OTHER_ROLE}
      applyRoleArn: {OTHER_APPLY}
      policySelector: {{matchLabels: {{tier: services}}}}
    - {{name: locked, account: "{LOCKED}", region: {TOKYO}, planRoleArn: {LOCKED_ROLE}, policies: [services]}}
"""

SERVICES = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {name: services, labels: {tier: services}}
spec:
  repositories: {include: ['^svc/']}
  rules: {keepLatest: 2}
"""


def _session(account: str) -> boto3.session.Session:
    """Credentials acting in `account` (moto: AssumeRole into it)."""
    role = f"arn:aws:iam::{account}:role/ecrgc-plan"
    issued = boto3.client("sts", region_name=EAST).assume_role(RoleArn=role, RoleSessionName="setup")
    c = issued["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )


@pytest.fixture
def world(moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[str]]]:
    """Each registry's svc/api with 5 images (digests oldest first); the planner may not assume LOCKED's
    role; moto checks credentials from then on. The policy repository is the working directory."""
    with registries(moto, tmp_path, monkeypatch) as digests:
        yield digests


@contextmanager
def registries(moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[str]]]:
    """`world`, for other tests' fixtures too (the workflows' rehearsal)."""
    other = _session(OTHER)
    for role in ("ecrgc-plan", "ecrgc-apply"):
        other.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(ALLOW_ALL))
        other.client("iam").put_role_policy(
            RoleName=role, PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL)
        )
    digests: dict[str, list[str]] = {}
    for name, ecr in {
        "own-east": boto3.client("ecr", region_name=EAST),
        "own-tokyo": boto3.client("ecr", region_name=TOKYO),
        "other-east": other.client("ecr", region_name=EAST),
    }.items():
        ecr.create_repository(repositoryName="svc/api")
        digests[name] = [push(ecr, "svc/api", f"{name}-{n}", tag=f"v{n}") for n in range(1, 6)]
    iam = boto3.client("iam")
    iam.create_user(UserName="planner")
    deny = {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": LOCKED_ROLE}
    document = {**ALLOW_ALL, "Statement": [*ALLOW_ALL["Statement"], deny]}
    iam.put_user_policy(UserName="planner", PolicyName="plan", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName="planner")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "services.yaml").write_text(SERVICES, encoding="utf-8")
    (tmp_path / "targets.yaml").write_text(TARGETS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    _moto_api(moto, "reset-auth", b"0")
    try:
        yield digests
    finally:
        _moto_api(moto, "reset-auth", b"inf")


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--log-dir", "logs", *args])
    return result.exit_code, result.stdout, result.stderr


def test_all_targets_plans_each_registry_and_the_unassumable_one_fails_alone(
    world: dict[str, list[str]], tmp_path: Path
) -> None:
    code, out, err = _cli("plan", "--all-targets", "--out-dir", "plans")
    assert code == 1
    written = sorted(p.relative_to(tmp_path).parts[:2] for p in (tmp_path / "plans").glob("*/*.json"))
    assert written == [("plans", "other-east"), ("plans", "own-east"), ("plans", "own-tokyo")]
    assert [line.split(":")[0] for line in out.splitlines()] == ["own-east", "own-tokyo", "other-east"]
    failed = [line for line in err.splitlines() if line.startswith("ecrgc: target ")]
    assert failed == [
        f"ecrgc: target locked ({LOCKED}/{TOKYO}) failed: aws account {LOCKED}: cannot assume role"
        f" {LOCKED_ROLE} (sts AssumeRole in {TOKYO}: AccessDenied); check the role's trust policy and the"
        " plan role's sts:AssumeRole permission (docs/gitops.md)"
    ]
    for target, account, region in (
        ("own-east", OWN, EAST),
        ("own-tokyo", OWN, TOKYO),
        ("other-east", OTHER, EAST),
    ):
        (path,) = (tmp_path / "plans" / target).glob("*.json")
        plan = load_plan_file(path)
        assert (plan.account, plan.region) == (account, region)
        # keepLatest 2 of 5 (moto's push times tie, so which three is not asserted): this registry's only
        planned = {a.digest for a in plan.actions}
        assert len(planned) == 3
        assert planned <= set(world[target])
        (policy,) = plan.policies
        assert (policy.document["spec"]["region"], policy.document["spec"]["registryId"]) == (region, account)


def test_one_target_is_a_what_if_or_saved_with_out(world: dict[str, list[str]], tmp_path: Path) -> None:
    code, out, err = _cli("plan", "--target", "other-east", "--format", "json")
    assert (code, err) == (0, "")
    assert json.loads(out)["account_id"] == OTHER
    assert not (tmp_path / "plans").exists()
    assert _cli("plan", "--target", "own-tokyo", "--out", "tokyo.json")[0] == 0
    assert load_plan_file(tmp_path / "tokyo.json").region == TOKYO
    assert _cli("plan", "--target", "nowhere") == (
        1,
        "",
        "ecrgc: --target nowhere: targets.yaml has no such target (it has own-east, own-tokyo, other-east,"
        " locked)\n",
    )


def test_ambient_credentials_of_another_account_fail_that_target_only(
    world: dict[str, list[str]], tmp_path: Path
) -> None:
    (tmp_path / "targets.yaml").write_text(
        TARGETS.replace(f"      planRoleArn: {OTHER_ROLE}\n", ""), encoding="utf-8"
    )
    code, out, err = _cli("plan", "--target", "other-east")
    assert (code, out) == (1, "")
    assert err.startswith(f"ecrgc: target other-east ({OTHER}/{EAST}) failed: ")
    assert f"the policy is for registry {OTHER} but the credentials in use are for account {OWN}" in err


def _images(ecr: ECRClient) -> set[str]:
    return {i["imageDigest"] for i in ecr.describe_images(repositoryName="svc/api")["imageDetails"]}


def test_plan_all_then_check_and_apply_each_target_with_its_roles(
    world: dict[str, list[str]], tmp_path: Path, moto: str
) -> None:
    assert _cli("plan", "--all-targets", "--out-dir", "plans")[0] == 1  # the locked target fails alone
    written = {p.parent.name: str(p.relative_to(tmp_path)) for p in (tmp_path / "plans").glob("*/*.json")}
    assert sorted(written) == ["other-east", "own-east", "own-tokyo"]
    # A plan is applied with its own target only: named explicitly, another target is refused.
    code, out, err = _cli("apply", written["other-east"], "--target", "own-east", "--auto-approve")
    assert (code, out) == (3, "")
    assert err == (
        f"ecrgc: {written['other-east']}: the plan binds to {OTHER}/{EAST}, not to target own-east"
        f" ({OWN}/{EAST}); apply it with its own target\n"
    )
    for name, path in written.items():
        assert _cli("plan", "--check", path)[0] == 0, name
        code, out, err = _cli(
            "apply", path, "--auto-approve", *(["--target", name] if name == "own-tokyo" else [])
        )
        assert code == 0, err
    _moto_api(moto, "reset-auth", b"inf")
    registries = {
        "own-east": boto3.client("ecr", region_name=EAST),
        "own-tokyo": boto3.client("ecr", region_name=TOKYO),
        "other-east": _session(OTHER).client("ecr", region_name=EAST),
    }
    for name, ecr in registries.items():
        survivors = _images(ecr)
        assert len(survivors) == 2, name
        assert survivors <= set(world[name])


def test_apply_refuses_credentials_of_another_account_than_the_plan_and_target(
    world: dict[str, list[str]], tmp_path: Path, moto: str
) -> None:
    assert _cli("plan", "--target", "other-east", "--out-dir", "plans")[0] == 0
    (path,) = (tmp_path / "plans" / "other-east").glob("*.json")
    # Without its applyRoleArn, the target is applied with the ambient credentials: OWN's, not OTHER's.
    (tmp_path / "targets.yaml").write_text(
        TARGETS.replace(f"      applyRoleArn: {OTHER_APPLY}\n", ""), encoding="utf-8"
    )
    code, out, err = _cli("apply", str(path.relative_to(tmp_path)), "--auto-approve")
    assert (code, out) == (3, "")
    assert f"the plan is for account {OTHER} but the credentials in use are for account {OWN}" in err
    _moto_api(moto, "reset-auth", b"inf")
    ecr = _session(OTHER).client("ecr", region_name=EAST)
    assert _images(ecr) == set(world["other-east"])
