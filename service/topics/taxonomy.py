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


def _singular(token: str) -> str:
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 4 and token.endswith(("ches", "shes", "xes", "sses")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


MIN_ABBREVIATION = 4
"""A token may stand for a longer one it begins ("infra" for "infrastructure") from this length."""


def is_synonym(new: str, existing: str) -> bool:
    """Whether slug ``new`` is another spelling of topic ``existing``.

    Token by token (an "and" is ignored): equal, the same word in singular and plural, or a
    prefix abbreviation of at least four letters. Multi-word slugs need one token spelled
    exactly alike, so two abbreviations cannot merge unrelated topics; single words merge
    only on singular/plural.
    """
    if new == existing:
        return True
    a = [t for t in new.split("-") if t != "and"]
    b = [t for t in existing.split("-") if t != "and"]
    if len(a) != len(b) or not a:
        return False
    exact = 0
    for x, y in zip(a, b, strict=True):
        if x == y:
            exact += 1
        elif _singular(x) == _singular(y):
            continue
        elif len(a) > 1:
            short, long = sorted((x, y), key=len)
            if not (len(short) >= MIN_ABBREVIATION and long.startswith(short)):
                return False
        else:
            return False
    return exact > 0 or len(a) == 1


def synonym_target(new: str, candidates: list[str]) -> str | None:
    """The one existing slug ``new`` is a synonym of; None when there is none or several."""
    matches = [c for c in candidates if c != new and is_synonym(new, c)]
    return matches[0] if len(matches) == 1 else None


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
