"""Views of the decisions a plan records, image by image: `ecrgc explain` and `ecrgc show --images`.

Text for people, JSON for scripts (schema: `schemas/explain.schema.json`, one shape of image for both).
The reason's words come from `render.evidence`, quoting the policy that decided.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from ecrgc.model import ImageStatus, Plan, Reason, RecordedDecision
from ecrgc.planfile import format_timestamp
from ecrgc.render.evidence import evidence_json, evidence_words, window
from ecrgc.render.facts import reason_label
from ecrgc.render.markup import day, second, short_digest, size

FORMAT_VERSION = "1.0"
"""Of the JSON of explain and show --images; a minor version only adds keys."""


def why(decided: RecordedDecision) -> str:
    """The words for why the image got its action, from the evidence the plan recorded ("" when it
    records none beyond the reason)."""
    image = decided.image
    if decided.policy is None:
        return f"policy {image.policy!r} is not among the plan's policies"
    evidence = decided.evidence
    if evidence is None:
        return f"with {image.parent}" if image.parent else ""
    # The record has no image status: an image left archived is archived, or being restored.
    return evidence_words(image.reason, evidence, policy=decided.policy, status=ImageStatus.ARCHIVED)


def explain_text(decided: Iterable[RecordedDecision]) -> str:
    """Each image a reference names: its decision, the rule and why, the policy, its facts."""
    return "\n".join(map(_explained, decided))


def _explained(decided: RecordedDecision) -> str:
    image = decided.image
    rows = [
        ("decision", f"{image.action} ({reason_label(image.reason)})"),
        *([("why", words)] if (words := why(decided)) else []),
        ("policy", _policy(decided)),
        ("tags", ", ".join(image.tags) or "untagged"),
        ("pushed", f"{second(image.pushed_at)} UTC"),
        ("pulled", f"{second(image.last_pulled_at)} UTC" if image.last_pulled_at else "never"),
        ("size", size(image.size_bytes)),
        *([("parent", image.parent)] if image.parent else []),
        *([("in use by", ", ".join(decided.sources))] if len(decided.sources) > 1 else []),
    ]
    return f"{image.repository}@{image.digest}\n" + "".join(f"  {k:<9} {v}\n" for k, v in rows)


def _policy(decided: RecordedDecision) -> str:
    """The policy's name and the rules it decided by (its windows as the reasons' words give them)."""
    policy = decided.policy
    if policy is None:
        return decided.image.policy
    rules = [f"keepLatest {policy.keep_latest}"]
    rules += [f"olderThan {window(policy.older_than)}"] if policy.older_than is not None else []
    rules += [f"notPulledFor {window(policy.not_pulled_for)}"] if policy.not_pulled_for is not None else []
    rules += [f"holdTags {', '.join(repr(p.source) for p in policy.hold_tags)}"] if policy.hold_tags else []
    rules += [f"untagged {str(policy.untagged).lower()}", f"action {policy.action}"]
    return f"{policy.name} ({', '.join(rules)})"


def images_text(decided: Iterable[RecordedDecision]) -> Iterator[str]:
    """One line per image, in the order given (the plan's: by repository, then push time), each as it
    comes (a 1,000,000-image plan's list is never held)."""
    for d in decided:
        yield (
            " ".join(
                [
                    str(d.image.action),
                    d.image.repository,
                    short_digest(d.image.digest),
                    ",".join(d.image.tags) or "-",
                    f"pushed {day(d.image.pushed_at)}",
                    f"pulled {day(d.image.last_pulled_at)}",
                    size(d.image.size_bytes),
                    ": ".join(filter(None, (reason_label(d.image.reason), why(d)))),
                ]
            )
            + "\n"
        )


def explain_json(plan: Plan, path: str, reference: str, decided: Iterable[RecordedDecision]) -> str:
    return _json(plan, path, decided, reference=reference)


def images_json(plan: Plan, path: str, decided: Iterable[RecordedDecision]) -> Iterator[str]:
    """The JSON of every image (`_json`'s bytes), in pieces: each image's as it comes."""
    head, tail = _json(plan, path, (), reference=None).split(_NO_IMAGES)
    yield head + '"images": ['
    between = "\n    "
    for d in decided:
        yield between + _pretty_image(d).replace("\n", "\n    ")
        between = ",\n    "
    yield ("]" if between == "\n    " else "\n  ]") + tail


_NO_IMAGES = '"images": []'  # once in the document: a string holding it has its quotes escaped


def _pretty(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)


def _pretty_image(decided: RecordedDecision) -> str:
    """`_pretty` of the image's JSON, by msgspec (6 times faster): the same bytes for what it holds (the
    same escapes, indent and separators, keys sorted), unless a hand-edited plan made its size a float,
    which msgspec writes otherwise (1e16, not 1e+16): then by json."""
    document = _image_json(decided)
    if type(decided.image.size_bytes) is not int:
        return _pretty(document)
    return msgspec.json.format(msgspec.json.encode(document, order="sorted"), indent=2).decode("utf-8")


def _json(plan: Plan, path: str, decided: Iterable[RecordedDecision], *, reference: str | None) -> str:
    document: dict[str, Any] = {
        "kind": "ecrgc.explain" if reference is not None else "ecrgc.images",
        "format_version": FORMAT_VERSION,
        "plan": path,
        "content_sha256": plan.sha256,
        "account_id": plan.account,
        "region": plan.region,
        "created_at": format_timestamp(plan.created_at),
        **({"reference": reference} if reference is not None else {}),
        "images": [_image_json(d) for d in decided],
    }
    return _pretty(document) + "\n"


def _image_json(decided: RecordedDecision) -> dict[str, Any]:
    image = decided.image
    return {
        "repository": image.repository,
        "digest": image.digest,
        "tags": list(image.tags),
        "pushed_at": format_timestamp(image.pushed_at),
        "last_pulled_at": format_timestamp(image.last_pulled_at) if image.last_pulled_at else None,
        "size_bytes": image.size_bytes,
        "media_type": image.media_type,
        "action": image.action.value,
        "reason": image.reason.value,
        "kept": image.reason.keeps,
        "why": why(decided),
        "policy": image.policy,
        "parent": image.parent,
        "sources": list(decided.sources) if image.reason is Reason.IN_USE else [],
        "evidence": evidence_json(decided.evidence) if decided.evidence is not None else None,
    }
