"""The layering rules from CONVENTIONS.md, enforced by reading the imports."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_schemas_never_import_the_service():
    for path in (ROOT / "schemas").rglob("*.py"):
        bad = {n for n in _imports(path) if n == "service" or n.startswith("service.")}
        assert not bad, f"{path.name} imports {bad}"


def test_routes_never_touch_the_database_or_third_party_clients():
    forbidden = ("service.db", "asyncpg", "httpx", "openai", "instructor", "trafilatura")
    routes = list((ROOT / "service").rglob("routes.py"))
    assert routes
    for path in routes:
        bad = {n for n in _imports(path) if n.startswith(forbidden)}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_no_sql_strings_in_repositories():
    for path in (ROOT / "service").rglob("repository.py"):
        text = path.read_text()
        for keyword in ("SELECT ", "INSERT ", "UPDATE ", "DELETE "):
            assert keyword not in text, f"{path.relative_to(ROOT)} holds SQL; put it in sql/queries"
