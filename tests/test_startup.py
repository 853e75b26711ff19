"""`ecrgc --version` and `--help` stay fast: importing the CLI loads no SDK and no command's machinery;
the read-only commands of a valid plan (validate, show) import no SDK and no jsonschema (which only names
the errors of an invalid file); validate and JSON views no rich; a plan of valid policies with no cluster
and no AWS usage configured imports botocore but not boto3 (nor s3transfer), the kubernetes client,
jsonschema or the AWS usage readers."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from ecrgc import cli, planfile
from ecrgc.cli import targets as cli_targets
from ecrgc.sandbox import Sandbox
from ecrgc.targets import DEFAULT_TARGETS
from tests.test_planfile import small_plan

HEAVY = (
    "boto3",
    "botocore",
    "kubernetes",
    "github",
    "ecrgc.apply",
    "ecrgc.aws",
    "ecrgc.usage",
    "rich.progress",
    "ecrgc.targets",  # and through it the policies' loader and yaml, which no --help or --version reads
    "ecrgc.policy",
    "yaml",
)
# What a read-only command of a valid plan never needs (show reads ecrgc.apply's report and policy check;
# its text may need rich, for a table too wide for its width).
NOT_FOR_READING = ("boto3", "botocore", "kubernetes", "github", "ecrgc.aws", "ecrgc.usage", "jsonschema")


def test_the_targets_option_defaults_to_the_file_ecrgc_targets_reads() -> None:
    assert inspect.signature(cli_targets.targets).parameters["targets_file"].default == DEFAULT_TARGETS


def test_importing_the_cli_loads_no_sdk_and_no_command() -> None:
    probe = "import sys, ecrgc.cli; print('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [m for m in loaded if m.startswith(HEAVY)] == []
    assert [m for m in loaded if m.startswith("ecrgc.cli.")] == []  # each waits until it is named


def _typer_registered() -> typer.Typer:
    """The command table registered as typer documents it (`app.command`, `app.add_typer`), eagerly."""
    reference = typer.Typer(no_args_is_help=True, help=cli.app.info.help)
    assert cli.app.registered_callback is not None
    reference.callback()(cli.app.registered_callback.callback)
    for name, module, attribute in cli.COMMANDS:
        target = getattr(importlib.import_module(f"ecrgc.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            reference.add_typer(target, name=name)
        else:
            reference.command(name)(target)
    return reference


def test_the_commands_built_as_named_are_those_typer_registers() -> None:
    """`_Commands` builds each command with typer's own functions for `app.command` and `app.add_typer`:
    every help (the root's list, each command's and sub-command's options) and an unknown command's error
    read as from the app registered eagerly; a typer that builds them otherwise fails here."""
    reference = _typer_registered()
    paths: list[list[str]] = [[]]
    for name, command in typer.main.get_command(reference).commands.items():  # type: ignore[attr-defined]
        paths += [[name], *([name, sub] for sub in getattr(command, "commands", {}))]
    assert len(paths) > len(cli.COMMANDS)  # the groups' sub-commands are in
    for args in [*([*path, "--help"] for path in paths), ["plna"], ["policy", "nosuch"]]:
        ours, theirs = (CliRunner().invoke(app, args, env={"COLUMNS": "100"}) for app in (cli.app, reference))
        assert (ours.exit_code, ours.output) == (theirs.exit_code, theirs.output), args


_RUN = (
    "import runpy, sys; sys.argv = ['ecrgc', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('ecrgc', run_name='__main__')\n"
    "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
    "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)"
)


@pytest.mark.parametrize("name", ["plan.json", "plan.json.gz"])
@pytest.mark.parametrize("verb", [["validate"], ["show"], ["show", "--format", "json"]])
def test_the_read_only_commands_of_a_valid_plan_load_no_sdk_and_no_jsonschema(
    verb: list[str], name: str, tmp_path: Path
) -> None:
    planfile.write_plan_file(small_plan(), tmp_path / name)
    ran = subprocess.run(
        [sys.executable, "-c", _RUN, *verb, name], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert ran.stdout  # the view, through a pipe
    heavy = NOT_FOR_READING if verb == ["show"] else (*NOT_FOR_READING, "rich")
    assert [m for m in ran.stderr.split() if m.startswith(heavy)] == []


NOT_FOR_A_PLAN = (
    "boto3",
    "s3transfer",
    "kubernetes",
    "jsonschema",
    "github",
    "ecrgc.aws.accounts",
    "ecrgc.aws.apprunner",
    "ecrgc.aws.batch",
    "ecrgc.aws.ecs",
    "ecrgc.aws.lambdas",
    "ecrgc.cli.apply",
    "ecrgc.cli.github",
    "ecrgc.cli.run",
    "ecrgc.cli.sandbox",
    "ecrgc.cli.targets",
    "ecrgc.commands.github",
    "multiprocessing",
)
"""What `ecrgc plan` of valid policies that configure no cluster and no `protect.aws` never needs: clients
come from botocore sessions (`ecrgc.aws.client`), the AWS usage readers load when a policy names them; no
other command's module; no worker process's machinery when it plans in one process (`planworkers`)."""

PLAN_POLICY = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {name: svc}
spec:
  region: %s
  repositories: {include: ['^svc/']}
  rules: {keepLatest: 1}
"""


def test_a_plain_plan_loads_no_boto3_no_kubernetes_no_jsonschema_and_no_usage_reader(tmp_path: Path) -> None:
    with Sandbox() as sandbox:
        for tag in ("a", "b"):
            sandbox.registry.push_image("svc/api", tags=[tag])
        (tmp_path / "policy.yaml").write_text(PLAN_POLICY % sandbox.registry.region)
        ran = subprocess.run(
            [sys.executable, "-c", _RUN, "plan", "policy.yaml", "--out", "plan.json"],
            cwd=tmp_path,
            env={**os.environ, **sandbox.environ()},
            capture_output=True,
            text=True,
            check=True,
        )
    assert len(planfile.load_plan_file(tmp_path / "plan.json").actions) == 1  # it did scan and decide
    loaded = ran.stderr.split()
    assert "botocore" in loaded
    assert [m for m in loaded if m.startswith(NOT_FOR_A_PLAN)] == []


def test_a_plan_worker_process_loads_no_usage_reader_and_no_cli() -> None:
    """What a worker process imports: its module (`planworkers._WORKER`), and the modules of what it is sent
    pickled (its `Registry`, `run_plan`'s job)."""
    probe = (
        "import sys, ecrgc.commands.planworkers, ecrgc.aws.registry, ecrgc.commands.plan\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "botocore" in loaded
    assert [
        m for m in loaded if m.startswith(("ecrgc.usage", "ecrgc.cli", "typer", "boto3", "jsonschema"))
    ] == []
