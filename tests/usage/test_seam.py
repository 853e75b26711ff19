"""The usage seam: which sources a policy set names, and `read_all` reading them at once, failing closed."""

from __future__ import annotations

import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecrgc.errors import SourceUnavailable
from ecrgc.model import KubeContext, Policy, Usage, Use
from ecrgc.policy import load_policies
from ecrgc.refs import parse_reference
from ecrgc.usage import SOURCES, SourceOptions, collect, imagelists, kubernetes
from ecrgc.usage.source import read_all

ECR = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"


def policy(directory: Path, name: str, protect: str) -> Policy:
    text = f"""\
        apiVersion: ecrgc/v1
        kind: Policy
        metadata:
          name: {name}
        spec:
          region: ap-northeast-1
          repositories:
            include: ['^{name}/']
          rules:
            keepLatest: 1
          protect:
        """
    path = directory / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(text) + textwrap.indent(textwrap.dedent(protect), "    "), encoding="utf-8"
    )
    (loaded,) = load_policies([path])
    return loaded


def use(name: str) -> Use:
    return Use(ref=parse_reference(f"{ECR}/{name}:v1"), source=name)


@dataclass
class Scripted:
    """A source whose read runs `before` (a barrier, a wait) and then returns one use or raises `error`."""

    name: str
    before: threading.Event | threading.Barrier | None = None
    error: Exception | None = None

    def read(self) -> Usage:
        if self.before is not None:
            self.before.wait(timeout=10)
        if self.error is not None:
            raise self.error
        return Usage(uses=(use(self.name),))


def test_sources_are_read_at_the_same_time_and_united_in_the_order_given() -> None:
    # Each read waits for the other at a barrier: read one after the other, both would break it.
    barrier = threading.Barrier(2)
    first, second = Scripted("first", before=barrier), Scripted("second", before=barrier)
    assert [u.source for u in read_all([first, second]).uses] == ["first", "second"]


def test_a_failing_source_stops_the_read_while_another_still_reads() -> None:
    hung = threading.Event()
    try:
        with pytest.raises(SourceUnavailable, match=r"^cluster b is gone$"):
            read_all(
                [Scripted("a", before=hung), Scripted("b", error=SourceUnavailable("cluster b is gone"))]
            )
    finally:
        hung.set()


def test_a_source_that_does_not_answer_in_time_is_named() -> None:
    hung = threading.Event()
    try:
        with pytest.raises(SourceUnavailable, match=r"^slow: no complete answer within 0\.05 s; nothing may"):
            read_all([Scripted("quick"), Scripted("slow", before=hung)], timeout=0.05)
    finally:
        hung.set()


def test_a_bug_in_a_source_is_not_turned_into_a_user_error() -> None:
    with pytest.raises(KeyError):
        read_all([Scripted("broken", error=KeyError("spec"))])


def test_no_sources_read_nothing() -> None:
    assert read_all([]) == Usage()


def test_each_list_and_each_context_is_one_source_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    policies = [
        policy(tmp_path, "web", "imageLists: [b.txt, 'lists/*.txt']\nkubernetes: {contexts: [prd, stg]}\n"),
        policy(
            tmp_path,
            "api",
            "imageLists: [b.txt]\nkubernetes:\n  contexts: [{name: stg, allowEmpty: true}, dev]\n",
        ),
        policy(tmp_path, "job", "kubernetes: {contexts: [{name: dev, allowEmpty: true}]}\n"),
    ]
    options = SourceOptions(kubeconfig="/k/config")
    assert [s.name for s in imagelists.sources(policies, options)] == [
        "image list b.txt",
        "image list lists/*.txt",
    ]
    assert kubernetes.sources(policies, options) == [
        # dev is allowed to be empty only by one of the two policies naming it, stg by one of two
        kubernetes.KubernetesSource(context=KubeContext(name="dev"), kubeconfig="/k/config"),
        kubernetes.KubernetesSource(context=KubeContext(name="prd"), kubeconfig="/k/config"),
        kubernetes.KubernetesSource(context=KubeContext(name="stg"), kubeconfig="/k/config"),
    ]
    assert [s.name for f in SOURCES for s in f(policies[2:], options)] == ["kubernetes context 'dev'"]


def test_a_list_may_be_empty_only_if_every_policy_naming_it_says_so(tmp_path: Path) -> None:
    allowed = "imageLists: [{path: a.txt, allowEmpty: true}, {path: b.txt, allowEmpty: true}]\n"
    policies = [policy(tmp_path, "web", allowed), policy(tmp_path, "api", "imageLists: [b.txt]\n")]
    options = SourceOptions()
    assert [(s.pattern, s.allow_empty) for s in imagelists.sources(policies, options)] == [
        ("a.txt", True),
        ("b.txt", False),
    ]


def test_collect_reads_the_lists_relative_to_the_policy_and_fails_closed_on_a_missing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "prd.txt").write_text(f"{ECR}/web/api:v1\n", encoding="utf-8")
    (tmp_path / "lists" / "stg.txt").write_text(f"# stg\n{ECR}/web/api:v2\n", encoding="utf-8")
    (web,) = [policy(tmp_path, "web", "imageLists: ['lists/*.txt']\n")]
    usage = collect([web])
    assert [(str(u.ref), u.source) for u in usage.uses] == [
        (f"{ECR}/web/api:v1", "lists/prd.txt:1"),
        (f"{ECR}/web/api:v2", "lists/stg.txt:2"),
    ]
    assert [(i.name, i.references) for i in usage.inputs] == [("lists/prd.txt", 1), ("lists/stg.txt", 1)]
    missing = policy(tmp_path, "api", "imageLists: [gone.txt, 'lists/*.txt']\n")
    with pytest.raises(
        SourceUnavailable, match=r"/api\.yaml::\$\.spec\.protect\.imageLists\[0\]: gone\.txt \(resolved"
    ):
        collect([missing])
