"""AWS-native usage against moto: ECS, Lambda and Batch in two accounts (one through AssumeRole) and two
regions, planned end to end with the survivors written out by hand, and each source failing closed.

moto 5.2 gaps and how this file works around each, never so that a test passes that AWS would fail:
- UpdateService adds no deployment (the old one stays, with the old revision): the reader also protects the
  service's own `taskDefinition` (on AWS the PRIMARY deployment's), so prod/api protects api:3 and api:4 here
  as it would on AWS (PRIMARY api:4, ACTIVE api:3); several deployments are read through task sets
  (EXTERNAL controller), which moto does keep, and from a hand-written DescribeServices reply in
  test_aws_replies.py.
- Tasks have no `containers[].imageDigest`: the digest path is tested with AWS's documented DescribeTasks
  reply (test_aws_replies.py); here a task protects its revision's images only.
- ListTaskDefinitions ignores `sort` and `maxResults`: the reader ranks revisions by number itself.
- PublishVersion shares the code object: no function's code is updated after publishing, so every version
  here has the image AWS would report for it.
- With its IAM checks on, moto rejects every Lambda call as SignatureDoesNotMatch (it cannot verify the
  signature of a signed Lambda request): a Deny on Lambda could not be told apart from that, so Lambda's
  refusals are served here as AWS documents them (`denying_lambda`), and Lambda sits out the tests that turn
  moto's IAM checks on.
- `ResolvedImageUri` is a fake digest unless MOTO_LAMBDA_STUB_ECR=false, which resolves only by the last path
  segment in the function's own account: the own-account function is created with it false (its digest is
  the pushed image's); the other account's function points at this registry, so its fake digest matches
  nothing and it protects by tag alone (on AWS its digest names the same image).
"""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from ecrgc.aws import Registry
from ecrgc.commands.plan import run_plan
from ecrgc.errors import SourceUnavailable
from ecrgc.model import Plan
from ecrgc.planfile import load_plan_file, write_plan_file
from ecrgc.policy import load_policies
from ecrgc.usage import collect, collector
from tests.apply.world import NOW
from tests.aws.conftest import _moto_api
from tests.aws.test_moto import push

pytestmark = pytest.mark.moto

OWN, OTHER = "123456789012", "210987654321"
REGION, FAR = "us-east-1", "ap-northeast-1"
ECR = f"{OWN}.dkr.ecr.{REGION}.amazonaws.com"
ROLE = f"arn:aws:iam::{OTHER}:role/ecrgc-read"


def policy_file(directory: Path, aws: str) -> Path:
    text = f"""\
        apiVersion: ecrgc/v1
        kind: Policy
        metadata:
          name: all
        spec:
          region: {REGION}
          repositories:
            include: ['.']
          rules:
            keepLatest: 0
          protect:
            aws:
        """
    path = directory / "all.yaml"
    path.write_text(textwrap.dedent(text) + textwrap.indent(textwrap.dedent(aws), " " * 6), encoding="utf-8")
    return path


def other_account(region: str) -> boto3.session.Session:
    credentials = boto3.client("sts", region_name=region).assume_role(RoleArn=ROLE, RoleSessionName="setup")
    c = credentials["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        region_name=region,
    )


def container(image: str) -> list[dict[str, object]]:
    return [{"name": "app", "image": image, "memory": 128}]


