"""Query latency on a seeded corpus: list, full text and related, against their floors.

    .venv/bin/python -m bench.queries --data-dir /tmp/signals-bench-100k [--reads 300]

Needs a database made by ``bench.seed``. The API runs in its own process (``signals serve
--no-worker``), as in production; one client sends one request at a time over a keep-alive
connection (``bench.rawhttp``: a request line written, the answer read with httptools, the
role wrk plays elsewhere; one row repeats the list through httpx for comparison). Measured
side by side, interleaved request by request (one of each measure per turn, in shuffled
order) so drift and cache warming hit all alike, with random parameters each time:

- list page 1 and 2 through GET /v1/signals (a mid-frequency topic + lang=en, limit 20), and
  the same list query as a bare loop in this process (``bench.query_baselines``): the page
  statement on one asyncpg connection (the topic's id known), rows into msgspec Structs,
  encoded to JSON;
- GET /healthz through the same client: what HTTP alone costs;
- the floors under the endpoint (``bench.floor_app``): the same service call behind one
  plain Litestar handler, and behind a bare ASGI app, each in its own uvicorn process. Each
  of these (and the rate-limit-off API) serves one request a round while the endpoint's
  process serves most of them, so they answer colder: three untimed requests sent to each just
  before its timed one took ~0.3 ms off their p50. Compare them with each other, not with the
  endpoint; the busy endpoint against the bare loop (in this always-busy process) is the
  like-for-like pair, as a production API under steady traffic would be;
- full text (common and rare terms, newest and relevance) through the endpoint;
- related: GET /v1/signals/{id}/related (stored links) and the kNN query the relate step runs;
- analysts' aggregates (no goal in the issue): topics and entities counted over a 30-day and
  a 365-day window, and the weekly timeline of one of the three biggest topics over the whole
  corpus, each window ending where the corpus ends;
- HNSW recall@10 of the production kNN query against the same query with the index off.

This process runs on uvloop, the loop uvicorn gives the API: the client's reads and the bare
loop's asyncpg calls pay the same event loop as the service's.
"""

from __future__ import annotations

import argparse
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import msgspec
import uvloop

from bench import asgi
from bench.corpus_reads import list_params, percentiles, pick_parameters, running_api
from bench.interleave import interleaved
from bench.query_baselines import EF_SEARCH, bare_knn_query, bare_list_loop, measure_recall
from bench.rawhttp import RawClient
from bench.seed import bench_settings
from bench.synthetic import Corpus
from service.app import create_app
from service.db.database import Database
from service.db.queries import queries
from service.keys.service import create_key
from service.keys.suppliers import PUBLIC_ONLY
from service.runtime import open_runtime
from service.signals.listing import SignalQuery, list_signals

GOALS_MS = {"list": 30.0, "fulltext": 100.0, "related": 20.0}

_encode = msgspec.json.Encoder().encode


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--reads", type=int, default=300, help="timed requests per measure")
    parser.add_argument("--recall-queries", type=int, default=200)
    parser.add_argument(
        "--recall-ef", default=f"40,{EF_SEARCH}", help="hnsw.ef_search values to compare (comma-separated)"
    )
    parser.add_argument("--recall-only", action="store_true", help="skip the latency measures")
    args = parser.parse_args()
    db = Database(bench_settings(args.data_dir))
    await db.open()
    assert db.dsn is not None
    try:
        conn = await db.connect()
        total = await conn.fetchval("SELECT count(*) FROM signals")
        corpus = Corpus(total)
        params = await pick_parameters(conn, corpus)
        # A production-like key (its token bucket is updated on every request) that a
        # benchmark's request rate never exhausts.
        key = (
            await create_key(
                conn, name="bench", scopes=["signals:read"], rate_per_second=100_000, burst=1_000_000
            )
        ).key
        results = (
            {} if args.recall_only else await measure(db.dsn, args.data_dir, conn, key, params, args.reads)
        )
        recall = await measure_recall(conn, params["ids"], args.recall_queries, args.recall_ef.split(","))
        await conn.close()
    finally:
        await db.close()
    report(total, args, results, recall)


