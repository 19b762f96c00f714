"""The analysis of one article: the prompt fitted to the model's context, one structured call
for the card, citations resolved into verbatim evidence, and a follow-up for replacement key
details when too few cite usable sentences."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from service.analysis import citations
from service.analysis.model import MIN_KEY_DETAILS, KeyDetailsFix, SignalDraft
from service.analysis.prompt import (
    PROMPT_VERSION,
    ArticleForPrompt,
    PromptTooLarge,
    estimate_tokens,
    plan_prompt,
)
from service.analysis.schema import citing, field_guide
from service.analysis.sentences import split_sentences
from service.analysis.structured import Usage, follow_up
from service.analysis.translation import Card, in_card_language
from service.errors import AnalysisUngrounded, LLMError
from service.llm_settings import LLMMode

if TYPE_CHECKING:
    from service.analysis.client import Analyzer

log = logging.getLogger(__name__)

PROMPT_MARGIN_TOKENS = 64
SCHEMA_WORDING_TOKENS = 60
"""What a mode adds around the schema it sends (instructor's JSON-mode instruction, a tool's
name and description)."""


@dataclass(frozen=True, slots=True)
class Analysis:
    """A validated draft, its usable key details with their evidence, and its provenance."""

    draft: SignalDraft
    key_details: list[citations.CitedDetail]
    grounding_checked: int
    grounding_grounded: int
    model: str
    prompt_version: str
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int
    attempts: int


async def analyze_article(
    analyzer: Analyzer, article: ArticleForPrompt, today: date, usage: Usage
) -> Analysis:
    """One article through ``analyzer``: the card, then replacement key details while fewer than
    three cite usable sentences, then a translation of any field not in English
    (service.analysis.translation); re-asks shared with the card's, SIGNALS_LLM_MAX_RETRIES."""
    sentences = split_sentences(article.text)
    mode = analyzer.mode or LLMMode.tools
    listed = mode is LLMMode.json_schema  # a constrained decoder enforces an enum of numbers
    schema = citing(SignalDraft, len(sentences), listed=listed).model_json_schema()
    answer_budget = min(analyzer.settings.llm_max_output_tokens, analyzer.context_tokens // 2)
    # llama.cpp turns a response_format schema into a grammar, not prompt tokens; elsewhere
    # (tools rendered into the prompt, hosted models, instructor's JSON mode writing it
    # indented into the system message) the schema takes context too.
    grammar_only = listed and analyzer.server.kind == "llama.cpp"
    written = json.dumps(schema, indent=2 if mode is LLMMode.json else None)
    schema_cost = 0 if grammar_only else estimate_tokens(written) + SCHEMA_WORDING_TOKENS
    # Under json_schema the fields' descriptions reach the model only through the prompt.
    guide = field_guide(schema) if listed else ""
    try:
        plan = plan_prompt(
            article, sentences, today=today, max_chars=analyzer.settings.llm_max_article_chars,
            max_tokens=analyzer.context_tokens - answer_budget - schema_cost - estimate_tokens(guide)
            - PROMPT_MARGIN_TOKENS,
        )  # fmt: skip
    except PromptTooLarge as exc:
        raise LLMError(
            f"the model's context ({analyzer.context_tokens} tokens) is too small for this prompt and "
            f"a {answer_budget}-token answer (SIGNALS_LLM_CONTEXT_TOKENS)",
            reason="context_too_small",
        ) from exc
    shown = plan.sentences[-1].number if plan.sentences else 0
    # This article's model: the schema instructor sends numbers the sentences shown.
    draft_model = citing(SignalDraft, shown, listed=listed)
    messages = plan.messages
    if guide:  # in the system message: the same for every article, so servers cache it
        messages = [{**messages[0], "content": f"{messages[0]['content']}\n{guide}\n"}, *messages[1:]]
    result = await analyzer.complete(
        messages=messages, response_model=draft_model, usage=usage, max_tokens=answer_budget
    )
    english = (article.language or "en").lower().startswith("en")
    found = citations.resolve(
        result.value.key_details, plan.sentences, article.text, names_comparable=english
    )
    reasks_left = analyzer.settings.llm_max_retries - (result.attempts - 1)
    conversation = result.conversation
    while len(found.usable) < MIN_KEY_DETAILS and reasks_left > 0 and found.problems:
        free = [s.number for s in plan.sentences if s.number not in found.cited]
        wanted = min(MIN_KEY_DETAILS - len(found.usable), len(free))
        if wanted == 0:
            break
        question = _replacement_text(found, wanted, shown)
        try:
            # A second instructor call with its own small model that continues the same
            # conversation: only key details come back, and the server reuses the cached
            # prefix (except in json mode, where instructor writes each model's schema into
            # the system message).
            fix = await analyzer.complete(
                messages=follow_up(conversation, question),
                response_model=citing(KeyDetailsFix, shown, listed=listed),
                usage=usage, max_tokens=answer_budget, max_reasks=0,
            )  # fmt: skip
        except LLMError as exc:
            if not found.usable:
                raise
            log.info(
                "replacement key details failed (%s); keeping the %d usable", exc.code, len(found.usable)
            )
            break
        reasks_left -= fix.attempts
        conversation = fix.conversation
        found.problems = []
        citations.resolve(
            fix.value.key_details, plan.sentences, article.text, names_comparable=english,
            into=found, label="replacement",
        )  # fmt: skip
    if not found.usable:
        raise AnalysisUngrounded(
            f"none of the {found.checked} key details cited a usable article sentence after "
            f"{usage.attempts} attempts: " + "; ".join(found.problems[:3])
        )
    card = await in_card_language(
        analyzer, Card(result.value, found.usable), conversation, usage=usage,
        max_tokens=answer_budget, names_comparable=english, may_ask=reasks_left > 0,
    )  # fmt: skip
    spent = usage.snapshot()
    return Analysis(
        draft=card.draft,
        key_details=card.key_details,
        grounding_checked=found.checked,
        grounding_grounded=len(found.usable),
        model=result.model,
        prompt_version=PROMPT_VERSION,
        input_tokens=spent.input_tokens,
        output_tokens=spent.output_tokens,
        latency_ms=spent.latency_ms,
        attempts=spent.attempts,
    )


def _replacement_text(found: citations.Citations, wanted: int, shown: int) -> str:
    cited = ", ".join(str(n) for n in sorted(found.cited)) or "none"
    return (
        "Some key details cannot be used:\n- "
        + "\n- ".join(found.problems)
        + f"\nSend {wanted} replacement key detail{'s' if wanted > 1 else ''} only, as "
        '{"key_details": [{"text": ..., "sentences": [...]}]}. '
        f"Cite numbered sentences between 1 and {shown}; already cited: {cited}."
    )
