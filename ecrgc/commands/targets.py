"""`ecrgc targets` and `ecrgc plan --target/--all-targets`: targets.yaml with its policies bound, and one
plan per target, each target isolated from the others' failures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ecrgc.model import Policy
from ecrgc.policy import load_policies
from ecrgc.targets import Target, bind, load_targets


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundTarget:
    """One target and the repository's policies bound to its account and region."""

    target: Target
    policies: tuple[Policy, ...]


def run_targets(targets: Path, policies: Sequence[Path]) -> list[BoundTarget]:
    """Every target of `targets`, in file order, with its policies; one `ConfigError` lists every problem."""
    loaded = load_targets(targets)
    bound = bind(loaded, load_policies(policies))
    return [BoundTarget(target=t, policies=bound[t.name]) for t in loaded.targets]
