"""Story and related-coverage thresholds measured with a real embedding model.

    .venv/bin/python -m bench.story_calibration --embeddings-url http://127.0.0.1:8091/v1 \
        --embedding-model all-minilm-l6-v2 [--dimensions 384]

The labelled story set (``tests/support/story_articles.py``: six events told by two or three
outlets each, and decoys that share an event's names or its topic) goes through the service
as a user's feed would: ``POST /v1/signals`` with each page's URL (a loopback fake site
serves the pages), a worker analysing (the
project's LLM stub writes the cards, from the article's own sentences) and relating, the
embeddings coming from the real model behind the same OPENAI_BASE_URL (a recording proxy
sends ``/v1/embeddings`` to it and chat calls to the stub). Then, on the same database:

- the cosine of every pair of cards, by label: same event, decoy sharing names, other;
- story clustering re-run (``tests.support.relating.rerun_clustering``: the relate code,
  one signal at a time in arrival order) for a sweep of SIGNALS_STORY_SIMILARITY, with the
  names rule on (min shared entities 1) and off (0): pairwise precision and recall;
- related coverage at the chosen threshold: for each report with another report of its event,
  whether that report is its first related link; links that only ``MEANING_EVIDENCE`` admits
  (no shared story, name or topic) and their labels; pairs of different articles at or above
  ``NEAR_IDENTICAL_COSINE`` (they would be taken for copies).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import statistics
import tempfile
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from bench.recording_proxy import recording_proxy
from service.app import create_app
from service.db.database import Database, init_connection
from service.llmstub import StubState, create_stub_app
from service.settings import Settings
from service.similarity.scoring import MEANING_EVIDENCE, NEAR_IDENTICAL_COSINE
from tests.support.keys import new_key
from tests.support.relating import keyed_client, rerun_clustering, submit_all, wait_related
from tests.support.servers import running_asgi
from tests.support.site import FakeSite, running_site
from tests.support.story_articles import ARTICLES, BY_KEY

SWEEP = [0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85]


def label(a: str, b: str) -> str:
    """same event, decoy sharing that event's names (or topic), or unrelated."""
    ea, eb = BY_KEY[a].event, BY_KEY[b].event
    if ea == eb:
        return "same event"
    if ea.startswith("decoy-") or eb.startswith("decoy-"):
        return "decoy pair"
    return "other events"


async def cosines(db: asyncpg.Connection, signals: dict[str, UUID]) -> dict[tuple[str, str], float]:
    rows = await db.fetch(
        """SELECT a.signal_id AS a, b.signal_id AS b, 1 - (a.embedding <=> b.embedding) AS cosine
           FROM signal_embeddings a JOIN signal_embeddings b ON a.signal_id < b.signal_id
           WHERE a.signal_id = ANY($1::uuid[]) AND b.signal_id = ANY($1::uuid[])""",
        list(signals.values()),
    )
    key_of = {v: k for k, v in signals.items()}
    return {tuple(sorted((key_of[r["a"]], key_of[r["b"]]))): float(r["cosine"]) for r in rows}  # type: ignore[misc]


def print_cosines(found: dict[tuple[str, str], float]) -> None:
    groups: dict[str, list[float]] = {}
    for (a, b), value in found.items():
        groups.setdefault(label(a, b), []).append(value)
    print("\ncard cosine by label (min / median / max, pairs):")
    for name, values in sorted(groups.items()):
        print(
            f"  {name:<14} {min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}"
            f"  ({len(values)})"
        )
    top = sorted(((v, a, b) for (a, b), v in found.items() if label(a, b) != "same event"), reverse=True)[:5]
    print("  closest pairs of different events: " + ", ".join(f"{a}~{b} {v:.3f}" for v, a, b in top))
    low = sorted((v, a, b) for (a, b), v in found.items() if label(a, b) == "same event")[:5]
    print("  farthest reports of one event:     " + ", ".join(f"{a}~{b} {v:.3f}" for v, a, b in low))


