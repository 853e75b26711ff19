"""The botocore sessions and clients of `ecrgc.aws.client`: every service ecrgc reads has its models, a
registry resolves its credentials once for both of its clients, and requests name ecrgc."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import create_loader

from ecrgc import __version__
from ecrgc.aws import Registry
from ecrgc.aws.client import SERVICES, botocore_session
from ecrgc.sandbox import Sandbox
from tests.aws.profiles import use_credential_process


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_ecrgc_reads_builds_a_client_from_botocores_models(service: str) -> None:
    client = botocore_session().create_client(service, "eu-west-1")
    assert client.meta.service_model.service_name == service
    assert client.meta.region_name == "eu-west-1"


def test_ecrgcs_loader_reads_every_file_its_clients_read_as_botocores_own_loader_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))  # a loader of its own, unused by botocore yet
    ours, theirs = botocore_session().get_component("data_loader"), create_loader()
    for name in ("endpoints", "partitions", "_retry", "sdk-default-configuration"):
        data = ours.load_data(name)
        assert type(data) is dict  # parsed by msgspec (botocore's own parser makes OrderedDicts)
        assert json.dumps(data) == json.dumps(theirs.load_data(name))  # the same members, in the same order
    for service in SERVICES:
        for type_name in ("service-2", "endpoint-rule-set-1", "paginators-1"):
            data = ours.load_service_model(service, type_name)
            assert json.dumps(data) == json.dumps(theirs.load_service_model(service, type_name))


def test_a_service_ecrgc_never_reads_is_unknown() -> None:
    with pytest.raises(UnknownServiceError, match="'iam'"):
        botocore_session().create_client("iam", "eu-west-1")


def test_a_registry_resolves_its_profiles_credentials_once_for_its_ecr_and_sts_clients(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "calls"
    use_credential_process(
        monkeypatch,
        tmp_path,
        "import json, pathlib\n"
        f"with pathlib.Path({str(calls)!r}).open('a') as calls: calls.write('called\\n')\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': 'AKIDPROCESS', 'SecretAccessKey': 'secret'}))\n",
        profile="counted",
    )
    sandbox.registry.push_image("svc/api", tags=["a"])

    registry = Registry(sandbox.registry.region, profile="counted")
    assert registry.caller_account() == sandbox.registry.account
    assert [name for name, _, _ in registry.list_repositories(lambda _: True)] == ["svc/api"]
    assert calls.read_text().splitlines() == ["called"]


def test_requests_name_ecrgc_and_its_version_in_their_user_agent(sandbox: Sandbox) -> None:
    registry = Registry(sandbox.registry.region)
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        agent = request.headers["User-Agent"]  # bytes from botocore's Endpoint, text from the transport's
        sent.append(agent.decode() if isinstance(agent, bytes) else agent)

    registry.client.meta.events.register("before-send.ecr.DescribeRepositories", record)
    registry.list_repositories(lambda _: True)
    assert [agent.split(" ")[0] for agent in sent] == [f"ecrgc/{__version__}"]
    assert "md/Botocore#" in sent[0]
    assert not any("Boto3" in agent for agent in sent)
