"""A real model through the service's own analysis code, article by article, measured.

    .venv/bin/python -m bench.models --base-url http://127.0.0.1:8090/v1 --model qwen2.5-coder-1.5b \
        [--mode auto|tools|json_schema|json] [--articles short|all|KEY,KEY] [--context-tokens N] \
        [--max-tokens N] [--max-retries N] [--timeout S] [--json-out FILE]

Any OpenAI-compatible endpoint: llama.cpp's ``llama-server``, vLLM, Ollama, a hosted API
(``--api-key`` or OPENAI_API_KEY), or ``signals llm-stub``. Each article of the labelled set
(``bench/model_articles.py``: English, German, Japanese, written for this project) goes
through ``service.analysis.client.Analyzer.analyze``, the call a job makes, with Settings built
from the arguments. The Analyzer talks to the endpoint through a recording proxy
(``bench/recording_proxy.py``), so every attempt is seen the same way whatever the code under
test reports about itself (the script runs unchanged against older versions of the code).

Per article:

- ``outcome``: ``stored`` (a card the service would store) or the error code a job would fail with;
- ``1st valid``: the first answer parsed as JSON and passed the project's response model
  (``SignalDraft``, schema rules only: grounding is counted separately);
- ``re-asks``: model calls after the first (the Analyzer's start-up probe not counted);
- ``grounded``: key details the service kept as grounded / key details checked;
- ``entities``: entity names of the card that occur in the article text; ``labels``: the
  article's labelled names the card's entities find;
- ``numbers``: numbers in the card's key details that occur in the article (separators and
  full-width digits normalised);
- tokens in / out over all calls, and the wall time of ``analyze``.

A failed article is scored on the model's last answer (``card`` says which). Runs are slow
on small machines: a 1.5 B model on two CPU cores takes minutes per article; ``--articles
short`` keeps to the short ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import tempfile
import time
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

from bench.model_articles import ARTICLES, BY_KEY, SHORT, BenchArticle
from bench.recording_proxy import Exchange, recording_proxy
from service.analysis.client import Analyzer
from service.analysis.language import PROSE_FIELDS, wrong_language_fields
from service.analysis.model import SignalDraft
from service.analysis.prompt import ArticleForPrompt
from service.errors import LLMError
from service.settings import Settings

TODAY = date(2026, 11, 22)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_UNGROUNDED_COUNT = re.compile(r"none of the (\d+)")


@dataclass(slots=True)
class Row:
    key: str
    language: str
    length: str
    outcome: str
    card: str
    first_valid: bool | None
    reasks: int
    grounded: int | None
    checked: int | None
    entities_found: int
    entities: int
    labels_found: int
    labels: int
    numbers_found: int
    numbers: int
    unsupported: int | None
    first_language: str
    """What the first answer's prose reads as: "en", or the other languages it slipped into."""
    tokens_in: int
    tokens_out: int
    seconds: float
    detail: str
    answers: list[str]
    """Each call's answer text, cut to 1 500 characters (``--json-out`` only): why it failed."""


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _numbers(text: str) -> set[str]:
    return {re.sub(r"\D", "", n) for n in _NUMBER.findall(unicodedata.normalize("NFKC", text))}


def answer_text(exchange: Exchange) -> str:
    """What a chat completion answered: its tool call's arguments, else its message text."""
    try:
        message = exchange.response["choices"][0]["message"]
    except (TypeError, KeyError, IndexError):
        return str(exchange.response)[:300]
    calls = message.get("tool_calls") or []
    return str(calls[0]["function"]["arguments"] if calls else message.get("content") or "")


def answer_object(exchange: Exchange) -> dict[str, Any] | None:
    """The JSON object a chat completion answered, from a tool call or the message text."""
    text = answer_text(exchange)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def schema_valid(answer: dict[str, Any] | None) -> bool:
    if answer is None:
        return False
    try:
        SignalDraft.model_validate(answer)
    except Exception:
        return False
    return True


def score_card(article: BenchArticle, entity_names: list[str], details: list[str]) -> dict[str, int]:
    text = _fold(article.text)
    names = [n for n in entity_names if n.strip()]
    found_names = [n for n in names if _fold(n) in text]
    folded = [_fold(n) for n in names]
    labels_found = sum(
        1 for label in article.names if any(_fold(label) in n or n in _fold(label) for n in folded)
    )
    in_article = _numbers(article.text)
    numbers = [n for d in details for n in _numbers(d)]
    return {
        "entities_found": len(found_names),
        "entities": len(names),
        "labels_found": labels_found,
        "labels": len(article.names),
        "numbers_found": sum(1 for n in numbers if n in in_article),
        "numbers": len(numbers),
    }


