"""A small subset of JSON Schema compiled into a plain yes/no predicate, for plan files and policies.

jsonschema spends about half a millisecond on each action of a plan: six minutes for the 700,000 actions
of a 1,000,000-image registry; and importing it costs a tenth of a second of every `ecrgc plan`.
`compile_check(schema)` turns a schema that uses only `type`, `enum` (of strings), `const` (true, false,
null or a string), `pattern`, `minLength`, `maxLength`, `minimum`, `maximum`, `items`, `minItems`,
`uniqueItems`, `required`, `properties`, `propertyNames`, `oneOf`, `allOf`, `if`/`then`/`else` and
`additionalProperties` (false or a schema) into a function that agrees with
`Draft202012Validator(schema).is_valid` (tests/test_planfile.py, tests/test_loading.py and
tests/test_policy_check.py check that with hypothesis) at a fraction of the cost. Any other keyword is
refused with ValueError, so a schema change cannot loosen the check unnoticed. It only says yes or no: on
a no the caller asks jsonschema for the messages (and its answer), so where this module cannot decide (the
uniqueness of values JSON has no equality for) it says no.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Mapping
from typing import Any

Check = Callable[[Any], bool]

# Words that check nothing: annotations, and where a schema keeps the definitions its `$ref`s (inlined
# before compiling) pointed to.
_ANNOTATIONS = {"description", "title", "$comment", "$schema", "$id", "$defs", "default"}
_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    # As jsonschema: a bool is no number, and 2.0 is an integer.
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def inline(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` with every local `{"$ref": "#/$defs/x"}` replaced by (the inlined) definition x, and a
    `$ref` beside other keywords by the `allOf` of both (what 2020-12 means by it). Resolving a `$ref` costs
    jsonschema more than checking what it points to, and compile_check needs none."""
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    return inlined


def _inline(node: Any, definitions: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        if isinstance(ref := node.get("$ref"), str) and ref.startswith("#/$defs/"):
            target = _inline(definitions[ref.removeprefix("#/$defs/")], definitions)
            rest = {key: _inline(value, definitions) for key, value in node.items() if key != "$ref"}
            return target if set(rest) <= _ANNOTATIONS else {"allOf": [target, rest]}
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, definitions) for item in node]
    return node


def compile_check(schema: Mapping[str, Any]) -> Check:
    """`value -> bool`, true exactly when `value` is valid against `schema` (no `$ref`: `inline` it)."""
    checks = [_keyword(key, argument, schema) for key, argument in schema.items() if key not in _ANNOTATIONS]
    return _all_of(checks)


def _all_of(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]

    def check(value: Any) -> bool:
        for one in checks:  # noqa: SIM110 - all() over a generator costs more than these checks
            if not one(value):
                return False
        return True

    return check


def _keyword(key: str, argument: Any, schema: Mapping[str, Any]) -> Check:
    build = _KEYWORDS.get(key)
    check = build(argument, schema) if build else None
    if check is None:
        raise ValueError(f"compile_check does not support {key}: {argument!r}")
    return check


# The JSON types that are exactly one Python type each, as json.loads makes them (integer and number are
# not: a bool is an int to Python, and 2.0 is an integer to JSON Schema).
_EXACT = {"string": str, "boolean": bool, "null": type(None), "array": list, "object": dict}


def _type(argument: Any, _: Mapping[str, Any]) -> Check:
    if isinstance(argument, str):
        return _TYPES[argument]
    if set(argument) <= _EXACT.keys():
        exact = tuple(_EXACT[name] for name in argument)
        return lambda v: isinstance(v, exact)
    kinds = [_TYPES[name] for name in argument]
    return lambda v: any(kind(v) for kind in kinds)


def _enum(argument: Any, _: Mapping[str, Any]) -> Check | None:
    if not all(isinstance(a, str) for a in argument):
        return None
    allowed = frozenset(argument)
    return lambda v: isinstance(v, str) and v in allowed


def _pattern(argument: Any, _: Mapping[str, Any]) -> Check:
    search = re.compile(argument).search  # jsonschema searches too: the anchors are the schema's
    return lambda v: not isinstance(v, str) or search(v) is not None


def _items(argument: Any, _: Mapping[str, Any]) -> Check:
    item = compile_check(argument)
    bulk = _bulk(argument)
    if bulk is not None:
        return bulk(item)

    def check(value: Any) -> bool:
        if isinstance(value, list):
            for x in value:
                if not item(x):
                    return False
        return True

    return check


_BULK_KEYWORDS = {"type", "minimum", "maximum", "minLength", "maxLength", "pattern", "items"}
_SCALARS = {"integer": int, "string": str, "null": type(None)}


