"""Several registries behind one endpoint, through unmodified boto3: the region from each request's SigV4
credential scope, the account from the caller (a user's key, or AssumeRole's temporary credentials),
`registryId` honoured only for a registry shared with the caller; and DescribeRegistry's replication."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from ecrgc.errors import ConfigError
from ecrgc.sandbox import Sandbox, seed
from tests.sandbox.clients import NO_RETRY, code_of, error_of

OWN, OTHER = "123456789012", "210987654321"
TOKYO, EAST = "ap-northeast-1", "us-east-1"
OTHER_ROLE = f"arn:aws:iam::{OTHER}:role/ecrgc-plan"


def _client(
    service: str,
    region: str,
    environ: dict[str, str] | None = None,
    /,
    *,
    key: str | None = None,
    secret: str | None = None,
    token: str | None = None,
) -> Any:
    given = environ or {}
    session = boto3.session.Session(
        aws_access_key_id=key or given.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=secret or given.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=token,
    )
    return session.client(service, region_name=region, config=NO_RETRY)  # type: ignore[call-overload]


def _names(ecr: Any, **kwargs: str) -> list[str]:
    return sorted(r["repositoryName"] for r in ecr.describe_repositories(**kwargs)["repositories"])


def _assumed(role_arn: str, region: str = EAST) -> dict[str, str]:
    issued = _client("sts", region).assume_role(RoleArn=role_arn, RoleSessionName="test")["Credentials"]
    return {
        "key": issued["AccessKeyId"],
        "secret": issued["SecretAccessKey"],
        "token": issued["SessionToken"],
    }


def test_each_account_and_region_is_its_own_registry(sandbox: Sandbox) -> None:
    other = sandbox.user(OTHER)
    _client("ecr", TOKYO).create_repository(repositoryName="own/tokyo")
    _client("ecr", EAST).create_repository(repositoryName="own/east")
    _client("ecr", EAST, other).create_repository(repositoryName="other/east")
    assert _names(_client("ecr", TOKYO)) == ["own/tokyo"]
    assert _names(_client("ecr", EAST)) == ["own/east"]
    assert _names(_client("ecr", EAST, other)) == ["other/east"]
    assert _names(_client("ecr", TOKYO, other)) == []
    described = _client("ecr", EAST, other).describe_repositories()["repositories"][0]
    assert described["registryId"] == OTHER
    assert described["repositoryUri"] == f"{OTHER}.dkr.ecr.{EAST}.amazonaws.com/other/east"
    assert sorted(sandbox.registries) == [(OWN, TOKYO), (OWN, EAST), (OTHER, TOKYO), (OTHER, EAST)]
    assert sandbox.registry is sandbox.registries[(OWN, TOKYO)]


def test_callers_are_who_their_keys_say(sandbox: Sandbox) -> None:
    assert _client("sts", EAST).get_caller_identity()["Account"] == OWN
    other = _client("sts", EAST, sandbox.user(OTHER, "ci")).get_caller_identity()
    assert (other["Account"], other["Arn"]) == (OTHER, f"arn:aws:iam::{OTHER}:user/ci")
    unknown = _client("sts", EAST, key="AKIAUNKNOWN", secret="x").get_caller_identity()
    assert unknown["Account"] == OWN  # a key the sandbox did not issue is the default user, as before


def test_assumed_role_credentials_act_in_the_role_account(sandbox: Sandbox) -> None:
    sandbox.registry_for(OTHER, EAST).create_repository("svc/api")
    keys = _assumed(OTHER_ROLE)
    identity = _client("sts", EAST, **keys).get_caller_identity()
    assert identity["Account"] == OTHER
    assert identity["Arn"] == f"arn:aws:sts::{OTHER}:assumed-role/ecrgc-plan/test"
    assert _names(_client("ecr", EAST, **keys)) == ["svc/api"]
    assert _names(_client("ecr", EAST)) == []


def test_assume_role_refuses_a_denied_role_and_a_malformed_arn(sandbox: Sandbox) -> None:
    sandbox.knobs.denied_roles.add(OTHER_ROLE)
    denied = error_of(_client("sts", EAST).assume_role, RoleArn=OTHER_ROLE, RoleSessionName="test")
    assert denied.response["Error"]["Code"] == "AccessDenied"
    assert denied.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert f"sts:AssumeRole on resource: {OTHER_ROLE}" in denied.response["Error"]["Message"]
    malformed = code_of(
        _client("sts", EAST).assume_role, RoleArn="arn:aws:iam::1:role/x", RoleSessionName="t1"
    )
    assert malformed == "ValidationError"


def test_registry_id_reaches_another_registry_only_when_it_is_shared(sandbox: Sandbox) -> None:
    theirs = sandbox.registry_for(OTHER, EAST)
    theirs.create_repository("shared/app")
    ecr = _client("ecr", EAST)
    denied = error_of(ecr.describe_repositories, registryId=OTHER)
    assert denied.response["Error"]["Code"] == "AccessDeniedException"
    assert f"ecr:DescribeRepositories on resource: arn:aws:ecr:{EAST}:{OTHER}:repository/*" in str(denied)
    theirs.shared_with.add(OWN)
    assert _names(ecr, registryId=OTHER) == ["shared/app"]
    assert _names(ecr, registryId=OWN) == []
    assert code_of(_client("ecr", TOKYO).describe_repositories, registryId=OTHER) == "AccessDeniedException"


def test_describe_registry_answers_the_seeded_replication(sandbox: Sandbox, tmp_path: Path) -> None:
    unset = _client("ecr", TOKYO).describe_registry()
    assert (unset["registryId"], unset["replicationConfiguration"]) == (OWN, {"rules": []})
    path = tmp_path / "other.yaml"
    path.write_text(
        f'account: "{OTHER}"\nregion: {EAST}\nshared_with: ["{OWN}"]\nreplication:\n  rules:\n'
        f'    - destinations: [{{region: {TOKYO}, registryId: "{OWN}"}}]\n'
        "      repositoryFilters: [{filter: svc/, filterType: PREFIX_MATCH}]\n"
        "      deleteReplication: {enabled: false}\n"
        "repositories: [{name: svc/api, images: [{tags: [v1]}]}]\n",
        encoding="utf-8",
    )
    seed.load_into(sandbox, path)
    reply = _client("ecr", EAST, sandbox.user(OTHER)).describe_registry()
    assert reply["registryId"] == OTHER
    assert reply["replicationConfiguration"]["rules"] == [
        {
            "destinations": [{"region": TOKYO, "registryId": OWN}],
            "repositoryFilters": [{"filter": "svc/", "filterType": "PREFIX_MATCH"}],
            "deleteReplication": {"enabled": False},
        }
    ]
    assert _names(_client("ecr", EAST), registryId=OTHER) == ["svc/api"]
    with pytest.raises(ConfigError, match=r"other\.yaml::\$\.account: the file seeds"):
        seed.load(sandbox.registry, path)


def test_put_replication_configuration_is_checked_like_ecr(sandbox: Sandbox) -> None:
    ecr = _client("ecr", TOKYO)
    rule = {"destinations": [{"region": EAST, "registryId": OTHER}]}
    ecr.put_replication_configuration(replicationConfiguration={"rules": [rule]})
    assert ecr.describe_registry()["replicationConfiguration"] == {"rules": [rule]}
    itself = {"destinations": [{"region": TOKYO, "registryId": OWN}]}
    error = error_of(ecr.put_replication_configuration, replicationConfiguration={"rules": [itself]})
    assert "cannot be the same as the source registry" in error.response["Error"]["Message"]
    bad_filter = {**rule, "repositoryFilters": [{"filter": "Svc", "filterType": "PREFIX_MATCH"}]}
    message = error_of(ecr.put_replication_configuration, replicationConfiguration={"rules": [bad_filter]})
    assert "repositoryFilters.member.filter" in message.response["Error"]["Message"]
    sandbox.knobs.denied.add("DescribeRegistry")
    assert code_of(ecr.describe_registry) == "AccessDeniedException"
