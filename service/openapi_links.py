"""OpenAPI links: which answer's ids the next call takes, so tools can chain calls as users do.

Litestar cannot declare links on a handler, so they are listed here and added to the finished
document. A link whose source or target operation is not served is skipped (an app built
without a feature still gets a valid document); tests/contract/test_document.py checks that
every link below resolves in the app as it is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.spec import Link, OpenAPI, OpenAPIResponse, Operation


@dataclass(frozen=True)
class Chain:
    """From the ``status`` answer of ``source``, call ``target`` with ``parameters``."""

    name: str
    source: tuple[str, str, str]
    """(path, method, status)"""
    target: tuple[str, str]
    """(path, method)"""
    parameters: dict[str, str]
    """Target parameter → runtime expression on the answer."""


_SIGNAL = "/v1/signals/{signal_id}"
_PARTNER = "/v1/admin/partners/{partner_id}"
_KEY = _PARTNER + "/keys/{key_id}"
_WEBHOOK = "/v1/webhooks/{webhook_id}"
_BODY_ID = {"signal_id": "$response.body#/id"}


def _chains() -> list[Chain]:
    chains = [
        Chain("job", ("/v1/signals", "post", "202"), ("/v1/jobs/{job_id}", "get"),
              {"job_id": "$response.body#/id"}),
        Chain("signal", ("/v1/signals", "post", "201"), (_SIGNAL, "get"), _BODY_ID),
        Chain("signal", ("/v1/jobs/{job_id}", "get", "200"), (_SIGNAL, "get"),
              {"signal_id": "$response.body#/signal_id"}),
        Chain("related", ("/v1/signals", "post", "201"), (_SIGNAL + "/related", "get"), _BODY_ID),
        Chain("related", (_SIGNAL, "get", "200"), (_SIGNAL + "/related", "get"), _BODY_ID),
        Chain("article", (_SIGNAL, "get", "200"), ("/v1/articles/{article_id}", "get"),
              {"article_id": "$response.body#/article_id"}),
        Chain("story", (_SIGNAL, "get", "200"), ("/v1/stories/{story_id}", "get"),
              {"story_id": "$response.body#/story_id"}),
        Chain("delete", (_SIGNAL, "get", "200"), (_SIGNAL, "delete"), _BODY_ID),
        Chain("job", ("/v1/digests", "post", "202"), ("/v1/digests/jobs/{job_id}", "get"),
              {"job_id": "$response.body#/id"}),
        Chain("digest", ("/v1/digests/jobs/{job_id}", "get", "200"), ("/v1/digests/{digest_id}", "get"),
              {"digest_id": "$response.body#/digest_id"}),
        Chain("entity", ("/v1/entities", "get", "200"), ("/v1/entities/{entity_id}", "get"),
              {"entity_id": "$response.body#/items/0/id"}),
        Chain("story", ("/v1/stories", "get", "200"), ("/v1/stories/{story_id}", "get"),
              {"story_id": "$response.body#/items/0/id"}),
    ]  # fmt: skip
    partner = {"partner_id": "$response.body#/id"}
    for source in (("/v1/admin/partners", "post", "201"), (_PARTNER, "get", "200")):
        chains += [
            Chain("partner", source, (_PARTNER, "get"), partner),
            Chain("update", source, (_PARTNER, "patch"), partner),
            Chain("keys", source, (_PARTNER + "/keys", "get"), partner),
            Chain("create_key", source, (_PARTNER + "/keys", "post"), partner),
            Chain("disable", source, (_PARTNER + "/disable", "post"), partner),
            Chain("enable", source, (_PARTNER + "/enable", "post"), partner),
        ]
    key = {"partner_id": "$response.body#/partner_id", "key_id": "$response.body#/id"}
    for source in ((_PARTNER + "/keys", "post", "201"), (_KEY, "get", "200")):
        chains += [
            Chain("key", source, (_KEY, "get"), key),
            Chain("update", source, (_KEY, "patch"), key),
            Chain("revoke", source, (_KEY, "delete"), key),
        ]
    hook = {"webhook_id": "$response.body#/id"}
    for source in (("/v1/webhooks", "post", "201"), (_WEBHOOK, "get", "200")):
        chains += [
            Chain("webhook", source, (_WEBHOOK, "get"), hook),
            Chain("update", source, (_WEBHOOK, "patch"), hook),
            Chain("deliveries", source, (_WEBHOOK + "/deliveries", "get"), hook),
            Chain("rotate_secret", source, (_WEBHOOK + "/rotate-secret", "post"), hook),
            Chain("delete", source, (_WEBHOOK, "delete"), hook),
        ]
    chains.append(
        Chain("redeliver", (_WEBHOOK + "/deliveries", "get", "200"),
              (_WEBHOOK + "/deliveries/{delivery_id}/redeliver", "post"),
              {"webhook_id": "$response.body#/items/0/webhook_id",
               "delivery_id": "$response.body#/items/0/id"})
    )  # fmt: skip
    return chains


CHAINS = _chains()


def _operation(document: OpenAPI, path: str, method: str) -> Operation | None:
    item = (document.paths or {}).get(path)
    operation = getattr(item, method, None) if item is not None else None
    return operation if isinstance(operation, Operation) else None


def add_links(document: OpenAPI) -> list[Chain]:
    """Add every link of ``CHAINS`` whose two operations are served; the ones skipped."""
    skipped = []
    for chain in CHAINS:
        source = _operation(document, *chain.source[:2])
        target = _operation(document, *chain.target)
        response = (source.responses or {}).get(chain.source[2]) if source is not None else None
        if target is None or target.operation_id is None or not isinstance(response, OpenAPIResponse):
            skipped.append(chain)
            continue
        links = response.links if response.links is not None else {}
        links[chain.name] = Link(operation_id=target.operation_id, parameters=dict(chain.parameters))
        response.links = links
    return skipped
