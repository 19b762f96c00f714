"""Named SQL queries loaded once from sql/queries/*.sql.

The files borrow aiosql's notation (``-- name: get_signal_cards`` and a one-line comment)
but this loader is their only reader: a condition several queries share is written once as
``-- fragment: name`` (never run alone) and pulled in by a line ``-- include: name``, e.g.
the list filters every list page applies alike, and aiosql knows neither line. The loader
turns ``:name`` parameters into asyncpg's ``$n`` once at import and then calls asyncpg
directly, so a named query costs exactly what a hand-written one does (the list endpoints
are benchmarked against bare asyncpg).

    rows = await queries.get_signal_cards.fetch(conn, ids=[signal_id])

``queries`` is a ``service.db.catalog.Queries``: a class generated from the files, one
annotated attribute per named query, so mypy refuses a misspelt name. After adding,
renaming or removing a query, regenerate it (tests/unit/test_query_catalog.py checks it):

    python -m service.db.queries --write
"""

from __future__ import annotations

import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from service.db.catalog import Queries
from service.db.connections import Executor
from service.db.paths import QUERIES_DIR

CATALOG_PATH = Path(__file__).with_name("catalog.py")

# aiosql's operator suffixes (^ $ ! ...) are accepted and ignored: the call site picks
# fetch / fetchrow / fetchval / execute.
_NAME_RE = re.compile(
    r"^--\s*(?P<kind>name|fragment):\s*(?P<name>[a-z_][a-z0-9_]*)(?P<op>[!$^#*<>]*)\s*$", re.M
)
_INCLUDE_RE = re.compile(r"^(?P<indent>[ \t]*)--\s*include:\s*(?P<name>[a-z_][a-z0-9_]*)\s*$", re.M)
# A :param outside string literals and not part of a ::cast.
_TOKEN_RE = re.compile(r"--[^\n]*|'(?:[^']|'')*'|\$\$.*?\$\$|(?<![:\w]):(?P<param>[a-z_][a-z0-9_]*)\b", re.S)


@dataclass(frozen=True, slots=True)
class Query:
    """One named query, ready for asyncpg: ``sql`` uses $n, ``params`` names them in order."""

    name: str
    sql: str
    params: tuple[str, ...]
    doc: str

    def _args(self, kwargs: dict[str, Any]) -> list[Any]:
        missing = [p for p in self.params if p not in kwargs]
        extra = [k for k in kwargs if k not in self.params]
        if missing or extra:
            raise TypeError(f"query {self.name}: missing {missing}, unexpected {extra}")
        return [kwargs[p] for p in self.params]

    async def fetch(self, conn: Executor, **kwargs: Any) -> list[asyncpg.Record]:
        result: list[asyncpg.Record] = await conn.fetch(self.sql, *self._args(kwargs))
        return result

    async def fetchrow(self, conn: Executor, **kwargs: Any) -> asyncpg.Record | None:
        result: asyncpg.Record | None = await conn.fetchrow(self.sql, *self._args(kwargs))
        return result

    async def fetchval(self, conn: Executor, **kwargs: Any) -> Any:
        return await conn.fetchval(self.sql, *self._args(kwargs))

    async def execute(self, conn: Executor, **kwargs: Any) -> str:
        if not self.params and not kwargs:
            status: str = await conn.execute(self.sql)  # simple protocol: scripts may hold many statements
            return status
        status = await conn.execute(self.sql, *self._args(kwargs))
        return status


def _compile(name: str, body: str) -> Query:
    lines = body.strip().splitlines()
    doc_lines = []
    while lines and lines[0].lstrip().startswith("--"):
        doc_lines.append(lines.pop(0).lstrip()[2:].strip())
    raw = "\n".join(lines).strip().rstrip(";")
    order: list[str] = []

    def replace(match: re.Match[str]) -> str:
        param = match.group("param")
        if param is None:
            return match.group(0)
        if param not in order:
            order.append(param)
        return f"${order.index(param) + 1}"

    return Query(name=name, sql=_TOKEN_RE.sub(replace, raw), params=tuple(order), doc=" ".join(doc_lines))


def _include(name: str, body: str, fragments: dict[str, str], depth: int = 0) -> str:
    """``body`` with its includes replaced, and theirs (a fragment may include another)."""
    if depth > 5:
        raise ValueError(f"query {name}: fragments include each other too deeply (a cycle?)")

    def replace(match: re.Match[str]) -> str:
        fragment = fragments.get(match["name"])
        if fragment is None:
            raise ValueError(f"query {name} includes an unknown fragment {match['name']}")
        fragment = _include(name, fragment, fragments, depth + 1)
        return "\n".join(match["indent"] + line for line in fragment.splitlines())

    return _INCLUDE_RE.sub(replace, body)


def load_queries(folder: Path = QUERIES_DIR) -> dict[str, Query]:
    """Every named query in ``folder``; a name defined twice is an error."""
    bodies: dict[str, str] = {}
    fragments: dict[str, str] = {}
    for path in sorted(folder.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        matches = list(_NAME_RE.finditer(text))
        for i, match in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            name = match["name"]
            if name in bodies or name in fragments:
                raise ValueError(f"query {name} is defined twice ({path.name})")
            body = text[match.end() : end]
            if match["kind"] == "fragment":
                # its comment lines document it; what is included is the SQL after them
                lines = body.strip().splitlines()
                while lines and lines[0].lstrip().startswith("--"):
                    lines.pop(0)
                fragments[name] = "\n".join(line.strip() for line in lines)
            else:
                bodies[name] = body
    return {name: _compile(name, _include(name, body, fragments)) for name, body in bodies.items()}


def _first_sentence(doc: str) -> str:
    return re.split(r"(?<=[.?!])\s+(?=[A-Z(:])", doc, maxsplit=1)[0]


def render_catalog(folder: Path = QUERIES_DIR) -> str:
    """The text of service/db/catalog.py for the named queries in ``folder``."""
    named = load_queries(folder)
    lines = [
        '"""Every named query in sql/queries, one typed attribute each: generated, do not edit.',
        "",
        "Regenerate with ``python -m service.db.queries --write`` (service/db/queries.py).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import TYPE_CHECKING",
        "",
        "if TYPE_CHECKING:",
        "    from service.db.queries import Query",
        "",
        "",
        "class Queries:",
        '    """The named queries; ``service.db.queries.queries`` is the one instance."""',
    ]
    for path in sorted(folder.glob("*.sql")):
        names = [
            m["name"] for m in _NAME_RE.finditer(path.read_text(encoding="utf-8")) if m["kind"] == "name"
        ]
        if not names:
            continue
        lines += ["", f"    # {path.name}"]
        for name in names:
            doc = _first_sentence(named[name].doc).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
            if doc.endswith('"'):  # it would merge with the closing quotes
                doc = doc[:-1] + '\\"'
            lines.append(f"    {name}: Query")
            lines.append(
                textwrap.fill(doc, width=106, initial_indent='    """', subsequent_indent="    ") + '"""'
            )
    return "\n".join(lines) + "\n"


def _bind(named: dict[str, Query]) -> Queries:
    bound = Queries()
    for name, query in named.items():
        setattr(bound, name, query)
    return bound


queries = _bind(load_queries())


def main(argv: list[str]) -> int:
    """``--write`` regenerates service/db/catalog.py; without it, exit 1 if it is stale."""
    text = render_catalog()
    if "--write" in argv:
        CATALOG_PATH.write_text(text, encoding="utf-8")
        return 0
    if CATALOG_PATH.read_text(encoding="utf-8") != text:
        print("service/db/catalog.py is stale: run python -m service.db.queries --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
