"""Hypothesis strategies for references, registries, usages and policies; reusable by every test module."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from ecrgc.model import Action, Image, ImageStatus, Policy, Repository, Usage, Use
from ecrgc.patterns import compile_pattern
from ecrgc.refs import ecr_host, parse_list_reference

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


# --- registries, usages and policies for the decision core -----------------------------------------------

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TAG_POOL = ("latest", "v1", "v1.2", "v2", "prod", "prod-2", "release-1", "dev", "x")
HOLD_POOL = ("^prod", "^release-", "^v1&&\\.", "devORx", "^v2$", "^release-&&^prod", "v2&&devORlatest")
"""Hold patterns; the last two hold only an image whose tags match their `&&` parts together."""


_kinds = st.sampled_from(("manifest", "manifest", "index", "referrer", "cosign"))
_tag_lists = st.lists(st.sampled_from(TAG_POOL), max_size=2, unique=True)
_cosign_suffixes = st.sampled_from(("sig", "att", "sbom"))
_push_hours = st.integers(-2, 24 * 400)
_pull_hours = st.none() | st.integers(-24 * 30, 24 * 400)
_statuses = st.sampled_from((ImageStatus.ACTIVE,) * 4 + (ImageStatus.ARCHIVED, ImageStatus.ACTIVATING))
_index_statuses = st.sampled_from((ImageStatus.ACTIVE, ImageStatus.ARCHIVED, ImageStatus.ACTIVATING))
"""Indexes are archived more often: `action: archive` archives them, and their children are then unknown."""
_sizes = st.integers(0, 10**9)


@st.composite
def repositories(draw: st.DrawFn, name: str = "app", max_images: int = 14) -> Repository:
    """A repository whose images form what ECR can hold: indexes (nested too) listing earlier images or a
    digest absent from the repository, OCI referrers, cosign-tagged signatures, archived images (some of
    them indexes whose manifest cannot be read, so whose children are unknown), one image per tag."""
    count = draw(st.integers(0, max_images))
    image_digests = draw(st.lists(digests, min_size=count + 1, max_size=count + 1, unique=True))
    absent = image_digests.pop()
    taken: set[str] = set()
    images = [
        _image(draw, name, digest, [*image_digests[:position], absent], taken)
        for position, digest in enumerate(image_digests)
    ]
    return Repository(name=name, images=tuple(images))


def _image(draw: st.DrawFn, repository: str, digest: str, earlier: list[str], taken: set[str]) -> Image:
    kind = draw(_kinds)
    tags = [tag for tag in draw(_tag_lists) if tag not in taken]
    pick = st.integers(0, len(earlier) - 1)
    target = earlier[draw(pick)]
    cosign = f"sha256-{target.removeprefix('sha256:')}.{draw(_cosign_suffixes)}"
    if kind == "cosign" and cosign not in taken:
        tags.insert(draw(st.integers(0, len(tags))), cosign)  # anywhere: tag order means nothing
    taken.update(tags)
    pushed = NOW - timedelta(hours=draw(_push_hours))
    pull_hours = draw(_pull_hours)
    children = {earlier[draw(pick)] for _ in range(draw(st.integers(0, 3)))} if kind == "index" else set()
    status = draw(_index_statuses if kind == "index" else _statuses)
    # An archived index cannot be pulled: the scan leaves its children unknown (and empty).
    known = kind != "index" or status is ImageStatus.ACTIVE or draw(st.booleans())
    return Image(
        repository=repository,
        digest=digest,
        tags=tuple(tags),
        pushed_at=pushed,
        last_pulled_at=None if pull_hours is None else min(pushed + timedelta(hours=pull_hours), NOW),
        size_bytes=draw(_sizes),
        media_type=INDEX if kind == "index" else MANIFEST,
        subject=target if kind == "referrer" else None,
        children=tuple(sorted(children)) if known else (),
        status=status,
        children_known=known,
    )


@st.composite
def registries(draw: st.DrawFn, max_repositories: int = 3) -> tuple[Repository, ...]:
    """Repositories with distinct names."""
    names = draw(st.lists(repository_names, min_size=1, max_size=max_repositories, unique=True))
    return tuple(draw(repositories(name)) for name in names)


@st.composite
def usages(
    draw: st.DrawFn, registry: Sequence[Repository], account: str = ACCOUNT, region: str = REGION
) -> Usage:
    """Uses of images of `registry` by digest or by tag, in any host spelling or none (an image list's
    `repository:tag`, the seed's form), plus uses of other registries and of digests that exist nowhere."""
    images = [image for repository in registry for image in repository.images]
    used = draw(st.lists(st.sampled_from(images), max_size=6)) if images else []
    refs = [draw(_ecr_references(image, account, region)) for image in used]
    refs += draw(
        st.lists(
            st.sampled_from(
                [
                    f"{ecr_host('210987654321', region)}/app:v1",
                    f"{ecr_host(account, 'us-west-2')}/app:v1",
                    "nginx:1.25",
                    f"ghcr.io/org/app@{draw(digests)}",
                    f"{ecr_host(account, region)}/app@{draw(digests)}",
                ]
            ),
            max_size=3,
        )
    )
    sources = st.sampled_from(
        ["IMG_LIST/prd_IMG_LIST.txt:3", "prd · default · Pod/api", "stg · jobs · CronJob/x"]
    )
    return Usage(uses=tuple(Use(ref=parse_list_reference(ref), source=draw(sources)) for ref in refs))


@st.composite
def _ecr_references(draw: st.DrawFn, image: Image, account: str, region: str) -> str:
    """A reference to `image` by digest or by one of its tags, in one of the host's spellings or without a
    host (read as an image-list line, it names this registry)."""
    host = draw(st.sampled_from(["", *ecr_host_spellings(account, region)])).lower()
    suffix = draw(st.sampled_from([f"@{image.digest}", *(f":{tag}" for tag in image.tags)]))
    return f"{host}/{image.repository}{suffix}" if host else f"{image.repository}{suffix}"


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Random rules over the tag and hold pools; every repository selected."""
    days = st.none() | st.integers(0, 200).map(lambda d: timedelta(days=d))
    return Policy(
        name="random",
        region=REGION,
        include=(compile_pattern("."),),
        untagged=draw(st.booleans()),
        hold_tags=tuple(compile_pattern(p) for p in draw(st.lists(st.sampled_from(HOLD_POOL), unique=True))),
        keep_latest=draw(st.integers(0, 4)),
        older_than=draw(days),
        not_pulled_for=draw(days),
        action=draw(st.sampled_from([Action.DELETE, Action.ARCHIVE])),
    )
