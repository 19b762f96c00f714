"""Feed text cleaning, conditional GET and sync cursors: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.errors import BadRequest
from service.feeds.render import clean_text
from service.feeds.service import RenderedFeed, http_date, not_modified
from service.sync.service import MAX_ID, decode_position, encode_position


def test_clean_text_removes_what_xml_forbids_and_keeps_the_rest():
    assert clean_text("a\x00b\x01c\x08d\x0be\x0cf\x1fg\x7fh\x85i") == "abcdefgh\x85i"
    assert clean_text("tab\tnew\nline\rreturn") == "tab\tnew\nline\rreturn"
    assert clean_text("emoji 🚢 \ufffe\uffff and é") == "emoji 🚢  and é"
    assert clean_text("lone \ud800 surrogate") == "lone  surrogate"
    assert clean_text(None) == ""


FEED = RenderedFeed(
    body=b"x",
    media_type="application/atom+xml",
    etag='"abc"',
    last_modified=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("if_none_match", "if_modified_since", "expected"),
    [
        ('"abc"', None, True),
        ('W/"abc"', None, True),
        ('"x", "abc"', None, True),
        ("*", None, True),
        ('"other"', None, False),
        # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)
        ('"other"', "Mon, 23 Nov 2026 10:00:00 GMT", False),
        (None, "Mon, 23 Nov 2026 09:00:00 GMT", True),
        (None, "Mon, 23 Nov 2026 10:00:00 GMT", True),
        (None, "Mon, 23 Nov 2026 08:59:59 GMT", False),
        (None, "yesterday", False),
        (None, None, False),
    ],
)
def test_conditional_get(if_none_match, if_modified_since, expected):
    assert not_modified(FEED, if_none_match, if_modified_since) is expected


def test_http_dates_are_imf_fixdates():
    assert http_date(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)) == "Mon, 23 Nov 2026 09:00:00 GMT"


def test_sync_cursors_round_trip_and_refuse_garbage():
    assert decode_position(None) == (0, 0)
    assert decode_position(encode_position(12345, 7)) == (12345, 7)
    assert decode_position(encode_position(9, MAX_ID)) == (9, MAX_ID)
    for bad in ("x", encode_position(-1, 0), encode_position(1, MAX_ID + 1)):
        with pytest.raises(BadRequest):
            decode_position(bad)
