"""Per-input figures: what each list or cluster says about the registry planned, and what it protects."""

from __future__ import annotations

from ecrgc.commands.planbuilder import input_figures
from ecrgc.model import InputFingerprint, InputKind, ProtectedImage, Usage, Use
from ecrgc.refs import parse_list_reference, parse_reference

HERE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
THERE = "123456789012.dkr.ecr.eu-west-2.amazonaws.com"


def _list(name: str, *lines: str) -> Usage:
    uses = tuple(Use(ref=parse_list_reference(line), source=f"{name}:{n}") for n, line in enumerate(lines, 1))
    return Usage(
        uses=uses, inputs=(InputFingerprint(kind=InputKind.IMAGE_LIST, name=name, references=len(uses)),)
    )


def test_usage_keeps_which_input_each_use_came_from() -> None:
    usage = _list("a.txt", "web:1") + Usage() + _list("b.txt", "web:2", "web:3")
    assert [(fp.name, [u.source for u in uses]) for fp, uses in usage.by_input()] == [
        ("a.txt", ["a.txt:1"]),
        ("b.txt", ["b.txt:1", "b.txt:2"]),
    ]
    assert Usage(uses=(Use(ref=parse_reference("x"), source="s"),)).by_input() == []


def test_each_input_counts_its_references_by_registry_and_the_images_it_protects() -> None:
    # The case: a list of the seed's host-less lines next to a list whose region is a typo.
    seed = _list("IMG_LIST/PRE_IMG_LIST.txt", "saas/api:dev-3", "saas/api:dev-4", "nginx:1.25")
    typo = _list(
        "other.txt", f"{THERE}/saas/api:v1", f"{THERE}/saas/web:v1", f"{HERE}/saas/db:v1", "ghcr.io/a/b:1"
    )
    protected = [
        ProtectedImage(
            repository="saas/api",
            digest="sha256:a",
            tags=("dev-3",),
            sources=("IMG_LIST/PRE_IMG_LIST.txt:1",),
        ),
        ProtectedImage(
            repository="saas/api",
            digest="sha256:b",
            tags=("dev-4", "v1"),
            sources=("IMG_LIST/PRE_IMG_LIST.txt:2", "other.txt:3"),
        ),
        ProtectedImage(
            repository="saas/base", digest="sha256:c", tags=(), sources=("lists sha256:a, in use by …",)
        ),
    ]
    figures = input_figures(seed + typo, protected, account="123456789012", region="eu-west-1")
    assert [
        (f.name, f.this_registry, f.other_accounts, f.other_registries, f.protected) for f in figures
    ] == [
        ("IMG_LIST/PRE_IMG_LIST.txt", 3, 0, 0, 2),
        ("other.txt", 1, 2, 1, 1),
    ]
