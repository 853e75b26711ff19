"""Lambda: the image of every image function's $LATEST, published version and alias.

Calls: ListFunctions with FunctionVersion=ALL (every version's configuration, $LATEST included); per image
function ListAliases; per version GetFunction, whose `Code` holds the configured `ImageUri` (a tag, maybe)
and the `ResolvedImageUri` (the digest the version runs). Both are protected: the digest is what runs, the
tag is what a re-deploy of the same configuration would pull. An alias protects nothing a version does
not already; it is read so that the provenance names it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ecrgc.aws.accounts import Reach, failing_closed, reader_pool, use_of
from ecrgc.model import Use

if TYPE_CHECKING:
    from types_boto3_lambda import LambdaClient

LATEST = "$LATEST"


def read_lambda(reach: Reach) -> list[Use]:
    """Every use Lambda records in one account and region; see the module docstring."""
    client: LambdaClient = reach.client("lambda")
    where = f"lambda {reach.label}"
    with failing_closed(f"{where}: ListFunctions"):
        configurations = [
            c
            for page in client.get_paginator("list_functions").paginate(FunctionVersion="ALL")
            for c in page["Functions"]
            if c.get("PackageType") == "Image"
        ]
    versions: defaultdict[str, list[str]] = defaultdict(list)
    for configuration in configurations:
        versions[configuration["FunctionName"]].append(configuration.get("Version", LATEST))
    pairs = [(name, version) for name in sorted(versions) for version in sorted(versions[name])]
    with reader_pool("ecrgc-lambda") as pool:
        # Aliases and versions are read at once: an alias only adds provenance to a version's uses.
        routes = {name: pool.submit(_aliases, client, where, name) for name in versions}
        codes = [(name, version, pool.submit(_code, client, where, name, version)) for name, version in pairs]
        return [
            use
            for name, version, code in codes
            for use in version_uses(
                where, name, version, routes[name].result().get(version, ()), code.result()
            )
        ]


def version_uses(
    where: str, function: str, version: str, aliases: tuple[str, ...], code: Mapping[str, Any]
) -> list[Use]:
    """The configured and the resolved image of one version (GetFunction's `Code`), once per alias too."""
    label = "$LATEST" if version == LATEST else f"version {version}"
    sources = [f"{where} · function {function} · {label}"]
    sources += [f"{where} · function {function} · alias {alias} · {label}" for alias in aliases]
    uses = []
    for source in sources:
        for image in (code.get("ImageUri"), code.get("ResolvedImageUri")):
            if image and (use := use_of(image, source)) is not None:
                uses.append(use)
    return uses


def _aliases(client: LambdaClient, where: str, function: str) -> dict[str, tuple[str, ...]]:
    """Version → the aliases that route to it (an alias with weights routes to two)."""
    with failing_closed(f"{where}: ListAliases (function {function})"):
        found = [
            a
            for page in client.get_paginator("list_aliases").paginate(FunctionName=function)
            for a in page["Aliases"]
        ]
    routes: defaultdict[str, list[str]] = defaultdict(list)
    for alias in found:
        weights = alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})
        for version in (alias["FunctionVersion"], *weights):
            routes[version].append(alias["Name"])
    return {version: tuple(sorted(names)) for version, names in routes.items()}


def _code(client: LambdaClient, where: str, function: str, version: str) -> Mapping[str, Any]:
    with failing_closed(f"{where}: GetFunction (function {function}, {version})"):
        return client.get_function(FunctionName=function, Qualifier=version)["Code"]
