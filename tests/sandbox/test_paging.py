"""Pagination invariants (hypothesis), through the operation layer: whatever is pushed and deleted between
pages, walking the tokens returns every surviving image once, in push order, in pages of the asked size."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ecrgc.sandbox import Clock, Knobs, Registry, api

Body = dict[str, Any]


def _registry(count: int) -> tuple[Registry, list[str]]:
    registry = Registry("123456789012", "ap-northeast-1", Clock(), Knobs())
    registry.create_repository("app")
    digests = [registry.push_image("app", tags=[f"v{n}"] if n % 3 else [], salt=str(n)) for n in range(count)]
    return registry, digests


def _walk(registry: Registry, operation: str, page: int, between: Any = None) -> list[Body]:
    token: str | None = None
    seen: list[Body] = []
    member = "imageDetails" if operation == "DescribeImages" else "imageIds"
    while True:
        body: Body = {"repositoryName": "app", "maxResults": page}
        if token:
            body["nextToken"] = token
        reply = api.handle(registry, operation, body)
        assert len(reply[member]) <= page
        seen.extend(reply[member])
        token = reply.get("nextToken")
        if token is None:
            return seen
        assert len(reply[member]) == page
        if between:
            between()


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 120), page=st.integers(1, 40))
def test_describe_images_walks_every_image_once(count: int, page: int) -> None:
    registry, digests = _registry(count)
    assert [d["imageDigest"] for d in _walk(registry, "DescribeImages", page)] == digests


@settings(max_examples=60, deadline=None)
@given(count=st.integers(0, 80), page=st.integers(1, 25), extra_tags=st.integers(0, 4))
def test_list_images_walks_every_tag_once(count: int, page: int, extra_tags: int) -> None:
    registry, digests = _registry(count)
    repo = registry.get("app")
    for digest in digests[::2]:
        for t in range(extra_tags):
            repo.tag(repo.images[digest], f"{digest[-6:]}-{t}")
    expected = [
        {"imageDigest": d, "imageTag": t} if t else {"imageDigest": d}
        for d in digests
        for t in (list[str | None](repo.images[d].tags) or [None])
    ]
    assert _walk(registry, "ListImages", page) == expected


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 100), page=st.integers(1, 20), victims=st.lists(st.integers(0, 99), max_size=30))
def test_deletions_and_pushes_between_pages(count: int, page: int, victims: list[int]) -> None:
    registry, digests = _registry(count)
    doomed = iter(sorted({v % count for v in victims}))
    removed: set[str] = set()
    pushed: list[str] = []

    def churn() -> None:
        victim = next(doomed, None)
        if victim is not None:
            registry.delete("app", [{"imageDigest": digests[victim]}])
            removed.add(digests[victim])
        if len(pushed) < 5:  # a bounded number, or pages of 1 would chase the pushes forever
            pushed.append(registry.push_image("app", salt=f"late{len(pushed)}"))

    walked = [d["imageDigest"] for d in _walk(registry, "DescribeImages", page, churn)]
    assert len(walked) == len(set(walked))
    survivors = [d for d in digests + pushed if d not in removed]
    # Images alive for the whole walk are all seen; late pushes are seen (they go to the end).
    assert set(survivors) <= set(walked) | removed
    assert [d for d in walked if d in survivors] == [d for d in survivors if d in walked]
