"""`targets.yaml`: the registries (account and region) one policy repository plans, and their policies.

Loaded like a policy (duplicate-free YAML, every schema error, sorted, one line each naming the file and the
JSON path), then checked against the policy set by `bind`: every name a target lists exists, a selector
selects something, a policy attached to targets leaves `spec.region`/`registryId` to them, and every
policy that no target attaches names its region itself.

A policy bound to a target is the repository's document with the target's region and account written in
(`bound_policy`): that document is what the plan embeds and hashes, so apply, binding the repository's
policies to the same target, finds the very same hash.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecrgc.errors import ConfigError
from ecrgc.model import Policy
from ecrgc.policy import policy_from_document
from ecrgc.policyerrors import problem_order, schema_problem
from ecrgc.schemafiles import load_schema
from ecrgc.yamlfile import JsonPath, YamlProblem, json_path, read_yaml

if TYPE_CHECKING:
    import jsonschema

DEFAULT_TARGETS = Path("targets.yaml")


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One registry: an account and a region, the roles plan and apply assume, and its policies."""

    name: str
    account: str
    region: str
    plan_role_arn: str | None = None
    apply_role_arn: str | None = None
    policies: tuple[str, ...] = ()
    match_labels: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    index: int = 0
    """The target's position in `spec.targets`, for error lines."""

    @property
    def path(self) -> str:
        return json_path(("spec", "targets", self.index))

    def attaches(self, policy: Policy) -> bool:
        """True when the target lists the policy by name or its selector matches the policy's labels."""
        if self.policies:
            return policy.name in self.policies
        labels = policy.document.get("metadata", {}).get("labels", {})
        return all(labels.get(key) == value for key, value in self.match_labels.items())


@dataclass(frozen=True, slots=True)
class Targets:
    """The loaded file: where it is (it names every error) and its targets in file order."""

    source: str
    targets: tuple[Target, ...]


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # noqa: PLC0415  # when a file is validated: importing it costs 0.1 s at start-up

    return jsonschema.Draft202012Validator(load_schema("targets.schema.json"))


def load_targets(path: Path) -> Targets:
    """Read and validate `path`; one `ConfigError` lists every problem."""
    source = str(path)
    try:
        parsed = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise _error(source, [f"{source}: cannot read it as UTF-8 text ({error})"]) from None
    except YamlProblem as problem:
        lines = [f"{source}::{p}: {m}" if p else f"{source}: {m}" for p, m in problem.problems]
        raise _error(source, lines) from None
    document = parsed.value
    problems = [schema_problem(e, parsed.typed_scalars) for e in _validator().iter_errors(document)]
    if not problems:
        problems.extend(_target_problems(document["spec"]["targets"]))
    if problems:
        lines = [f"{source}::{json_path(p)}: {m}" for p, m in sorted(set(problems), key=problem_order)]
        raise _error(source, lines)
    return Targets(
        source, tuple(_target(entry, index) for index, entry in enumerate(document["spec"]["targets"]))
    )


def _target_problems(entries: Sequence[Mapping[str, Any]]) -> Iterator[tuple[JsonPath, str]]:
    names: dict[str, int] = {}
    registries: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(entries):
        at: JsonPath = ("spec", "targets", index)
        if ("policies" in entry) == ("policySelector" in entry):
            yield at, "give exactly one of policies (names) and policySelector (labels)"
        if entry["name"] in names:
            yield (
                (*at, "name"),
                f"{entry['name']!r} is already the name of target {names[entry['name']]}: keep names unique",
            )
        names.setdefault(entry["name"], index)
        registry = (entry["account"], entry["region"])
        if registry in registries:
            yield (
                at,
                (
                    f"account {registry[0]} in {registry[1]} is already target {registries[registry]}: a plan"
                    " binds to one account and region, so each registry is one target"
                ),
            )
        registries.setdefault(registry, index)
        for key in ("planRoleArn", "applyRoleArn"):
            if key in entry and entry[key].split(":")[4] != entry["account"]:
                yield (
                    (*at, key),
                    (
                        f"the role is in account {entry[key].split(':')[4]}, not the target's"
                        f" {entry['account']}: name a role in the registry's own account"
                    ),
                )


