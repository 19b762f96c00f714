"""service/db/catalog.py, the typed list of named queries, says what sql/queries/*.sql say."""

import shutil
from pathlib import Path

from service.db.catalog import Queries
from service.db.paths import QUERIES_DIR
from service.db.queries import CATALOG_PATH, load_queries, main, queries, render_catalog

REGENERATE = "service/db/catalog.py is stale: run `python -m service.db.queries --write`"


def test_the_checked_in_catalog_is_what_the_sql_files_generate():
    assert CATALOG_PATH.read_text(encoding="utf-8") == render_catalog(), REGENERATE
    assert main([]) == 0


def test_every_named_query_is_a_declared_attribute_and_nothing_else_is():
    named = load_queries()
    assert set(Queries.__annotations__) == set(named), REGENERATE
    assert vars(queries) == named


def test_a_query_added_to_a_file_makes_the_catalog_stale(tmp_path: Path):
    for path in QUERIES_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path)
    with (tmp_path / "signals.sql").open("a", encoding="utf-8") as sql:
        sql.write('\n-- name: brand_new_query\n-- A \\ doc, last "quoted"\nSELECT 1;\n')
    text = render_catalog(tmp_path)
    assert text != CATALOG_PATH.read_text(encoding="utf-8")
    assert '    brand_new_query: Query\n    """A \\\\ doc, last "quoted\\""""\n' in text
    compile(text, "catalog.py", "exec")  # the generated text stays valid Python
