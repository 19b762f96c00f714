"""The stub's answer to a translation request (``CardTranslation``, service.analysis.translation):
each asked field in English. The stub cannot translate, so the text says what it stands in for."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from service.llmstub.signal_draft import STUB_LABEL, STUB_NOTE

_GIVEN = re.compile(r"send only these fields:\n(\{.*\})\s*$", re.S)


def translation(schema: Mapping[str, Any], conversation: tuple[str, ...]) -> dict[str, Any]:
    """Every property of ``schema``: prose as an English stand-in, key detail texts one each."""
    asked = _GIVEN.search(conversation[-1]) if conversation else None
    given: dict[str, Any] = json.loads(asked.group(1)) if asked else {}
    answer: dict[str, Any] = {}
    for name in schema.get("properties") or {}:
        if name == "key_details":
            count = len(given.get(name) or []) or 3
            answer[name] = [f"{STUB_LABEL} Key detail {i} in English, standing in for a translation." for i in
                            range(1, count + 1)]  # fmt: skip
        else:
            answer[name] = (
                f"{STUB_LABEL} The {name.replace('_', ' ')} again, in English: the development stub "
                f"cannot translate, so this text stands in for the translation it was asked for. {STUB_NOTE}"
            )
    return answer
