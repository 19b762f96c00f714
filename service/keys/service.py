"""Key use cases. Keys are 256-bit random secrets, so a SHA-256 of the key is a safe
at-rest form (no slow hash needed: there is nothing to brute-force), and lookup by that
hash plus a constant-time comparison leaks nothing useful through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from schemas.keys import SCOPES, ApiKey, ApiKeyCreated
from service.db.connections import Executor
from service.errors import Forbidden, InvalidRequest, Unauthorized
from service.keys import repository
from service.keys.cache import KeyCache
from service.keys.repository import StoredKey
from service.keys.throttle import AuthThrottle

KEY_PREFIX = "sk_live_"
_ALPHABET = string.ascii_letters + string.digits
_SECRET_LENGTH = 43  # 43 base62 characters: about 256 bits
_VISIBLE = len(KEY_PREFIX) + 8
_TOUCH_EVERY = timedelta(minutes=1)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def new_key() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidRequest(
            f"unknown scopes {unknown}; choose from {', '.join(SCOPES)}"
            if unknown
            else "give at least one scope"
        )
    return sorted(set(scopes), key=SCOPES.index)


async def create_key(
    conn: Executor,
    *,
    name: str,
    scopes: list[str],
    partner_id: UUID | None = None,
    topic_ids: list[int] | None = None,
    rate_per_second: float | None = None,
    burst: int | None = None,
) -> ApiKeyCreated:
    """Create a key; the returned ``key`` is the only time it is ever visible.

    ``topic_ids`` restricts what the key sees to signals carrying one of those topics;
    ``rate_per_second``/``burst`` override the partner's (or the default) token bucket.
    """
    if not name.strip():
        raise InvalidRequest("a key needs a name")
    scopes = validate_scopes(scopes)
    if topic_ids is not None and not topic_ids:
        raise InvalidRequest("a topic restriction needs at least one topic")
    key = new_key()
    row = await repository.insert_api_key(
        conn,
        name=name.strip(),
        prefix=key[:_VISIBLE],
        key_hash=hash_key(key),
        scopes=scopes,
        partner_id=partner_id,
        topic_ids=sorted(set(topic_ids)) if topic_ids else None,
        rate_per_second=rate_per_second,
        burst=burst,
    )
    return ApiKeyCreated(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        scopes=list(row["scopes"]),
        created_at=row["created_at"],
        key=key,
        partner_id=row["partner_id"],
        topic_ids=list(row["topic_ids"]) if row["topic_ids"] is not None else None,
        rate_per_second=row["rate_per_second"],
        burst=row["burst"],
    )


async def list_keys(conn: Executor) -> list[ApiKey]:
    return await repository.list_api_keys(conn)


async def revoke_key(conn: Executor, ident: str) -> list[ApiKey]:
    """Revoke by id or visible prefix; returns the revoked keys (empty: nothing matched)."""
    return await repository.revoke_api_key(conn, ident)


def parse_bearer(header: str | None) -> str:
    """The key from an ``Authorization: Bearer <key>`` header, or 401."""
    if not header:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'", reason="missing")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <key>'", reason="malformed")
    if not token.startswith(KEY_PREFIX) or len(token) != len(KEY_PREFIX) + _SECRET_LENGTH:
        raise Unauthorized("that is not a Signals API key", reason="malformed")
    return token


async def authenticate(
    db: Executor,
    header: str | None,
    cache: KeyCache | None = None,
    *,
    throttle: AuthThrottle | None = None,
    client: str | None = None,
) -> StoredKey:
    """The live key the request carries, or 401. Records use at most once a minute.

    ``db`` is a connection or a pool; with a ``cache``, a recently verified key costs no
    database round trip. With a ``throttle``, malformed and unknown keys count as failures
    of ``client`` (the socket peer's address), and once it has failed too often a key not
    known good is refused with 429 ``auth_throttled`` before any lookup.
    """
    try:
        token = parse_bearer(header)
    except Unauthorized as exc:
        if throttle is not None and exc.reason == "malformed":
            throttle.failed(client)
        raise
    digest = hash_key(token)
    if cache is not None and (hit := cache.get(digest)) is not None:
        return hit
    if throttle is not None:
        throttle.check(client, digest)
    generation = cache.generation if cache is not None else None
    stored = await repository.get_api_key_by_hash(db, digest)
    if stored is None or not hmac.compare_digest(stored.key_hash, digest):
        if throttle is not None:
            throttle.failed(client)
        raise Unauthorized("unknown API key", reason="unknown")
    if stored.revoked:
        raise Unauthorized("this API key was revoked", reason="revoked")
    if stored.partner_disabled:
        raise Unauthorized("this API key's partner is disabled", reason="partner_disabled")
    if stored.last_used_at is None or stored.last_used_at < datetime.now(UTC) - _TOUCH_EVERY:
        # At most one write a minute per key; the query re-checks, so racing requests agree.
        await repository.touch_api_key(db, stored.id)
    if throttle is not None:
        throttle.accepted(digest)
    if cache is not None:
        cache.put(stored, generation)
    return stored


def may_see_submission(
    reader: StoredKey, submitter_key_id: UUID | None, submitter_partner_id: UUID | None
) -> bool:
    """Whether ``reader`` may see what a key submitted (a job): the submitting key itself, any
    key of its partner, or an admin key. Jobs submitted without a key are admins' only."""
    if "admin" in reader.scopes or (submitter_key_id is not None and submitter_key_id == reader.id):
        return True
    return reader.partner_id is not None and submitter_partner_id == reader.partner_id


def require_scope(key: StoredKey, scope: str) -> None:
    """403 unless the key holds ``scope`` (``admin`` holds every scope)."""
    if scope not in key.scopes and "admin" not in key.scopes:
        raise Forbidden(f"this API key lacks the '{scope}' scope", reason="missing_scope")


async def ensure_partner(
    conn: Executor, name: str, *, rate_per_second: float | None = None, burst: int | None = None
) -> Any:
    """The partner called ``name``, created if it does not exist yet."""
    if not name.strip():
        raise InvalidRequest("a partner needs a name")
    return await repository.upsert_partner(conn, name.strip(), rate_per_second, burst)
