"""Image references: parsing (distribution/reference grammar), pod `imageID` forms and ECR host spellings.

Every spelling of an ECR host (dkr.ecr, FIPS, dual-stack, China, ISO partitions) reduces to one key,
(account, region, repository), so a use written in any of them protects the same image.
"""

from __future__ import annotations

import re

from ecrgc.model import THIS_REGISTRY, ImageRef

# distribution/reference `reference/regexp.go`, spelled out so that every part is checkable here.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(rf"^(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z][a-z0-9]*(?:[-_+.][a-z][a-z0-9]*)*:[0-9a-fA-F]{32,}$")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_NAME_MAX = 255

# awslabs/amazon-ecr-credential-helper ecr-login/api/client.go: every ECR endpoint spelling.
_ECR_HOST = re.compile(
    r"^(\d{12})\.dkr[\.\-]ecr(\-fips)?\.([a-zA-Z0-9][a-zA-Z0-9-_]*)\."
    r"(amazonaws\.(?:com(?:\.cn)?|eu)|on\.(?:aws|amazonwebservices\.com\.cn)|sc2s\.sgov\.gov|c2s\.ic\.gov"
    r"|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$"
)

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_IMAGE_ID_SCHEMES = ("docker-pullable://", "docker://")


def parse_reference(text: str) -> ImageRef:
    """Parse `name[:tag][@digest]`; a digest decides which image, a tag alongside it is kept as information.

    A name without a registry host is Docker Hub's (`nginx` is `docker.io/library/nginx`), as for a
    container runtime. Raises ValueError naming the reference and what is wrong with it.
    """
    return _parse(text, DOCKER_HUB)


def parse_list_reference(text: str) -> ImageRef:
    """Parse an image-list line: as `parse_reference`, except that a name without a registry host names a
    repository of the registry being planned (host `THIS_REGISTRY`), as in the seed's lists (`saas/api:v1`).

    Over-protecting a Docker Hub image of the same name is the safe side. `docker.io/…` is Docker Hub's.
    """
    return _parse(text, THIS_REGISTRY)


def this_registry_reading(ref: ImageRef) -> ImageRef | None:
    """`ref` read as a repository of the registry planned, when an image-list line is ambiguous: its host
    could be the first part of a repository name (`my.team/app:v1`, an ECR name may hold dots). Both
    readings are protected. None for a host-less, ECR or Docker Hub reference, which is unambiguous."""
    name = f"{ref.host}/{ref.repository}"
    if ref.host in (THIS_REGISTRY, DOCKER_HUB) or ref.account is not None or not _PATH.match(name):
        return None
    return ImageRef(host=THIS_REGISTRY, repository=name, tag=ref.tag, digest=ref.digest)


def _parse(text: str, hostless: str) -> ImageRef:
    rest, digest = _split_digest(text.strip(), text)
    name, tag = _split_tag(rest, text)
    host, repository = _split_name(name, text, hostless)
    account, region = ecr_registry(host) or (None, None)
    return ImageRef(host=host, repository=repository, tag=tag, digest=digest, account=account, region=region)


def parse_image_id(text: str) -> ImageRef | None:
    """Parse a pod status `imageID`; None when it names no registry digest (empty, bare config digest).

    Forms: containerd/CRI-O `repo@sha256:…`, dockershim `docker-pullable://repo@sha256:…`; `sha256:…` and
    `docker://sha256:…` are local config digests. Raises ValueError on text that is none of these.
    """
    text = text.strip()
    for scheme in _IMAGE_ID_SCHEMES:
        text = text.removeprefix(scheme)
    if not text or _DIGEST.match(text):
        return None
    ref = parse_reference(text)
    return ref if ref.digest else None


def ecr_registry(host: str) -> tuple[str, str] | None:
    """(account, region) when `host` is an ECR registry host in any spelling, else None."""
    match = _ECR_HOST.match(host)
    return (match.group(1), match.group(3).lower()) if match else None


def ecr_host(account: str, region: str) -> str:
    """The canonical registry host of an ECR registry (`123456789012.dkr.ecr.eu-west-1.amazonaws.com`)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"


def _split_digest(text: str, original: str) -> tuple[str, str | None]:
    if "@" not in text:
        return text, None
    rest, digest = text.rsplit("@", 1)
    if not _DIGEST.match(digest):
        raise ValueError(f"image reference {original!r}: {digest!r} is not a digest (want sha256:<64 hex>)")
    if digest.startswith("sha256:") and not _SHA256.match(digest):
        raise ValueError(f"image reference {original!r}: a sha256 digest has 64 lower-case hex digits")
    return rest, digest


def _split_tag(text: str, original: str) -> tuple[str, str | None]:
    colon, slash = text.rfind(":"), text.rfind("/")
    if colon <= slash:
        return text, None
    tag = text[colon + 1 :]
    if not _TAG.match(tag):
        raise ValueError(f"image reference {original!r}: {tag!r} is not a valid tag")
    return text[:colon], tag


def _split_name(name: str, original: str, hostless: str) -> tuple[str, str]:
    first, _, remainder = name.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        host, path = first.lower(), remainder
        if hostless == THIS_REGISTRY and not _HOST.match(host):
            host, path = THIS_REGISTRY, name  # `team__a.b/app`: no host, a repository name with a dot
    else:
        host, path = hostless, name
    if host != THIS_REGISTRY and not _HOST.match(host):
        raise ValueError(f"image reference {original!r}: {first!r} is not a valid registry host")
    if host in _DOCKER_HUB_ALIASES:
        host = DOCKER_HUB
        path = path if "/" in path else f"library/{path}"
    if not _PATH.match(path) or len(f"{host}/{path}") > _NAME_MAX:
        raise ValueError(
            f"image reference {original!r}: {path!r} is not a valid repository name"
            " (lower-case letters, digits and . _ - separators, at most 255 characters)"
        )
    return host, path
