"""`ecrgc validate`: check policy files (*.yaml, *.yml), targets.yaml and plan files (*.json, *.json.gz),
reporting every error; with no paths: the repository's policies/, targets.yaml, plans/ and its target
directories."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TypeVar, assert_never

from ecrgc.errors import ConfigError, EcrgcError
from ecrgc.planfile import load_plan_file
from ecrgc.policy import POLICY_SUFFIXES, load_policies
from ecrgc.targets import DEFAULT_TARGETS, bind, load_targets


class _Kind(Enum):
    POLICY = "policy"
    PLAN = "plan"
    TARGETS = "targets"


_T = TypeVar("_T")
_KIND_OF_SUFFIX = {**dict.fromkeys(POLICY_SUFFIXES, _Kind.POLICY), ".json": _Kind.PLAN, ".gz": _Kind.PLAN}


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationReport:
    """What `ecrgc validate` found: how many files it read, and every error line (empty: all valid)."""

    files: int
    errors: tuple[str, ...]

    def summary(self) -> str:
        """The one-line verdict."""
        files = f"{self.files} file{'' if self.files == 1 else 's'}"
        if not self.errors:
            return f"{files} valid"
        return f"{len(self.errors)} error{'' if len(self.errors) == 1 else 's'} in {files}"


DEFAULT_PLANS = Path("plans")


def repository_paths(policies: Path) -> list[Path]:
    """What `ecrgc validate` with no paths checks: `policies`, then targets.yaml and plans/ (and each target's
    directory in it) where they exist."""
    plans = (
        [DEFAULT_PLANS, *sorted(p for p in DEFAULT_PLANS.iterdir() if p.is_dir())]
        if DEFAULT_PLANS.is_dir()
        else []
    )
    return [policies, *([DEFAULT_TARGETS] if DEFAULT_TARGETS.is_file() else []), *plans]


def run_validate(paths: Sequence[Path]) -> ValidationReport:
    """Validate the files in `paths` (files, or directories read non-recursively) by their suffix; a file
    named targets.yaml is a targets file, checked with the policies found.

    Policies are validated together, so a name used by two of them is an error too.
    """
    errors: list[str] = []
    found: dict[_Kind, list[Path]] = {kind: [] for kind in _Kind}
    seen: set[Path] = set()
    for path in paths:
        for file in _files(path, errors):
            if file.resolve() not in seen:  # `policies/ policies/a.yaml` reads a.yaml once
                seen.add(file.resolve())
                found[_kind(file)].append(file)
    for kind, files in found.items():
        errors.extend(_check(kind, files, found))
    if found[_Kind.POLICY] and not found[_Kind.TARGETS]:  # a policy without a region still needs targets
        errors.extend(_errors_of(_fits, (None, found[_Kind.POLICY])))
    return ValidationReport(files=sum(map(len, found.values())), errors=tuple(errors))


def _kind(file: Path) -> _Kind:
    return _Kind.TARGETS if file.name == DEFAULT_TARGETS.name else _KIND_OF_SUFFIX[file.suffix]


def _check(kind: _Kind, files: list[Path], found: dict[_Kind, list[Path]]) -> list[str]:
    match kind:
        case _Kind.POLICY:
            return _errors_of(load_policies, files) if files else []
        case _Kind.PLAN:
            return [line for plan in files for line in _errors_of(load_plan_file, plan)]
        case _Kind.TARGETS:
            return [line for targets in files for line in _errors_of(_fits, (targets, found[_Kind.POLICY]))]
        case _:
            assert_never(kind)


def _fits(arguments: tuple[Path | None, list[Path]]) -> None:
    """The targets file (None: the one in the working directory, if any) validates, and the policies (when
    they do) fit it; a policy's own errors are reported once, by the policies' check."""
    targets, policy_files = arguments
    if targets is None and DEFAULT_TARGETS.is_file():
        return  # validated only when given: a subset of the policies need not fit it
    loaded = load_targets(targets) if targets else None
    try:
        policies = load_policies(policy_files)
    except ConfigError:
        return
    bind(loaded, policies)


def _errors_of(load: Callable[[_T], object], argument: _T) -> list[str]:
    """The error lines `load(argument)` raises; a plan's refusal is as much an error here as a schema's."""
    try:
        load(argument)
    except ConfigError as error:
        return list(error.errors) or [str(error)]
    except EcrgcError as error:
        return [str(error)]
    return []


def _files(path: Path, errors: list[str]) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in _KIND_OF_SUFFIX and p.is_file())
    if not path.exists():
        errors.append(f"{path}: no such file or directory")
    elif path.suffix not in _KIND_OF_SUFFIX:
        errors.append(
            f"{path}: not a policy (.yaml, .yml) or plan (.json, .json.gz) file: rename it or leave it out"
        )
    else:
        return [path]
    return []