async def measure(
    dsn: str, data_dir: Path, conn: Any, key: str, params: dict[str, Any], reads: int
) -> dict[str, list[float]]:
    rng = random.Random(11)
    bare_list = await bare_list_loop(conn, params["topics"])
    bare_knn = bare_knn_query(conn)

    async def service_list(topic: str) -> bytes:
        """The endpoint's own code below HTTP (service.signals.listing) in this process."""
        return _encode(
            await list_signals(rt.db.pool, rt.topic_cache, SignalQuery(topics=(topic,), lang="en", limit=20))
        )

    # A second API process with rate limits off: how much of the gap is the token bucket's
    # per-request write. The service layer in this process (the same DSN: a second handle on
    # the embedded server in one process would stop it when let go) splits what is left
    # between our code and HTTP + Litestar.
    settings = bench_settings(data_dir).model_copy(update={"database_url": dsn})
    app = create_app(settings, worker=False)

    async def asgi_list(topic: str) -> bytes:
        """The endpoint in this process without sockets: Litestar, middleware, route, service."""
        return await asgi.get(app, "/v1/signals", list_params(topic), {"Authorization": f"Bearer {key}"})

    async with (
        open_runtime(settings, extraction=False, waiter=True) as rt,  # caches on, as served
        asgi.lifespan(app),
    ):
        # the app's startup configured logging for this process: keep client requests quiet
        logging.getLogger("httpx").setLevel(logging.WARNING)
        return await _measure_api(
            dsn, conn, key, params, reads, rng, bare_list, bare_knn, service_list, asgi_list
        )


