"""Hypothesis strategies for references, registries, usages and policies; reusable by every test module."""

from __future__ import annotations

from hypothesis import strategies as st

ACCOUNT = "123456789012"
REGION = "eu-west-1"

digests = st.binary(min_size=32, max_size=32).map(lambda b: f"sha256:{b.hex()}")
accounts = st.from_regex(r"\A[0-9]{12}\Z")
regions = st.sampled_from(
    [
        "us-east-1",
        "eu-west-1",
        "ap-southeast-2",
        "us-gov-west-1",
        "cn-north-1",
        "cn-northwest-1",
        "eu-isoe-west-1",
    ]
)
_component = st.from_regex(r"\A[a-z0-9]{1,6}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,6}){0,2}\Z")
repository_names = st.lists(_component, min_size=1, max_size=3).map("/".join)
tags = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")


def ecr_host_spellings(account: str, region: str) -> list[str]:
    """Every host spelling of one ECR registry that the credential helper accepts."""
    suffixes = (
        ["amazonaws.com.cn", "on.amazonwebservices.com.cn"]
        if region.startswith("cn-")
        else [
            "amazonaws.com",
            "on.aws",
        ]
    )
    hosts = [
        f"{account}.{dkr}.{region}.{suffix}"
        for dkr in ("dkr.ecr", "dkr-ecr", "dkr.ecr-fips")
        for suffix in suffixes
    ]
    return hosts + [h.upper() for h in hosts[:1]]


@st.composite
def ecr_hosts(draw: st.DrawFn, account: str | None = None, region: str | None = None) -> str:
    """One spelling of an ECR host (of the given registry, or of a random one)."""
    account = account or draw(accounts)
    region = region or draw(regions)
    return draw(st.sampled_from(ecr_host_spellings(account, region)))


other_hosts = st.sampled_from(
    ["docker.io", "ghcr.io", "quay.io", "localhost:5000", "registry.example.com:8443"]
)
