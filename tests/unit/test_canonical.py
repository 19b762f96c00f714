"""Canonical URLs: one spelling per page, and a page's own canonical claim honoured only
for its own site."""

from __future__ import annotations

import pytest

from service.ingest.canonical import canonicalize_url, choose_canonical


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://Example.COM/News", "http://example.com/News"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com./a", "http://example.com/a"),
        ("http://example.com/a#section-2", "http://example.com/a"),
        ("http://user:secret@example.com/a", "http://example.com/a"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://bücher.de/", "http://xn--bcher-kva.de/"),
        ("http://[::FFFF:127.0.0.1]:8080/", "http://[::ffff:127.0.0.1]:8080/"),
    ],
)
def test_scheme_host_port_and_fragment_are_normalised(url: str, canonical: str) -> None:
    assert canonicalize_url(url) == canonical


@pytest.mark.parametrize(
    "tracking",
    [
        "utm_source=news",
        "utm_medium=email",
        "UTM_Campaign=x",
        "utm_source_platform=y",
        "fbclid=abc",
        "gclid=abc",
        "dclid=abc",
        "gbraid=abc",
        "wbraid=abc",
        "msclkid=abc",
        "yclid=abc",
        "mc_cid=abc",
        "mc_eid=abc",
        "igshid=abc",
        "_ga=2.1",
        "_gl=1*abc",
        "ref_src=twsrc",
        "cmpid=abc",
        "spm=a2.b",
        "_hsenc=p2",
        "mkt_tok=abc",
    ],
)
def test_tracking_parameters_are_dropped(tracking: str) -> None:
    assert canonicalize_url(f"https://example.com/a?id=7&{tracking}") == "https://example.com/a?id=7"


def test_content_parameters_with_generic_names_are_kept() -> None:
    url = "https://example.com/a?ref=home&source=rss&page=2"
    assert canonicalize_url(url) == "https://example.com/a?page=2&ref=home&source=rss"


def test_remaining_parameters_are_sorted_and_repeated_names_keep_their_order() -> None:
    url = "https://example.com/a?z=1&tag=b&a=2&tag=a"
    assert canonicalize_url(url) == "https://example.com/a?a=2&tag=b&tag=a&z=1"


@pytest.mark.parametrize(
    "url",
    ["https://example.com/a?", "https://example.com/a?utm_source=x", "https://example.com/a?&&"],
)
def test_an_empty_query_is_removed(url: str) -> None:
    assert canonicalize_url(url) == "https://example.com/a"


def test_percent_escapes_are_upper_cased_and_unreserved_ones_decoded() -> None:
    url = "https://example.com/caf%c3%a9/%7euser/%2fx?q=%e2%82%ac&r=%41"
    assert canonicalize_url(url) == "https://example.com/caf%C3%A9/~user/%2Fx?q=%E2%82%AC&r=A"


def test_encoded_dots_are_not_decoded_into_new_path_segments() -> None:
    assert canonicalize_url("https://example.com/a/%2e%2e/b") == "https://example.com/a/%2E%2E/b"


def test_spellings_of_one_page_share_a_canonical_url() -> None:
    spellings = [
        "https://Example.com/story?id=1&utm_source=x",
        "https://example.com:443/story?utm_medium=y&id=1#comments",
        "HTTPS://EXAMPLE.COM/story?id=1&fbclid=z",
    ]
    assert {canonicalize_url(url) for url in spellings} == {"https://example.com/story?id=1"}


@pytest.mark.parametrize("url", ["ftp://example.com/a", "mailto:a@example.com", "http:///a", "not a url"])
def test_non_http_urls_are_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="not"):
        canonicalize_url(url)


def test_a_same_site_canonical_link_is_honoured_and_canonicalised() -> None:
    chosen = choose_canonical(
        "https://example.com/story?id=1&page=1", "https://EXAMPLE.com/story?id=1&utm_source=x"
    )
    assert chosen == "https://example.com/story?id=1"


def test_www_and_case_do_not_make_another_site() -> None:
    assert choose_canonical("https://www.example.com/a", "https://Example.com/b") == "https://example.com/b"
    assert choose_canonical("https://example.com/a", "https://www.example.com/b") == (
        "https://www.example.com/b"
    )


def test_a_relative_canonical_link_is_resolved_against_the_page() -> None:
    assert choose_canonical("https://example.com/news/a?x=1", "/news/canonical") == (
        "https://example.com/news/canonical"
    )


@pytest.mark.parametrize(
    "claimed",
    [
        "https://victim.example/their-story",
        "https://example.com.attacker.test/a",
        "https://sub.example.com/a",
        "https://example.com:8443/a",  # another port of the host is another server
        "http://example.com:8080/a",
        "ftp://example.com/a",
        "javascript:alert(1)",
        "http://[::1",
    ],
)
def test_a_canonical_link_to_another_site_or_scheme_is_ignored(claimed: str) -> None:
    assert choose_canonical("https://example.com/a?utm_source=x", claimed) == "https://example.com/a"


@pytest.mark.parametrize("claimed", [None, "", "   "])
def test_without_a_canonical_link_the_page_url_is_used(claimed: str | None) -> None:
    assert choose_canonical("https://Example.com/a#top", claimed) == "https://example.com/a"


def test_http_and_https_on_their_default_ports_are_one_site() -> None:
    assert choose_canonical("http://example.com/a", "https://example.com/b") == "https://example.com/b"
    assert choose_canonical("http://example.com:8080/a", "http://example.com:8080/b") == (
        "http://example.com:8080/b"
    )
    assert choose_canonical("http://example.com:8081/a", "http://example.com:8080/b") == (
        "http://example.com:8081/a"
    )
