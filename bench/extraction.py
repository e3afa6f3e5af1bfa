"""Extraction accuracy and cost: our ``extract`` next to plain trafilatura, on the shared corpus.

    python bench/extraction.py [--corpus ../shared/corpus] [--repeat 3] [--markdown]

Both extractors run in this one process on the same pages, interleaved page by page, so the
machine's noise hits both alike. Time is CPU time per page (median of --repeat runs).
Scoring follows ../shared/corpus/README.md (see bench/scoring.py).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import trafilatura

sys.path.insert(0, str(Path(__file__).parent))
from scoring import (  # noqa: E402
    authors_ok, body_prf, page_counts, published_ok, split_byline, title_ok,
)

from scraper import extract  # noqa: E402
from scraper.models import ExtractError  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@dataclass
class Case:
    name: str
    url: str
    html: str
    text: str
    title: str | None
    authors: list[str]
    published: str | None


@dataclass
class Tally:
    counts: list[tuple[int, int, int]] = field(default_factory=list)
    title: list[bool] = field(default_factory=list)
    authors: list[bool] = field(default_factory=list)
    published: list[bool] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    failures: int = 0

    def add(self, case: Case, got: dict[str, Any], seconds: float) -> None:
        self.seconds.append(seconds)
        self.counts.append(page_counts(case.text, got.get("text") or ""))
        if case.title:
            self.title.append(title_ok(case.title, got.get("title")))
        if case.authors:
            self.authors.append(authors_ok(case.authors, got.get("authors") or []))
        if case.published:
            self.published.append(published_ok(case.published, got.get("published")))

    def row(self) -> dict[str, Any]:
        p, r, f1 = body_prf(self.counts)
        pct = lambda xs: 100 * sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
        return {"P": p, "R": r, "F1": f1, "title": pct(self.title),
                "authors": pct(self.authors), "published": pct(self.published),
                "n_title": len(self.title), "n_authors": len(self.authors),
                "n_published": len(self.published),
                "ms": 1000 * statistics.median(self.seconds), "failures": self.failures}


def load_cases(corpus: Path) -> dict[str, list[Case]]:
    """The adapter pages (sites/) and the generic pages (generic/readability/)."""
    sets: dict[str, list[Case]] = {"sites": [], "generic": []}
    for gold_path in sorted((corpus / "sites").glob("*/*.json")):
        page = gold_path.with_suffix(".html.gz")
        if not page.exists():
            continue
        gold = json.loads(gold_path.read_text())
        sets["sites"].append(Case(
            f"{gold_path.parent.name}/{gold_path.stem}", gold["url"],
            gzip.open(page, "rb").read().decode("utf-8", "replace"),
            "\n\n".join(gold["paragraphs"]), gold["title"], gold["authors"] or [],
            gold["published"]))
    for gold_path in sorted((corpus / "generic" / "readability").glob("*.json")):
        gold = json.loads(gold_path.read_text())
        raw = gzip.open(gold_path.with_suffix(".html.gz"), "rb").read()
        from scraper.fetch import decode_html

        html, _ = decode_html(raw, "")
        sets["generic"].append(Case(
            f"readability/{gold_path.stem}", gold.get("url") or "http://fakehost/test/page.html",
            html, gold.get("text") or "", gold.get("title"),
            split_byline(gold["byline"]) if gold.get("byline") else [], gold.get("published")))
    return sets


def ours(case: Case) -> dict[str, Any]:
    try:
        return extract(case.html, url=case.url).to_dict()
    except ExtractError:
        return {}


def plain_trafilatura(case: Case) -> dict[str, Any]:
    doc = trafilatura.bare_extraction(case.html, url=case.url, with_metadata=True)
    if doc is None:
        return {}
    return {"text": doc.text, "title": doc.title, "published": doc.date,
            "authors": [a.strip() for a in (doc.author or "").split(";") if a.strip()]}


def timed(fn: Callable[[Case], dict[str, Any]], case: Case, repeat: int) -> tuple[dict, float]:
    times, result = [], {}
    for _ in range(repeat):
        start = time.process_time()
        result = fn(case)
        times.append(time.process_time() - start)
    return result, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path,
                        default=Path(os.environ.get("SCRAPER_CORPUS", DEFAULT_CORPUS)))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found at {args.corpus}: it lives in ../shared/corpus")
    extractors = {"scraper.extract": ours, "trafilatura": plain_trafilatura}
    for name, cases in load_cases(args.corpus).items():
        tallies = {label: Tally() for label in extractors}
        for case in cases:
            for label, fn in extractors.items():  # interleaved: same noise for both
                got, seconds = timed(fn, case, args.repeat)
                if not got:
                    tallies[label].failures += 1
                tallies[label].add(case, got, seconds)
        print(f"\n{name}: {len(cases)} pages")
        if args.markdown:
            print("| extractor | body P | body R | body F1 | title | authors | published "
                  "| ms/page (median CPU) | no result |")
            print("|---|---|---|---|---|---|---|---|---|")
        for label, tally in tallies.items():
            r = tally.row()
            if args.markdown:
                print(f"| {label} | {r['P']:.3f} | {r['R']:.3f} | {r['F1']:.3f} "
                      f"| {r['title']:.1f}% of {r['n_title']} | {r['authors']:.1f}% of "
                      f"{r['n_authors']} | {r['published']:.1f}% of {r['n_published']} "
                      f"| {r['ms']:.1f} | {r['failures']} |")
            else:
                print(f"  {label:16} P={r['P']:.3f} R={r['R']:.3f} F1={r['F1']:.3f}  "
                      f"title {r['title']:.1f}%  authors {r['authors']:.1f}%  "
                      f"published {r['published']:.1f}%  {r['ms']:.1f} ms/page  "
                      f"no result {r['failures']}")


if __name__ == "__main__":
    main()
