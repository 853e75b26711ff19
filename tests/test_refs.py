"""Reference parsing, imageID forms and ECR host spellings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrgc.model import THIS_REGISTRY, ImageRef
from ecrgc.refs import (
    ecr_host,
    ecr_registry,
    parse_image_id,
    parse_list_reference,
    parse_reference,
    this_registry_reading,
)
from tests import strategies as s

D = "sha256:" + "ab" * 32
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", ImageRef(host="docker.io", repository="library/nginx")),
        ("nginx:1.25", ImageRef(host="docker.io", repository="library/nginx", tag="1.25")),
        ("bitnami/redis", ImageRef(host="docker.io", repository="bitnami/redis")),
        ("index.docker.io/nginx", ImageRef(host="docker.io", repository="library/nginx")),
        (f"nginx@{D}", ImageRef(host="docker.io", repository="library/nginx", digest=D)),
        ("localhost/app", ImageRef(host="localhost", repository="app")),
        ("localhost:5000/a/b:t", ImageRef(host="localhost:5000", repository="a/b", tag="t")),
        ("GHCR.IO/org/app:V1.0", ImageRef(host="ghcr.io", repository="org/app", tag="V1.0")),
        ("[::1]:5000/app", ImageRef(host="[::1]:5000", repository="app")),
        (
            f"  {ECR}/team/app:v1@{D}\n",
            ImageRef(
                host=ECR,
                repository="team/app",
                tag="v1",
                digest=D,
                account="123456789012",
                region="eu-west-1",
            ),
        ),
    ],
)
def test_parse_reference(text: str, expected: ImageRef) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a valid repository name"),
        ("   ", "not a valid repository name"),
        ("Nginx", "not a valid repository name"),
        ("ghcr.io/Org/app", "not a valid repository name"),
        ("app:", "not a valid tag"),
        ("app:-x", "not a valid tag"),
        ("app@sha256:abc", "is not a digest"),
        ("app@sha256:" + "AB" * 32, "64 lower-case hex"),
        ("app@", "is not a digest"),
        ("-bad.host/app", "not a valid registry host"),
        ("ghcr.io/" + "a" * 260, "at most 255 characters"),
        ("ghcr.io//app", "not a valid repository name"),
    ],
)
def test_parse_reference_rejects_garbage(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_reference(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("  ", None),
        (D, None),
        (f"docker://{D}", None),
        (
            f"{ECR}/app@{D}",
            ImageRef(host=ECR, repository="app", digest=D, account="123456789012", region="eu-west-1"),
        ),
        (f"docker-pullable://nginx@{D}", ImageRef(host="docker.io", repository="library/nginx", digest=D)),
        ("docker-pullable://nginx:1.25", None),
    ],
)
def test_parse_image_id(text: str, expected: ImageRef | None) -> None:
    assert parse_image_id(text) == expected


def test_parse_image_id_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a digest"):
        parse_image_id("docker-pullable://nginx@md5")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (ECR, ("123456789012", "eu-west-1")),
        ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", ("123456789012", "us-gov-west-1")),
        ("123456789012.dkr-ecr.us-east-1.on.aws", ("123456789012", "us-east-1")),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", ("123456789012", "cn-north-1")),
        ("123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn", ("123456789012", "cn-north-1")),
        ("123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu", ("123456789012", "eusc-de-east-1")),
        ("123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", ("123456789012", "us-iso-east-1")),
        ("123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", ("123456789012", "us-isob-east-1")),
        ("123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", ("123456789012", "eu-isoe-west-1")),
        ("123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov", ("123456789012", "us-isof-south-1")),
        ("12345678901.dkr.ecr.eu-west-1.amazonaws.com", None),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.io", None),
        ("public.ecr.aws", None),
        ("docker.io", None),
    ],
)
def test_ecr_registry(host: str, expected: tuple[str, str] | None) -> None:
    assert ecr_registry(host) == expected


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("eu-west-1", ECR),
        ("cn-north-1", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_ecr_host(region: str, host: str) -> None:
    assert ecr_host("123456789012", region) == host
    assert ecr_registry(host) == ("123456789012", region)


@given(
    host=st.one_of(s.ecr_hosts(), s.other_hosts),
    repository=s.repository_names,
    tag=st.none() | s.tags,
    digest=st.none() | s.digests,
)
def test_round_trip(host: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = parse_reference(str(ImageRef(host=host.lower(), repository=repository, tag=tag, digest=digest)))
    official = host == "docker.io" and "/" not in repository  # Docker Hub's one-element names are library/
    expected = f"library/{repository}" if official else repository
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (host.lower(), expected, tag, digest)
    assert parse_reference(str(ref)) == ref


@given(
    account=s.accounts,
    region=s.regions,
    repository=s.repository_names,
    tag=st.none() | s.tags,
    digest=st.none() | s.digests,
)
def test_every_ecr_spelling_reduces_to_one_key(
    account: str, region: str, repository: str, tag: str | None, digest: str | None
) -> None:
    suffix = (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    keys = {
        (ref.account, ref.region, ref.repository, ref.tag, ref.digest)
        for host in s.ecr_host_spellings(account, region)
        for ref in [parse_reference(f"{host}/{repository}{suffix}")]
    }
    assert keys == {(account, region, repository, tag, digest)}
    assert parse_reference(f"{ecr_host(account, region)}/{repository}").account == account


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # What the seed's list_img.sh writes: `cut -d'/' -f2-` of each pod image.
        ("saas/api:dev-3", ImageRef(host=THIS_REGISTRY, repository="saas/api", tag="dev-3")),
        (
            f"saas/api@sha256:{'a' * 64}",
            ImageRef(host=THIS_REGISTRY, repository="saas/api", digest=f"sha256:{'a' * 64}"),
        ),
        ("nginx", ImageRef(host=THIS_REGISTRY, repository="nginx")),  # no `library/`: this registry's nginx
        ("docker.io/nginx:1", ImageRef(host="docker.io", repository="library/nginx", tag="1")),
        ("localhost:5000/x:1", ImageRef(host="localhost:5000", repository="x", tag="1")),
    ],
)
def test_a_list_reference_without_a_host_names_this_registry(text: str, expected: ImageRef) -> None:
    assert parse_list_reference(text) == expected
    assert str(expected) == text.replace("docker.io/nginx", "docker.io/library/nginx")


def test_a_list_reference_is_checked_like_any_other() -> None:
    with pytest.raises(ValueError, match="'Saas/api' is not a valid repository name"):
        parse_list_reference("Saas/api:1")


def test_a_list_line_whose_host_could_be_a_repository_name_is_read_both_ways() -> None:
    # An ECR repository name may start with a dotted part (`my.team/app`); the seed compared the line as
    # `repository:tag`, so it protected that repository: ecrgc protects it and the other registry's image.
    ref = parse_list_reference("my.team/app:v1")
    assert ref == ImageRef(host="my.team", repository="app", tag="v1")
    assert this_registry_reading(ref) == ImageRef(host=THIS_REGISTRY, repository="my.team/app", tag="v1")
    assert parse_list_reference("team__a.b/app:v1") == ImageRef(
        host=THIS_REGISTRY, repository="team__a.b/app", tag="v1"
    )
    for unambiguous in (
        "saas/api:v1",
        "docker.io/library/nginx:1",
        f"{ecr_host('123456789012', 'eu-west-1')}/a:1",
    ):
        assert this_registry_reading(parse_list_reference(unambiguous)) is None
    assert this_registry_reading(parse_list_reference("localhost:5000/x:1")) is None  # no repository name
