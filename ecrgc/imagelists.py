"""Image-list files (the seed's `IMG_LIST/<ENV>_IMG_LIST.txt`) <-> Usage.

One reference per line, `#` comments and blank lines, tag and/or digest references, any registry host. A
reference without a host names a repository of the registry being planned (`saas/api:v1`): the seed's lists
hold their references so (its `list_img.sh` and `k8s.FetchInUseImages` cut everything up to the first `/`).
A configured list that is missing, unreadable, without a reference (unless its entry allows that) or holds
a line that does not parse stops the plan (fail closed): guessing would mean deleting what the list was
written to protect.

A policy's list paths resolve relative to the policy file, as every tool that reads a config file naming
other files does, never relative to the working directory (a plan must read the same lists wherever it
runs). A path through `..` or a symlink is still read (it is the user's file), and every error names the
path it resolved to, so that a list read from somewhere unexpected is seen.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from ecrgc.errors import SourceUnavailable
from ecrgc.model import THIS_REGISTRY, ImageRef, InputFingerprint, InputKind, Usage, Use
from ecrgc.refs import parse_list_reference, this_registry_reading

log = logging.getLogger(__name__)


def read_image_list(path: Path) -> Usage:
    """Read one image-list file; each Use's source is `<path>:<line>`."""
    return _read(path, str(path), f"image list {path}")


def read_entry(pattern: str, directory: Path, *, where: str = "", allow_empty: bool = False) -> Usage:
    """Read every file one `protect.imageLists` entry names: a path or glob pattern, relative to `directory`
    (the policy file's). One that matches nothing stops, and so does a file without a reference (empty, or
    comments only) unless `allow_empty`. `where` names the entry in errors (`policies/prd.yaml::$.spec.
    protect.imageLists[0]`); lists are named by `shown_path`, each error adds the path they resolve to."""
    usage = Usage()
    for name in _expand(pattern, directory, where):
        shown = shown_path(directory, name)
        subject = f"image list {shown}"
        if where:
            subject = f"{where}: {pattern}" + (f": {shown}" if name != pattern else "")
        path = directory / name
        hint = "" if path.exists() else _working_directory_hint(pattern, directory, Path(pattern).exists())
        read = _read(path, shown, subject, hint=hint)
        usage += require_references(
            read, f"{subject} (resolved to {_resolved(path)})", pattern, allow_empty=allow_empty
        )
    return usage


def shown_path(directory: Path, name: str) -> str:
    """How plans and messages name the list `name` of a policy in `directory`: its path from the working
    directory with `.` and `..` folded (not resolved, so a plan names it the same on every machine), or
    absolute when it lies outside the working directory."""
    joined = Path(os.path.normpath(directory / name))
    if joined.is_absolute():
        with contextlib.suppress(ValueError):
            return str(joined.relative_to(Path.cwd()))
    return str(joined)


def require_references(read: Usage, subject: str, pattern: str, *, allow_empty: bool) -> Usage:
    """`read` (the list `subject` names, of the entry `pattern`), unless it holds no reference and may not
    be empty."""
    if not (read.uses or allow_empty):
        raise SourceUnavailable(
            f"{subject} holds no reference, so it would protect nothing: restore its"
            f" references, or write {{path: '{pattern}', allowEmpty: true}} in protect.imageLists"
            " if nothing in use is right"
        )
    return read


def has_references(path: Path) -> bool:
    """Whether the list at `path` holds a reference: False when it is missing, empty or comments only.

    A list that is there but cannot be read, or holds a line that does not parse, stops (fail closed).
    """
    return path.exists() and bool(_read(path, str(path), f"image list {path}").uses)


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


def _expand(pattern: str, directory: Path, where: str) -> list[str]:
    if not any(char in pattern for char in "*?["):
        return [pattern]  # a plain name is read as is, so a missing file says "does not exist"
    names = sorted(glob.glob(pattern, root_dir=directory))  # noqa: PTH207  # Path.glob refuses absolute patterns
    if not names:
        raise SourceUnavailable(
            f"{where or 'image list pattern'}: {pattern!r} matches no file under {_resolved(directory)}"
            f" ({_RELATIVE}): create the list, correct the pattern or remove it from protect.imageLists"
            + _working_directory_hint(pattern, directory, bool(glob.glob(pattern)))  # noqa: PTH207
        )
    return names


_RELATIVE = "image-list paths are relative to the policy file"


def _resolved(path: Path) -> str:
    """Where `path` really is: absolute, `..` and symlinks resolved (a list may live anywhere: say where)."""
    return os.path.realpath(path)


def _working_directory_hint(pattern: str, directory: Path, in_working_directory: bool) -> str:
    """For a migrant: where the pattern, written for the working directory, is from the policy file."""
    if Path(pattern).is_absolute() or not in_working_directory or _resolved(directory) == _resolved(Path()):
        return ""
    written = Path(os.path.relpath(Path.cwd() / pattern, _resolved(directory))).as_posix()
    return f"; {pattern} is in the working directory: from the policy file that is {written!r}"


def _read(path: Path, name: str, subject: str, *, hint: str = "") -> Usage:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceUnavailable(
            f"{subject} (resolved to {_resolved(path)}) does not exist ({_RELATIVE}): correct the path,"
            " create the list or remove it from protect.imageLists" + hint
        ) from None
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise SourceUnavailable(
            f"{subject} (resolved to {_resolved(path)}) cannot be read ({reason}): restore it or remove it"
            " from protect.imageLists"
        ) from None
    if _resolved(path) != os.path.normpath(Path.cwd() / path):
        log.info("%s is read from %s", subject, _resolved(path))  # a symlink: the user's own file
    return parse_image_list(data, name, f"{subject} (resolved to {_resolved(path)})")


def parse_image_list(data: bytes, name: str, subject: str = "") -> Usage:
    """The uses an image list's bytes hold (read from a file or an S3 object named `name`; `subject` names
    it in errors, `image list NAME` by default)."""
    try:
        text = data.decode("utf-8-sig")  # a BOM from an editor is not part of the first reference
    except UnicodeDecodeError:
        raise SourceUnavailable(
            f"{subject or f'image list {name}'} cannot be read (not utf-8 text): restore it or remove it"
            " from protect.imageLists"
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
