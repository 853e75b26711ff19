"""The seed's `.env` workflow: its variables → an equivalent policy document, and its run options.

Where a variable is set in both places, the process environment wins over the file (the convention of
docker compose and python-dotenv), so `DRYRUN=true ecrgc run` does what it says; every variable taken
from the environment is named wherever its value is reported. Only the seed's variables below are read
from the environment. Command-line flags win over both (`ecrgc run`).

The file format is godotenv's (the seed loaded its `.env` with it), read by python-dotenv, which follows it:
`KEY=VALUE` lines, optional `export `, `#` comments (whole lines, or after whitespace in an unquoted value),
'single' and "double" quotes. Where the two readers differ, ecrgc refuses the value rather than read it
otherwise than the seed did: a `$NAME` or `${NAME}` outside single quotes (godotenv expanded it, ecrgc
never expands), and a backslash inside double quotes (godotenv dropped it, python-dotenv keeps it).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dotenv.parser import Binding, Original, parse_stream

from ecrgc.errors import ConfigError
from ecrgc.model import CURRENT_CONTEXT, Policy
from ecrgc.patterns import trimmed
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
SEED_ENVS = ("pre", "prd", "mgmt")
"""The seed's environments (`config.LoadConfig` refuses any other ENV, in any case)."""

InUseSources = Literal["list", "cluster", "both"]
"""What a seed policy protects with PROTECT_INUSE_BY_K8S=true: the ENV's list, the cluster, or both."""

_HINTS = {
    "ENV": "set ENV=pre, prd or mgmt (the policy is named seed-pre, seed-prd or seed-mgmt)",
    "AWS_REGION": "set the registry's region, e.g. AWS_REGION=ap-northeast-1",
    "TARGET_REPO_REGEX": "set the regex of the repositories to clean, e.g. TARGET_REPO_REGEX='^saas/'",
    "PROTECT_LATEST": "set how many of the newest images to keep per repository, e.g. PROTECT_LATEST=3",
    "PROTECT_INUSE_BY_K8S": "set true to keep the images the current kube context and IMG_LIST/ use",
}
_ENV_HINT = "set ENV=pre, prd or mgmt (the seed knows these three, and their IMG_LIST/<ENV>_IMG_LIST.txt)"
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
_ASSIGNMENT = re.compile(r"^(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=[ \t]*(?P<quote>['\"]?)")
_EXPANDED = re.compile(r"\$(?:\{|[A-Z0-9_])")


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
    for binding in parse_stream(io.StringIO(text)):
        number = _first_line(binding.original)
        problem = _problem(binding)
        if problem is not None:
            errors.append(f"{source}: line {number}: {problem}")
            continue
        if binding.key is None or binding.value is None:
            continue  # a comment or blank lines
        if binding.key in lines:
            first = lines[binding.key]
            errors.append(f"{source}: line {number}: {binding.key} is already set on line {first}: keep one")
        lines[binding.key], values[binding.key] = number, binding.value
    if errors:
        count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
        raise ConfigError(f"{source}: the .env file does not parse ({count})", errors=tuple(errors))
    return values


def _first_line(original: Original) -> int:
    """The line on which the statement starts (python-dotenv counts from the blank lines before it)."""
    text = original.string
    return original.line + text[: len(text) - len(text.lstrip())].count("\n")


