"""Policy documents: YAML → duplicate-free plain values → JSON Schema (every error) → frozen `Policy`.

Every problem is reported, sorted, as `path/to/file.yaml::$.spec.rules.holdTags[1]: message`, and all of
them are raised together in one `ConfigError`, so one `ecrgc validate` run shows everything to fix.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecrgc.errors import ConfigError, UsageError
from ecrgc.model import (
    IN_CLUSTER,
    Action,
    AwsAccount,
    AwsProtection,
    KubeContext,
    Pattern,
    Policy,
    Protection,
)
from ecrgc.patterns import PatternError, compile_pattern, spacing_warning
from ecrgc.policyerrors import problem_order, schema_problem
from ecrgc.schemafiles import load_schema
from ecrgc.yamlfile import JsonPath, YamlProblem, json_path, read_yaml

if TYPE_CHECKING:
    import jsonschema

POLICY_SUFFIXES = (".yaml", ".yml")
DEFAULT_POLICIES = Path("policies")
"""The repository's policy directory: what plan, validate, apply and show read when given none."""
_PATTERN_FIELDS: tuple[JsonPath, ...] = (
    ("spec", "repositories", "include"),
    ("spec", "repositories", "exclude"),
    ("spec", "rules", "holdTags"),
)
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_OVERLAP_EXAMPLES = 5

log = logging.getLogger(__name__)


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # noqa: PLC0415  # when a file is validated: importing it costs 0.1 s at start-up

    return jsonschema.Draft202012Validator(load_schema("policy.schema.json"))


def load_policies(paths: Sequence[Path]) -> tuple[Policy, ...]:
    """Load every policy in `paths` (files, or directories of *.yaml / *.yml, not recursive).

    Raises one `ConfigError` listing every problem in every file, and names used twice.
    """
    errors: list[str] = []
    policies: list[Policy] = []
    for file in list(_policy_files(paths, errors)):  # path errors first, then each file's
        try:
            policies.append(load_policy_text(file.read_text(encoding="utf-8"), str(file)))
        except ConfigError as error:
            errors.extend(error.errors)
        except (OSError, UnicodeDecodeError) as error:
            errors.append(f"{file}: cannot read it as UTF-8 text ({error})")
    errors.extend(_duplicate_names(policies))
    _raise_if(errors)
    return tuple(policies)


def _policy_files(paths: Sequence[Path], errors: list[str]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix in POLICY_SUFFIXES and p.is_file())
        elif path.is_file():
            yield path
        else:
            errors.append(f"{path}: no such file or directory")


def load_policy_text(text: str, source: str) -> Policy:
    """Parse and validate one policy document; `source` is its file's path: it names the file in every
    error line, and its directory is where the policy's image-list paths resolve."""
    try:
        parsed = read_yaml(text)
    except YamlProblem as problem:
        lines = [
            f"{source}::{path}: {message}" if path else f"{source}: {message}"
            for path, message in problem.problems
        ]
        raise _error(lines) from None
    policy = policy_from_document(
        parsed.value, source, directory=Path(source).parent, typed_scalars=parsed.typed_scalars
    )
    for path, message in pattern_warnings(policy.document):
        log.warning("%s::%s: %s", source, json_path(path), message)
    return policy


def policy_from_document(
    document: Any,
    source: str,
    *,
    directory: Path,
    typed_scalars: Mapping[JsonPath, str] | None = None,
) -> Policy:
    """Validate a parsed document (from YAML, or embedded in a plan) and build its `Policy`.

    `directory`: where its relative image-list paths resolve (the policy file's directory).
    `typed_scalars` maps paths to the text of unquoted non-string YAML scalars, for better messages.
    """
    problems = document_problems(document, typed_scalars or {})
    _raise_if([f"{source}::{json_path(path)}: {message}" for path, message in problems])
    # A JSON round trip gives the plan an independent copy made of plain JSON types only.
    return _build(json.loads(json.dumps(document)), source, directory)