async def _measure_api(
    dsn: str,
    conn: Any,
    key: str,
    params: dict[str, Any],
    reads: int,
    rng: random.Random,
    bare_list: Callable[..., Awaitable[bytes]],
    bare_knn: Callable[[UUID], Awaitable[None]],
    service_list: Callable[[str], Awaitable[bytes]],
    asgi_list: Callable[[str], Awaitable[bytes]],
) -> dict[str, list[float]]:
    async def card_tier(word: str) -> None:
        """The first relevance page past a common word's headline matches (a deep page): its
        card tier, which ranks every card carrying the word, as the endpoint runs it."""
        ranked = queries.list_signals_relevance_ranked
        await ranked.fetch(
            conn, **dict.fromkeys(ranked.params) | {"q": word, "tier": 1, "collapse": False, "limit": 21}
        )

    topics, ids = params["topics"], params["ids"]
    with (
        running_api(dsn) as base,
        running_api(dsn, SIGNALS_RATE_LIMIT="false") as unlimited_base,
        running_api(dsn, floor="litestar") as litestar_base,
        running_api(dsn, floor="asgi") as asgi_base,
    ):
        auth = {"Authorization": f"Bearer {key}"}
        async with (
            httpx.AsyncClient(base_url=base, headers=auth, timeout=60) as client,
            RawClient(base, auth) as raw,
            RawClient(unlimited_base, auth) as unlimited,
            RawClient(litestar_base) as litestar_floor,
            RawClient(asgi_base) as asgi_floor,
        ):

            async def get_json(path: str, **query: Any) -> dict[str, Any]:
                """Through httpx, decoded: setup, and the row that shows what httpx adds."""
                response = await client.get(path, params=query or None)
                assert response.status_code == 200, response.text[:500]
                return response.json()  # type: ignore[no-any-return]

            async def get(path: str, via: RawClient = raw, **query: Any) -> bytes:
                response = await via.get(RawClient.target(path, query))
                if response.status != 200:
                    raise AssertionError(f"{path} {query}: {response.status} {bytes(response.body[:500])!r}")
                return bytes(response.body)

            # Page-2 links and their bare equivalents (a page does not move once stored).
            second: dict[str, tuple[str, tuple[datetime, UUID]]] = {}
            for topic in topics:
                page = await get_json("/v1/signals", **list_params(topic))
                last = page["items"][-1]
                next_url = urlsplit(page["next"])
                second[topic] = (
                    f"{next_url.path}?{next_url.query}",
                    (datetime.fromisoformat(last["created_at"]), UUID(last["id"])),
                )
            # Relevance page 2 of each common word (still among its headline matches).
            relevance_second: dict[str, str] = {}
            for word in params["common"]:
                page = await get_json("/v1/signals", q=word, sort="relevance", limit=20)
                next_url = urlsplit(page["next"])
                relevance_second[word] = f"{next_url.path}?{next_url.query}"
            related_ok = (await client.get(f"/v1/signals/{ids[0]}/related")).status_code == 200
            if not related_ok:
                print("GET /v1/signals/{id}/related is not served: measuring its stored-links query instead")

            async def related_bare(signal_id: UUID) -> None:
                await queries.list_related_signals.fetch(
                    conn, signal_id=signal_id, limit=20, restrict_topics=None, **PUBLIC_ONLY.params()
                )

            def term(kind: str) -> str:
                return rng.choice(params[kind])

            def two_terms() -> str:
                # two different words: "debate debate" is one word to a reader, but PostgreSQL
                # estimates it as two independent ones (bench/README.md, "Full-text rewrites")
                return " ".join(rng.sample(params["common"], 2))

            # Every list measure of a round asks for the same topic (drawn per round): the ratios
            # compare one workload through different paths. Drawn per measure, as before, the
            # topics' own spread (0.5-1.3 % of signals each) moved each p50 by several per cent
            # on its own, more than some of the differences measured.
            round_topic: list[str] = [topics[0]]
            first, last = await conn.fetchrow("SELECT min(created_at), max(created_at) FROM signals")
            start, end = first.isoformat(), (last + timedelta(seconds=1)).isoformat()

            def days_before_end(days: int) -> str:
                return (last + timedelta(seconds=1) - timedelta(days=days)).isoformat()

            def topic() -> str:
                return round_topic[0]

            runs: dict[str, Callable[[], Awaitable[Any]]] = {
                "http floor (GET /healthz)": lambda: get("/healthz"),
                "list p1 bare (asyncpg+msgspec)": lambda: bare_list(topic()),
                "list p1 endpoint": lambda: get("/v1/signals", **list_params(topic())),
                "list p1 endpoint, httpx client": lambda: get_json("/v1/signals", **list_params(topic())),
                "list p1 in-process (no HTTP)": lambda: service_list(topic()),
                "list p1 ASGI in-process (no sockets)": lambda: asgi_list(topic()),
                "list p1 endpoint, rate limit off": lambda: get(
                    "/v1/signals", via=unlimited, **list_params(topic())
                ),
                "list p1 floor: one Litestar handler": lambda: get(
                    "/floor", via=litestar_floor, topic=topic()
                ),
                "list p1 floor: bare ASGI app": lambda: get("/floor", via=asgi_floor, topic=topic()),
                "list p2 bare (asyncpg+msgspec)": lambda: bare_list(topic(), second[topic()][1]),
                "list p2 endpoint": lambda: get(second[topic()][0]),  # path and query
                "fulltext common, newest": lambda: get("/v1/signals", q=term("common"), limit=20),
                "fulltext rare, newest": lambda: get("/v1/signals", q=term("rare"), limit=20),
                "fulltext common, relevance": lambda: get(
                    "/v1/signals", q=term("common"), sort="relevance", limit=20
                ),
                "fulltext common, relevance p2": lambda: get(relevance_second[term("common")]),
                "fulltext common, relevance past headlines (bare)": lambda: card_tier(term("common")),
                "fulltext common in a head topic, relevance": lambda: get(
                    "/v1/signals",
                    q=term("common"),
                    topic=rng.choice(params["head_topics"]),
                    sort="relevance",
                    limit=20,
                ),
                "fulltext rare in a head topic, newest": lambda: get(
                    "/v1/signals", q=term("rare"), topic=rng.choice(params["head_topics"]), limit=20
                ),
                "fulltext 2 terms in a head topic, newest": lambda: get(
                    "/v1/signals",
                    q=two_terms(),
                    topic=rng.choice(params["head_topics"]),
                    limit=20,
                ),
                "fulltext rare, relevance": lambda: get(
                    "/v1/signals", q=term("rare"), sort="relevance", limit=20
                ),
                "fulltext 2 terms, relevance": lambda: get(
                    "/v1/signals", q=two_terms(), sort="relevance", limit=20
                ),
                "related endpoint (stored)": (
                    (lambda: get(f"/v1/signals/{rng.choice(ids)}/related", limit=20))
                    if related_ok
                    else (lambda: related_bare(rng.choice(ids)))
                ),
                "related kNN query (k=50, bare)": lambda: bare_knn(rng.choice(ids)),
                "topics, 30-day window, trending": lambda: get(
                    "/v1/topics", since=days_before_end(30), until=end, sort="trending"
                ),
                "topics, 365-day window": lambda: get("/v1/topics", since=days_before_end(365), until=end),
                "entities, 365-day window": lambda: get(
                    "/v1/entities", since=days_before_end(365), until=end
                ),
                "timeline, a head topic, all weeks": lambda: get(
                    f"/v1/topics/{rng.choice(params['head_topics'])}/timeline",
                    interval="week",
                    since=start,
                    until=end,
                ),
            }

            def draw_topic() -> None:
                round_topic[0] = rng.choice(topics)

            results = await interleaved(runs, reads, rng, warmup=30, each_round=draw_topic)
    return results


