"""Use cases behind /v1/admin/partners: partners, their keys, restrictions and limits.

Changes take effect at once in every API process: the statements that make them send NOTIFY
signals_keys_changed, which empties every process's verified-key cache (service/keys/cache.py),
so the next request of an affected key reads the key again.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

import msgspec

from schemas.admin import (
    EffectiveLimit,
    Partner,
    PartnerCreate,
    PartnerKey,
    PartnerKeyCreate,
    PartnerKeyCreated,
    PartnerKeyLinks,
    PartnerKeyList,
    PartnerKeyUpdate,
    PartnerLinks,
    PartnerList,
    PartnerUpdate,
)
from service.admin import repository
from service.admin.repository import Change, PartnerKeyRow, PartnerRow
from service.db.connections import Executor, Pool
from service.errors import Conflict, InvalidRequest, NotFound
from service.keys import service as keys
from service.settings import Settings
from service.topics.slugs import topic_ids_for_slugs

Source = Literal["key", "partner", "default"]


def _pick(key_value: float | None, partner_value: float | None, default: float) -> tuple[float, Source]:
    if key_value is not None:
        return key_value, "key"
    if partner_value is not None:
        return partner_value, "partner"
    return default, "default"


def _limit(
    settings: Settings,
    *,
    partner_rate: float | None,
    partner_burst: int | None,
    key_rate: float | None = None,
    key_burst: int | None = None,
) -> EffectiveLimit:
    rate, rate_source = _pick(key_rate, partner_rate, settings.rate_per_second)
    burst, burst_source = _pick(key_burst, partner_burst, settings.rate_burst)
    return EffectiveLimit(
        rate_per_second=rate, burst=int(burst), rate_source=rate_source, burst_source=burst_source
    )


def _partner_view(settings: Settings, row: PartnerRow) -> Partner:
    return Partner(
        id=row.id,
        name=row.name,
        rate_per_second=row.rate_per_second,
        burst=row.burst,
        limit=_limit(settings, partner_rate=row.rate_per_second, partner_burst=row.burst),
        active_keys=row.active_keys,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
        last_used_at=row.last_used_at,
        links=PartnerLinks(self=f"/v1/admin/partners/{row.id}", keys=f"/v1/admin/partners/{row.id}/keys"),
    )


def _key_view(settings: Settings, row: PartnerKeyRow) -> PartnerKey:
    return PartnerKey(
        id=row.id,
        partner_id=row.partner_id,
        name=row.name,
        prefix=row.prefix,
        scopes=row.scopes,  # type: ignore[arg-type]  # the scopes column only holds known scopes
        topics=row.topics,
        rate_per_second=row.rate_per_second,
        burst=row.burst,
        limit=_limit(
            settings,
            partner_rate=row.partner_rate_per_second,
            partner_burst=row.partner_burst,
            key_rate=row.rate_per_second,
            key_burst=row.burst,
        ),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        links=PartnerKeyLinks(
            self=f"/v1/admin/partners/{row.partner_id}/keys/{row.id}",
            partner=f"/v1/admin/partners/{row.partner_id}",
        ),
    )


def _change(value: Any) -> Change:
    return Change() if value is msgspec.UNSET else Change(set=True, value=value)


def _name(value: Any) -> Any:
    """A name without surrounding blanks (UNSET passes through); 422 when nothing is left."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        raise InvalidRequest("a name needs a visible character", reason="blank_name")
    return value.strip()


# --- partners ------------------------------------------------------------------------------------


async def _partner(settings: Settings, conn: Executor, partner_id: UUID) -> Partner:
    rows = await repository.list_partners(conn, partner_id)
    if not rows:
        raise NotFound(f"no partner {partner_id}", reason="unknown_partner")
    return _partner_view(settings, rows[0])


async def create_partner(pool: Pool, settings: Settings, body: PartnerCreate) -> Partner:
    """A new partner (409 when the name is taken)."""
    name = _name(body.name)
    async with pool.acquire() as conn:
        partner_id = await repository.create_partner(conn, name, body.rate_per_second, body.burst)
        if partner_id is None:
            raise Conflict(f"a partner named {name!r} exists", reason="name_taken")
        return await _partner(settings, conn, partner_id)


async def list_partners(pool: Pool, settings: Settings) -> PartnerList:
    async with pool.acquire() as conn:
        rows = await repository.list_partners(conn)
    return PartnerList(items=[_partner_view(settings, row) for row in rows])


