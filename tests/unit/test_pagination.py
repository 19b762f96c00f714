"""The shared cursor helper: opaque, round-trips positions, refuses anything else with bad_cursor."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import msgspec
import pytest

from service.errors import BadRequest
from service.pagination import (
    MAX_CURSOR_LENGTH,
    decode_cursor,
    decode_cursor_as,
    encode_cursor,
    next_page_link,
)


class Position(msgspec.Struct):
    at: datetime
    id: uuid.UUID
    count: int


def refused(token: str, kind: str = "topics", **kwargs) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        decode_cursor(token, kind, **kwargs)
    assert caught.value.reason == "bad_cursor" and caught.value.status == 400
    return caught.value


def test_a_position_round_trips_through_an_opaque_url_safe_token():
    position = {"count": 12, "slug": "ai-infrastructure", "trending": 0.25}
    token = encode_cursor("topics", position)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert "=" not in token and "slug" not in token
    assert decode_cursor(token, "topics") == position


def test_typed_decoding_restores_datetimes_and_uuids():
    at, ident = datetime(2026, 11, 20, 8, 30, 0, 123456, tzinfo=UTC), uuid.uuid4()
    token = encode_cursor("signals", msgspec.to_builtins(Position(at, ident, 3)))
    assert decode_cursor_as(token, "signals", Position) == Position(at, ident, 3)


def test_a_cursor_of_another_endpoint_is_refused():
    token = encode_cursor("entities", {"id": 1})
    assert "another endpoint" in refused(token, "topics").detail


def test_a_cursor_of_another_query_is_refused_and_parameter_order_does_not_matter():
    query = {"sort": "count", "since": None, "window": "7d"}
    token = encode_cursor("topics", {"count": 3}, query=query)
    assert decode_cursor(token, "topics", query={"window": "7d", "since": None, "sort": "count"})
    refused(token, query={**query, "sort": "trending"})
    refused(token)  # bound to a query, presented without one


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 !!",
        "abc",  # decodes to bytes that are not JSON
        base64.urlsafe_b64encode(b"[1, 2, 3]").decode(),
        base64.urlsafe_b64encode(b'{"k": "topics"}').decode(),
        base64.urlsafe_b64encode(b'{"k": "topics", "f": "", "p": [1]}').decode(),
        base64.urlsafe_b64encode(b'{"k": "topics", "f": "", "p": {}, "x": 1}').decode(),
        "A" * (MAX_CURSOR_LENGTH + 1),
    ],
)
def test_garbage_is_refused(token):
    refused(token)


def test_a_tampered_cursor_is_refused():
    token = encode_cursor("topics", {"count": 3, "slug": "energy"})
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).replace(b'"k"', b'"K"')
    refused(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    refused(token[:-3])


def test_a_position_of_the_wrong_shape_is_refused_when_typed():
    token = encode_cursor("signals", {"at": "yesterday", "id": "x", "count": "many"})
    with pytest.raises(BadRequest) as caught:
        decode_cursor_as(token, "signals", Position)
    assert caught.value.reason == "bad_cursor"


def scope(path: str, query: bytes, root_path: str = "") -> dict[str, object]:
    return {"type": "http", "path": path, "root_path": root_path, "query_string": query}


def test_next_links_keep_every_parameter_but_the_old_cursor():
    link = next_page_link(scope("/v1/topics", b"sort=count&topic=a&cursor=old&topic=b"), "new")
    assert link == "/v1/topics?sort=count&topic=a&topic=b&cursor=new"


def test_next_links_keep_parameters_as_the_client_encoded_them():
    query = b"q=caf%C3%A9+bar&source=Le%20Monde&entity=7&entity=9&since=2026-01-01T00:00:00%2B01:00"
    link = next_page_link(scope("/v1/signals", query), "tok")
    assert link == "/v1/signals?" + query.decode() + "&cursor=tok"


def test_next_links_drop_an_encoded_cursor_and_empty_pairs():
    link = next_page_link(scope("/v1/signals", b"curs%6Fr=old&&lang=en&cursor=older"), "new")
    assert link == "/v1/signals?lang=en&cursor=new"


def test_next_links_without_a_query_and_under_a_root_path():
    assert next_page_link(scope("/v1/topics", b""), "t") == "/v1/topics?cursor=t"
    assert next_page_link(scope("/v1/topics", b"limit=5", "/api"), "t") == "/api/v1/topics?limit=5&cursor=t"


def test_next_links_encode_what_a_client_sent_unencoded():
    link = next_page_link(scope("/v1/signals", "q=café <b>&cursor=old".encode()), "new")
    assert link == "/v1/signals?q=caf%C3%A9+%3Cb%3E&cursor=new"