_RATIO_LABELS = (("endpoint", "endpoint"), ("floor", "floor"), ("ASGI", "asgi"))


def report(
    total: int, args: argparse.Namespace, results: dict[str, list[float]], recall: dict[str, float]
) -> None:
    print(f"\nsignals={total:,} reads={args.reads}", end=" ")
    print("(ms; one client, one request at a time, measures interleaved)")
    p = {name: percentiles(samples) for name, samples in results.items()}
    if p:
        print(f"{'measure':48s} {'p50':>8s} {'p99':>8s}  {'goal p99':>9s}  {'met':6s} ratios")
    for name, (p50, p99) in p.items():
        floor50 = p["http floor (GET /healthz)"][0]
        kind = "list" if name.startswith("list") and "endpoint" in name else None
        kind = "fulltext" if name.startswith("fulltext") else kind
        kind = "related" if name.startswith("related endpoint") else kind
        goal = GOALS_MS.get(kind or "")
        verdict = ("met" if p99 < goal else "MISSED") if goal else ""
        ratios = ""
        if name.startswith("list") and ("endpoint" in name or "in-process" in name or "floor" in name):
            bare50, bare99 = p[name[:8] + "bare (asyncpg+msgspec)"]
            label = next((label for word, label in _RATIO_LABELS if word in name), "service") + "/bare"
            ratios = (
                f"{label} p50 {p50 / bare50:4.2f}x p99 {p99 / bare99:4.2f}x"
                f" (goal 1.25x: {'met' if p50 / bare50 <= 1.25 else 'MISSED'})"
            )
            if "endpoint" in name:
                ratios += f"; minus http floor p50 {(p50 - floor50) / bare50:4.2f}x"
        goal_text = f"< {goal:.0f}" if goal else ""
        print(f"{name:48s} {p50:8.2f} {p99:8.2f}  {goal_text:>9s}  {verdict:6s} {ratios}")
    print(
        f"HNSW recall over {recall.pop('queries'):.0f} signals' own embeddings"
        f" ({recall.pop('seconds'):.0f} s; the production query, exact = same query with index scans off):"
    )
    for name, value in recall.items():
        goal = (
            "  goal >= 0.95: " + ("met" if value >= 0.95 else "MISSED")
            if name.startswith("recall@10")
            else ""
        )
        production = " (production ef_search)" if name.endswith(f"={EF_SEARCH}") else ""
        print(f"  {name:28s} {value:.4f}{production}{goal}")


if __name__ == "__main__":
    # The loop the API runs on (uvicorn picks uvloop), for the client and the bare loop alike.
    uvloop.run(main())
