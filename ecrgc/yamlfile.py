"""Safe YAML → plain JSON values, rejecting duplicate keys and remembering what unquoted scalars said.

PyYAML's loaders keep the last of two equal keys silently; a policy whose `keepLatest` appears twice must
not validate, so mappings are built here from the composed node tree, where every key still has its line.
The tree walk also records the source text of every scalar YAML did not read as a string (`1.10`, `yes`,
`2024-01-01`), so a schema error can quote what the user wrote rather than Python's `1.1`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec
import yaml

JsonPath = tuple[str | int, ...]

_STR_TAG = "tag:yaml.org,2002:str"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_NODES = 100_000  # alias bombs ("billion laughs") expand in the walk; no policy comes near this


def json_path(parts: JsonPath) -> str:
    """`('spec', 'rules', 'holdTags', 1)` → `$.spec.rules.holdTags[1]` (odd keys as `$['a b']`)."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}"
        else:
            text += f"[{part!r}]"
    return text


class YamlProblem(Exception):
    """The text is not one usable YAML document; `problems` are (JSON path or '', message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems[0][1])
        self.problems = tuple(problems)


class YamlDocument(msgspec.Struct, frozen=True):
    """One document as plain values, and the source text of its scalars that YAML typed as non-strings."""

    value: Any
    typed_scalars: Mapping[JsonPath, str] = msgspec.field(default_factory=dict)


def read_yaml(text: str) -> YamlDocument:
    """Parse exactly one YAML document safely; raise `YamlProblem` listing every duplicate key."""
    try:
        loader = yaml.SafeLoader(text)  # a str is checked for unprintable characters right here
    except yaml.reader.ReaderError as error:
        message = f"character #x{error.character:04x} at position {error.position} is not allowed: remove it"
        raise YamlProblem([("", f"invalid YAML: {message}")]) from None
    try:
        nodes = _compose_all(loader)
        if len(nodes) != 1:
            found = "no" if not nodes else str(len(nodes))
            raise YamlProblem([("", f"holds {found} YAML documents: write exactly one policy per file")])
        walk = _Walk(loader)
        value = walk.value(nodes[0], ())
    except yaml.MarkedYAMLError as error:  # syntax, or a tag no safe constructor knows (`!foo`)
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise YamlProblem([("", f"invalid YAML{where}: {error.problem or error.context}")]) from None
    finally:
        loader.dispose()
    if walk.problems:
        raise YamlProblem(walk.problems)
    return YamlDocument(value=value, typed_scalars=walk.typed_scalars)


def _compose_all(loader: yaml.SafeLoader) -> list[yaml.Node]:
    nodes: list[yaml.Node] = []
    while loader.check_node():
        node = loader.get_node()
        assert node is not None  # check_node() said there is one
        nodes.append(node)
    return nodes


class _Walk:
    """Builds plain values from nodes, collecting problems instead of stopping at the first."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.problems: list[tuple[str, str]] = []
        self.typed_scalars: dict[JsonPath, str] = {}
        self.visited = 0
        self.ancestors: set[int] = set()

    def value(self, node: yaml.Node, path: JsonPath) -> Any:
        self.visited += 1
        if self.visited > _MAX_NODES or id(node) in self.ancestors:
            raise YamlProblem(
                [(json_path(path), "recursive or exploding YAML aliases: write the values out")]
            )
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        self.ancestors.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.value(child, (*path, index)) for index, child in enumerate(node.value)]
            assert isinstance(node, yaml.MappingNode)
            return self.mapping(node, path)
        finally:
            self.ancestors.discard(id(node))

    def scalar(self, node: yaml.ScalarNode, path: JsonPath) -> Any:
        if node.tag != _STR_TAG:
            self.typed_scalars[path] = node.value
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # resolves `<<` merge keys the way SafeLoader would
        result: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(
                    (json_path(path), f"the key at line {line} is a list or a mapping: keys are plain names")
                )
                continue
            # The key's source text, so `yes:` or `1:` stay the names the user wrote.
            key = str(key_node.value)
            if key in lines:
                message = f"duplicate key {key!r} (lines {lines[key]} and {line}): keep one"
                self.problems.append((json_path(path), message))
                continue
            lines[key] = line
            result[key] = self.value(value_node, (*path, key))
        return result
