"""Schema-valid objects from a JSON schema alone, and fitting other objects to a schema.

Covers what pydantic and msgspec emit: object, array, string, integer, number, boolean,
null, enum, const, anyOf/oneOf, allOf, type lists, $ref into $defs or definitions, and the
length, item-count and range limits. ``pattern`` is tried with a few simple strings only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from service.llmstub.signal_draft import STUB_LABEL, STUB_NOTE

Schema = Mapping[str, Any]

MAX_DEPTH = 24
"""Recursive models only recurse through optional fields, which are left out; this is a guard."""

_FORMATS = {
    "date-time": "2000-01-01T00:00:00Z",
    "date": "2000-01-01",
    "time": "00:00:00",
    "email": "stub@example.com",
    "uri": "https://example.com/stub",
    "url": "https://example.com/stub",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "hostname": "stub.example.com",
    "duration": "P1D",
}
_PATTERN_TRIES = ("stub", "a", "A", "0", "stub-0", "a0", "STUB")


def minimal_instance(schema: Schema, root: Schema | None = None) -> Any:
    """The smallest useful value that validates against ``schema``.

    Objects get their required properties only; arrays get ``minItems`` items (at least one
    when allowed); strings are a '[stub] <field>' label fitted to the length limits.
    """
    return _minimal(schema, root or schema, "value", 0, 0)


def fit_to_schema(value: Any, schema: Schema, root: Schema | None = None) -> Any:
    """``value`` changed as little as possible to satisfy ``schema``.

    Long strings are cut at a word boundary (a cut quote is still a verbatim quote), short
    ones padded with a stub note, lists trimmed or extended, missing required keys filled.
    """
    return _fit(value, schema, root or schema, "value", 0)


def resolve(schema: Schema, root: Schema) -> Schema:
    """``schema`` with its local ``$ref`` and ``allOf`` merged in."""
    seen = 0
    merged: dict[str, Any] = dict(schema)
    while "$ref" in merged and seen < MAX_DEPTH:
        seen += 1
        target = _lookup(str(merged.pop("$ref")), root)
        merged = {**target, **merged}
    for part in merged.pop("allOf", []) or []:
        resolved = resolve(part, root)
        required = [*merged.get("required", []), *resolved.get("required", [])]
        properties = {**resolved.get("properties", {}), **merged.get("properties", {})}
        merged = {**resolved, **merged}
        if required:
            merged["required"] = required
        if properties:
            merged["properties"] = properties
    return merged


def _lookup(ref: str, root: Schema) -> Schema:
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref.lstrip("#/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            return {}
        node = node[part]
    return node if isinstance(node, Mapping) else {}


def _types(schema: Schema) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [str(t) for t in declared]
    if "properties" in schema:
        return ["object"]
    if "items" in schema or "prefixItems" in schema:
        return ["array"]
    return []


def _branches(schema: Schema) -> list[Schema]:
    options = schema.get("anyOf") or schema.get("oneOf") or []
    return [o for o in options if isinstance(o, Mapping)]


def _minimal(schema: Schema, root: Schema, name: str, index: int, depth: int) -> Any:
    schema = resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        options = schema["enum"]
        return options[index % len(options)]
    branches = _branches(schema)
    if branches:
        # Prefer a real value to null: a stub answer should show what the field holds.
        chosen = next((b for b in branches if _types(resolve(b, root)) != ["null"]), branches[0])
        return _minimal(chosen, root, name, index, depth + 1)
    types = [t for t in _types(schema) if t != "null"] or _types(schema) or ["string"]
    kind = types[0]
    if depth > MAX_DEPTH:
        return None
    if kind == "object":
        result: dict[str, Any] = {}
        properties = schema.get("properties") or {}
        for key in schema.get("required") or []:
            result[key] = _minimal(properties.get(key, {}), root, key, 0, depth + 1)
        return result
    if kind == "array":
        count = _item_count(schema, 0)
        return [_array_item(schema, root, name, i, depth) for i in range(count)]
    if kind == "string":
        return _string(schema, name, index)
    if kind in ("integer", "number"):
        return _number(schema, kind, index)
    if kind == "boolean":
        return False
    return None


def _array_item(schema: Schema, root: Schema, name: str, i: int, depth: int) -> Any:
    prefix = schema.get("prefixItems") or []
    item_schema = prefix[i] if i < len(prefix) else schema.get("items") or {}
    # Distinct items when uniqueItems holds: the index goes into labels, numbers and enums.
    return _minimal(item_schema, root, name, i, depth + 1)


def _item_count(schema: Schema, current: int) -> int:
    low = int(schema.get("minItems", 0))
    high = schema.get("maxItems")
    count = max(current, low, 1)
    return min(count, int(high)) if high is not None else count


def _string(schema: Schema, name: str, index: int) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    label = f"{STUB_LABEL} {name}" + (f" {index + 1}" if index else "")
    text = _fit_string(label, schema)
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and not re.search(pattern, text):
        for candidate in _PATTERN_TRIES:
            if re.search(pattern, candidate):
                return candidate
    return text


_WRITTEN_LIMIT = re.compile(r"At (most|least) (\d+) characters")
"""Limits a schema states in words (service.analysis.schema): the stub reads them as a model would."""


def _limits(schema: Schema) -> tuple[int, int | None]:
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    for kind, number in _WRITTEN_LIMIT.findall(str(schema.get("description", ""))):
        if kind == "least":
            low = max(low, int(number))
        elif high is None:
            high = int(number)
    return low, None if high is None else int(high)


def _fit_string(text: str, schema: Schema) -> str:
    low, high = _limits(schema)
    if len(text) < low:
        text = f"{text} {STUB_NOTE}"
        while len(text) < low:
            text += " stub"
    if high is not None and len(text) > int(high):
        cut = text[: int(high)]
        # Cut at a word boundary when one is near, so the text stays readable.
        if " " in cut and len(cut.rsplit(" ", 1)[0]) >= max(low, int(high) // 2):
            cut = cut.rsplit(" ", 1)[0]
        text = cut.rstrip()
        if len(text) < low:
            text = text.ljust(low, ".")
    return text


def _number(schema: Schema, kind: str, index: int) -> int | float:
    step = schema.get("multipleOf")
    low = schema.get("minimum")
    if "exclusiveMinimum" in schema and isinstance(schema["exclusiveMinimum"], int | float):
        low = schema["exclusiveMinimum"] + (step or (1 if kind == "integer" else 0.5))
    high = schema.get("maximum")
    if "exclusiveMaximum" in schema and isinstance(schema["exclusiveMaximum"], int | float):
        high = schema["exclusiveMaximum"] - (step or (1 if kind == "integer" else 0.5))
    value: float = (low if low is not None else 0) + index
    if high is not None and value > high:
        value = high if low is None else max(low, high)
    if step:
        value = math.ceil(value / step) * step
    return int(value) if kind == "integer" else float(value)


def _matches_type(value: Any, schema: Schema, root: Schema) -> bool:
    schema = resolve(schema, root)
    if "const" in schema:
        return bool(value == schema["const"])
    if schema.get("enum"):
        return value in schema["enum"]
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    types = _types(schema)
    return not types or any(checks.get(t, lambda _v: False)(value) for t in types)


def _fit(value: Any, schema: Schema, root: Schema, name: str, depth: int) -> Any:
    schema = resolve(schema, root)
    if depth > MAX_DEPTH:
        return value
    branches = _branches(schema)
    if branches:
        for branch in branches:
            if _matches_type(value, branch, root):
                return _fit(value, branch, root, name, depth + 1)
        return _minimal(schema, root, name, 0, depth)
    if not _matches_type(value, schema, root):
        return _minimal(schema, root, name, 0, depth)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        fitted = {
            key: _fit(item, properties[key], root, key, depth + 1) if key in properties else item
            for key, item in value.items()
            if key in properties or schema.get("additionalProperties", True) is not False
        }
        for key in schema.get("required") or []:
            if key not in fitted:
                fitted[key] = _minimal(properties.get(key, {}), root, key, 0, depth + 1)
        return fitted
    if isinstance(value, list):
        items = [_fit(item, schema.get("items") or {}, root, name, depth + 1) for item in value]
        high = schema.get("maxItems")
        if high is not None:
            items = items[: int(high)]
        while len(items) < int(schema.get("minItems", 0)):
            items.append(_array_item(schema, root, name, len(items), depth))
        return items
    if isinstance(value, str) and "const" not in schema and not schema.get("enum"):
        return _fit_string(value, schema)
    if isinstance(value, int | float) and not isinstance(value, bool):
        kind = "integer" if isinstance(value, int) else "number"
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            return _number(schema, kind, 0)
    return value