def _target(entry: Mapping[str, Any], index: int) -> Target:
    return Target(
        name=entry["name"],
        account=entry["account"],
        region=entry["region"],
        plan_role_arn=entry.get("planRoleArn"),
        apply_role_arn=entry.get("applyRoleArn"),
        policies=tuple(entry.get("policies", ())),
        match_labels=dict(entry.get("policySelector", {}).get("matchLabels", {})),
        index=index,
    )


def bind(targets: Targets | None, policies: Sequence[Policy]) -> dict[str, tuple[Policy, ...]]:
    """Each target's policies, bound to it (by target name, in file order); raises one `ConfigError` listing
    every problem of the policy set against the targets (`targets` None: there is no targets.yaml)."""
    errors: list[str] = []
    bound: dict[str, tuple[Policy, ...]] = {}
    attached: set[str] = set()
    source = targets.source if targets else str(DEFAULT_TARGETS)
    for target in targets.targets if targets else ():
        mine = [p for p in policies if target.attaches(p)]
        attached.update(p.name for p in mine)
        errors.extend(_attachment_problems(f"{source}::{target.path}", target, mine, policies))
        bound[target.name] = tuple(bound_policy(p, target) for p in mine if _bindable(p))
    for policy in policies:
        if policy.region is None and policy.name not in attached:
            where = (
                f"no target in {targets.source} attaches it" if targets else f"there is no {DEFAULT_TARGETS}"
            )
            errors.append(
                f"{policy.source}::$.spec: policy {policy.name!r} names no region and {where}: set"
                " spec.region, or attach it to a target"
            )
    if errors:
        raise ConfigError(
            f"the policies do not fit {source} ({_count(errors)}, listed below)", errors=tuple(errors)
        )
    return bound


def _attachment_problems(
    where: str, target: Target, mine: Sequence[Policy], policies: Sequence[Policy]
) -> Iterator[str]:
    known = {p.name for p in policies}
    for index, name in enumerate(target.policies):
        if name not in known:
            yield f"{where}.policies[{index}]: no policy is named {name!r}: add it to policies/ or remove it"
    if not target.policies and not mine:
        yield f"{where}.policySelector: the labels select no policy: label a policy or fix the selector"
    for policy in mine:
        if not _bindable(policy):
            yield (
                f"{policy.source}::$.spec: policy {policy.name!r} sets its registry (region or registryId)"
                f" and {where} ({target.name}) attaches it: a target gives them; remove spec.region and"
                " registryId"
            )
        elif target.plan_role_arn and not _reads_target_account(policy, target):
            yield (
                f"{policy.source}::$.spec.protect.aws: policy {policy.name!r} reads AWS workloads with the"
                f" process's own credentials, but {where} ({target.name}) is planned through planRoleArn:"
                f" list account {target.account}'s role under protect.aws.accounts (regions: [] or"
                f" {target.region})"
            )


def _bindable(policy: Policy) -> bool:
    return policy.region is None and policy.registry_id is None


def _reads_target_account(policy: Policy, target: Target) -> bool:
    """False when the policy reads AWS workloads but not in the target's account and region: the usage
    readers read "the registry's own account" with the process's ambient credentials, not with a target's
    plan role, so without a role in the target's account they would read another account and keep too
    little."""
    aws = policy.protect.aws
    if not (aws.ecs_revisions is not None or aws.lambda_functions or aws.batch or aws.app_runner):
        return True
    return any(
        account.role_arn is not None
        and account.role_arn.split(":")[4] == target.account
        and (not account.regions or target.region in account.regions)
        for account in aws.accounts
    )


def bound_policy(policy: Policy, target: Target) -> Policy:
    """The policy with the target's region and account written into its document (what the plan embeds)."""
    document = copy.deepcopy(dict(policy.document))
    document["spec"] = {**document["spec"], "region": target.region, "registryId": target.account}
    return policy_from_document(document, policy.source, directory=policy.directory)


def _error(source: str, errors: Sequence[str]) -> ConfigError:
    return ConfigError(f"{source} does not validate ({_count(errors)}, listed below)", errors=tuple(errors))


def _count(errors: Sequence[str]) -> str:
    return f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
