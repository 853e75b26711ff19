"""Migrating from aws-ecr-cleaner loses nothing: `ecrgc run` on the three `.env` examples of its README.

Each test runs the installed `ecrgc run` (a subprocess) against the sandbox, in a directory holding the
seed's `.env` and its `IMG_LIST/PRE_IMG_LIST.txt` written the way its `IMG_LIST/list_img.sh` writes it
(`cut -d'/' -f2-` of every pod image, sorted, unique: `saas/api:dev-3`, no registry host). The list is not
empty, so neither tool reads a cluster (`cleaner.Run` reads it only when the file is missing or empty):
these runs need no kubeconfig, as the seed's did not.

The expectations are written out by hand, from the seed's code and ecrgc's safety rules:

- `SEED_KEEPS_IN_USE_OR_HELD`: what the seed kept as in use or held — `ecr.FilterImagesForDeletion` holds a
  tagged image when `util.HoldTagMatch` matches its tag list printed as one string (`[a b]`), and counts it
  in use when `repository:tag` is a line of the list; it then keeps only the PROTECT_LATEST newest of those
  in use. Every one of these must survive ecrgc.
- `SEED_SURVIVORS`: everything the seed left (held, the newest in use, excluded or untargeted
  repositories).
- `ECRGC_ALSO_KEEPS`: every image ecrgc keeps and the seed deleted, with the reason. Nothing else differs:
  the survivors are exactly `SEED_SURVIVORS` plus these.

Where ecrgc deletes what the seed only untagged (a multi-tag image: the seed's `ecr.DeleteImage` names the
first tag), the image was neither in use nor held; ecrgc deletes it by digest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ecrgc.sandbox import Sandbox

ECRGC = shutil.which("ecrgc", path=str(Path(os.sys.executable).parent)) or "ecrgc"
NOW = datetime.now(UTC)

COMMON = """\
ENV=pre
DEBUG=true
DRYRUN=false
LIST_ONLY=false
PROTECT_LATEST=3
PROTECT_INUSE_BY_K8S=true
AWS_REGION=ap-northeast-1
LOGDIR=./logs
AUTO_CONFIRM=true
INTERACTIVE_MODE=false
"""

# The reasons ecrgc keeps more than the seed, as the README's migration table states them.
IN_USE_BEYOND_N = "in use beyond the newest PROTECT_LATEST in use: ecrgc keeps everything in use"
BY_DIGEST = "listed by digest: the seed compares repository:tag only, ecrgc protects the digest"
CHILD = "a child of a kept index: the seed deleted it as untagged, orphaning the index"
SIGNATURE = "the signature of a kept image: the seed deleted it as an unlisted tag"
NEWEST_N = "among the 3 newest: keepLatest keeps the newest whether in use or not"
EMPTY_REPOSITORY = "an empty repository: the seed force-deleted it (even with LIST_ONLY), ecrgc never does"


@dataclass
class Registry:
    """The sandbox's images by name, for writing the expectations with names instead of digests."""

    sandbox: Sandbox
    digests: dict[str, tuple[str, str]] = field(default_factory=dict)

    def push(
        self, repository: str, name: str, *tags: str, days: float, platforms: tuple[str, ...] = ()
    ) -> str:
        digest = self.sandbox.registry.push_image(
            repository, tags=list(tags), pushed_at=NOW - timedelta(days=days), platforms=list(platforms)
        )
        self.digests[name] = (repository, digest)
        children = self.sandbox.registry.get(repository).images[digest].children
        for number, child in enumerate(children, start=1):
            self.digests[f"{name}/child{number}"] = (repository, child)
        return digest

    def sign(self, repository: str, name: str, subject: str, *, days: float) -> None:
        digest = self.sandbox.registry.push_cosign_signature(
            repository, self.digests[subject][1], pushed_at=NOW - timedelta(days=days)
        )
        self.digests[name] = (repository, digest)

    def empty(self, repository: str) -> None:
        self.sandbox.registry.create_repository(repository)

    def names(self) -> set[str]:
        """The names of the images still there."""
        with self.sandbox.registry.lock:
            present = {
                (repository, digest)
                for repository, state in self.sandbox.registry.repositories.items()
                for digest in state.images
            }
        return {name for name, key in self.digests.items() if key in present}

    def repositories(self) -> set[str]:
        with self.sandbox.registry.lock:
            return set(self.sandbox.registry.repositories)