def _bulk(argument: Mapping[str, Any]) -> Callable[[Check], Check] | None:
    """For a column of scalars (`type` integer, string or null, or a list of them; `items` for the arrays of
    a mixed column), a check whose loops run in C (the elements' types as a set, min and max of the ints and
    of the strings' lengths) when every element is an int, a str or None; an element of any other type (a
    float, an array) and each string a pattern must match go through the per-element `item` check, so the
    answer is the same as without it."""
    kinds = argument.get("type")
    names = [kinds] if isinstance(kinds, str) else kinds
    if set(argument) - _ANNOTATIONS - _BULK_KEYWORDS or not isinstance(names, list):
        return None
    allowed = {_SCALARS[n] for n in names if n in _SCALARS}
    if not allowed:
        return None
    low, high = argument.get("minimum"), argument.get("maximum")
    shortest, longest = argument.get("minLength"), argument.get("maxLength")
    patterned = "pattern" in argument
    typed_only = set(argument) - _ANNOTATIONS == {"type"}
    exact = {_EXACT[n] for n in names if n in _EXACT}

    def bulk(item: Check) -> Check:
        def check(value: Any) -> bool:
            if not isinstance(value, list):
                return True
            found = set(map(type, value))
            if not found <= {int, str, type(None)}:
                # Types alone decide (an array of arrays, say): the set of them is the answer.
                return (typed_only and found <= exact) or all(map(item, value))
            ints = [v for v in value if type(v) is int] if int in found and found != {int} else value
            strs = [v for v in value if type(v) is str] if str in found and found != {str} else value
            in_range = int not in found or (
                (low is None or min(ints) >= low) and (high is None or max(ints) <= high)
            )
            if not (found <= allowed and in_range):
                return False
            if str not in found:
                return True
            if patterned:
                return all(map(item, strs))
            lengths = list(map(len, strs))
            return (shortest is None or min(lengths) >= shortest) and (
                longest is None or max(lengths) <= longest
            )

        return check

    return bulk


def _properties(argument: Any, _: Mapping[str, Any]) -> Check:
    fields = [(name, compile_check(sub)) for name, sub in argument.items()]

    def check(value: Any) -> bool:
        if isinstance(value, dict):
            for name, field in fields:
                if name in value and not field(value[name]):
                    return False
        return True

    return check


def _property_names(argument: Any, _: Mapping[str, Any]) -> Check:
    name = compile_check(argument)
    return lambda v: not isinstance(v, dict) or all(map(name, v))


def _one_of(argument: Any, _: Mapping[str, Any]) -> Check:
    checks = [compile_check(one) for one in argument]
    return lambda v: sum(1 for one in checks if one(v)) == 1


def _closed(argument: Any, schema: Mapping[str, Any]) -> Check | None:
    known = frozenset(schema.get("properties", {}))
    if argument is False:
        return lambda v: not isinstance(v, dict) or known.issuperset(v)
    if not isinstance(argument, dict) or "patternProperties" in schema:
        return None
    other = compile_check(argument)  # what every property `properties` does not name must be
    return lambda v: not isinstance(v, dict) or all(other(x) for k, x in v.items() if k not in known)


def _if(argument: Any, schema: Mapping[str, Any]) -> Check:
    condition = compile_check(argument)
    then, otherwise = compile_check(schema.get("then", {})), compile_check(schema.get("else", {}))
    return lambda v: then(v) if condition(v) else otherwise(v)


def _const(argument: Any, _: Mapping[str, Any]) -> Check | None:
    if argument is None or isinstance(argument, bool):
        return lambda v: v is argument  # as jsonschema: true is no 1, nor 1.0
    if isinstance(argument, str):
        return lambda v: isinstance(v, str) and v == argument
    return None


def _unique(argument: Any, _: Mapping[str, Any]) -> Check:
    if argument is not True:
        return lambda _: True

    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        try:
            return len({_identity(x) for x in value}) == len(value)
        except (_Unsure, RecursionError):
            return False  # the caller asks jsonschema

    return check


class _Unsure(Exception):
    """A value whose JSON equality this module does not decide (a float that is no number, a YAML date)."""


def _identity(value: Any) -> Hashable:
    """What JSON Schema's equality compares of `value`: equal values, equal identities (as jsonschema: a
    bool is no number, 1 equals 1.0, objects and arrays by their members)."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return ("number", value)
    if isinstance(value, list):
        return ("array", tuple(map(_identity, value)))
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return ("object", frozenset((k, _identity(v)) for k, v in value.items()))
    raise _Unsure(repr(value))


_KEYWORDS: dict[str, Callable[[Any, Mapping[str, Any]], Check | None]] = {
    "type": _type,
    "enum": _enum,
    "pattern": _pattern,
    "minLength": lambda n, _: lambda v: not isinstance(v, str) or len(v) >= n,
    "maxLength": lambda n, _: lambda v: not isinstance(v, str) or len(v) <= n,
    "minimum": lambda n, _: lambda v: not _TYPES["number"](v) or v >= n,
    "maximum": lambda n, _: lambda v: not _TYPES["number"](v) or v <= n,
    "items": _items,
    "required": lambda names, _: lambda v: not isinstance(v, dict) or all(name in v for name in names),
    "properties": _properties,
    "additionalProperties": _closed,
    "propertyNames": _property_names,
    "oneOf": _one_of,
    "allOf": lambda argument, _: _all_of([compile_check(one) for one in argument]),
    "minItems": lambda n, _: lambda v: not isinstance(v, list) or len(v) >= n,
    "uniqueItems": _unique,
    "const": _const,
    "if": _if,
    "then": lambda _, schema: None if "if" not in schema else lambda _: True,  # `if` checks it
    "else": lambda _, schema: None if "if" not in schema else lambda _: True,
}
