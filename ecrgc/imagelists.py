"""Image-list files (the seed's `IMG_LIST/<ENV>_IMG_LIST.txt`) <-> Usage.

One reference per line, `#` comments and blank lines, tag and/or digest references, any registry host. A
reference without a host names a repository of the registry being planned (`saas/api:v1`): the seed's lists
hold their references so (its `list_img.sh` and `k8s.FetchInUseImages` cut everything up to the first `/`).
A configured list that is missing, unreadable, without a reference (unless its entry allows that) or holds
a line that does not parse stops the plan (fail closed): guessing would mean deleting what the list was
written to protect.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from ecrgc.errors import SourceUnavailable
from ecrgc.model import THIS_REGISTRY, ImageRef, InputFingerprint, InputKind, Usage, Use
from ecrgc.refs import parse_list_reference, this_registry_reading


def read_image_list(path: Path) -> Usage:
    """Read one image-list file; each Use's source is `<path>:<line>`."""
    return _read(path, str(path))


def read_image_lists(patterns: Sequence[str], base: Path, *, allow_empty: bool = False) -> Usage:
    """Read every file matching the glob `patterns` (relative to `base`); one that matches nothing stops,
    and so does a file without a reference (empty, or comments only) unless `allow_empty`."""
    usage = Usage()
    for pattern in patterns:
        for name in _expand(pattern, base):
            usage += require_references(_read(base / name, name), name, pattern, allow_empty=allow_empty)
    return usage


def require_references(read: Usage, name: str, pattern: str, *, allow_empty: bool) -> Usage:
    """`read` (the list `name`, of the entry `pattern`), unless it holds no reference and may not be empty."""
    if not (read.uses or allow_empty):
        raise SourceUnavailable(
            f"image list {name} holds no reference, so it would protect nothing: restore its"
            f" references, or write {{path: '{pattern}', allowEmpty: true}} in protect.imageLists"
            " if nothing in use is right"
        )
    return read


def has_references(path: Path) -> bool:
    """Whether the list at `path` holds a reference: False when it is missing, empty or comments only.

    A list that is there but cannot be read, or holds a line that does not parse, stops (fail closed).
    """
    return path.exists() and bool(_read(path, str(path)).uses)


def format_image_list(uses: Iterable[Use], *, registry: tuple[str, str] | None = None) -> str:
    """Render uses as an image list: one distinct reference per line, sorted, its sources as a comment.

    `registry` (account, region): its references are written without their host, as the seed's lists hold
    them, so that the seed (which compares `repository:tag`) can still read a list ecrgc wrote.
    """
    sources: dict[str, set[str]] = {}
    for use in uses:
        sources.setdefault(_written(use.ref, registry), set()).add(use.source)
    lines = [f"# images in use, written by ecrgc: {len(sources)} references"]
    for ref in sorted(sources):
        lines += [f"# used by {', '.join(sorted(sources[ref]))}", ref]
    return "\n".join(lines) + "\n"


def write_image_list(uses: Iterable[Use], out: Path, *, registry: tuple[str, str] | None = None) -> None:
    """Write `format_image_list(uses, registry=registry)` to `out` (UTF-8, final newline)."""
    out.write_text(format_image_list(uses, registry=registry), encoding="utf-8")


def _written(ref: ImageRef, registry: tuple[str, str] | None) -> str:
    if registry is None or (ref.account, ref.region) != registry:
        return str(ref)
    return str(ImageRef(host=THIS_REGISTRY, repository=ref.repository, tag=ref.tag, digest=ref.digest))


def _expand(pattern: str, base: Path) -> list[str]:
    if not any(char in pattern for char in "*?["):
        return [pattern]  # a plain name is read as is, so a missing file says "cannot be read"
    names = sorted(glob.glob(pattern, root_dir=base))  # noqa: PTH207  # Path.glob refuses absolute patterns
    if not names:
        raise SourceUnavailable(
            f"image list pattern {pattern!r} matches no file under {base.resolve()}: "
            "create the list or remove the pattern from protect.imageLists"
        )
    return names


def _read(path: Path, name: str) -> Usage:
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise SourceUnavailable(
            f"image list {name} cannot be read ({reason}): restore it or remove it from protect.imageLists"
        ) from None
    return parse_image_list(data, name)


def parse_image_list(data: bytes, name: str) -> Usage:
    """The uses an image list's bytes hold (read from a file or an S3 object named `name`)."""
    try:
        text = data.decode("utf-8-sig")  # a BOM from an editor is not part of the first reference
    except UnicodeDecodeError:
        raise SourceUnavailable(
            f"image list {name} cannot be read (not utf-8 text): restore it or remove it from"
            " protect.imageLists"
        ) from None
    uses = tuple(_parse_lines(text, name))
    fingerprint = InputFingerprint(
        kind=InputKind.IMAGE_LIST,
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        references=len({use.source for use in uses}),  # lines: an ambiguous line is read two ways
    )
    return Usage(uses=uses, inputs=(fingerprint,))


def _parse_lines(text: str, name: str) -> Iterable[Use]:
    for number, line in enumerate(text.splitlines(), start=1):
        reference = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if not reference or reference.startswith("#"):
            continue
        try:
            ref = parse_list_reference(reference)
        except ValueError as error:
            raise SourceUnavailable(f"{name}:{number}: {error}: fix or remove the line") from None
        yield Use(ref=ref, source=f"{name}:{number}")
        if also := this_registry_reading(ref):
            yield Use(ref=also, source=f"{name}:{number}")
