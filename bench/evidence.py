"""Evidence by reference vs verbatim quotes, side by side on the LLM stub (issue 28 item 5).

    .venv/bin/python -m bench.evidence [--rounds 3] [--modes tools,json_schema]

Both contracts run in one process against one in-process ``signals llm-stub``, on the
labelled articles of ``bench.models`` (English, German, Japanese; ``bench/model_articles.py``):

- ``quotes`` (before, prompt 2026-11-23.2, ``bench/evidence_legacy.py``): the model copies each
  key detail's evidence; instructor re-asks the whole card while a quote is not found;
- ``cites`` (now, 2026-12-07.1, ``service.analysis.client.Analyzer``): the model cites
  numbered sentences, the service quotes them; only replacement key details are asked for.

Two model profiles: ``clean`` (the stub as it is: every answer right) and ``weak`` (the stub
answers each article the way small models answered in issue 28, and repeats the mistake on
every re-ask: quotes wrapped in "The article states: '…'", one passage for every detail, an
ellipsis of single words, quotes starting mid-word, one invented quote, verbatim quotes
instead of numbers). The weak profile is a script, not a model: it shows what each contract
does with those answers, not how often a real model gives them (``bench.models`` measures that).

Per contract, mode and profile: cards stored, first-try success (a card from the first answer
with every key detail grounded), re-asks, output tokens per stored card, the grounded share
(distinct key details whose evidence is verbatim in the article by the strict check of
service.analysis.grounding, over key details the model gave; the old check's accepted-but-not-
verbatim quotes are counted apart as ``holes``) and wall time per article.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import instructor
import openai

from bench.evidence_legacy import legacy_analyze
from bench.model_articles import ARTICLES, BenchArticle
from service.analysis.client import Analyzer
from service.analysis.grounding import is_grounded, normalize_text
from service.analysis.prompt import ArticleForPrompt
from service.errors import LLMError
from service.llm_settings import LLMMode
from service.llmstub import StubState, create_stub_app
from service.settings import Settings
from tests.support.servers import running_asgi

TODAY = date(2026, 12, 7)
WEAK = ["lead_in_quotes", "same_sentences", "ellipsis_quotes", "neighbour_quotes", "ungrounded_one", "quotes"]
"""The weak profile's mistake per article, in turn (repeated on every call for that article)."""
INSTRUCTOR_MODES = {"tools": instructor.Mode.TOOLS, "json_schema": instructor.Mode.JSON_SCHEMA}


@dataclass(slots=True)
class Tally:
    articles: int = 0
    stored: int = 0
    first_try: int = 0
    calls: int = 0
    given: int = 0
    grounded: int = 0
    holes: int = 0
    output_tokens: int = 0
    seconds: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    def row(self, label: str) -> str:
        per_card = self.output_tokens / self.stored if self.stored else float("nan")
        share = self.grounded / self.given if self.given else float("nan")
        failed = ", ".join(f"{k} {v}" for k, v in sorted(self.failures.items())) or "-"
        return (
            f"{label:<28} {self.stored:>2}/{self.articles:<2} {self.first_try:>6}/{self.articles:<2}"
            f" {self.calls - self.articles:>7} {per_card:>10.0f} {share:>8.0%} {self.holes:>6}"
            f" {statistics.mean(self.seconds) * 1000:>8.1f}  {failed}"
        )


def prompt_article(article: BenchArticle) -> ArticleForPrompt:
    return ArticleForPrompt(
        text=article.text,
        title=article.title,
        site_name=article.site_name,
        url=article.url,
        published=article.published,
        language=article.language,
    )


def verbatim_share(evidence: list[str], text: str) -> tuple[int, int]:
    """(distinct passages verbatim in ``text`` by the strict check, passages that are not)."""
    normalized = normalize_text(text)
    distinct = list(dict.fromkeys(evidence))
    good = sum(1 for e in distinct if all(is_grounded(part, normalized) for part in e.split(" … ")))
    return good, len(evidence) - good if len(distinct) == len(evidence) else len(distinct) - good


