"""Partners and their keys over HTTP (scope ``admin``). Thin: parse, call one service function."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from schemas.admin import (
    Partner,
    PartnerCreate,
    PartnerKey,
    PartnerKeyCreate,
    PartnerKeyCreated,
    PartnerKeyList,
    PartnerKeyUpdate,
    PartnerList,
    PartnerUpdate,
)
from service.admin import service
from service.http import AUTH_ERRORS, problem_spec, provide_runtime
from service.runtime import Runtime

_ADMIN = {"scope": "admin"}
_PARTNER = "/{partner_id:uuid}"
_KEY = "/{partner_id:uuid}/keys/{key_id:uuid}"
_NO_PARTNER = {404: problem_spec("No such partner"), **AUTH_ERRORS}
_NO_KEY = {404: problem_spec("No such partner, or no such key of the partner"), **AUTH_ERRORS}
_BAD_BODY = problem_spec("Malformed body, or a value out of range")
_IMMEDIATE = (
    " Takes effect at once in every API process (cached keys are dropped through "
    "NOTIFY signals_keys_changed)."
)


class PartnersAdminController(Controller):
    path = "/v1/admin/partners"
    tags = ["admin"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @post(
        "/",
        opt=_ADMIN,
        summary="Create a partner",
        description="Limits left out (or null) are the service defaults (10/s, burst 100 unless configured).",
        responses={400: _BAD_BODY, 409: problem_spec("The name is taken"), **AUTH_ERRORS},
    )
    async def create_partner(
        self, rt: NamedDependency[Runtime], data: JSONBody[PartnerCreate]
    ) -> Response[Partner]:
        partner = await service.create_partner(rt.db.pool, rt.settings, data)
        return Response(partner, status_code=201, headers={"Location": partner.links.self})

    @get("/", opt=_ADMIN, summary="List partners", responses=AUTH_ERRORS)
    async def list_partners(self, rt: NamedDependency[Runtime]) -> PartnerList:
        return await service.list_partners(rt.db.pool, rt.settings)

    @get(_PARTNER, opt=_ADMIN, summary="A partner, its limits and key activity", responses=_NO_PARTNER)
    async def get_partner(self, rt: NamedDependency[Runtime], partner_id: FromPath[UUID]) -> Partner:
        return await service.get_partner(rt.db.pool, rt.settings, partner_id)

    @patch(
        _PARTNER,
        opt=_ADMIN,
        summary="Rename a partner or change its rate limit",
        description="Fields left out stay; null returns a limit to the service default." + _IMMEDIATE,
        responses={400: _BAD_BODY, 409: problem_spec("The name is taken"), **_NO_PARTNER},
    )
    async def update_partner(
        self, rt: NamedDependency[Runtime], partner_id: FromPath[UUID], data: JSONBody[PartnerUpdate]
    ) -> Partner:
        return await service.update_partner(rt.db.pool, rt.settings, partner_id, data)

    @post(
        _PARTNER + "/disable",
        opt=_ADMIN,
        status_code=200,
        summary="Disable a partner: every one of its keys is refused",
        description="Keys answer 401 with reason partner_disabled; enabling restores them." + _IMMEDIATE,
        responses=_NO_PARTNER,
    )
    async def disable_partner(self, rt: NamedDependency[Runtime], partner_id: FromPath[UUID]) -> Partner:
        return await service.set_partner_disabled(rt.db.pool, rt.settings, partner_id, disabled=True)

    @post(
        _PARTNER + "/enable",
        opt=_ADMIN,
        status_code=200,
        summary="Enable a disabled partner again",
        responses=_NO_PARTNER,
    )
    async def enable_partner(self, rt: NamedDependency[Runtime], partner_id: FromPath[UUID]) -> Partner:
        return await service.set_partner_disabled(rt.db.pool, rt.settings, partner_id, disabled=False)

    @post(
        _PARTNER + "/keys",
        opt=_ADMIN,
        summary="Create a key for a partner (shown once)",
        description=(
            "The answer's `key` is the only time the key is visible: only a SHA-256 of it is "
            "stored. `topics` (slugs or aliases) restricts the key to signals carrying one of "
            "them on every read endpoint; limits left out come from the partner."
        ),
        responses={
            400: _BAD_BODY,
            422: problem_spec("Unknown topic, or no scope"),
            **_NO_PARTNER,
        },
    )
    async def create_key(
        self, rt: NamedDependency[Runtime], partner_id: FromPath[UUID], data: JSONBody[PartnerKeyCreate]
    ) -> Response[PartnerKeyCreated]:
        created = await service.create_partner_key(rt.db.pool, rt.settings, partner_id, data)
        # The secret must not linger in any cache between here and the client.
        headers = {"Location": created.links.self, "Cache-Control": "no-store"}
        return Response(created, status_code=201, headers=headers)

    @get(
        _PARTNER + "/keys",
        opt=_ADMIN,
        summary="List a partner's keys (never the secrets)",
        responses=_NO_PARTNER,
    )
    async def list_keys(self, rt: NamedDependency[Runtime], partner_id: FromPath[UUID]) -> PartnerKeyList:
        return await service.list_partner_keys(rt.db.pool, rt.settings, partner_id)

    @get(_KEY, opt=_ADMIN, summary="One key of a partner", responses=_NO_KEY)
    async def get_key(
        self, rt: NamedDependency[Runtime], partner_id: FromPath[UUID], key_id: FromPath[UUID]
    ) -> PartnerKey:
        return await service.get_partner_key(rt.db.pool, rt.settings, partner_id, key_id)

    @patch(
        _KEY,
        opt=_ADMIN,
        summary="Rename a key, set its topic restriction or its rate limit",
        description=(
            "Fields left out stay. `topics`: slugs or aliases (null: every topic); "
            "`rate_per_second`/`burst`: null falls back to the partner's limit." + _IMMEDIATE
        ),
        responses={400: _BAD_BODY, 422: problem_spec("Unknown topic"), **_NO_KEY},
    )
    async def update_key(
        self,
        rt: NamedDependency[Runtime],
        partner_id: FromPath[UUID],
        key_id: FromPath[UUID],
        data: JSONBody[PartnerKeyUpdate],
    ) -> PartnerKey:
        return await service.update_partner_key(rt.db.pool, rt.settings, partner_id, key_id, data)

    @delete(
        _KEY,
        opt=_ADMIN,
        status_code=200,
        summary="Revoke a key",
        description="The key is kept, with `revoked_at`, and refused from now on." + _IMMEDIATE,
        responses=_NO_KEY,
    )
    async def revoke_key(
        self, rt: NamedDependency[Runtime], partner_id: FromPath[UUID], key_id: FromPath[UUID]
    ) -> PartnerKey:
        return await service.revoke_partner_key(rt.db.pool, rt.settings, partner_id, key_id)