async def related_quality(db: asyncpg.Connection, signals: dict[str, UUID], found: dict[Any, float]) -> None:
    key_of = {v: k for k, v in signals.items()}
    rows = await db.fetch(
        "SELECT signal_id, related_id, score, reason FROM signal_related ORDER BY signal_id, score DESC"
    )
    lists: dict[str, list[Any]] = {}
    for r in rows:
        lists.setdefault(key_of[r["signal_id"]], []).append(r)
    with_partner = [k for k in signals if any(BY_KEY[o].event == BY_KEY[k].event for o in signals if o != k)]
    first_same = sum(
        1
        for k in with_partner
        if lists.get(k) and BY_KEY[key_of[lists[k][0]["related_id"]]].event == BY_KEY[k].event
    )
    listed_same = sum(
        1
        for k in with_partner
        for o in signals
        if o != k
        and BY_KEY[o].event == BY_KEY[k].event
        and any(key_of[r["related_id"]] == o for r in lists.get(k, []))
    )
    partner_pairs = sum(
        1 for k in with_partner for o in signals if o != k and BY_KEY[o].event == BY_KEY[k].event
    )
    print(
        "\nrelated coverage: first link is another report of the event for "
        f"{first_same}/{len(with_partner)}; "
        f"reports of the same event listed {listed_same}/{partner_pairs}"
    )
    meaning_only = [
        (key_of[r["signal_id"]], key_of[r["related_id"]], r["reason"])
        for r in rows
        if r["reason"].endswith("similar in meaning") and " · " not in r["reason"]
    ]
    print(
        f"  links admitted by meaning alone (cosine >= MEANING_EVIDENCE {MEANING_EVIDENCE}): "
        f"{len(meaning_only)}"
    )
    for a, b, reason in meaning_only[:12]:
        print(f"    {a} -> {b}: {reason} ({label(a, b)})")
    copies = [(a, b, v) for (a, b), v in found.items() if v >= NEAR_IDENTICAL_COSINE]
    print(f"  different articles at cosine >= NEAR_IDENTICAL_COSINE {NEAR_IDENTICAL_COSINE}: {len(copies)}")


async def main_async(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="signals-bench-stories-"))
    base = Settings(data_dir=data_dir, database_url=None, log_level="WARNING")
    db = Database(base)
    await db.open()
    try:
        with running_asgi(create_stub_app(StubState())) as stub, running_site() as site:
            async with recording_proxy(f"{stub}/v1", embeddings=args.embeddings_url) as (proxy, _recording):
                settings = base.model_copy(
                    update={
                        "database_url": db.dsn,
                        "openai_base_url": proxy,
                        "openai_api_key": "bench",
                        "llm_model": "signals-stub",
                        "embedding_model": args.embedding_model,
                        "embedding_dimensions": args.dimensions,
                        "extract_min_words": 50,
                        "fetch_allowed_networks": [ipaddress.ip_network("127.0.0.1/32")],
                        "extract_workers": 1,
                        "story_min_shared_entities": 1,
                        "llm_timeout_seconds": 120,
                    }
                )
                settings = Settings(**settings.model_dump())
                assert db.dsn is not None
                key = await new_key(db.dsn, name="bench", scopes=["signals:read", "signals:write"])
                with running_asgi(create_app(settings, worker=True)) as api:
                    async with keyed_client(api, key) as http:
                        signals = await _submit(http, site)
                    conn = await asyncpg.connect(db.dsn)
                    await init_connection(conn)
                    try:
                        await wait_related(conn, seconds=600)
                        found = await cosines(conn, signals)
                        print_cosines(found)
                        print("\nstories, pairwise precision / recall:")
                        print("  similarity   names rule on (1)   names rule off (0)")
                        for threshold in SWEEP:
                            cells = []
                            for shared in (1, 0):
                                tried = settings.model_copy(
                                    update={
                                        "story_similarity": threshold,
                                        "story_min_shared_entities": shared,
                                    }
                                )
                                p, r, _ = await rerun_clustering(conn, tried, signals)
                                cells.append(f"{p:.3f} / {r:.3f}")
                            print(f"  {threshold:<10}   {cells[0]:<17}   {cells[1]}")
                        chosen = settings.model_copy(update={"story_similarity": args.chosen})
                        p, r, _ = await rerun_clustering(conn, chosen, signals)
                        print(
                            f"\nat SIGNALS_STORY_SIMILARITY={args.chosen}: precision {p:.3f}, recall {r:.3f}"
                        )
                        await related_quality(conn, signals, found)
                    finally:
                        await conn.close()
    finally:
        await db.close()


async def _submit(http: Any, site: FakeSite) -> dict[str, UUID]:
    # Two at a time: the stub is instant, the embeddings are numpy on a shared machine.
    signals: dict[str, UUID] = {}
    for start in range(0, len(ARTICLES), 2):
        signals.update(await submit_all(http, site, ARTICLES[start : start + 2]))
    return signals


def main() -> None:
    parser = argparse.ArgumentParser(description="story thresholds on a real embedding model")
    parser.add_argument(
        "--embeddings-url", required=True, help="OpenAI-compatible base URL serving /v1/embeddings"
    )
    parser.add_argument("--embedding-model", required=True)
    parser.add_argument("--dimensions", type=int, default=384)
    parser.add_argument("--chosen", type=float, default=0.80, help="threshold to report related coverage at")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