async def run_cites(base: str, stub: StubState, mode: str, faults: list[str | None], tally: Tally) -> None:
    settings = Settings(
        openai_base_url=f"{base}/v1",
        openai_api_key="bench",
        llm_model="signals-stub",
        llm_mode=LLMMode(mode),
        llm_http_retries=0,
    )
    analyzer = Analyzer(settings)
    await analyzer.prepare()
    try:
        for article, fault in zip(ARTICLES, faults, strict=True):
            stub.clear_faults()
            if fault:
                stub.push_faults([{"kind": fault}] * 3)
            before = stub.stats()["chat_completions"]
            started = time.perf_counter()
            try:
                result = await analyzer.analyze(prompt_article(article), today=TODAY)
            except LLMError as exc:
                tally.failures[exc.code] = tally.failures.get(exc.code, 0) + 1
                result = None
            tally.seconds.append(time.perf_counter() - started)
            tally.articles += 1
            tally.calls += stub.stats()["chat_completions"] - before
            if result is None:
                continue
            tally.stored += 1
            tally.first_try += result.attempts == 1 and result.grounding_grounded == result.grounding_checked
            tally.given += result.grounding_checked
            good, bad = verbatim_share([d.evidence for d in result.key_details], article.text)
            tally.grounded += good
            tally.holes += bad
            tally.output_tokens += result.output_tokens or 0
    finally:
        await analyzer.aclose()


async def run_quotes(base: str, stub: StubState, mode: str, faults: list[str | None], tally: Tally) -> None:
    async with openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="bench", max_retries=0) as client:
        for article, fault in zip(ARTICLES, faults, strict=True):
            stub.clear_faults()
            if fault:
                stub.push_faults([{"kind": fault}] * 3)
            before = stub.stats()["chat_completions"]
            outcome = await legacy_analyze(
                client, "signals-stub", INSTRUCTOR_MODES[mode], prompt_article(article), today=TODAY
            )
            tally.seconds.append(outcome.seconds)
            tally.articles += 1
            tally.calls += stub.stats()["chat_completions"] - before
            if outcome.code is not None:
                tally.failures[outcome.code] = tally.failures.get(outcome.code, 0) + 1
                continue
            tally.stored += 1
            tally.first_try += outcome.attempts == 1 and len(outcome.details) == outcome.checked
            tally.given += outcome.checked
            good, bad = verbatim_share([e for _, e in outcome.details], article.text)
            tally.grounded += good
            tally.holes += bad
            tally.output_tokens += outcome.output_tokens


async def main(args: argparse.Namespace) -> None:
    stub = StubState()
    profiles: dict[str, list[str | None]] = {
        "clean": [None] * len(ARTICLES),
        "weak": [WEAK[i % len(WEAK)] for i in range(len(ARTICLES))],
    }
    tallies: dict[str, Tally] = {}
    with running_asgi(create_stub_app(stub)) as base:
        for _ in range(args.rounds):
            for mode in args.modes.split(","):
                for profile, faults in profiles.items():
                    for contract, run in (("quotes", run_quotes), ("cites", run_cites)):
                        key = f"{contract} {mode} {profile}"
                        await run(base, stub, mode, faults, tallies.setdefault(key, Tally()))
    print(f"{len(ARTICLES)} articles ({', '.join(a.key for a in ARTICLES)}) x {args.rounds} rounds, LLM stub")
    print(
        f"{'contract mode profile':<28} {'stored':>5} {'1st try':>9} {'re-asks':>7} {'out tok/card':>10}"
        f" {'grounded':>8} {'holes':>6} {'ms/art':>8}  failures"
    )
    for key, tally in tallies.items():
        print(tally.row(key))
    for mode in args.modes.split(","):
        for profile in profiles:
            before, now = tallies[f"quotes {mode} {profile}"], tallies[f"cites {mode} {profile}"]
            per_card = [t.output_tokens / t.stored if t.stored else float("nan") for t in (now, before)]
            time_ratio = statistics.mean(now.seconds) / statistics.mean(before.seconds)
            print(
                f"{mode} {profile}: output tokens per stored card cites/quotes "
                f"{per_card[0] / per_card[1]:.2f}x, wall time per article {time_ratio:.2f}x"
            )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="evidence by reference vs verbatim quotes on the stub")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="tools,json_schema")
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> dict[str, Any]:
    asyncio.run(main(parse(argv)))
    return {}


if __name__ == "__main__":
    run()
