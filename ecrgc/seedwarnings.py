"""What a seed `.env`'s values mean otherwise than they may look: warnings for `policy from-env` and `run`.

None of these stops anything (each value is valid); each says where ecrgc reads a value otherwise than the
seed (aws-ecr-cleaner) did, so that a migrant checks it.
"""

from __future__ import annotations

import re

from ecrgc.envfile import SeedEnv, parse_bool
from ecrgc.errors import ConfigError
from ecrgc.patterns import AND, OR, seed_warnings

_PATTERN_VARIABLES = ("TARGET_REPO_REGEX", "EXCLUDE_REPO_REGEX", "HOLD_TAG_REGEX")
_BOOLEANS = ("PROTECT_INUSE_BY_K8S", "DRYRUN", "LIST_ONLY", "AUTO_CONFIRM", "INTERACTIVE_MODE", "DEBUG")
_ANCHORED = re.compile(r"^\^|(?<!\.\*)(?<!\\)\$$")
"""A regex anchored at a tag's start, or at its end other than after `.*` (which reaches the list's end)."""
_SPANNING = re.compile(r" |\\s|\\\[|\\\]")
"""A regex that can match the seed's separators (a space, a bracket): it may have matched across tags."""


def env_warnings(env: SeedEnv) -> list[str]:
    """Every warning about the seed variables of `env`, each naming its variable."""
    warnings = [
        f"{env.where(name)}: {warning}"
        for name in _PATTERN_VARIABLES
        for warning in seed_warnings(env.get(name))
    ]
    warnings += [
        f"{env.where(name)}: the seed read only 'true' as true, so it read {env.get(name)!r} as false"
        for name in _BOOLEANS
        if _reads_true(env, name) and env.get(name) != "true"
    ]
    parts = [part.strip() for alt in env.get("HOLD_TAG_REGEX").split(OR) for part in alt.split(AND)]
    where = env.where("HOLD_TAG_REGEX")
    if any(_ANCHORED.search(part) for part in parts):
        warnings.append(
            f"{where}: the seed tested it against the printed tag list ('[a b]'), where ^ and $ never match"
            " at a tag's edge; ecrgc tests each tag, so an anchored part now holds images"
        )
    if any(_SPANNING.search(part) for part in parts):
        warnings.append(
            f"{where}: a part matches a space or a bracket, so in the seed it could match across two tags of"
            " the printed list ('[a b]'); ecrgc tests each tag and may hold less: split it with &&"
        )
    return warnings


def _reads_true(env: SeedEnv, name: str) -> bool:
    try:
        return parse_bool(env, name, False)
    except ConfigError:
        return False  # not a boolean at all: reported as an error where the value is read