def run_seed(sandbox: Sandbox, workdir: Path, env: str, image_list: str) -> subprocess.CompletedProcess[str]:
    """`ecrgc run` in `workdir`, as a migrant runs it: the seed's `.env` and list, nothing else."""
    (workdir / ".env").write_text(COMMON + env, encoding="utf-8")
    (workdir / "IMG_LIST").mkdir()
    (workdir / "IMG_LIST" / "PRE_IMG_LIST.txt").write_text(image_list, encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if k != "LOGDIR"}  # the .env's LOGDIR=./logs
    environ |= sandbox.environ()  # AWS_REGION=ap-northeast-1, as the .env says
    return subprocess.run(
        [ECRGC, "run"], cwd=workdir, env=environ, capture_output=True, text=True, timeout=300, check=False
    )


def check(
    registry: Registry,
    result: subprocess.CompletedProcess[str],
    *,
    seed_keeps_in_use_or_held: set[str],
    seed_survivors: set[str],
    ecrgc_also_keeps: dict[str, str],
) -> None:
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")  # INTERACTIVE_MODE=false: all of it is in the log
    survivors = registry.names()
    assert seed_keeps_in_use_or_held <= survivors
    assert seed_keeps_in_use_or_held <= seed_survivors  # the expectations are consistent
    assert survivors == seed_survivors | ecrgc_also_keeps.keys()
    assert not ecrgc_also_keeps.keys() & seed_survivors


def check_log(workdir: Path, list_text: str) -> str:
    """The seed's log file is there, and the list was used as it is (never rewritten)."""
    (log,) = (workdir / "logs").glob("ecr_cleaner_app_*.log")
    assert (workdir / "IMG_LIST" / "PRE_IMG_LIST.txt").read_text(encoding="utf-8") == list_text
    text = log.read_text(encoding="utf-8")
    assert "ecrgc run: in use: IMG_LIST/PRE_IMG_LIST.txt (used; the cluster not read)" in text
    return text


@pytest.mark.e2e
def test_example_1_saas_with_logstash_excluded_and_versions_held(sandbox: Sandbox, tmp_path: Path) -> None:
    env = (
        "EXCLUDE_REPO_REGEX=saas/logstash\nTARGET_REPO_REGEX=^(f?saas)\n"
        "HOLD_TAG_REGEX=.*2\\.(84|85|86|87|88|89|90).*$\n"
    )
    r = Registry(sandbox)
    r.push("saas/api", "rel285", "2.85.1", days=50)
    r.push("saas/api", "dev3", "dev-3", days=40)
    r.push("saas/api", "dev4", "dev-4", days=30)
    r.push("saas/api", "dev5", "dev-5", days=20)
    r.push("saas/api", "index", "dev-7", days=15, platforms=("linux/amd64", "linux/arm64"))
    r.push("saas/api", "dev6", "dev-6", days=10)
    r.sign("saas/api", "dev6.sig", "dev6", days=10)
    r.push("saas/api", "old", "old-1", "old-2", days=60)
    r.push("saas/api", "untagged", days=70)
    pinned = r.push("saas/api", "pinned", "build-9", days=80)
    r.push("saas/logstash", "ls1", "7.1", days=90)
    r.push("saas/logstash", "ls2", days=90)
    r.push("fsaas/web", "w284", "2.84.0", days=200)
    for number, days in enumerate((100, 90, 80, 70), start=1):
        r.push("fsaas/web", f"w{number}", f"v{number}", days=days)
    r.push("other/app", "o1", "x", days=300)
    r.empty("saas/empty")
    # What list_img.sh wrote: sorted, unique, hosts cut (a Docker Hub `nginx:1.25` has no `/` to cut at).
    image_list = (
        "library/redis:7\nnginx:1.25\nsaas/api:dev-3\nsaas/api:dev-4\nsaas/api:dev-5\nsaas/api:dev-6\n"
        f"saas/api:dev-7\nsaas/api@{pinned}\n"
    )

    result = run_seed(sandbox, tmp_path, env, image_list)

    # The seed: in use by repository:tag are dev3, dev4, dev5, dev6 and the index (dev-7); it keeps the
    # 3 newest of them (dev6 10d, index 15d, dev5 20d) and deletes dev4 and dev3.
    seed_in_use_or_held = {"rel285", "dev5", "index", "dev6", "w284"}
    check(
        r,
        result,
        seed_keeps_in_use_or_held=seed_in_use_or_held,
        seed_survivors=seed_in_use_or_held | {"ls1", "ls2", "o1"},
        ecrgc_also_keeps={
            "dev3": IN_USE_BEYOND_N,
            "dev4": IN_USE_BEYOND_N,
            "pinned": BY_DIGEST,
            "index/child1": CHILD,
            "index/child2": CHILD,
            "dev6.sig": SIGNATURE,
            "w2": NEWEST_N,
            "w3": NEWEST_N,
            "w4": NEWEST_N,
        },
    )
    assert "saas/empty" in r.repositories(), EMPTY_REPOSITORY
    log = check_log(tmp_path, image_list)
    # In use, newest first: dev6, index, dev5 | dev4, dev3, pinned (by digest, which the seed never saw).
    assert "ecrgc run: keeps 3 images in use beyond the newest PROTECT_LATEST=3 in use" in log