def build_world(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The registry (this account, us-east-1) and the workloads of both accounts; digests by `repo:tag`."""
    ecr = boto3.client("ecr", region_name=REGION)
    digests = {}
    for repo, tags in {"api": 8, "fn": 2, "train": 2}.items():
        ecr.create_repository(repositoryName=repo)
        for n in range(1, tags + 1):
            digests[f"{repo}:v{n}"] = push(ecr, repo, f"{repo}{n}", tag=f"v{n}")
    digests["fn:untagged"] = push(ecr, "fn", "loose")

    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="prod")
    for n in range(1, 8):
        ecs.register_task_definition(family="api", containerDefinitions=container(f"{ECR}/api:v{n}"))
    network = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}
    ecs.run_task(cluster="prod", taskDefinition="api:7", launchType="FARGATE", networkConfiguration=network)
    ecs.deregister_task_definition(taskDefinition="api:7")  # INACTIVE: kept only for the task still running
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api:3", desiredCount=1)
    ecs.update_service(cluster="prod", service="api", taskDefinition="api:4")
    ecs.create_service(
        cluster="prod", serviceName="canary", desiredCount=0, deploymentController={"type": "EXTERNAL"}
    )
    ecs.create_task_set(cluster="prod", service="canary", taskDefinition="api:1")

    role = boto3.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    own_lambda = boto3.client("lambda", region_name=REGION)
    monkeypatch.setenv("MOTO_LAMBDA_STUB_ECR", "false")  # resolve against this account's moto ECR
    own_lambda.create_function(
        FunctionName="f", PackageType="Image", Role=role, Code={"ImageUri": f"{ECR}/fn:v1"}
    )
    version = own_lambda.publish_version(FunctionName="f")["Version"]
    own_lambda.create_alias(FunctionName="f", Name="live", FunctionVersion=version)
    own_lambda.create_function(
        FunctionName="g",
        PackageType="Image",
        Role=role,
        Code={"ImageUri": f"{ECR}/fn@{digests['fn:untagged']}"},
    )
    monkeypatch.delenv("MOTO_LAMBDA_STUB_ECR")

    far = other_account(FAR)
    far_role = far.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    far_lambda = far.client("lambda")
    far_lambda.create_function(
        FunctionName="sync", PackageType="Image", Role=far_role, Code={"ImageUri": f"{ECR}/fn:v2"}
    )
    # a zip function uses no image
    batch = other_account(REGION).client("batch")
    for n in (1, 2):
        properties = {"image": f"{ECR}/train:v{n}", "vcpus": 1, "memory": 128, "command": ["train"]}
        batch.register_job_definition(
            jobDefinitionName="train", type="container", containerProperties=properties
        )
    batch.deregister_job_definition(jobDefinition="train:1")
    return digests


AWS = f"""\
ecs: {{taskDefinitionRevisions: 2}}
lambda: true
batch: true
accounts:
  - roleArn: {ROLE}
    regions: [{REGION}, {FAR}]
"""


def plan_world(tmp_path: Path) -> Plan:
    policies = load_policies([policy_file(tmp_path, AWS)])
    return run_plan(policies, inventory=Registry(REGION), usage=collector(), now=NOW)


def test_the_union_of_every_service_in_both_accounts_and_regions_is_kept(
    moto: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    digests = build_world(monkeypatch)
    plan = plan_world(tmp_path)
    deleted = {(a.repository, a.digest) for a in plan.actions}
    # By hand: api:2 is used by nothing and is not among the newest 2 ACTIVE revisions (6, 5); api:8 is in no
    # task definition; train:1 is deregistered; everything else is used somewhere.
    assert deleted == {("api", digests["api:v2"]), ("api", digests["api:v8"]), ("train", digests["train:v1"])}
    sources = {(p.repository, p.digest): set(p.sources) for p in plan.protected}
    here, far, there = f"{OWN}/{REGION}", f"{OTHER}/{FAR}", f"{OTHER}/{REGION}"
    assert sources[("api", digests["api:v1"])] == {f"ecs {here} · service prod/canary · taskdef api:1"}
    assert sources[("api", digests["api:v3"])] == {f"ecs {here} · service prod/api · taskdef api:3"}
    assert sources[("api", digests["api:v4"])] == {f"ecs {here} · service prod/api · taskdef api:4"}
    assert sources[("api", digests["api:v5"])] == {f"ecs {here} · newest 2 of api · taskdef api:5"}
    assert sources[("api", digests["api:v6"])] == {f"ecs {here} · newest 2 of api · taskdef api:6"}
    (task,) = sources[("api", digests["api:v7"])]
    assert task.startswith(f"ecs {here} · task prod/")
    assert task.endswith(" · taskdef api:7")
    assert sources[("fn", digests["fn:v1"])] == {
        f"lambda {here} · function f · $LATEST",
        f"lambda {here} · function f · version 1",
        f"lambda {here} · function f · alias live · version 1",
    }
    assert sources[("fn", digests["fn:untagged"])] == {f"lambda {here} · function g · $LATEST"}
    assert sources[("fn", digests["fn:v2"])] == {f"lambda {far} · function sync · $LATEST"}
    assert sources[("train", digests["train:v2"])] == {f"batch {there} · jobdef train:2"}
    inputs = {(str(i.kind), i.name): i.references for i in plan.inputs}
    assert inputs == {
        # distinct references: api:v1 and v3..v7; fn:v1 and its digest, g's digest; sync's tag and fake digest
        ("ecs", here): 6,
        ("ecs", there): 0,
        ("ecs", far): 0,
        ("lambda", here): 3,
        ("lambda", there): 0,
        ("lambda", far): 2,
        ("batch", here): 0,
        ("batch", there): 1,
        ("batch", far): 0,
    }
    write_plan_file(plan, tmp_path / "plan.json")  # the plan file records every account and region read
    assert load_plan_file(tmp_path / "plan.json").inputs == plan.inputs


@pytest.fixture
def denied(moto: str) -> Iterator[Callable[[pytest.MonkeyPatch, str], None]]:
    """Turns on moto's IAM checks with credentials of a user allowed everything but `action`."""

    def deny(monkeypatch: pytest.MonkeyPatch, action: str) -> None:
        iam = boto3.client("iam")
        iam.create_user(UserName="planner")
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": action, "Resource": "*"},
            ],
        }
        iam.put_user_policy(UserName="planner", PolicyName="read", PolicyDocument=json.dumps(document))
        key = iam.create_access_key(UserName="planner")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        _moto_api(moto, "reset-auth", b"0")

    try:
        yield deny
    finally:
        _moto_api(moto, "reset-auth", b"inf")


