"""`ecrgc demo`: the whole product against the embedded sample registry, with no AWS account.

Starts the sandbox seeded with `sandbox/demo.yaml`, plans with `sandbox/demo-policy.yaml` and the image list
`sandbox/demo-images.txt` (what runs), applies that plan exactly as `ecrgc apply` would (re-verified), and
returns what happened for the CLI to show.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import as_file, files
from pathlib import Path

from ecrgc import apply as apply_command
from ecrgc.apply.report import ApplyReport
from ecrgc.aws import Registry
from ecrgc.commands import plan as plan_command
from ecrgc.model import Plan
from ecrgc.planfile import load_plan_file, write_plan_file
from ecrgc.policy import load_policies
from ecrgc.sandbox import Sandbox, seed
from ecrgc.usage import collector

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoRun:
    """What the demo did: the plan it made (saved to `plan_path`), what applying it did, and the images left
    per repository."""

    plan: Plan
    plan_path: Path
    report: ApplyReport
    images_before: int
    images_after: dict[str, int]


@contextmanager
def demo_sandbox() -> Iterator[Sandbox]:
    """The sandbox seeded with the sample registry, with this process's AWS environment pointed at it."""
    with Sandbox(account=ACCOUNT, region=REGION) as sandbox, as_file(files("ecrgc.sandbox")) as data:
        seed.load(sandbox.registry, Path(data) / "demo.yaml")
        saved = {name: os.environ.get(name) for name in sandbox.environ()}
        os.environ.update(sandbox.environ())
        try:
            yield sandbox
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def run_demo(workdir: Path, *, now: datetime) -> DemoRun:
    """Plan and apply the sample registry; the policy, the image list and the plan file land in `workdir`."""
    with demo_sandbox() as sandbox, as_file(files("ecrgc.sandbox")) as data:
        workdir.mkdir(parents=True, exist_ok=True)
        for name in ("demo-policy.yaml", "demo-images.txt"):
            shutil.copyfile(Path(data) / name, workdir / name)
        before = _image_counts(sandbox)
        policies = load_policies([workdir / "demo-policy.yaml"])
        plan = plan_command.run_plan(
            policies,
            inventory=Registry(REGION),
            usage=collector(),
            now=now,
        )
        plan_path = workdir / "plan.json"
        write_plan_file(plan, plan_path)
        applied = apply_command.apply_plan(
            load_plan_file(plan_path),
            source=str(plan_path),
            policies=policies,
            registry=Registry(REGION),
            usage=collector(),
            now=now,
        )
        return DemoRun(
            plan=plan,
            plan_path=plan_path,
            report=applied.report,
            images_before=sum(before.values()),
            images_after=_image_counts(sandbox),
        )


def _image_counts(sandbox: Sandbox) -> dict[str, int]:
    with sandbox.registry.lock:
        return {name: len(repo.images) for name, repo in sorted(sandbox.registry.repositories.items())}
