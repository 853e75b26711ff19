"""The world apply's tests build: policies, plans made by the real `run_plan`, and views of the sandbox."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ecrgc.apply import ApplyResult, apply_plan
from ecrgc.aws import Registry
from ecrgc.commands import plan as plan_command
from ecrgc.model import Outcome, OutcomeReason, Reason
from ecrgc.planfile import load_plan_file, write_plan_file
from ecrgc.policy import load_policies
from ecrgc.sandbox import Sandbox
from ecrgc.usage import collector

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
NOW = datetime.now(UTC).replace(microsecond=0)
"""Real time (to the second): the installed `ecrgc` decides as of its own clock."""
DAY = timedelta(days=1)
OLD = NOW - 100 * DAY


def write_policy(
    directory: Path,
    *,
    name: str = "web",
    include: str = "^app/",
    keep_latest: int = 1,
    hold: str = "^release-",
    image_list: str | None = "in-use.txt",
    action: str = "delete",
    delete_empty: bool = False,
    older_than: str | None = "30d",
    region: str = REGION,
) -> Path:
    """A policy file in `directory` (and an empty image list beside it when the policy names one)."""
    age = f"            olderThan: {older_than}\n" if older_than else ""
    protect = f"\n  protect:\n    imageLists: ['{image_list}']" if image_list else ""
    if image_list and not (directory / image_list).exists():
        (directory / image_list).write_text("# nothing in use yet\n", encoding="utf-8")
    text = f"""\
        apiVersion: ecrgc/v1
        kind: Policy
        metadata:
          name: {name}
        spec:
          region: {region}
          repositories:
            include: ['{include}']
          rules:
            untagged: true
            holdTags: ['{hold}']
            keepLatest: {keep_latest}
{age}          action: {action}
          deleteEmptyRepositories: {str(delete_empty).lower()}"""
    path = directory / f"{name}.yaml"
    path.write_text(textwrap.dedent(text) + protect + "\n", encoding="utf-8")
    return path


def make_plan(
    directory: Path, *policies: Path, now: datetime = NOW, workers: int = 4, region: str = REGION
) -> Path:
    """Plan the policies against the sandbox with the real `run_plan`; the plan file's path."""
    loaded = load_policies(list(policies))
    plan = plan_command.run_plan(
        loaded,
        inventory=Registry(region, workers=workers),
        usage=collector(),
        now=now,
    )
    path = directory / "plan.json"
    write_plan_file(plan, path)
    return path


def images(sandbox: Sandbox) -> set[tuple[str, str]]:
    """Every (repository, digest) in the sandbox now."""
    with sandbox.registry.lock:
        return {(name, d) for name, repo in sandbox.registry.repositories.items() for d in repo.images}


def tags(sandbox: Sandbox, repository: str, digest: str) -> set[str]:
    """The tags of one image in the sandbox."""
    return set(sandbox.registry.get(repository).images[digest].tags)


@dataclass(frozen=True, slots=True)
class World:
    """The digests of a small registry with every kind of image apply must handle."""

    newest: str
    """app/web: the newest image (kept: newest N)."""
    expired: str
    """app/web: tagged v1, 100 days old: deleted."""
    index: str
    """app/web: a multi-arch index tagged v2: deleted with its children."""
    children: tuple[str, ...]
    held: str
    """app/web: tagged release-1: held."""
    signed: str
    """app/web: untagged and signed (OCI 1.1 referrer): deleted with its signature."""
    signature: str
    api_used: str
    """app/api: tagged v1 and listed in in-use.txt: kept."""
    api_old: str
    """app/api: tagged v0: deleted."""


def build_world(sandbox: Sandbox, directory: Path) -> World:
    """Seed the sandbox (and `directory/in-use.txt`) with the `World` registry."""
    push = sandbox.registry.push_image
    web = "app/web"
    index = push(web, tags=["v2"], pushed_at=OLD, platforms=["linux/amd64", "linux/arm64"])
    signed = push(web, pushed_at=OLD + DAY)
    world = World(
        newest=push(web, tags=["v5"], pushed_at=NOW - DAY),
        expired=push(web, tags=["v1"], pushed_at=OLD),
        index=index,
        children=tuple(sandbox.registry.get(web).images[index].children),
        held=push(web, tags=["release-1"], pushed_at=OLD),
        signed=signed,
        signature=sandbox.registry.push_referrer(web, signed, pushed_at=OLD + DAY),
        api_used=push("app/api", tags=["v1"], pushed_at=OLD),
        api_old=push("app/api", tags=["v0"], pushed_at=OLD - DAY),
    )
    push("app/api", tags=["v9"], pushed_at=NOW - DAY)
    in_use(directory, "app/api:v1")
    return world


def in_use(directory: Path, *references: str) -> None:
    """Write `directory/in-use.txt` listing `references` (repository:tag or repository@digest)."""
    host = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    lines = [f"{host}/{reference}" for reference in references]
    (directory / "in-use.txt").write_text("\n".join(["# in use", *lines]) + "\n", encoding="utf-8")


def planned_deletions(world: World) -> set[tuple[str, str]]:
    """What the policy of `write_policy()` deletes from the `World`."""
    web = {world.expired, world.index, *world.children, world.signed, world.signature}
    return {("app/web", d) for d in web} | {("app/api", world.api_old)}


def apply_file(path: Path, *, region: str = REGION, workers: int = 4, **options: Any) -> ApplyResult:
    """`apply_plan` on the plan file at `path` with the real adapters: the sandbox (or moto) through boto3,
    the policies (the repository's) and image lists beside the plan."""
    return apply_plan(
        load_plan_file(path),
        source=str(path),
        policies=options.pop("policies", None) or load_policies([path.parent]),
        registry=Registry(region, workers=workers),
        usage=collector(),
        now=options.pop("now", NOW),
        workers=workers,
        **options,
    )


def why(outcome: Outcome) -> OutcomeReason | Reason | None:
    """What a test compares: the rule that keeps the image now for a KEPT skip, else the outcome's reason."""
    return outcome.kept_by or outcome.reason
