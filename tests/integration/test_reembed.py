"""`signals reembed`: after a model change every current signal gets a vector from the new
model, in batches, through the real embeddings endpoint (the stub, over HTTP); resumable."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import asyncpg

from service.embeddings import Embedder
from service.related.reembed import count_pending, reembed
from tests.support.seeding import SeedSignal, seed_signal

NEW_MODEL = "stub-embed-v2"


async def test_every_current_signal_gets_the_new_models_vector_once(
    make_settings: Any, stub: SimpleNamespace, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    ids = [
        await seed_signal(db, SeedSignal(title=f"Reembed {i}: turbine orders rise", topics=["Energy policy"]))
        for i in range(5)
    ]
    # two signals carry vectors of the old model (another size); three have none
    for signal_id in ids[:2]:
        await db.execute(
            "INSERT INTO signal_embeddings (signal_id, model, dims, embedding)"
            " VALUES ($1, 'old', 8, $2::vector)",
            signal_id,
            "[" + ",".join(["0.1"] * 8) + "]",
        )
    settings = make_settings(
        openai_base_url=f"{stub.base}/v1",
        openai_api_key="test-key",
        embedding_model=NEW_MODEL,
        embedding_dimensions=64,
    )
    embedder = Embedder(settings)
    stub.state.reset()
    try:
        done = await reembed(pool, embedder, batch=2, progress=None)
        assert done.embedded == 5 and (done.model, done.dims) == (NEW_MODEL, 64)
        assert stub.state.stats()["embeddings"] == 3  # batches of 2, 2 and 1
        rows = await db.fetch(
            "SELECT signal_id, model, dims, vector_dims(embedding) AS size FROM signal_embeddings "
            "WHERE signal_id = ANY($1::uuid[])",
            ids,
        )
        assert {r["signal_id"] for r in rows} == set(ids)  # old vectors replaced, none added twice
        assert {(r["model"], r["dims"], r["size"]) for r in rows} == {(NEW_MODEL, 64, 64)}
        assert await count_pending(pool, embedder) == 0
        again = await reembed(pool, embedder, batch=2)  # resumable: nothing left to do
        assert again.embedded == 0 and stub.state.stats()["embeddings"] == 3
        assert await db.fetchval("SELECT to_regclass('signal_embeddings_hnsw_64') IS NOT NULL")
    finally:
        await embedder.aclose()


async def test_embeddings_go_to_their_own_server_when_one_is_set(
    make_settings: Any, stub: SimpleNamespace
) -> None:
    from service.llmstub.faults import StubState
    from service.llmstub.server import create_stub_app
    from tests.support.servers import running_asgi

    other = StubState()
    with running_asgi(create_stub_app(other)) as embeddings_base:
        settings = make_settings(
            openai_base_url=f"{stub.base}/v1",
            openai_api_key="chat-key",
            embedding_base_url=f"{embeddings_base}/v1",
            embedding_model=NEW_MODEL,
            embedding_dimensions=64,
        )
        embedder = Embedder(settings)
        stub.state.reset()
        try:
            vectors = await embedder.embed(["Turbine orders rise", "Grid upgrade delayed"])
        finally:
            await embedder.aclose()
    assert [len(v) for v in vectors] == [64, 64]
    assert other.stats()["embeddings"] == 1
    assert stub.state.stats()["embeddings"] == 0  # the chat server is not asked
