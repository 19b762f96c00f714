from pathlib import Path

import pytest

from service.db.queries import load_queries, queries


def test_every_named_query_has_a_comment_and_compiles(tmp_path: Path):
    named = load_queries()
    assert "get_signal_cards" in named
    for query in named.values():
        assert query.doc, f"{query.name} lacks its one-line comment"
        assert ":" + "id" not in query.sql.replace("::", "")  # every :param became $n


def test_params_become_positional_in_first_use_order(tmp_path: Path):
    (tmp_path / "x.sql").write_text(
        "-- name: demo\n-- Demo query.\n"
        "SELECT :b::int, :a, ':not_a_param', :b -- :also_not\nFROM t WHERE x = $$ :nope $$\n"
    )
    query = load_queries(tmp_path)["demo"]
    assert query.params == ("b", "a")
    assert query.sql.startswith("SELECT $1::int, $2, ':not_a_param', $1")
    assert ":nope" in query.sql and ":also_not" in query.sql


def test_duplicate_names_are_an_error(tmp_path: Path):
    (tmp_path / "a.sql").write_text("-- name: same\n-- One.\nSELECT 1;\n")
    (tmp_path / "b.sql").write_text("-- name: same\n-- Two.\nSELECT 2;\n")
    with pytest.raises(ValueError, match="defined twice"):
        load_queries(tmp_path)


def test_wrong_arguments_are_refused_before_reaching_the_database():
    with pytest.raises(TypeError, match="missing"):
        queries.get_job_by_id._args({})
    with pytest.raises(TypeError, match="unexpected"):
        queries.get_job_by_id._args({"id": 1, "other": 2})


def test_fragments_are_included_where_named_and_never_loaded_alone(tmp_path: Path):
    (tmp_path / "a.sql").write_text(
        "-- fragment: only_red\n-- Shared condition.\nAND colour = :colour\nAND NOT hidden\n\n"
        "-- name: demo\n-- Demo query.\nSELECT id FROM t\nWHERE true\n    -- include: only_red\nLIMIT :n;\n"
    )
    named = load_queries(tmp_path)
    assert set(named) == {"demo"}
    expected = "SELECT id FROM t\nWHERE true\n    AND colour = $1\n    AND NOT hidden\nLIMIT $2"
    assert named["demo"].sql == expected
    assert named["demo"].params == ("colour", "n")


def test_an_unknown_fragment_is_an_error(tmp_path: Path):
    (tmp_path / "a.sql").write_text("-- name: demo\n-- Demo.\nSELECT 1\n-- include: nothing\n;\n")
    with pytest.raises(ValueError, match="unknown fragment nothing"):
        load_queries(tmp_path)
