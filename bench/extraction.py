"""Extraction: the quality gate on the labelled set, and `signals extract` against a plain loop.

.venv/bin/python -m bench.extraction [--rounds 3] [--weights 1-7] [--gate-only]

1. The gate on tests/fixtures/gate (pages written for this project, labelled accept or
   refuse): precision and recall of its refusals, and token F1 of the accepted texts
   against what a reader sees, beside trafilatura's own ``favor_precision`` and default.
2. Throughput: the labelled pages in heavier chromes (large inline scripts, mega menus,
   icon sprites, as real news pages carry) written to files, then timed as a user runs
   them, process start included, side by side in interleaved rounds: a one-process
   ``trafilatura.extract(favor_precision=True)`` loop, and `signals extract`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import trafilatura

from service.errors import ExtractionFailed
from service.ingest.extract import extract_article
from tests.fixtures.gate.build import build_pages

GATE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "gate"
ROOT = Path(__file__).resolve().parent.parent
_TOKEN = re.compile(r"\w+", re.UNICODE)
_IDEOGRAPH = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")

PLAIN_LOOP = (
    "import sys, trafilatura\n"
    "for name in sys.argv[1:]:\n"
    "    with open(name, encoding='utf-8', errors='replace') as f:\n"
    "        trafilatura.extract(f.read(), favor_precision=True)\n"
)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def tokens(text: str) -> Counter[str]:
    """Words, and each CJK character as its own token (no spaces between CJK words)."""
    spaced = _IDEOGRAPH.sub(lambda m: f" {m.group(0)} ", text.lower())
    return Counter(_TOKEN.findall(spaced))


def f1(got: str, want: str) -> float:
    g, w = tokens(got), tokens(want)
    common = sum((g & w).values())
    if not common:
        return 0.0
    precision, recall = common / sum(g.values()), common / sum(w.values())
    return 2 * precision * recall / (precision + recall)


def gate_report() -> None:
    labels = json.loads((GATE / "labels.json").read_text())
    refused_right = refused_wrong = accepted_wrong = accepted_right = 0
    rows, ours_f1, prec_f1, default_f1 = [], [], [], []
    for label in labels:
        html = (GATE / "pages" / f"{label['page']}.html").read_text()
        try:
            text = extract_article(html, label["url"], min_words=120).text
            outcome = "accept"
        except ExtractionFailed as exc:
            text, outcome = "", exc.reason or exc.code
        if label["expect"] == "accept":
            want = (GATE / "expected" / f"{label['page']}.txt").read_text()
            ok = outcome == "accept"
            accepted_right += ok
            refused_wrong += not ok
            scores = (
                f1(text, want),
                f1(trafilatura.extract(html, favor_precision=True) or "", want),
                f1(trafilatura.extract(html) or "", want),
            )
            ours_f1.append(scores[0])
            prec_f1.append(scores[1])
            default_f1.append(scores[2])
            detail = "F1 ours {:.3f}  trafilatura precision {:.3f}  default {:.3f}".format(*scores)
        else:
            ok = outcome in label["reasons"]
            refused_right += ok
            accepted_wrong += outcome == "accept"
            detail = f"expected one of {', '.join(label['reasons'])}"
        rows.append(f"  {'ok  ' if ok else 'MISS'} {label['page']:24} {outcome:12} {detail}")
    print("\n".join(rows))
    to_refuse = sum(1 for x in labels if x["expect"] == "refuse")
    caught = to_refuse - accepted_wrong
    refusals = caught + refused_wrong
    print(
        f"gate: {len(labels)} pages, {to_refuse} to refuse; precision of refusals "
        f"{caught}/{refusals} = {caught / refusals if refusals else 1:.3f}, recall {caught}/{to_refuse} = "
        f"{caught / to_refuse if to_refuse else 1:.3f} ({refused_right} with the expected reason); "
        f"real articles refused: {refused_wrong} of {accepted_right + refused_wrong}"
    )
    print(
        f"F1 on accepted pages (mean): ours {statistics.mean(ours_f1):.3f}, trafilatura "
        f"favor_precision {statistics.mean(prec_f1):.3f}, "
        f"trafilatura default {statistics.mean(default_f1):.3f}"
    )


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the command and its children (workers included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):  # 1: some input failed (the refused pages)
        raise SystemExit(f"{cmd[0]} failed: {done.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def throughput(weights: list[int], rounds: int) -> None:
    python = str(ROOT / ".venv" / "bin" / "python")
    signals = str(ROOT / ".venv" / "bin" / "signals")
    env = {**os.environ, "SIGNALS_LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as folder:
        files = []
        for weight in weights:
            for name, _url, html in build_pages(weight=weight):
                path = Path(folder) / f"{name}-{weight}.html"
                path.write_text(html, encoding="utf-8")
                files.append(str(path))
        size = sum(Path(f).stat().st_size for f in files) / len(files) / 1024
        print(f"{len(files)} pages, {size:.0f} KiB on average; cores {os.cpu_count()}; load {load()}")
        plain: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for r in range(rounds):
            # Alternate which goes first: a neighbour's burst should not always hit the same side.
            order = [
                ("plain", [python, "-c", PLAIN_LOOP, *files]),
                ("ours", [signals, "extract", "--no-progress", *files]),
            ]
            for name, cmd in order if r % 2 == 0 else order[::-1]:
                (plain if name == "plain" else ours).append(timed(cmd, env))
            print(
                f"  round {r + 1}: plain loop {plain[-1][0]:.2f} s ({plain[-1][1]:.2f} s CPU), "
                f"signals extract {ours[-1][0]:.2f} s ({ours[-1][1]:.2f} s CPU), load {load()}"
            )
        p, o = statistics.median(w for w, _ in plain), statistics.median(w for w, _ in ours)
        pc, oc = statistics.median(c for _, c in plain), statistics.median(c for _, c in ours)
        print(f"plain one-process trafilatura.extract(favor_precision=True) loop: {p:.2f} s ({pc:.2f} s CPU)")
        print(f"signals extract, {os.cpu_count()} workers: {o:.2f} s ({oc:.2f} s CPU)")
        print(
            f"ratio plain / signals extract, wall: {p / o:.2f}x (goal >= 1.7x); CPU: {pc / oc:.2f}x; "
            f"load after {load()} (medians of {rounds} rounds)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--weights", default="1-7", help="chrome weights of the page copies, e.g. 1-7")
    parser.add_argument("--gate-only", action="store_true")
    args = parser.parse_args()
    low, _, high = args.weights.partition("-")
    weights = list(range(int(low), int(high or low) + 1))
    gate_report()
    if not args.gate_only:
        throughput(weights, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