@functools.cache
def _valid() -> Callable[[Any], bool]:
    """Whether a document matches the schema (jsonschema then only names a bad one's errors)."""
    # Imported here: ecrgc.planfile (which loading recordcheck runs first) imports this module.
    from ecrgc.planfile.recordcheck import compile_check, inline  # noqa: PLC0415

    return compile_check(inline(load_schema("policy.schema.json")))


def document_problems(document: Any, typed_scalars: Mapping[JsonPath, str]) -> list[tuple[JsonPath, str]]:
    """Every problem of a document as sorted (JSON path, message) pairs: schema, regexes, context names."""
    errors = () if _valid()(document) else _validator().iter_errors(document)
    problems = [schema_problem(error, typed_scalars) for error in errors]
    problems.extend(_pattern_problems(document))
    problems.extend(_context_problems(document))
    return sorted(set(problems), key=problem_order)


def _pattern_problems(document: Any) -> Iterator[tuple[JsonPath, str]]:
    for field in _PATTERN_FIELDS:
        for index, source in enumerate(_list_at(document, field)):
            if not isinstance(source, str) or not source:
                continue  # the schema reports it
            try:
                compile_pattern(source)
            except PatternError as error:
                yield (*field, index), str(error)


def pattern_warnings(document: Any) -> Iterator[tuple[JsonPath, str]]:
    """(path, message) for each pattern with spaces around its parts (ignored, as the seed ignored them)."""
    for field in _PATTERN_FIELDS:
        for index, source in enumerate(_list_at(document, field)):
            if isinstance(source, str) and (warning := spacing_warning(source)):
                yield (*field, index), warning


def _context_problems(document: Any) -> Iterator[tuple[JsonPath, str]]:
    field: JsonPath = ("spec", "protect", "kubernetes", "contexts")
    seen: set[str] = set()
    for index, entry in enumerate(_list_at(document, field)):
        name = entry.get("name") if isinstance(entry, dict) else entry
        if isinstance(name, str) and name in seen:
            yield (*field, index), f"context {name!r} is listed twice: keep one"
        seen.add(str(name))


def _list_at(document: Any, field: JsonPath) -> list[Any]:
    """The list at `field`, or [] when it is absent or the document is malformed on the way there.

    Regexes are checked even in a document with schema errors, so one run reports every problem.
    """
    value = document
    for key in field:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, list) else []


def _build(document: dict[str, Any], source: str, directory: Path) -> Policy:
    spec = document["spec"]
    repositories, rules = spec["repositories"], spec["rules"]
    return Policy(
        name=document["metadata"]["name"],
        region=spec.get("region"),  # absent: targets.yaml gives it (ecrgc.targets.bound_policy)
        registry_id=spec.get("registryId"),
        include=_patterns(repositories["include"]),
        exclude=_patterns(repositories.get("exclude", [])),
        untagged=rules.get("untagged", True),
        hold_tags=_patterns(rules.get("holdTags", [])),
        keep_latest=int(rules["keepLatest"]),
        older_than=parse_duration(rules["olderThan"]) if "olderThan" in rules else None,
        not_pulled_for=parse_duration(rules["notPulledFor"]) if "notPulledFor" in rules else None,
        protect=_protection(spec.get("protect", {})),
        action=Action(spec.get("action", "delete")),
        delete_empty_repositories=spec.get("deleteEmptyRepositories", False),
        source=source,
        directory=directory,
        document=document,
    )


def _patterns(sources: list[str]) -> tuple[Pattern, ...]:
    return tuple(compile_pattern(source) for source in sources)


def parse_duration(text: str) -> timedelta:
    """`14d` → 14 days; the schema has already checked the `<n>s|m|h|d|w` form."""
    return timedelta(**{_DURATION_UNITS[text[-1]]: int(text[:-1])})


