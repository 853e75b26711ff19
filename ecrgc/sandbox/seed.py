"""Declarative registry descriptions (YAML) → registry state. Format (every key but `name` optional):

    now: 2026-11-01T00:00:00Z        # freezes the sandbox clock there; ages count back from it
    account: "210987654321"          # the registry this file seeds (`load_into`; default: the sandbox's)
    region: us-east-1
    shared_with: ["123456789012"]    # accounts that may call this registry with registryId
    replication:                     # DescribeRegistry's replicationConfiguration, as ECR spells it
      rules:
        - destinations: [{region: eu-west-1, registryId: "210987654321"}]
          repositoryFilters: [{filter: saas/, filterType: PREFIX_MATCH}]
    repositories:
      - name: saas/api
        mutability: IMMUTABLE        # default MUTABLE
        images:
          - tags: [v1.4.0, release-1.4]
            pushed: 90d              # age: <n>s|m|h|d|w, or an ISO timestamp
            pulled: 2d               # last recorded pull (absent: never pulled)
            platforms: [linux/amd64, linux/arm64]   # → an OCI index plus one child per platform
            signed: true             # → an OCI 1.1 signature referrer (subject = this image)
            sbom: true               # → an OCI 1.1 SPDX SBOM referrer
            cosign: true             # → a cosign `sha256-<hex>.sig` tagged signature image
            archived: true           # → ARCHIVED storage class
            size_mb: 120
          - tags: ["dev-{n}"]        # `repeat` pushes N images, `{n}` = 1..N, each `every` younger
            pushed: 60d
            repeat: 30
            every: 2d

Images are pushed oldest first, so the newest push wins a tag that two images name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import yaml

from ecrgc.errors import ConfigError
from ecrgc.sandbox import exceptions, manifests, replication
from ecrgc.sandbox.registry import Registry

DEMO = Path(__file__).with_name("demo.yaml")
"""The sample registry `ecrgc demo` runs against."""
DEMO_IMAGE_LIST = Path(__file__).with_name("demo-images.txt")
"""What runs in the demo: an IMG_LIST file over DEMO's registry."""

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_IMAGE_KEYS = frozenset(
    {
        "tags",
        "pushed",
        "pulled",
        "platforms",
        "signed",
        "sbom",
        "cosign",
        "archived",
        "size_mb",
        "repeat",
        "every",
    }
)


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What a seed file put in the registry."""

    repositories: int
    images: int


class Registries(Protocol):
    """Where a seed file that names its account and region goes (`ecrgc.sandbox.Sandbox`)."""

    registry: Registry

    def registry_for(self, account: str, region: str) -> Registry: ...


def load(registry: Registry, path: Path) -> SeedSummary:
    """Seed `registry` from a YAML description; ConfigError naming file and JSON path on a bad one."""
    return apply(registry, _read(path), str(path))


def load_into(registries: Registries, path: Path) -> SeedSummary:
    """Seed the registry the file names (`account`, `region`; the default registry's when absent)."""
    document = _read(path)
    doc = _mapping(document if document is not None else {}, str(path), "$")
    default = registries.registry
    account, region = str(doc.get("account", default.account)), str(doc.get("region", default.region))
    return apply(registries.registry_for(account, region), doc, str(path))


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the seed file: {exc}") from exc


def apply(registry: Registry, document: Any, source: str = "<seed>") -> SeedSummary:
    """Seed `registry` from an already parsed description."""
    doc = _mapping(document if document is not None else {}, source, "$")
    _registry_settings(registry, doc, source)
    if "now" in doc:
        registry.clock.set(_instant(doc["now"], source, "$.now"))
    now = registry.clock.now()
    before = sum(len(r.images) for r in registry.repositories.values())
    repos = doc.get("repositories") or []
    for r, repo in enumerate(_list(repos, source, "$.repositories")):
        _repository(
            registry, _mapping(repo, source, f"$.repositories[{r}]"), now, source, f"$.repositories[{r}]"
        )
    after = sum(len(r.images) for r in registry.repositories.values())
    return SeedSummary(repositories=len(repos), images=after - before)


def _registry_settings(registry: Registry, doc: Mapping[str, Any], source: str) -> None:
    """`account`/`region` must be this registry's (`load_into` picks it); `shared_with`, `replication`."""
    for key, value in (("account", registry.account), ("region", registry.region)):
        if key in doc and str(doc[key]) != value:
            raise ConfigError(
                f"{source}::$.{key}: the file seeds {doc[key]!r} but is loaded into {value!r}: load it with"
                " `ecrgc sandbox --seed` (seed.load_into), which picks the registry it names"
            )
    registry.shared_with.update(str(a) for a in _list(doc.get("shared_with") or [], source, "$.shared_with"))
    if "replication" in doc:
        try:
            registry.replication = replication.checked(doc["replication"], registry.account, registry.region)
        except exceptions.ApiError as exc:
            raise ConfigError(f"{source}::$.replication: {exc.message}") from exc


def _repository(registry: Registry, repo: Mapping[str, Any], now: float, source: str, where: str) -> None:
    name = repo.get("name")
    if not isinstance(name, str):
        raise ConfigError(f"{source}::{where}.name: a repository needs a name (a string)")
    registry.create_repository(
        name, mutability=str(repo.get("mutability", "MUTABLE")), created_at=now, exist_ok=True
    )
    specs = [
        (i, _mapping(s, source, f"{where}.images[{i}]"))
        for i, s in enumerate(_list(repo.get("images") or [], source, f"{where}.images"))
    ]
    pushes = [
        (push, spec, n, i)
        for i, spec in specs
        for push, n in _pushes(spec, now, source, f"{where}.images[{i}]")
    ]
    for push, spec, n, i in sorted(pushes, key=lambda p: p[0]):
        _push(registry, name, spec, (push, n), _Where(now, source, f"{where}.images[{i}]"))


def _pushes(spec: Mapping[str, Any], now: float, source: str, where: str) -> list[tuple[float, int]]:
    unknown = sorted(set(spec) - _IMAGE_KEYS)
    if unknown:
        raise ConfigError(
            f"{source}::{where}.{unknown[0]}: unknown key; expected one of {sorted(_IMAGE_KEYS)}"
        )
    first = now - _age(spec.get("pushed", "0s"), now, source, f"{where}.pushed")
    every = _age(spec.get("every", "1d"), now, source, f"{where}.every")
    return [(first + k * every, k + 1) for k in range(int(spec.get("repeat", 1)))]


@dataclass(frozen=True, slots=True)
class _Where:
    now: float
    source: str
    path: str


def _push(
    registry: Registry, name: str, spec: Mapping[str, Any], push: tuple[float, int], at: _Where
) -> None:
    pushed, n = push
    now, source, where = at.now, at.source, at.path
    tags = [str(t).format(n=n) for t in _list(spec.get("tags") or [], source, f"{where}.tags")]
    pulled = now - _age(spec["pulled"], now, source, f"{where}.pulled") if "pulled" in spec else None
    size = int(float(spec.get("size_mb", 50)) * 1_000_000)
    digest = registry.push_image(
        name,
        tags=tags,
        pushed_at=pushed,
        last_pulled_at=pulled,
        platforms=[str(p) for p in spec.get("platforms") or []],
        layer_sizes=(size // 10, size - size // 10),
        salt=f"{name}|{where}|{n}",
    )
    if spec.get("signed"):
        registry.push_referrer(name, digest, pushed_at=pushed + 30)
    if spec.get("sbom"):
        registry.push_referrer(name, digest, artifact_type=manifests.SBOM_SPDX, pushed_at=pushed + 40)
    if spec.get("cosign"):
        registry.push_cosign_signature(name, digest, pushed_at=pushed + 50)
    if spec.get("archived"):
        registry.archive(name, digest, at=pushed + 86400)


def _age(value: Any, now: float, source: str, where: str) -> float:
    """Seconds before `now`: `90d`-style ages, or timestamps."""
    if isinstance(value, str) and (match := _AGE.match(value.strip())):
        return float(match.group(1)) * _UNIT[match.group(2)]
    return now - _instant(value, source, where)


def _instant(value: Any, source: str, where: str) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise ConfigError(
            f"{source}::{where}: {value!r} is neither an age like 90d nor an ISO timestamp"
        ) from exc


def _mapping(value: Any, source: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}::{where}: expected a mapping")
    return value


def _list(value: Any, source: str, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{source}::{where}: expected a list")
    return value
