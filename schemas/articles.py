"""Articles: the extracted text and metadata a signal was made from."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from schemas.base import Response


class ArticleLinks(Response):
    self: str


class Article(Response):
    """An extracted article (the latest version of its text)."""

    id: UUID
    url: str | None
    canonical_url: str | None
    input_kind: str
    title: str | None
    author: str | None
    site_name: str | None
    published_date: date | None
    language: str | None
    image: str | None
    description: str | None
    word_count: int
    content_hash: str
    text: str
    fetched_at: datetime | None
    created_at: datetime
    updated_at: datetime
    signal_ids: list[UUID]
    links: ArticleLinks
