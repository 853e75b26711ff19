"""`ecrgc --version` and `--help` stay fast: importing the CLI loads no SDK and no command's machinery;
the read-only commands of a valid plan (validate, show) import no SDK and no jsonschema (which only names
the errors of an invalid file); validate and JSON views no rich."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ecrgc import planfile
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
)
# What a read-only command of a valid plan never needs (show reads ecrgc.apply's report and policy check;
# its text may need rich, for a table too wide for its width).
NOT_FOR_READING = ("boto3", "botocore", "kubernetes", "github", "ecrgc.aws", "ecrgc.usage", "jsonschema")


def test_importing_the_cli_loads_no_sdk_and_no_apply_or_usage_machinery() -> None:
    probe = "import sys, ecrgc.cli; print('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [m for m in loaded if m.startswith(HEAVY)] == []
    assert "ecrgc.cli.apply" in loaded  # the command is registered, only its machinery waits


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
