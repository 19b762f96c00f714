"""Normalising the model's topic labels and entity names into stable keys."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SPACE = re.compile(r"\s+")
MAX_SLUG = 64


def topic_slug(label: str) -> str:
    """Lowercase, ASCII, hyphenated: 'AI Infrastructure' and 'ai  infrastructure' → 'ai-infrastructure'."""
    text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    text = text.lower().replace("&", " and ").replace("+", " plus ")
    slug = _NON_ALNUM.sub("-", text).strip("-")
    if len(slug) > MAX_SLUG:
        slug = slug[:MAX_SLUG].rstrip("-")
    return slug


def topic_label(label: str) -> str:
    """The label as shown: trimmed, single-spaced."""
    return _SPACE.sub(" ", label).strip()[:120]


def normalize_topics(labels: list[str], limit: int = 5) -> list[tuple[str, str]]:
    """(slug, label) pairs in the model's order, without empty or repeated slugs."""
    seen: set[str] = set()
    result = []
    for label in labels:
        slug = topic_slug(label)
        if slug and slug not in seen:
            seen.add(slug)
            result.append((slug, topic_label(label)))
        if len(result) == limit:
            break
    return result


def entity_key(name: str) -> str:
    """The folded form two spellings of one name share ('OpenAI ' and 'openai')."""
    text = unicodedata.normalize("NFKC", name).casefold()
    return _SPACE.sub(" ", text).strip()


def normalize_entities(entities: list[tuple[str, str]], limit: int = 30) -> list[tuple[str, str, str]]:
    """(name, type, key) triples in order, without repeats of one (type, key)."""
    seen: set[tuple[str, str]] = set()
    result = []
    for name, kind in entities:
        clean = _SPACE.sub(" ", name).strip()[:200]
        key = entity_key(clean)
        if key and (kind, key) not in seen:
            seen.add((kind, key))
            result.append((clean, kind, key))
        if len(result) == limit:
            break
    return result