def _problem(binding: Binding) -> str | None:
    """What is wrong with one statement, naming its variable when it has one; None when it is fine."""
    statement = binding.original.string.strip()
    first = statement.split("\n", 1)[0]
    match = _ASSIGNMENT.match(statement)
    if binding.error or (binding.key is not None and (binding.value is None or match is None)):
        if match is None:
            return f"expected NAME=VALUE, got {first!r}"
        return (
            f"{match['name']}: the value does not parse: close its quote, and write nothing after it but a"
            " # comment"
        )
    if match is None:
        return None  # a comment
    name, quote, value = match["name"], match["quote"], binding.value or ""
    if quote != "'" and _EXPANDED.search(value):
        # godotenv expanded $NAME and ${NAME} here (the seed read `a$ORb` as `ab`); ecrgc never expands.
        return (
            f"{name}: {value!r} holds a $ that the seed (godotenv) would have expanded and ecrgc does not:"
            " write the value you mean, in single quotes"
        )
    raw = statement[match.end() :]
    if (quote == '"' and "\\" in raw) or (quote == "'" and ("\\\\" in raw or "\\'" in raw)):
        # godotenv dropped every backslash in double quotes ("2\.85" was 2.85) and kept all in single
        # quotes; python-dotenv keeps some in double quotes and unescapes \\ and \' in single quotes.
        return (
            f"{name}: the seed (godotenv) read the backslashes of this quoted value otherwise than ecrgc"
            " would: write the value unquoted, or in single quotes without \\\\ or \\'"
        )
    return None


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


def seed_image_list(env: SeedEnv) -> str:
    """This ENV's list, `IMG_LIST/PRE_IMG_LIST.txt` for ENV=pre: the only one the seed reads."""
    return f"IMG_LIST/{env.get('ENV').strip().upper()}_IMG_LIST.txt"


def _document(env: SeedEnv, in_use: InUseSources = "both") -> tuple[dict[str, Any], list[str]]:
    """The document, and the errors of variables that are not a number or boolean (a missing one raises)."""
    errors = [f"{env.source}: {name} is not set: {_HINTS[name]}" for name in _HINTS if not env.get(name)]
    _raise_if(env, errors)
    known = env.get("ENV").strip().lower() in SEED_ENVS
    if not known:
        errors.append(f"{env.where('ENV')}: {env.get('ENV')!r} is not pre, prd or mgmt: {_ENV_HINT}")
    repositories: dict[str, Any] = {"include": [trimmed(env.get("TARGET_REPO_REGEX"))]}
    if env.get("EXCLUDE_REPO_REGEX"):
        repositories["exclude"] = [trimmed(env.get("EXCLUDE_REPO_REGEX"))]
    rules: dict[str, Any] = {"untagged": True}
    if env.get("HOLD_TAG_REGEX"):
        rules["holdTags"] = [trimmed(env.get("HOLD_TAG_REGEX"))]
    rules["keepLatest"] = _whole_number(errors, env, "PROTECT_LATEST")
    spec: dict[str, Any] = {"region": env.get("AWS_REGION"), "repositories": repositories, "rules": rules}
    if _checked(errors, env, "PROTECT_INUSE_BY_K8S", False):
        protect: dict[str, Any] = {}
        if in_use != "list":
            protect["kubernetes"] = {"contexts": [CURRENT_CONTEXT]}
        if in_use != "cluster":
            protect["imageLists"] = [seed_image_list(env)]
        spec["protect"] = protect
    spec |= {"action": "delete", "deleteEmptyRepositories": False}
    name = "seed-" + (env.get("ENV").strip().lower() if known else "env")  # an unknown ENV is reported above
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


def policy_from_env(env: SeedEnv, in_use: InUseSources = "both", *, directory: Path = Path()) -> Policy:
    """The validated policy for the seed's variables; every problem names the variable to fix.

    With PROTECT_INUSE_BY_K8S=true it protects what `in_use` says (`ecrgc run` picks one, as the seed did).
    `directory`: where its list (`IMG_LIST/<ENV>_IMG_LIST.txt`) resolves; the seed read it from its working
    directory.
    """
    document, errors = _document(env, in_use)
    errors += [f"{_where(env, path)}: {message}" for path, message in document_problems(document, {})]
    _raise_if(env, errors)
    return policy_from_document(document, env.source, directory=directory)


def _where(env: SeedEnv, path: JsonPath) -> str:
    for length in range(len(path), 0, -1):
        if path[:length] in _VARIABLE_OF_FIELD:
            return env.where(_VARIABLE_OF_FIELD[path[:length]])
    return f"{env.source}::{json_path(path)}"  # a field the seed cannot set: a bug in the conversion
