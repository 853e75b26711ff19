"""The seed's `.env` workflow: its variables → an equivalent policy document, and its run options.

Where a variable is set in both places, the process environment wins over the file (the convention of
docker compose and python-dotenv), so `DRYRUN=true ecrgc run` does what it says; every variable taken
from the environment is named wherever its value is reported. Only the seed's variables below are read
from the environment. Command-line flags win over both (`ecrgc run`).

The file format is the one `bash` sources, minus expansion: `KEY=VALUE` lines, optional `export `,
`#` comments (whole lines, or after whitespace in an unquoted value), 'single quotes' taken literally,
"double quotes" where a backslash escapes only `"`, `\\`, `$` and a backquote. `$` is never expanded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecrgc.errors import ConfigError
from ecrgc.model import CURRENT_CONTEXT, Policy
from ecrgc.policy import document_problems, policy_from_document
from ecrgc.yamlfile import JsonPath, json_path

POLICY_VARIABLES = (
    "ENV",
    "AWS_REGION",
    "TARGET_REPO_REGEX",
    "EXCLUDE_REPO_REGEX",
    "HOLD_TAG_REGEX",
    "PROTECT_LATEST",
    "PROTECT_INUSE_BY_K8S",
)
RUN_VARIABLES = ("DRYRUN", "LIST_ONLY", "AUTO_CONFIRM", "INTERACTIVE_MODE", "LOGDIR", "DEBUG")
SEED_IMAGE_LISTS = "IMG_LIST/*_IMG_LIST.txt"
"""The seed's in-use lists (one per environment, refreshed by `IMG_LIST/list_img.sh`)."""

_HINTS = {
    "ENV": "set the environment name, e.g. ENV=PRD (the policy is named seed-prd)",
    "AWS_REGION": "set the registry's region, e.g. AWS_REGION=ap-northeast-1",
    "TARGET_REPO_REGEX": "set the regex of the repositories to clean, e.g. TARGET_REPO_REGEX='^saas/'",
    "PROTECT_LATEST": "set how many of the newest images to keep per repository, e.g. PROTECT_LATEST=3",
    "PROTECT_INUSE_BY_K8S": "set true to keep the images the current kube context and IMG_LIST/ use",
}
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_DOUBLE_ESCAPES = '"\\$`'


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedEnv:
    """The seed's variables as ecrgc sees them: the file's values, overridden by the process environment."""

    values: Mapping[str, str]
    source: str
    """The file read ('.env'), or 'the environment' when there was none."""
    from_environment: tuple[str, ...] = ()
    """The variables whose value came from the process environment, sorted."""

    def where(self, name: str) -> str:
        """Where the user set `name`, as error lines start: `.env::PROTECT_LATEST` or `$PROTECT_LATEST`."""
        return f"${name}" if name in self.from_environment else f"{self.source}::{name}"

    def get(self, name: str) -> str:
        """The value of `name`, '' when unset: the seed treats an empty value as unset."""
        return self.values.get(name, "")


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """The seed's run options, for `ecrgc run`. Defaults are what an unset variable means."""

    dry_run: bool = False
    list_only: bool = False
    auto_confirm: bool = False
    interactive: bool = True
    log_dir: Path = Path("logs")
    debug: bool = False


def load_seed_env(env_file: Path | None, environ: Mapping[str, str]) -> SeedEnv:
    """Read `env_file` (None: no file) and overlay the seed variables set in `environ`."""
    values: dict[str, str] = {}
    source = "the environment"
    if env_file is not None:
        try:
            text = env_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{env_file}: cannot read the .env file ({error})") from None
        values, source = parse_env_text(text, str(env_file)), str(env_file)
    overrides = {name: environ[name] for name in (*POLICY_VARIABLES, *RUN_VARIABLES) if name in environ}
    return SeedEnv(values={**values, **overrides}, source=source, from_environment=tuple(sorted(overrides)))


def parse_env_text(text: str, source: str) -> dict[str, str]:
    """Parse a .env file; every malformed line and every variable set twice is reported together."""
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            name, value = _parse_line(stripped)
        except ValueError as error:
            errors.append(f"{source}: line {number}: {error}")
            continue
        if name in lines:
            errors.append(f"{source}: line {number}: {name} is already set on line {lines[name]}: keep one")
        lines[name], values[name] = number, value
    if errors:
        count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
        raise ConfigError(f"{source}: the .env file does not parse ({count})", errors=tuple(errors))
    return values


def _parse_line(line: str) -> tuple[str, str]:
    match = _LINE.match(line)
    if match is None:
        raise ValueError(f"expected NAME=VALUE, got {line!r}")
    name, rest = match.groups()
    if rest[:1] == "'":
        end = rest.find("'", 1)
        value, after = (rest[1:end], rest[end + 1 :]) if end > 0 else (None, "")
    elif rest[:1] == '"':
        value, after = _double_quoted(rest)
    else:
        return name, re.split(r"\s+#", rest, maxsplit=1)[0].rstrip()
    if value is None:
        raise ValueError(f"{name}: the quote is not closed (a value spans one line)")
    trailing = after.strip()
    if after and (after[0] not in " \t" or (trailing and not trailing.startswith("#"))):
        raise ValueError(f"{name}: unexpected text after the closing quote: {trailing!r}")
    return name, value


