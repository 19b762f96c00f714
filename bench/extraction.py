"""Extraction throughput: the forkserver pool (every core) against one process, same pages.

.venv/bin/python -m bench.extraction [--pages 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from service.ingest.extract import Extractor, extract_article
from tests.support.articles import article_page


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pages = [(article_page(i, revision=i % 3), f"https://bench.example/{i}") for i in range(args.pages)]
    workers = os.cpu_count() or 1
    baseline, pooled = [], []
    with Extractor(workers) as pool:
        list(pool.extract_many(pages[:workers], min_words=120))  # warm every worker
        for _ in range(args.rounds):
            started = time.perf_counter()
            for html, url in pages:
                extract_article(html, url, min_words=120)
            baseline.append(time.perf_counter() - started)
            started = time.perf_counter()
            results = list(pool.extract_many(pages, min_words=120))
            pooled.append(time.perf_counter() - started)
            assert all(not isinstance(r, Exception) for r in results)
    one, many = statistics.median(baseline), statistics.median(pooled)
    print(f"pages={args.pages} rounds={args.rounds} workers={workers}")
    print(f"in-process : {args.pages / one:8.1f} pages/s (median {one:.3f} s)")
    print(f"pool       : {args.pages / many:8.1f} pages/s (median {many:.3f} s)")
    print(f"ratio pool/in-process throughput: {one / many:.2f}x")


if __name__ == "__main__":
    main()
