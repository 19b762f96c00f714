"""Webhook endpoints over HTTP. Thin: parse, call one service function, return."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from schemas.webhooks import (
    Delivery,
    DeliveryPage,
    SecretRotated,
    SecretRotation,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookUpdate,
)
from service.http import AUTH_ERRORS, problem_spec, provide_runtime
from service.keys.repository import StoredKey
from service.pagination import next_page_link
from service.route_params import Cursor, Limit
from service.runtime import Runtime
from service.webhooks import service

_SCOPE = {"scope": "webhooks:manage"}
_NOT_FOUND = {404: problem_spec("No such webhook (or not the caller's)"), **AUTH_ERRORS}
_URL_REFUSED = problem_spec(
    "Bad body, unknown topic, topic outside the key's restriction, or a URL deliveries may not go "
    "to (webhook_url_refused: private, loopback or metadata address, bad scheme, credentials)"
)
_NO_SECRET_KEY = problem_spec("SIGNALS_SECRET_KEY is needed to store secrets (secret_key_missing)")


def _key(request: Request[Any, Any, Any]) -> StoredKey:
    key: StoredKey = request.state.api_key
    return key


class WebhooksController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]
    dependencies = {"rt": Provide(provide_runtime, sync_to_thread=False)}

    @post(
        "/",
        opt=_SCOPE,
        status_code=201,
        summary="Create a webhook endpoint",
        description=(
            "Deliveries follow the Standard Webhooks specification: headers `webhook-id`, "
            "`webhook-timestamp`, `webhook-signature` (`v1,<base64 HMAC-SHA256>` of "
            "`{id}.{timestamp}.{body}`), JSON body `{type, timestamp, data}`. The answer holds the "
            "signing `secret` (`whsec_…`), shown this once. The URL must be on a public address "
            "(checked now and at every delivery). The endpoint is owned by the calling key "
            "(`api_key_id`); its partner's key without a topic restriction manages it too."
        ),
        responses={
            400: problem_spec("Malformed body"),
            422: _URL_REFUSED,
            503: _NO_SECRET_KEY,
            **AUTH_ERRORS,
        },
    )
    async def create_webhook(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], data: JSONBody[WebhookCreate]
    ) -> Response[WebhookCreated]:
        created = await service.create_webhook(rt.db.pool, rt.policy, rt.secret_box, _key(request), data)
        return Response(created, status_code=201, headers={"Location": created.links.self})

    @get(
        "/",
        opt=_SCOPE,
        summary="The caller's webhook endpoints",
        responses={400: problem_spec("Bad limit or cursor"), **AUTH_ERRORS},
    )
    async def list_webhooks(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> WebhookPage:
        page = await service.list_webhooks(rt.db.pool, _key(request), limit=limit, cursor=cursor)
        if page.next is not None:
            page.next = next_page_link(request.scope, page.next)
        return page

    @get("/{webhook_id:uuid}", opt=_SCOPE, summary="A webhook endpoint", responses=_NOT_FOUND)
    async def get_webhook(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], webhook_id: FromPath[UUID]
    ) -> Webhook:
        return await service.get_webhook(rt.db.pool, _key(request), webhook_id)

    @patch(
        "/{webhook_id:uuid}",
        opt=_SCOPE,
        summary="Change a webhook endpoint",
        description="Absent fields stay as they are. `enabled: true` re-enables a disabled endpoint.",
        responses={400: problem_spec("Malformed body"), 422: _URL_REFUSED, **_NOT_FOUND},
    )
    async def update_webhook(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        webhook_id: FromPath[UUID],
        data: JSONBody[WebhookUpdate],
    ) -> Webhook:
        return await service.update_webhook(rt.db.pool, rt.policy, _key(request), webhook_id, data)

    @delete(
        "/{webhook_id:uuid}",
        opt=_SCOPE,
        summary="Delete a webhook endpoint",
        description="Deletes it with its deliveries; nothing more is sent to it. Answers 204.",
        responses=_NOT_FOUND,
    )
    async def delete_webhook(
        self, rt: NamedDependency[Runtime], request: Request[Any, Any, Any], webhook_id: FromPath[UUID]
    ) -> None:
        await service.delete_webhook(rt.db.pool, _key(request), webhook_id)

    @post(
        "/{webhook_id:uuid}/rotate-secret",
        opt=_SCOPE,
        status_code=200,
        summary="Replace the signing secret",
        description=(
            "Answers the new secret (shown once). For `overlap_seconds` (default 86400) every "
            "delivery carries two signatures, space-separated in `webhook-signature`: one with "
            "the new secret and one with the previous, so receivers can switch at their pace."
        ),
        responses={400: problem_spec("Malformed body"), 503: _NO_SECRET_KEY, **_NOT_FOUND},
    )
    async def rotate_secret(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        webhook_id: FromPath[UUID],
        data: JSONBody[SecretRotation | None] = None,
    ) -> SecretRotated:
        return await service.rotate_secret(
            rt.db.pool, rt.secret_box, _key(request), webhook_id, data or SecretRotation()
        )

    @get(
        "/{webhook_id:uuid}/deliveries",
        opt=_SCOPE,
        summary="An endpoint's deliveries and every attempt",
        description=(
            "Newest first. Each delivery lists its attempts (status code, duration, error, when the "
            "next one is due). `state`: pending, sending, delivered or failed."
        ),
        responses={400: problem_spec("Bad limit or cursor"), **_NOT_FOUND},
    )
    async def list_deliveries(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        webhook_id: FromPath[UUID],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> DeliveryPage:
        page = await service.list_deliveries(
            rt.db.pool, _key(request), webhook_id, limit=limit, cursor=cursor
        )
        if page.next is not None:
            page.next = next_page_link(request.scope, page.next)
        return page

    @post(
        "/{webhook_id:uuid}/deliveries/{delivery_id:uuid}/redeliver",
        opt=_SCOPE,
        status_code=202,
        summary="Send a delivery's message again",
        description=(
            "Queues a new delivery of the same message (the same `webhook-id`, so receivers that "
            "already have it can drop it). Answers 202 with the new delivery."
        ),
        responses={404: problem_spec("No such webhook or delivery"), **AUTH_ERRORS},
    )
    async def redeliver(
        self,
        rt: NamedDependency[Runtime],
        request: Request[Any, Any, Any],
        webhook_id: FromPath[UUID],
        delivery_id: FromPath[UUID],
    ) -> Delivery:
        return await service.redeliver(rt.db.pool, _key(request), webhook_id, delivery_id)
