"""The migrant's directory (the seed's layout: `.env` and `IMG_LIST/` side by side) keeps working when the
policy `ecrgc policy from-env` prints is committed under `policies/`.

The seed and `ecrgc run` read `IMG_LIST/<ENV>_IMG_LIST.txt` from the working directory; a policy resolves
its list paths relative to its own file. So the printed policy names `../IMG_LIST/…`, and `ecrgc plan` with
it must read the very list `ecrgc run` reads and plan the same deletions.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ecrgc.planfile import load_plan_file
from ecrgc.sandbox import Sandbox
from tests.migration.test_seed_examples import COMMON, ECRGC


def ecrgc(sandbox: Sandbox, workdir: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LOGDIR"} | sandbox.environ() | environ
    return subprocess.run(
        [ECRGC, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_printed_policy_under_policies_reads_the_list_ecrgc_run_reads(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    for day in range(5):
        sandbox.registry.push_image("saas/api", tags=[f"dev-{day}"], pushed_at=now - timedelta(days=30 + day))
    (tmp_path / ".env").write_text(COMMON + "TARGET_REPO_REGEX=^saas/\n", encoding="utf-8")
    (tmp_path / "IMG_LIST").mkdir()
    (tmp_path / "IMG_LIST" / "PRE_IMG_LIST.txt").write_text(
        "saas/api:dev-4\n", encoding="utf-8"
    )  # the oldest

    printed = ecrgc(sandbox, tmp_path, "policy", "from-env")
    assert printed.returncode == 0, printed.stderr
    assert "    imageLists: ['../IMG_LIST/PRE_IMG_LIST.txt']" in printed.stdout
    # The printed header says to drop the source not kept up to date: here the cluster.
    policy = re.sub(r"    kubernetes:\n      contexts: .*\n", "", printed.stdout)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "seed-pre.yaml").write_text(policy, encoding="utf-8")

    planned = ecrgc(sandbox, tmp_path, "--log-dir", "logs", "plan", "--out", "plan.json")
    ran = ecrgc(sandbox, tmp_path, "run", LIST_ONLY="true")

    assert planned.returncode == 0, planned.stderr
    assert ran.returncode == 0, ran.stderr
    plan = load_plan_file(tmp_path / "plan.json")
    (run_plan,) = (tmp_path / "logs").glob("run-*.plan.json")
    from_run = load_plan_file(run_plan)
    assert [i.name for i in plan.inputs] == [i.name for i in from_run.inputs] == ["IMG_LIST/PRE_IMG_LIST.txt"]
    assert {a.digest for a in plan.actions} == {a.digest for a in from_run.actions}
    # PROTECT_LATEST=3 keeps dev-0 to dev-2, the list keeps dev-4 (without it, dev-4 would go too)
    assert {t for a in plan.actions for t in a.tags} == {"dev-3"}