@pytest.mark.e2e
def test_example_2_everything_but_saas_and_devops_releases_held(sandbox: Sandbox, tmp_path: Path) -> None:
    env = (
        "EXCLUDE_REPO_REGEX=^(f?saas)OR^(devops)\nTARGET_REPO_REGEX=.*\n"
        "HOLD_TAG_REGEX=releaseOR2\\.(84|85|86|87|88|89|90)\n"
    )
    r = Registry(sandbox)
    r.push("middleware/queue", "q_rel", "release-2024", days=100)
    r.push("middleware/queue", "q_rc", "2.87.0-rc1", "candidate", days=90)  # the seed held `[2.87.0-rc1 …]`
    r.push("middleware/queue", "q_used", "q-1", days=80)
    r.push("middleware/queue", "q_old", "q-0", days=120)
    r.push("middleware/queue", "q3", "q-3", days=7)
    r.push("middleware/queue", "q4", "q-4", days=6)
    r.push("middleware/queue", "q5", "q-5", days=5)
    r.push("other/bot", "b1", "b-1", days=100)
    r.push("other/bot", "b2", days=100)
    r.push("saas/api", "s1", "x", days=300)
    r.push("fsaas/web", "f1", "y", days=300)
    r.push("devops/tools", "d1", "z", days=300)
    image_list = "middleware/queue:q-1\nother/bot:b-1\nsaas/api:x\n"

    result = run_seed(sandbox, tmp_path, env, image_list)

    seed_in_use_or_held = {"q_rel", "q_rc", "q_used", "b1"}
    check(
        r,
        result,
        seed_keeps_in_use_or_held=seed_in_use_or_held,
        seed_survivors=seed_in_use_or_held | {"s1", "f1", "d1"},
        ecrgc_also_keeps={"q3": NEWEST_N, "q4": NEWEST_N, "q5": NEWEST_N, "b2": NEWEST_N},
    )
    check_log(tmp_path, image_list)


@pytest.mark.e2e
def test_example_3_middleware_and_devops_with_v_and_years_held(sandbox: Sandbox, tmp_path: Path) -> None:
    # `v\.*` is "a v, then any number of dots": it holds every tag holding a v (dev-9 too), in both tools.
    env = (
        "EXCLUDE_REPO_REGEX=searcherORboom\nTARGET_REPO_REGEX=^(middleware)OR^(devops)\n"
        "HOLD_TAG_REGEX=v\\.*OR(2025|2024)\n"
    )
    r = Registry(sandbox)
    r.push("devops/tools", "t_v", "v1.2", days=100)
    r.push("devops/tools", "t_dev", "dev-9", days=100)
    r.push("devops/tools", "t_2025", "build-2025-01", days=100)
    r.push("devops/tools", "t_used", "build-1", days=90)
    r.push("devops/tools", "t_old", "build-0", days=120)
    r.push("devops/tools", "t5", "build-5", days=5)
    r.push("devops/tools", "t6", "build-6", days=4)
    r.push("devops/tools", "t7", "build-7", days=3)
    r.push("middleware/queue", "mq_held", "2024-release", days=100)
    r.push("middleware/queue", "mq_b", "abc", days=100)
    r.push("middleware/searcher", "ms1", "a", days=300)
    r.push("devops/boom", "db1", "b", days=300)
    r.push("other/x", "x1", "c", days=300)
    image_list = "devops/tools:build-1\n"

    result = run_seed(sandbox, tmp_path, env, image_list)

    seed_in_use_or_held = {"t_v", "t_dev", "t_2025", "t_used", "mq_held"}
    check(
        r,
        result,
        seed_keeps_in_use_or_held=seed_in_use_or_held,
        seed_survivors=seed_in_use_or_held | {"ms1", "db1", "x1"},
        ecrgc_also_keeps={"t5": NEWEST_N, "t6": NEWEST_N, "t7": NEWEST_N, "mq_b": NEWEST_N},
    )
    check_log(tmp_path, image_list)