def duration_option(text: str, option: str) -> timedelta:
    """A positive duration given on the command line, in the policies' form (the schema's pattern)."""
    duration = load_schema("policy.schema.json")["$defs"]["duration"]
    if not re.search(duration["pattern"], text) or parse_duration(text) <= timedelta(0):
        raise UsageError(f"{option}: {text!r} is not {duration['title']}, above zero")
    return parse_duration(text)


def _protection(protect: Mapping[str, Any]) -> Protection:
    kubernetes = protect.get("kubernetes", {})
    allow_empty = kubernetes.get("allowEmpty", False)
    contexts = [
        KubeContext(name=entry, allow_empty=allow_empty)
        if isinstance(entry, str)
        else KubeContext(name=entry["name"], allow_empty=entry.get("allowEmpty", allow_empty))
        for entry in kubernetes.get("contexts", [])
    ]
    if kubernetes.get("inCluster", False):
        contexts.append(KubeContext(name=IN_CLUSTER, in_cluster=True, allow_empty=allow_empty))
    lists = [{"path": entry} if isinstance(entry, str) else entry for entry in protect.get("imageLists", [])]
    return Protection(
        kubernetes=tuple(contexts),
        image_lists=tuple(entry["path"] for entry in lists),
        empty_lists_allowed=frozenset(entry["path"] for entry in lists if entry.get("allowEmpty", False)),
        aws=_aws_protection(protect.get("aws", {})),
    )


def _aws_protection(aws: Mapping[str, Any]) -> AwsProtection:
    ecs = aws.get("ecs")
    return AwsProtection(
        ecs_revisions=int(ecs["taskDefinitionRevisions"]) if ecs is not None else None,
        lambda_functions=aws.get("lambda", False),
        batch=aws.get("batch", False),
        app_runner=aws.get("appRunner", False),
        accounts=tuple(
            AwsAccount(role_arn=entry.get("roleArn"), regions=tuple(entry.get("regions", [])))
            for entry in aws.get("accounts", [])
        ),
    )


def _duplicate_names(policies: Sequence[Policy]) -> Iterator[str]:
    first: dict[str, Policy] = {}
    for policy in policies:
        if policy.name in first:
            yield (
                f"{policy.source}::$.metadata.name: {policy.name!r} is already the name of the policy in "
                f"{first[policy.name].source}: names must be unique"
            )
        else:
            first[policy.name] = policy


def check_overlaps(policies: Sequence[Policy], repository_names: Sequence[str]) -> None:
    """Raise `ConfigError` when two policies select the same repository (policies of one target only)."""
    shared: dict[tuple[Policy, ...], list[str]] = defaultdict(list)
    for repository in sorted(repository_names):
        owners = tuple(policy for policy in policies if policy.selects(repository))
        if len(owners) > 1:
            shared[owners].append(repository)
    _raise_if([_overlap_line(owners, repositories) for owners, repositories in shared.items()])


def _overlap_line(owners: tuple[Policy, ...], repositories: list[str]) -> str:
    names = ", ".join(f"{policy.name!r} ({policy.source})" for policy in owners)
    examples = ", ".join(repositories[:_OVERLAP_EXAMPLES])
    if len(repositories) > _OVERLAP_EXAMPLES:
        examples += f" and {len(repositories) - _OVERLAP_EXAMPLES} more"
    return (
        f"policies {names} all select {examples}: narrow an include or add an exclude "
        "so that one policy owns each repository"
    )


def document_sha256(document: Mapping[str, Any]) -> str:
    """Hex sha256 of the UTF-8 canonical JSON of a policy document (sorted keys, no spaces, no escapes),
    the same canonical form as the plan file's content hash."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def policy_sha256(policy: Policy) -> str:
    """Hex sha256 of the policy's validated document, as recorded in plans."""
    return document_sha256(policy.document)


def _raise_if(errors: Sequence[str]) -> None:
    if errors:
        raise _error(errors)


def _error(errors: Sequence[str]) -> ConfigError:
    count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
    return ConfigError(f"the policies do not validate ({count}, listed below)", errors=tuple(errors))
