"""Image-list files as a usage source: one source per `protect.imageLists` entry (a path, a glob, or an
`s3://bucket/key` object read with the plan's credentials).

The file format (and its reader) is `ecrgc.imagelists`; this module only finds the entries the policies
name, each read once, relative to the directory the composition root gives (`SourceOptions.base`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ecrgc import imagelists
from ecrgc.aws import s3
from ecrgc.model import Policy, Usage
from ecrgc.usage.source import SourceOptions


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageListSource:
    """The files one `protect.imageLists` entry names; a glob that matches nothing is unreadable."""

    pattern: str
    base: Path
    allow_empty: bool = False
    """Every policy naming the entry sets `allowEmpty: true` on it."""

    @property
    def name(self) -> str:
        return f"image list {self.pattern}"

    def read(self) -> Usage:
        if s3.is_s3(self.pattern):
            read = imagelists.parse_image_list(s3.read_object(self.pattern), self.pattern)
            return imagelists.require_references(
                read, self.pattern, self.pattern, allow_empty=self.allow_empty
            )
        return imagelists.read_image_lists([self.pattern], self.base, allow_empty=self.allow_empty)


def sources(policies: Sequence[Policy], options: SourceOptions) -> list[ImageListSource]:
    """One source per distinct entry of the policies' image lists, in sorted order."""
    patterns = sorted({pattern for policy in policies for pattern in policy.protect.image_lists})
    return [
        ImageListSource(
            pattern=pattern,
            base=options.base,
            # A list named twice may be empty only if every policy naming it says so.
            allow_empty=all(
                pattern in p.protect.empty_lists_allowed for p in policies if pattern in p.protect.image_lists
            ),
        )
        for pattern in patterns
    ]