def _double_quoted(rest: str) -> tuple[str | None, str]:
    """The value of a bash double-quoted string at the start of `rest`, and what follows it."""
    chars: list[str] = []
    index = 1
    while index < len(rest):
        char = rest[index]
        if char == "\\" and index + 1 < len(rest) and rest[index + 1] in _DOUBLE_ESCAPES:
            chars.append(rest[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(chars), rest[index + 1 :]
        chars.append(char)
        index += 1
    return None, ""


def parse_bool(env: SeedEnv, name: str, default: bool) -> bool:
    """true/yes/1 or false/no/0, any case; unset or empty means `default`."""
    value = env.get(name).strip().lower()
    if not value:
        return default
    if value in _TRUE + _FALSE:
        return value in _TRUE
    raise ConfigError(f"{env.where(name)}: {env.get(name)!r} is not a boolean: write true or false")


def run_options_from_env(env: SeedEnv) -> RunOptions:
    """The seed's run options (DRYRUN, LIST_ONLY, AUTO_CONFIRM, INTERACTIVE_MODE, LOGDIR, DEBUG)."""
    errors: list[str] = []
    options = RunOptions(
        dry_run=_checked(errors, env, "DRYRUN", False),
        list_only=_checked(errors, env, "LIST_ONLY", False),
        auto_confirm=_checked(errors, env, "AUTO_CONFIRM", False),
        interactive=_checked(errors, env, "INTERACTIVE_MODE", True),
        log_dir=Path(env.get("LOGDIR") or "logs"),
        debug=_checked(errors, env, "DEBUG", False),
    )
    _raise_if(env, errors)
    return options


def _checked(errors: list[str], env: SeedEnv, name: str, default: bool) -> bool:
    """`parse_bool`, collecting its error so that every bad variable is reported at once."""
    try:
        return parse_bool(env, name, default)
    except ConfigError as error:
        errors.append(str(error))
        return default


def _raise_if(env: SeedEnv, errors: list[str]) -> None:
    if errors:
        count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
        raise ConfigError(f"{env.source}: the seed variables do not validate ({count})", errors=tuple(errors))


def policy_document_from_env(env: SeedEnv) -> dict[str, Any]:
    """The policy document equivalent to the seed's variables (not yet validated: see `policy_from_env`)."""
    document, errors = _document(env)
    _raise_if(env, errors)
    return document


def _document(env: SeedEnv) -> tuple[dict[str, Any], list[str]]:
    """The document, and the errors of variables that are not a number or boolean (a missing one raises)."""
    errors = [f"{env.source}: {name} is not set: {_HINTS[name]}" for name in _HINTS if not env.get(name)]
    _raise_if(env, errors)
    repositories: dict[str, Any] = {"include": [env.get("TARGET_REPO_REGEX")]}
    if env.get("EXCLUDE_REPO_REGEX"):
        repositories["exclude"] = [env.get("EXCLUDE_REPO_REGEX")]
    rules: dict[str, Any] = {"untagged": True}
    if env.get("HOLD_TAG_REGEX"):
        rules["holdTags"] = [env.get("HOLD_TAG_REGEX")]
    rules["keepLatest"] = _whole_number(errors, env, "PROTECT_LATEST")
    spec: dict[str, Any] = {"region": env.get("AWS_REGION"), "repositories": repositories, "rules": rules}
    if _checked(errors, env, "PROTECT_INUSE_BY_K8S", False):
        spec["protect"] = {"kubernetes": {"contexts": [CURRENT_CONTEXT]}, "imageLists": [SEED_IMAGE_LISTS]}
    spec |= {"action": "delete", "deleteEmptyRepositories": False}
    name = "seed-" + env.get("ENV").strip().lower().replace("_", "-")
    return {"apiVersion": "ecrgc/v1", "kind": "Policy", "metadata": {"name": name}, "spec": spec}, errors


def _whole_number(errors: list[str], env: SeedEnv, name: str) -> int:
    value = env.get(name).strip()
    if not value.isascii() or not value.isdigit():
        errors.append(f"{env.where(name)}: {env.get(name)!r} is not a whole number: {_HINTS[name]}")
        return 0
    return int(value)


_VARIABLE_OF_FIELD: dict[JsonPath, str] = {
    ("metadata", "name"): "ENV",
    ("spec", "region"): "AWS_REGION",
    ("spec", "repositories", "include"): "TARGET_REPO_REGEX",
    ("spec", "repositories", "exclude"): "EXCLUDE_REPO_REGEX",
    ("spec", "rules", "holdTags"): "HOLD_TAG_REGEX",
    ("spec", "rules", "keepLatest"): "PROTECT_LATEST",
}


def policy_from_env(env: SeedEnv) -> Policy:
    """The validated policy for the seed's variables; every problem names the variable to fix."""
    document, errors = _document(env)
    errors += [f"{_where(env, path)}: {message}" for path, message in document_problems(document, {})]
    _raise_if(env, errors)
    return policy_from_document(document, env.source)


def _where(env: SeedEnv, path: JsonPath) -> str:
    for length in range(len(path), 0, -1):
        if path[:length] in _VARIABLE_OF_FIELD:
            return env.where(_VARIABLE_OF_FIELD[path[:length]])
    return f"{env.source}::{json_path(path)}"  # a field the seed cannot set: a bug in the conversion