def _from_answer(answer: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    if not answer:
        return [], []
    entities = [str(e.get("name", "")) for e in answer.get("entities") or [] if isinstance(e, dict)]
    details = [str(d.get("text", "")) for d in answer.get("key_details") or [] if isinstance(d, dict)]
    return entities, details


async def run_article(analyzer: Analyzer, article: BenchArticle, chats: Any) -> Row:
    prompt_article = ArticleForPrompt(
        text=article.text, title=article.title, site_name=article.site_name, url=article.url,
        published=article.published, language=article.language,
    )  # fmt: skip
    started = time.perf_counter()
    analysis, error = None, None
    try:
        analysis = await analyzer.analyze(prompt_article, today=TODAY)
    except LLMError as exc:
        error = exc
    seconds = time.perf_counter() - started
    calls: list[Exchange] = chats()
    answers = [answer_object(c) for c in calls]
    usage = [c.response.get("usage") or {} for c in calls if isinstance(c.response, dict)]
    unsupported = None
    grounded: int | None
    checked: int | None
    if analysis is not None:
        details = list(getattr(analysis, "key_details", None) or analysis.draft.key_details)
        if details and hasattr(details[0], "unsupported"):
            unsupported = sum(1 for d in details if d.unsupported)
        entities = [e.name for e in analysis.draft.entities]
        scores = score_card(article, entities, [d.text for d in details])
        grounded, checked = analysis.grounding_grounded, analysis.grounding_checked
    else:
        last = next((a for a in reversed(answers) if a), None)
        scores = score_card(article, *_from_answer(last))
        found = _UNGROUNDED_COUNT.search(str(getattr(error, "detail", "")))
        grounded, checked = (0, int(found.group(1))) if found else (None, None)
    return Row(
        key=article.key, language=article.language, length=article.length,
        outcome="stored" if analysis is not None else str(getattr(error, "code", "error")),
        card="stored" if analysis is not None else "last answer",
        first_valid=schema_valid(answers[0]) if answers else None,
        reasks=max(0, len(calls) - 1), grounded=grounded, checked=checked, unsupported=unsupported,
        first_language=answer_language(answers[0] if answers else None),
        tokens_in=sum(int(u.get("prompt_tokens") or 0) for u in usage),
        tokens_out=sum(int(u.get("completion_tokens") or 0) for u in usage),
        seconds=round(seconds, 1),
        detail="" if error is None else str(getattr(error, "detail", error))[:160],
        answers=[answer_text(c)[:1500] for c in calls],
        **scores,
    )  # fmt: skip


def answer_language(answer: dict[str, Any] | None) -> str:
    """The first answer's language: "en" when every prose field reads as English (the service's check), else
    the other languages found; "-" for no parsable answer."""
    if not answer:
        return "-"
    fields = {name: str(answer.get(name) or "") for name in PROSE_FIELDS}
    details = [SimpleNamespace(text=str(d.get("text") or "")) for d in answer.get("key_details") or []
               if isinstance(d, dict)]  # fmt: skip
    wrong = wrong_language_fields(SimpleNamespace(**fields, key_details=details))
    return ",".join(sorted(set(wrong.values()))) or "en"


def _ratio(found: int | None, total: int | None) -> str:
    return "-" if found is None or total is None else f"{found}/{total}"


def summary(rows: list[Row]) -> str:
    """One line over the run: what a reader compares between runs."""
    stored = [r for r in rows if r.outcome == "stored"]
    wall = sum(r.seconds for r in rows)

    def total(name: str) -> int:
        return sum(int(getattr(r, name) or 0) for r in rows)

    per_card = f" ({sum(r.tokens_out for r in stored) // len(stored)} out per stored card)" if stored else ""
    return (
        f"stored {len(stored)}/{len(rows)}; first answer valid {sum(1 for r in rows if r.first_valid)}/"
        f"{len(rows)}; re-asks {total('reasks')}; grounded key details "
        f"{total('grounded')}/{total('checked')}; card entities in the article "
        f"{total('entities_found')}/{total('entities')}; labelled names found "
        f"{total('labels_found')}/{total('labels')}; key-detail numbers in the article "
        f"{total('numbers_found')}/{total('numbers')}; tokens in/out "
        f"{total('tokens_in')}/{total('tokens_out')}"
        f"{per_card}; wall {wall:.0f} s ({wall / max(1, len(rows)):.0f} s per article)"
    )


def print_rows(rows: list[Row]) -> None:
    print(
        "| article | lang | length | outcome | 1st valid | 1st in | re-asks | grounded | entities | labels "
        "| numbers | unsupported | tokens in/out | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.key} | {r.language} | {r.length} | {r.outcome} | "
            f"{'-' if r.first_valid is None else 'yes' if r.first_valid else 'no'} | "
            f"{r.first_language} | {r.reasks} | "
            f"{_ratio(r.grounded, r.checked)} | {r.entities_found}/{r.entities} | "
            f"{r.labels_found}/{r.labels} | "
            f"{r.numbers_found}/{r.numbers} | {'-' if r.unsupported is None else r.unsupported} | "
            f"{r.tokens_in}/{r.tokens_out} | {r.seconds:.0f} |"
        )
    print("\nsummary: " + summary(rows))
    for r in rows:
        if r.detail:
            print(f"  {r.key}: {r.detail}")


def build_settings(args: argparse.Namespace, base_url: str, data_dir: str) -> Settings:
    values: dict[str, Any] = {
        "openai_base_url": base_url,
        "openai_api_key": args.api_key or os.environ.get("OPENAI_API_KEY") or "bench",
        "llm_model": args.model,
        "llm_mode": args.mode,
        "llm_max_retries": args.max_retries,
        "llm_timeout_seconds": args.timeout,
        "llm_max_output_tokens": args.max_tokens,
        "llm_context_tokens": args.context_tokens,
        "data_dir": data_dir,
    }
    # Only what this version of Settings knows (older code has no context budget): unset
    # values keep the code's own defaults.
    known = {k: v for k, v in values.items() if v is not None and k in Settings.model_fields}
    return Settings(**known)


async def main_async(args: argparse.Namespace) -> list[Row]:
    chosen = {"short": list(SHORT), "all": [a.key for a in ARTICLES]}.get(args.articles)
    keys = chosen if chosen is not None else args.articles.split(",")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-models-") as data_dir:
        async with recording_proxy(args.base_url) as (proxy, recording):
            analyzer = Analyzer(build_settings(args, proxy, data_dir))
            try:
                prepare = getattr(analyzer, "prepare", None)
                if prepare is not None:  # the start-up probe, not counted against an article
                    await prepare()
                described = getattr(analyzer, "describe", lambda: (args.mode, None))()
                print(f"model {args.model} at {args.base_url}: mode {described[0]}, context {described[1]}")
                for key in keys:
                    recording.clear()
                    row = await run_article(analyzer, BY_KEY[key], recording.chats)
                    rows.append(row)
                    if args.json_out:  # after every article: a long run stopped early keeps what it measured
                        with open(args.json_out, "w", encoding="utf-8") as out:
                            json.dump([asdict(r) for r in rows], out, ensure_ascii=False, indent=1)
                    print(
                        f"  {row.key}: {row.outcome} in {row.seconds:.0f} s ({row.reasks} re-asks)",
                        flush=True,
                    )
            finally:
                await analyzer.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description="real-model evaluation of the analysis step")
    parser.add_argument("--base-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8090/v1")
    parser.add_argument("--model", help="model name sent with each call")
    parser.add_argument("--api-key", default=None, help="default: OPENAI_API_KEY, else a placeholder")
    parser.add_argument("--mode", default=None, help="SIGNALS_LLM_MODE (default: the code's default)")
    parser.add_argument("--articles", default="short", help="short, all, or article keys separated by commas")
    parser.add_argument("--context-tokens", type=int, default=None, help="SIGNALS_LLM_CONTEXT_TOKENS")
    parser.add_argument("--max-tokens", type=int, default=None, help="SIGNALS_LLM_MAX_TOKENS")
    parser.add_argument("--max-retries", type=int, default=None, help="SIGNALS_LLM_MAX_RETRIES")
    parser.add_argument("--timeout", type=float, default=900.0, help="SIGNALS_LLM_TIMEOUT, seconds per call")
    parser.add_argument(
        "--json-out", default=None, help="also write the rows as JSON here (after each article)"
    )
    parser.add_argument(
        "--from-json", nargs="+", default=None, help="print the table of earlier --json-out files"
    )
    args = parser.parse_args()
    if args.from_json:
        rows = []
        for name in args.from_json:
            with open(name, encoding="utf-8") as saved:
                rows += [Row(**{"answers": [], "first_language": "-", **r}) for r in json.load(saved)]
        print_rows(rows)
        return
    if not args.base_url or not args.model:
        parser.error("--base-url and --model are required")
    rows = asyncio.run(main_async(args))
    print()
    print_rows(rows)


if __name__ == "__main__":
    main()
