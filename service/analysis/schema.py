"""The JSON schema sent to the model: one that grammar-constrained decoders accept.

instructor sends ``response_model.model_json_schema()`` in every mode (the tool's parameters,
the ``response_format`` schema, the schema written into the prompt), so response models derive
``WireModel``, whose JSON schema is pydantic's made acceptable to constrained decoders by
``WireJsonSchema``. llama.cpp, vLLM, Ollama and OpenAI's strict mode each compile the schema
into a grammar, and each supports a subset of JSON Schema. What every one of them takes:
``type``, ``properties`` with every key ``required``, ``additionalProperties: false``,
``items``, ``enum``, ``anyOf`` (for null), ``minItems``/``maxItems`` and integer ranges. What
we leave out: ``minLength``/``maxLength`` (OpenAI strict refuses them; llama.cpp expands a limit
of 2 500 into thousands of grammar rules and cuts text mid-word at it), ``pattern``,
``format``, ``$ref`` (inlined; small models read a flat schema better), titles and defaults
(noise tokens); ``const`` becomes a one-value ``enum``. Length limits become written
instructions in the description ("At most 2500 characters."), which our own validation then
enforces leniently (service.analysis.model).
"""

from __future__ import annotations

import functools
import json
import weakref
from typing import Any, ClassVar, TypeVar

from instructor import OpenAISchema
from pydantic import BaseModel
from pydantic.json_schema import DEFAULT_REF_TEMPLATE, GenerateJsonSchema, JsonSchemaMode
from pydantic_core import CoreSchema

MAX_ENUM_SENTENCES = 400
"""Above this many sentences, numbers are bounded by minimum/maximum instead of listed."""

ModelT = TypeVar("ModelT", bound=BaseModel)

_SCHEMAS: weakref.WeakKeyDictionary[type[BaseModel], dict[Any, str]] = weakref.WeakKeyDictionary()


