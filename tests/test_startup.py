"""`ecrgc --version` and `--help` stay fast: importing the CLI loads no SDK and no command's machinery."""

from __future__ import annotations

import subprocess
import sys

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


def test_importing_the_cli_loads_no_sdk_and_no_apply_or_usage_machinery() -> None:
    probe = "import sys, ecrgc.cli; print('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [m for m in loaded if m.startswith(HEAVY)] == []
    assert "ecrgc.cli.apply" in loaded  # the command is registered, only its machinery waits
