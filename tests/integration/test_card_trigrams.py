"""Stored card trigrams give exactly pg_trgm's similarity (migration 0029, service.similarity.wording)."""

from __future__ import annotations

from service.similarity.wording import trigram_codes, wording_similarity

CARDS = [
    ("Port of Kornfeld orders three electric cranes", "The port will replace its diesel cranes by 2027.",
     ["The cranes cost 42 million euros.", "Dockworkers' union backs the plan."]),
    ("Kornfeld port buys electric cranes", "Three electric cranes replace diesel ones at Kornfeld by 2027.",
     ["The order is worth 42 million euros."]),
    ("Stadtwerke bauen Batteriespeicher", "Der Speicher soll 200 Megawatt fassen.",
     ["Kosten: 140 Millionen Euro."]),
    ("北浜電力が蓄電池施設を建設", "総事業費は約四百億円。", ["二〇二八年末の運転開始を目指す。"]),
    ("", "", []),
]  # fmt: skip


async def test_stored_trigrams_give_pg_trgm_similarity_for_every_pair(db):
    rows = [
        await db.fetchrow(
            """
            SELECT signal_card_trigrams($1, $2, $3) AS packed,
                   $1 || ' ' || $2 || ' '
                   || coalesce((SELECT string_agg(d ->> 'text', ' ') FROM jsonb_array_elements($3) d), '')
                   AS card
            """,
            title,
            summary,
            [{"text": t} for t in details],
        )
        for title, summary, details in CARDS
    ]
    codes = [trigram_codes(r["packed"]) for r in rows]
    assert codes[-1] == frozenset() and all(codes[:-1])
    for i, a in enumerate(rows):
        for j, b in enumerate(rows):
            expected = await db.fetchval("SELECT similarity($1, $2)", a["card"], b["card"])
            assert abs(wording_similarity(codes[i], codes[j]) - expected) < 1e-6, (i, j)
    assert wording_similarity(codes[0], codes[1]) > 0.3 > wording_similarity(codes[0], codes[2])