@pytest.mark.parametrize(
    ("aws", "action", "message"),
    [
        (
            "ecs: {taskDefinitionRevisions: 1}",
            "ecs:ListTasks",
            f"ecs {OWN}/{REGION}: ListTasks (cluster prod, RUNNING)",
        ),
        (
            "ecs: {taskDefinitionRevisions: 1}",
            "ecs:DescribeTaskDefinition",
            f"ecs {OWN}/{REGION}: DescribeTaskDefinition (api:",
        ),
    ],
)
def test_a_denied_api_stops_the_plan_naming_account_region_service_and_api(
    *,
    denied: Callable[[pytest.MonkeyPatch, str], None],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    aws: str,
    action: str,
    message: str,
) -> None:
    build_world(monkeypatch)
    denied(monkeypatch, action)  # (moto checks no IAM policy for Batch: its failing closed is tested below)
    policies = load_policies([policy_file(tmp_path, aws)])
    with pytest.raises(SourceUnavailable) as caught:
        collect(policies)
    # moto answers a denied call with a bare 403 (AWS: AccessDeniedException): the code
    # differs, the line and what it names do not
    text = str(caught.value)
    assert text.startswith(message)
    assert " failed (" in text
    assert "\n" not in text
    assert text.endswith("grant the permission (docs/gitops.md) or remove the service from protect.aws")


class _Refusing(BaseHTTPRequestHandler):
    """Lambda refusing a caller as AWS does (REST-JSON: 403, `x-amzn-ErrorType`, a JSON message)."""

    def do_GET(self) -> None:
        body = json.dumps(
            {
                "Type": "User",
                "message": f"User: arn:aws:iam::{OWN}:user/planner is not authorized to perform:"
                f" lambda:ListFunctions on resource: arn:aws:lambda:{REGION}:{OWN}:function:*",
            }
        ).encode()
        self.send_response(403)
        self.send_header("x-amzn-ErrorType", "AccessDeniedException")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """No line on stderr per request (BaseHTTPRequestHandler's default)."""


@pytest.fixture
def denying_lambda(moto: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Lambda's endpoint answering every call with AccessDeniedException; the other services are moto's."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", f"http://127.0.0.1:{server.server_port}")
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.usefixtures("denying_lambda")
def test_lambda_refusing_the_plan_stops_it_naming_account_region_and_api(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable) as caught:
        collect(load_policies([policy_file(tmp_path, "lambda: true\n")]))
    assert str(caught.value) == (
        f"lambda {OWN}/{REGION}: ListFunctions failed (AccessDeniedException): nothing may be deleted while"
        " it cannot be read; grant the permission (docs/gitops.md) or remove the service from protect.aws"
    )


# Lambda sits out: with moto's IAM checks on, the own account's Lambda is refused too (module docstring)
@pytest.mark.parametrize("service", ["ecs: {taskDefinitionRevisions: 1}", "batch: true"])
def test_a_role_that_cannot_be_assumed_stops_the_plan(
    denied: Callable[[pytest.MonkeyPatch, str], None],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    service: str,
) -> None:
    denied(monkeypatch, "sts:AssumeRole")
    aws = f"{service}\naccounts: [{{roleArn: '{ROLE}', regions: [{FAR}]}}]\n"
    with pytest.raises(SourceUnavailable) as caught:
        collect(load_policies([policy_file(tmp_path, aws)]))
    assert str(caught.value).startswith(
        f"aws account {OTHER}: cannot assume role {ROLE} (sts AssumeRole in {FAR}: AccessDenied)"
    )


@pytest.mark.parametrize(
    ("service", "api"), [("batch", "DescribeJobDefinitions"), ("lambda", "ListFunctions")]
)
def test_a_region_that_does_not_answer_stops_the_plan(
    moto: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, service: str, api: str
) -> None:
    monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service.upper()}", "http://127.0.0.1:9")  # nothing listens there
    policies = load_policies([policy_file(tmp_path, f"{service}: true\n")])
    with pytest.raises(SourceUnavailable) as caught:
        collect(policies)
    assert str(caught.value).startswith(f"{service} {OWN}/{REGION}: {api} failed (EndpointConnectionError: ")
