"""Topic ids from what names a topic: the model's labels for a new signal (a new slug becomes a
topic, or an alias of the one topic it is another spelling of) and a reader's slugs (which
must name a topic the reader may know). Topic logic the signals write path, keys, webhooks
and alerts use; the spelling rules themselves are ``service.topics.taxonomy``'s."""

from __future__ import annotations

import logging
from collections.abc import Collection

from service.db.connections import Executor
from service.errors import InvalidRequest
from service.keys.suppliers import EVERY_SUPPLIER, SupplierView
from service.topics import repository
from service.topics.taxonomy import normalize_topics, synonym_target
from service.topics.visibility import is_hidden

log = logging.getLogger(__name__)


async def topic_ids_for(conn: Executor, labels: list[str], *, record_aliases: bool = True) -> list[int]:
    """Topic ids for the model's labels, in order, without repeats.

    A slug seen before (as a topic or an alias) maps to its topic. A new slug that is a
    synonym of exactly one existing topic ("ai-infra" of "ai-infrastructure") becomes an
    alias of it; anything else becomes a new topic. Slugs never change once created.
    ``record_aliases`` False (a card of supplied content, private to its supplier): a synonym
    maps to its topic but is not recorded, as a topic's aliases are shown to every reader.
    New slugs are written in slug order, the same in every transaction, so two signals
    naming the same new topics in another order wait for each other instead of deadlocking.
    """
    pairs = normalize_topics(labels)
    if not pairs:
        return []
    known = await repository.resolve_topic_slugs(conn, [slug for slug, _ in pairs])
    label_of = dict(pairs)
    for slug in sorted(slug for slug in label_of if known.get(slug) is None):
        known[slug] = await _new_topic(conn, slug, label_of[slug], record_alias=record_aliases)
    ids: list[int] = []
    for slug, _ in pairs:
        topic_id = known[slug]
        assert topic_id is not None
        if topic_id not in ids:
            ids.append(topic_id)
    return ids


async def _new_topic(conn: Executor, slug: str, label: str, *, record_alias: bool) -> int:
    """The topic a slug not seen before stands for: an existing one it spells, or a new one."""
    candidates = await repository.topics_with_slug_prefix(conn, slug[:2])
    target = synonym_target(slug, [c for _, c in candidates])
    if target is None:
        return await repository.upsert_topic(conn, slug, label)
    topic_id = next(i for i, c in candidates if c == target)
    if record_alias:
        await repository.insert_topic_alias(conn, slug, topic_id, "auto")
        log.info("topic %r is another spelling of %r: alias recorded", slug, target)
    return topic_id


async def topic_ids_for_slugs(
    conn: Executor,
    slugs: list[str],
    *,
    allowed: Collection[int] | None = None,
    suppliers: SupplierView = EVERY_SUPPLIER,
) -> list[int]:
    """Topic ids for a key's topic restriction; every slug (or alias) must exist. With
    ``allowed`` (the asking key's own restriction), a topic outside it is refused exactly as
    an unknown one: the key does not learn that it exists; so is a topic only content of
    suppliers the asking key does not see carries (``suppliers``; by default an admin's view)."""
    resolved = await repository.resolve_topic_slugs_for_reader(conn, slugs, suppliers)
    found = {slug: t.id for slug, t in resolved.items() if t.known}
    unknown = [slug for slug in slugs if (t := found.get(slug)) is None or is_hidden(t, allowed)]
    if unknown:
        raise InvalidRequest(f"unknown topics: {', '.join(unknown)}", reason="unknown_topic")
    return sorted(set(found.values()))
