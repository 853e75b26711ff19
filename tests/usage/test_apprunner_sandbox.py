"""App Runner against the sandbox's App Runner (moto has none): pagination, sources, failing closed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import boto3
import pytest

from ecrgc.aws.apprunner import service_uses
from ecrgc.errors import SourceUnavailable
from ecrgc.model import InputFingerprint, InputKind
from ecrgc.policy import load_policy_text
from ecrgc.sandbox import Sandbox
from ecrgc.usage import collect

ACCOUNT, REGION = "123456789012", "ap-northeast-1"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
WHERE = f"apprunner {ACCOUNT}/{REGION}"
POLICY = load_policy_text(
    textwrap.dedent(
        f"""\
        apiVersion: ecrgc/v1
        kind: Policy
        metadata: {{name: web}}
        spec:
          region: {REGION}
          repositories: {{include: ['^web/']}}
          rules: {{keepLatest: 1}}
          protect: {{aws: {{appRunner: true}}}}
        """
    ),
    "web.yaml",
)


def create(name: str, source: dict[str, object]) -> None:
    boto3.client("apprunner", region_name=REGION).create_service(ServiceName=name, SourceConfiguration=source)


def image(identifier: str, kind: str = "ECR") -> dict[str, object]:
    return {"ImageRepository": {"ImageIdentifier": identifier, "ImageRepositoryType": kind}}


def test_every_service_with_an_ecr_image_is_in_use_across_pages(sandbox: Sandbox, tmp_path: Path) -> None:
    for n in range(23):  # two pages of 20
        create(f"web-{n:02}", image(f"{ECR}/web/site:v{n}"))
    create("public", image("public.ecr.aws/nginx/nginx:1.27", "ECR_PUBLIC"))
    code = {
        "RepositoryUrl": "https://github.com/o/r",
        "SourceCodeVersion": {"Type": "BRANCH", "Value": "main"},
    }
    create("from-code", {"CodeRepository": code})
    usage = collect([POLICY])
    assert [(str(u.ref), u.source) for u in usage.uses] == sorted(
        (f"{ECR}/web/site:v{n}", f"{WHERE} · service web-{n:02}") for n in range(23)
    )
    assert usage.inputs == (
        InputFingerprint.of_uses(InputKind.APP_RUNNER, f"{ACCOUNT}/{REGION}", usage.uses),
    )
    assert sandbox.calls["ListServices"] == 2
    assert sandbox.calls["DescribeService"] == 25


def test_an_account_with_no_services_is_read_and_counted(sandbox: Sandbox, tmp_path: Path) -> None:
    usage = collect([POLICY])
    assert usage.uses == ()
    assert [(i.kind, i.name, i.references) for i in usage.inputs] == [
        (InputKind.APP_RUNNER, f"{ACCOUNT}/{REGION}", 0)
    ]


@pytest.mark.parametrize(
    ("operation", "message"),
    [("ListServices", f"{WHERE}: ListServices"), ("DescribeService", f"{WHERE}: DescribeService (web-00)")],
)
def test_a_denied_api_stops_the_plan(sandbox: Sandbox, tmp_path: Path, operation: str, message: str) -> None:
    create("web-00", image(f"{ECR}/web/site:v0"))
    sandbox.knobs.denied.add(operation)
    with pytest.raises(SourceUnavailable) as caught:
        collect([POLICY])
    assert str(caught.value) == (
        f"{message} failed (AccessDeniedException): nothing may be deleted while it cannot be read; grant the"
        " permission (docs/gitops.md) or remove the service from protect.aws"
    )


def test_a_service_protects_its_ecr_image_by_digest_and_a_public_one_nothing() -> None:
    # DescribeService's Service, as the API reference documents it
    service = {
        "ServiceName": "site",
        "Status": "RUNNING",
        "SourceConfiguration": {
            "ImageRepository": {
                "ImageIdentifier": f"{ECR}/web/site@sha256:{'c' * 64}",
                "ImageConfiguration": {"Port": "8080"},
                "ImageRepositoryType": "ECR",
            },
            "AutoDeploymentsEnabled": True,
        },
    }
    assert [str(u.ref) for u in service_uses(WHERE, service)] == [f"{ECR}/web/site@sha256:{'c' * 64}"]
    public = {**service, "SourceConfiguration": image("public.ecr.aws/nginx/nginx:1.27", "ECR_PUBLIC")}
    assert service_uses(WHERE, public) == []
