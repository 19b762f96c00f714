"""Turning a response's bytes into text: bounded inflation, HTML sniffing, charsets.

Pure functions and one small class, kept apart from the fetcher so each can be read (and
tested) without a network.
"""

from __future__ import annotations

import codecs
import re
import zlib

import charset_normalizer

from service.errors import FetchFailed, FetchTooLarge

# WHATWG Encoding: these labels mean windows-1252 on the web; decoding them as true latin-1
# would turn the curly quotes of every mislabelled page into control characters.
_WINDOWS_1252_ALIASES = frozenset({"iso8859-1", "ascii"})
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([a-z0-9_.:-]+)", re.IGNORECASE)
_HTML_SIGNATURES = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<!--",
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16"),
)


def sniff_html(body: bytes) -> bool:
    """True when an unlabelled body starts like HTML (the WHATWG MIME sniffing patterns)."""
    head = body[:512].removeprefix(codecs.BOM_UTF8).lstrip(b"\t\n\x0c\r ").lower()
    return any(
        head.startswith(signature) and head[len(signature) : len(signature) + 1] in (b" ", b">")
        for signature in _HTML_SIGNATURES
    )


def _codec(label: str | None, *, from_meta: bool = False) -> str | None:
    """The Python codec for a charset label, or None if the label is unusable."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
        "x".encode(name)  # refuses bytes-to-bytes codecs such as base64 or zlib
    except LookupError:
        return None
    if name == "utf-7":
        return None  # not a web encoding; a classic filter-evasion trick
    if from_meta and name.startswith(("utf-16", "utf-32")):
        return "utf-8"  # a meta tag we could read as ASCII cannot be UTF-16 (WHATWG)
    return "cp1252" if name in _WINDOWS_1252_ALIASES else name


def decode_body(body: bytes, media_type: str, charset_param: str | None) -> tuple[str, str]:
    """Decode a page; return the text and the codec used.

    Order: a byte-order mark (it wins over labels, as in browsers), the Content-Type
    charset, a ``<meta>`` charset in the first 4 KiB (HTML only), strict UTF-8, the
    charset_normalizer guess, and finally UTF-8 with replacement characters.
    """
    for bom, bom_codec, name in _BOMS:
        if body.startswith(bom):
            return body.decode(bom_codec, errors="replace"), name
    codec = _codec(charset_param)
    if codec is None and media_type != "text/plain":
        found = _META_CHARSET.search(body[:4096])
        codec = _codec(found.group(1).decode("ascii"), from_meta=True) if found else None
    if codec is not None:
        return body.decode(codec, errors="replace"), codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    guess = charset_normalizer.from_bytes(body).best()
    codec = _codec(guess.encoding) if guess is not None else None
    if codec is not None:
        return body.decode(codec, errors="replace"), codec
    return body.decode("utf-8", errors="replace"), "utf-8"


class BoundedDecoder:
    """Inflates a body chunk by chunk and stops as soon as it grows past ``limit`` bytes.

    httpx's own decoders inflate each network read in full, so one 64 KiB read of a
    gzip bomb becomes ~64 MiB before any cap could look at it; ``max_length`` keeps
    memory at the cap however hostile the stream.
    """

    def __init__(self, content_encoding: str, limit: int) -> None:
        self._limit = limit
        self._produced = 0
        self._raw_deflate_fallback = False
        encoding = content_encoding.strip().lower()
        self._z: zlib._Decompress | None
        if encoding in ("", "identity"):
            self._z = None
        elif encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
            self._raw_deflate_fallback = True  # some servers send deflate without zlib header
        else:
            raise FetchFailed(
                "the page uses a content encoding we did not ask for", reason="content_encoding"
            )

    def _count(self, out: bytes) -> bytes:
        self._produced += len(out)
        if self._produced > self._limit:
            raise FetchTooLarge(f"the page is larger than {self._limit} bytes", reason="body_too_large")
        return out

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes of one raw chunk; ``FetchTooLarge`` past the limit."""
        if self._z is None:
            return self._count(data)
        room = self._limit - self._produced + 1  # one byte more than allowed proves "too large"
        try:
            out = self._z.decompress(data, room)
        except zlib.error:
            if not (self._raw_deflate_fallback and self._produced == 0):
                raise FetchFailed("the page's compressed body is corrupt", reason="decoding") from None
            self._raw_deflate_fallback = False
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.feed(data)
        self._raw_deflate_fallback = False
        return self._count(out)

    def flush(self) -> bytes:
        """Whatever the decompressor still holds, at the end of the body."""
        if self._z is None:
            return b""
        try:
            return self._count(self._z.flush())
        except zlib.error:
            raise FetchFailed("the page's compressed body is corrupt", reason="decoding") from None