async def get_partner(pool: Pool, settings: Settings, partner_id: UUID) -> Partner:
    async with pool.acquire() as conn:
        return await _partner(settings, conn, partner_id)


async def update_partner(pool: Pool, settings: Settings, partner_id: UUID, body: PartnerUpdate) -> Partner:
    """Rename the partner or change its limits; its keys use new limits from their next request."""
    name = _name(body.name)
    async with pool.acquire() as conn:
        found = await repository.update_partner(
            conn,
            partner_id,
            name=_change(name),
            rate_per_second=_change(body.rate_per_second),
            burst=_change(body.burst),
        )
        if not found:
            raise NotFound(f"no partner {partner_id}", reason="unknown_partner")
        return await _partner(settings, conn, partner_id)


async def set_partner_disabled(
    pool: Pool, settings: Settings, partner_id: UUID, *, disabled: bool
) -> Partner:
    """Disable (every key refused at once) or enable a partner; repeating either is harmless."""
    async with pool.acquire() as conn:
        if not await repository.set_partner_disabled(conn, partner_id, disabled):
            raise NotFound(f"no partner {partner_id}", reason="unknown_partner")
        return await _partner(settings, conn, partner_id)


# --- keys of a partner --------------------------------------------------------------------------


async def _key(settings: Settings, conn: Executor, partner_id: UUID, key_id: UUID) -> PartnerKey:
    rows = await repository.list_partner_keys(conn, partner_id, key_id)
    if not rows:
        await _partner(settings, conn, partner_id)  # 404 for the partner first, if that is what is missing
        raise NotFound(f"partner {partner_id} has no key {key_id}", reason="unknown_key")
    return _key_view(settings, rows[0])


async def create_partner_key(
    pool: Pool, settings: Settings, partner_id: UUID, body: PartnerKeyCreate
) -> PartnerKeyCreated:
    """A new key for the partner; the answer is the only place the key ever appears."""
    async with pool.acquire() as conn:
        await _partner(settings, conn, partner_id)
        topic_ids = await topic_ids_for_slugs(conn, body.topics) if body.topics is not None else None
        created = await keys.create_key(
            conn,
            name=body.name,
            scopes=list(body.scopes),
            partner_id=partner_id,
            topic_ids=topic_ids,
            rate_per_second=body.rate_per_second,
            burst=body.burst,
        )
        view = await _key(settings, conn, partner_id, created.id)
    return PartnerKeyCreated(**msgspec.structs.asdict(view), key=created.key)


async def list_partner_keys(pool: Pool, settings: Settings, partner_id: UUID) -> PartnerKeyList:
    async with pool.acquire() as conn:
        await _partner(settings, conn, partner_id)
        rows = await repository.list_partner_keys(conn, partner_id)
    return PartnerKeyList(items=[_key_view(settings, row) for row in rows])


async def get_partner_key(pool: Pool, settings: Settings, partner_id: UUID, key_id: UUID) -> PartnerKey:
    async with pool.acquire() as conn:
        return await _key(settings, conn, partner_id, key_id)


async def update_partner_key(
    pool: Pool, settings: Settings, partner_id: UUID, key_id: UUID, body: PartnerKeyUpdate
) -> PartnerKey:
    """Rename a key, set or lift its topic restriction (slugs or aliases; 422 for unknown
    ones), or override its limits; the key's next request, in any process, sees the change."""
    name = _name(body.name)
    async with pool.acquire() as conn:
        topic_ids: Any = body.topics
        if isinstance(body.topics, list):
            topic_ids = await topic_ids_for_slugs(conn, body.topics)
        found = await repository.update_partner_key(
            conn,
            partner_id,
            key_id,
            name=_change(name),
            topic_ids=_change(topic_ids),
            rate_per_second=_change(body.rate_per_second),
            burst=_change(body.burst),
        )
        if not found:
            await _partner(settings, conn, partner_id)
            raise NotFound(f"partner {partner_id} has no key {key_id}", reason="unknown_key")
        return await _key(settings, conn, partner_id, key_id)


async def revoke_partner_key(pool: Pool, settings: Settings, partner_id: UUID, key_id: UUID) -> PartnerKey:
    """Revoke a key (kept, with revoked_at, for the record); refused everywhere at once."""
    async with pool.acquire() as conn:
        if not await repository.revoke_partner_key(conn, partner_id, key_id):
            await _partner(settings, conn, partner_id)
            raise NotFound(f"partner {partner_id} has no key {key_id}", reason="unknown_key")
        return await _key(settings, conn, partner_id, key_id)
