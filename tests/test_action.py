"""The composite action (action.yml): its own `run:` scripts, executed with bash as the runner would.

The `uses:` steps inside it (setup-python, the cache) are GitHub's; here the Python is this interpreter and
the cache is an empty or a kept directory. What is ours is tested: the cache key follows the sources, the
install builds ecrgc from the action's checkout into a venv and puts only `ecrgc` on the PATH, a kept venv
is reused, and `args` are split into words without ever being evaluated by a shell.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.test_rehearsal import ROOT, Runner

KEY = "Cache key of this ecrgc and this Python"
INSTALL = "Install ecrgc from the action's checkout"
RUN = "ecrgc ${{ inputs.args }}"


def runner(tmp_path: Path, action_path: Path, **inputs: str) -> Runner:
    temp = tmp_path / "runner-temp"
    temp.mkdir(exist_ok=True)
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "RUNNER_TEMP": str(temp),
        "GITHUB_PATH": str(temp / "github_path"),
    }
    context = {
        "github.action_path": str(action_path),
        "steps.python.outputs.python-path": sys.executable,
        "runner.temp": str(temp),
        **{f"inputs.{name}": value for name, value in inputs.items()},
    }
    return Runner(workspace, temp, env, context)


def source_copy(tmp_path: Path) -> Path:
    """The files the action's install and its cache key read, as a fresh checkout of the action has them."""
    copy = tmp_path / "action-checkout"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md", "action.yml"):
        shutil.copy(ROOT / name, copy / name)
    for name in ("ecrgc", "schemas"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_cache_key_follows_the_sources_and_the_python(tmp_path: Path) -> None:
    action = source_copy(tmp_path)
    first = runner(tmp_path, action)

    code, outputs, log = first.run("action.yml", KEY)
    assert code == 0, log
    again = first.run("action.yml", KEY)[1]
    (action / "ecrgc" / "decide.py").write_text("# changed\n", encoding="utf-8")
    changed = first.run("action.yml", KEY)[1]

    version = ".".join(map(str, sys.version_info[:3]))
    assert outputs["key"].startswith(f"ecrgc-Linux-X64-py{version}-")
    assert again == outputs
    assert changed["key"] != outputs["key"]


@pytest.mark.e2e
def test_the_action_installs_its_checkout_and_runs_ecrgc_with_the_args(tmp_path: Path) -> None:
    action = source_copy(tmp_path)
    policies = tmp_path / "workspace" / "my policies"
    policies.mkdir(parents=True)
    shutil.copy(ROOT / "policies" / "saas.yaml", policies / "saas.yaml")
    install = runner(tmp_path, action)

    code, outputs, log = install.run("action.yml", INSTALL)

    assert code == 0, log
    venv = Path(install.context["runner.temp"]) / "ecrgc-venv"
    assert outputs["ecrgc"] == str(venv / "bin" / "ecrgc")
    assert "ecrgc 0.1.0" in log
    [path] = Path(install.env["GITHUB_PATH"]).read_text(encoding="utf-8").splitlines()
    assert sorted(p.name for p in Path(path).iterdir()) == ["ecrgc"]  # not the venv's python or pip
    # Installed, not linked to the checkout: the checkout can go away.
    shutil.rmtree(action / "ecrgc")
    python = (venv / "bin" / "python").lstat().st_ino

    code, again, log = install.run("action.yml", INSTALL)  # a restored cache: nothing is reinstalled

    assert code == 0, log
    assert again == outputs
    assert (venv / "bin" / "python").lstat().st_ino == python

    install.context |= {
        "steps.install.outputs.ecrgc": outputs["ecrgc"],
        "inputs.args": 'validate "my policies"',
    }
    code, _, log = install.run("action.yml", RUN)

    assert code == 0, log
    assert log == "1 file valid\n"

    hostile = "validate $(touch pwned) `touch pwned` ; touch pwned && touch pwned"
    install.context["inputs.args"] = hostile
    code, _, log = install.run("action.yml", RUN)

    assert code == 1
    assert "$(touch: no such file or directory" in log
    assert not list(install.repo.rglob("pwned"))
