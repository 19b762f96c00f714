"""The page's metadata as trafilatura reads it, without what we never use.

trafilatura's ``extract_metadata`` also collects categories, tags and a licence: three walks
over the tree (about an eighth of an extraction on a 150 KB page) for fields no card shows.
This is its sequence for the fields we keep (title, author, URL, date, site name, description,
image, language), built from the same functions, so the values are the ones it would give.
"""

from __future__ import annotations

import logging
from typing import Any

from courlan import extract_domain
from htmldate import find_date
from lxml.html import HtmlElement  # type: ignore[import-untyped]  # lxml ships no stubs
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document, set_date_params

log = logging.getLogger(__name__)


def read_metadata(tree: HtmlElement, url: str | None) -> Document:
    """Title, author, URL, date, site name, description, image and language of the page."""
    metadata: Document = examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None  # a lone word is a handle or a site name, not a byline
    try:
        metadata = extract_meta_json(tree, metadata)
    except Exception as err:  # bugs in trafilatura's JSON-LD reading fail the field, not the page
        log.debug("JSON-LD metadata could not be read: %s", err)
    if not metadata.title:
        metadata.title = extract_title(tree)
    if not metadata.author:
        metadata.author = extract_author(tree)
    if not metadata.url:
        metadata.url = extract_url(tree, url)
    if metadata.url:
        metadata.hostname = extract_domain(metadata.url, fast=True)
    # Dates from the page's markup and URL only: htmldate's extensive search scans the whole
    # text for date-like strings (a third of the extraction time on pages without date
    # markup), and a date found in running text is as often an event's as the page's.
    date_config: dict[str, Any] = set_date_params(extensive=False)
    date_config["url"] = metadata.url
    metadata.date = find_date(tree, **date_config)
    if not metadata.sitename:
        metadata.sitename = extract_sitename(tree)
    if metadata.sitename:
        metadata.sitename = metadata.sitename.lstrip("@")
        if "." not in metadata.sitename and metadata.sitename and not metadata.sitename[0].isupper():
            metadata.sitename = metadata.sitename.title()
    elif metadata.url and (match := META_URL.match(metadata.url)):
        metadata.sitename = match[1]
    metadata.filedate = date_config.get("max_date")
    metadata.clean_and_trim()
    return metadata
