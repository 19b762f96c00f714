"""Parameters whose values the service parses itself, documented as it parses them.

A handler takes these as plain strings and checks them in code (service/time_window.py, the
search parser, the Idempotency-Key check), so Litestar documents only ``type: string``. They
are found by name, so a route added later that takes ``since`` or ``q`` is documented too:

- ``since``/``until``: an ISO date or an RFC 3339 date-time in the years 1900-8999 (the window
  parser refuses dates outside 1900-9000), or empty (the same as leaving it out).
- ``window``: 1-9999 hours, or days or weeks up to 3660 days.
- ``q``: full-text search needs a character other than white space.
- ``Idempotency-Key``: 1-255 visible ASCII characters.
- Any other date (``date`` parameters, and ``format: date`` in bodies): the years 1900-8999.

Rules that join two parameters (``since`` before ``until``, a window of at most 3660 days, at
most two of ``since``/``until``/``window``, ``sort=relevance`` with a ``q``) cannot be written
as JSON Schema; their descriptions say them, and the API answers 400 problems.
"""

from __future__ import annotations

from litestar.openapi.spec import OpenAPIType, Operation, Parameter, Schema

_YEARS = r"^(19[0-9]{2}|[2-8][0-9]{3})-"
"""What the window parser takes as a year: 1900 to 9000 (8999 here, to keep the pattern short)."""

_DATE_FORMATS = ("date", "date-time")

_WINDOW_BOUND = Schema(
    type=OpenAPIType.STRING,
    any_of=[
        Schema(type=OpenAPIType.STRING, format="date", pattern=_YEARS),  # type: ignore[arg-type]
        Schema(type=OpenAPIType.STRING, format="date-time", pattern=_YEARS),  # type: ignore[arg-type]
        Schema(type=OpenAPIType.STRING, max_length=0),
    ],
)
_RANGE_RULES = (
    " since must be before until; since to until at most 3660 days; give at most two of since, "
    "until and window."
)
_WINDOW = (
    r"^(|[1-9][0-9]{0,3}h|([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|36[0-5][0-9]|3660)d"
    r"|([1-9][0-9]?|[1-4][0-9]{2}|5[01][0-9]|52[0-2])w)$"
)

_BY_NAME: dict[tuple[str, str], Schema] = {
    ("query", "since"): _WINDOW_BOUND,
    ("query", "until"): _WINDOW_BOUND,
    ("query", "window"): Schema(type=OpenAPIType.STRING, pattern=_WINDOW),
    ("query", "q"): Schema(type=OpenAPIType.STRING, min_length=1, pattern=r"\S"),
    ("header", "Idempotency-Key"): Schema(
        type=OpenAPIType.STRING, min_length=1, max_length=255, pattern=r"^[\x21-\x7e]{1,255}$"
    ),
}


def bound_dates(schema: object) -> None:
    """Every ``format: date``/``date-time`` string in a JSON Schema (a dict, as msgspec writes
    it) gets the years the API takes."""
    if isinstance(schema, dict):
        if schema.get("format") in _DATE_FORMATS and "pattern" not in schema:
            schema["pattern"] = _YEARS
        for value in schema.values():
            bound_dates(value)
    elif isinstance(schema, list):
        for value in schema:
            bound_dates(value)


def _nullable_enum(schema: Schema) -> None:
    """``type: [null, string], enum: [..., null]`` (Litestar's ``Literal[...] | None``) as
    oneOf [the enum, null]: the same values, in the shape client generators turn into one
    enum type (not one per listed type)."""
    if not isinstance(schema.type, list) or schema.enum is None or OpenAPIType.NULL not in schema.type:
        return
    kept = [t for t in schema.type if t != OpenAPIType.NULL]
    if len(kept) != 1:
        return
    values = [v for v in schema.enum if v is not None]
    schema.one_of = [Schema(type=kept[0], enum=values), Schema(type=OpenAPIType.NULL)]
    schema.type, schema.enum = None, None


def finish_parameters(operation: Operation) -> None:
    """Replace the schemas of the parameters in ``_BY_NAME``, keeping their descriptions and
    any length limit the handler declared; bound the years of other date parameters."""
    for parameter in operation.parameters or []:
        if not isinstance(parameter, Parameter):
            continue
        declared = parameter.schema if isinstance(parameter.schema, Schema) else Schema()
        _nullable_enum(declared)
        known = _BY_NAME.get((parameter.param_in, parameter.name))
        if known is None:
            for option in [declared, *(declared.one_of or []), *(declared.any_of or [])]:
                if isinstance(option, Schema) and option.format in _DATE_FORMATS:
                    option.pattern = option.pattern or _YEARS
            continue
        if known is _WINDOW_BOUND or parameter.name == "window":
            parameter.description = (parameter.description or "").rstrip(".") + "." + _RANGE_RULES
        parameter.schema = Schema(
            type=known.type,
            any_of=known.any_of,
            format=known.format,
            pattern=known.pattern,
            min_length=known.min_length,
            max_length=declared.max_length or known.max_length,
            description=parameter.description or declared.description,
        )