class WireJsonSchema(GenerateJsonSchema):
    """pydantic's JSON schema generation, then cleaned for constrained decoders (the root keeps
    its title: servers and the stub name the answer after it)."""

    def generate(self, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> dict[str, Any]:
        raw = super().generate(schema, mode)
        cleaned: dict[str, Any] = _clean(raw, raw.get("$defs", {}), 0)
        if "title" in raw:
            cleaned["title"] = raw["title"]
        return cleaned


class WireModel(OpenAISchema):
    """A response model whose JSON schema (what instructor sends) is the wire schema. Being an
    instructor ``OpenAISchema`` already, it is used as it is: instructor wraps other models in
    a new subclass on every call, which costs a pydantic model build each time."""

    cited_sentences: ClassVar[int | None] = None
    """Set on a per-article subclass (``citing``): the key details' sentence numbers run from 1
    to this."""
    listed_sentences: ClassVar[bool] = False
    """True: the numbers are an ``enum`` a constrained decoder enforces; else a range hint."""

    @classmethod
    def model_json_schema(
        cls,
        by_alias: bool | None = None,
        ref_template: str = DEFAULT_REF_TEMPLATE,
        schema_generator: type[GenerateJsonSchema] = WireJsonSchema,
        mode: JsonSchemaMode = "validation",
        **kwargs: Any,
    ) -> dict[str, Any]:
        key = (by_alias, ref_template, schema_generator, mode, tuple(sorted(kwargs.items())))
        # Generated once per model and arguments: instructor asks on every call.
        cached = _SCHEMAS.setdefault(cls, {})
        if key not in cached:
            schema = super().model_json_schema(by_alias, ref_template, schema_generator, mode, **kwargs)
            if cls.cited_sentences is not None:
                cite_sentences(schema, cls.cited_sentences, enumerate_numbers=cls.listed_sentences)
            cached[key] = json.dumps(schema)
        result: dict[str, Any] = json.loads(cached[key])  # a fresh copy, faster than deepcopy
        return result


@functools.lru_cache(maxsize=512)
def citing(model: type[ModelT], count: int, *, listed: bool) -> type[ModelT]:
    """``model`` for articles of ``count`` sentences: the same fields and validation, and a
    JSON schema whose sentence numbers are 1..``count`` (an enum when ``listed``). Validation
    still takes any number: which are usable is decided against the article
    (service.analysis.citations), so a bad citation costs one key detail, not the card. Made
    once per count (a pydantic model build takes milliseconds)."""
    namespace = {
        "__module__": model.__module__,
        "__doc__": model.__doc__,
        "__qualname__": model.__qualname__,
        "cited_sentences": count,
        "listed_sentences": listed,
    }
    made: type[ModelT] = type(model.__name__, (model,), namespace)
    return made


def wire_model(model: type[ModelT]) -> type[ModelT]:
    """``model`` itself when it is a WireModel, else a subclass that is (made once per model):
    response models from elsewhere (service.digests) go on the wire the same way."""
    return model if issubclass(model, WireModel) else _as_wire_model(model)


@functools.cache
def _as_wire_model(model: type[ModelT]) -> type[ModelT]:
    namespace = {"__module__": model.__module__, "__doc__": model.__doc__, "__qualname__": model.__qualname__}
    made: type[ModelT] = type(model.__name__, (model, WireModel), namespace)
    return made


def wire_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema as it goes on the wire."""
    return wire_model(model).model_json_schema()


def cite_sentences(schema: dict[str, Any], count: int, *, enumerate_numbers: bool) -> dict[str, Any]:
    """``schema`` with every key detail's ``sentences`` limited to 1..``count``: listed as an
    enum where a decoder enforces it (json_schema mode), a minimum/maximum hint otherwise."""
    details = schema["properties"]["key_details"]["items"]["properties"]
    numbers = details["sentences"]["items"]
    numbers.pop("enum", None)
    numbers.pop("minimum", None)
    numbers.pop("maximum", None)
    if enumerate_numbers and count <= MAX_ENUM_SENTENCES:
        numbers["enum"] = list(range(1, count + 1))
    else:
        numbers["minimum"], numbers["maximum"] = 1, max(1, count)
    return schema


def _clean(node: Any, definitions: dict[str, Any], depth: int) -> Any:
    if depth > 32:
        raise ValueError("the response model nests too deeply for a wire schema")
    if isinstance(node, list):
        return [_clean(item, definitions, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = definitions[str(node["$ref"]).rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _clean(merged, definitions, depth + 1)
    out: dict[str, Any] = {}
    notes: list[str] = []
    for key, value in node.items():
        if key in ("title", "default", "$defs", "format", "pattern", "examples"):
            continue
        if key == "const":
            out["enum"] = [value]
            continue
        if key == "minLength":
            if int(value) > 1:
                notes.append(f"At least {int(value)} characters.")
            continue
        if key == "maxLength":
            notes.append(f"At most {int(value)} characters.")
            continue
        if key in ("properties", "items", "anyOf", "oneOf", "allOf"):
            value = (
                {name: _clean(sub, definitions, depth + 1) for name, sub in value.items()}
                if key == "properties"
                else _clean(value, definitions, depth + 1)
            )
        out["anyOf" if key == "oneOf" else key] = value
    if "allOf" in out and len(out["allOf"]) == 1:
        out = {**out.pop("allOf")[0], **out}
    if notes:
        described = str(out.get("description", "")).strip()
        missing = [n for n in notes if n not in described]
        out["description"] = " ".join([described, *missing]).strip()
    if out.get("type") == "object" or "properties" in out:
        out["type"] = "object"
        out.setdefault("properties", {})
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


def field_guide(schema: dict[str, Any]) -> str:
    """The fields of ``schema`` and their descriptions as prose, for a prompt: a server that
    enforces a schema by grammar (llama.cpp) never shows the model its descriptions."""
    lines = ["Answer with one JSON object with these fields:"]
    for name, prop in schema.get("properties", {}).items():
        lines.append(f"- {name}: {prop.get('description', '').strip()}".rstrip(": "))
        item = prop.get("items", {})
        for inner, sub in item.get("properties", {}).items():
            lines.append(f"  - {inner}: {sub.get('description', '').strip()}".rstrip(": "))
    return "\n".join(lines)
