"""Image-list files as a usage source: one source per distinct list a `protect.imageLists` entry names (a
path, a glob, or an `s3://bucket/key` object read with the plan's credentials).

The file format (and its reader) is `ecrgc.imagelists`; this module only finds the entries the policies
name, each read once. A path resolves relative to the file of the policy that names it (`Policy.directory`).
`ecrgc.imagelists` (and the reference parser's regexes) is imported only when a policy names a list.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec

from ecrgc.aws import s3
from ecrgc.model import Policy, Usage
from ecrgc.usage.source import SourceOptions
from ecrgc.yamlfile import json_path


class ImageListSource(msgspec.Struct, frozen=True, kw_only=True):
    """The files one `protect.imageLists` entry names; a glob that matches nothing is unreadable."""

    pattern: str
    """As the policy writes it."""
    directory: Path
    """The policy file's directory, where a relative `pattern` resolves."""
    where: str
    """The policy file and field naming it: `policies/prd.yaml::$.spec.protect.imageLists[0]`."""
    allow_empty: bool = False
    """Every policy naming the list sets `allowEmpty: true` on it."""

    @property
    def name(self) -> str:
        return f"image list {self.location}"

    @property
    def location(self) -> str:
        """The list as plans name it: the S3 URL, else `imagelists.shown_path` (same on every machine)."""
        from ecrgc import imagelists  # noqa: PLC0415  # see the module docstring

        return self.pattern if s3.is_s3(self.pattern) else imagelists.shown_path(self.directory, self.pattern)

    def read(self) -> Usage:
        from ecrgc import imagelists  # noqa: PLC0415  # see the module docstring

        if s3.is_s3(self.pattern):
            read = imagelists.parse_image_list(s3.read_object(self.pattern), self.pattern)
            return imagelists.require_references(
                read, f"{self.where}: {self.pattern}", self.pattern, allow_empty=self.allow_empty
            )
        return imagelists.read_entry(
            self.pattern, self.directory, where=self.where, allow_empty=self.allow_empty
        )


def sources(policies: Sequence[Policy], _options: SourceOptions) -> list[ImageListSource]:
    """One source per distinct list the policies' entries name, sorted by location; a list named by several
    policies (even by different relative paths) is read once, and may be empty only if every entry naming
    it says so."""
    entries = [
        ImageListSource(
            pattern=pattern,
            directory=policy.directory,
            where=f"{policy.source}::{json_path(('spec', 'protect', 'imageLists', index))}",
            allow_empty=pattern in policy.protect.empty_lists_allowed,
        )
        for policy in policies
        for index, pattern in enumerate(policy.protect.image_lists)
    ]
    found: dict[str, ImageListSource] = {}
    for entry in entries:
        first = found.setdefault(entry.location, entry)
        if not entry.allow_empty and first.allow_empty:
            found[entry.location] = entry
    return [found[location] for location in sorted(found)]
