"""Extraction accuracy and cost: our ``extract`` next to plain trafilatura and newspaper4k.

    .venv/bin/python bench/extraction.py [--set metadata] [--fast] [--behind] [--json]
    cd ../other-worktree && .venv/bin/python /path/to/bench/extraction.py --corpus ... --fast

``scraper`` is imported from the running interpreter's installed package (the venv's editable
install), never from this file's repository, so any worktree can measure its own code with this
script. All extractors run in this one process on the same pages, interleaved page by page and
repeat by repeat (their order rotating from page to page), so the machine's noise hits all
alike. Time is CPU time per page (median of --repeat runs), summarised as the median over pages.
The network is switched off in-process. Scoring follows ../shared/corpus/README.md "How to
score" (see bench/scoring.py); bench/README.md explains every column.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ only, for its helper modules
import cases as corpus_sets  # noqa: E402
import peers  # noqa: E402
from cases import Case  # noqa: E402
from peers import Extractor, Result  # noqa: E402
from scoring import (  # noqa: E402
    authors_ok, body_prf, has_time, page_counts, published_day_ok, published_ok, title_ok,
)

FIELDS = ("title", "authors", "day", "minute")


@dataclass
class Tally:
    """One extractor's scores on one set of pages."""

    hits: dict[str, list[bool]] = field(default_factory=lambda: {f: [] for f in FIELDS})
    counts: list[tuple[int, int, int]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def add(self, case: Case, got: Result, seconds: float) -> dict[str, Any]:
        """Score one page; returns its per-field outcome (None where the gold is missing)."""
        self.seconds.append(seconds)
        if got.refused:
            self.refused.append((case.name, got.refused))
        outcome: dict[str, Any] = {"title": None, "authors": None, "day": None, "minute": None}
        if case.title:
            outcome["title"] = title_ok(case.title, got.title)
        if case.authors:
            outcome["authors"] = authors_ok(case.authors, got.authors)
        if case.published:
            outcome["day"] = published_day_ok(case.published, got.published)
            if has_time(case.published):
                outcome["minute"] = published_ok(case.published, got.published)
        for name, ok in outcome.items():
            if ok is not None:
                self.hits[name].append(ok)
        if case.text is not None:
            self.counts.append(page_counts(case.text, got.text))
            outcome["body_tp_fp_fn"] = self.counts[-1]
        return outcome

    def row(self) -> dict[str, Any]:
        """The table row as data: k/n per field, body P/R/F1, median ms, refusals."""
        row: dict[str, Any] = {f: [sum(v), len(v)] for f, v in self.hits.items()}
        row["body"] = list(body_prf(self.counts)) if self.counts else None
        row["ms"] = 1000 * statistics.median(self.seconds) if self.seconds else None
        row["refused"] = len(self.refused)
        return row


def timed_round(extractors: dict[str, Extractor], case: Case, repeat: int, turn: int = 0
                ) -> dict[str, tuple[Result, float]]:
    """Each extractor on one page, ``repeat`` rounds in turn; median CPU seconds each.

    The order rotates with ``turn`` (the page's index): whoever runs first on a page meets
    cold caches (htmldate's and lxml's among them, shared by ours and trafilatura), so no
    extractor is always the one that pays for them.
    """
    times: dict[str, list[float]] = {label: [] for label in extractors}
    results: dict[str, Result] = {}
    order = list(extractors.items())
    order = order[turn % len(order):] + order[:turn % len(order)]
    for _ in range(repeat):
        for label, fn in order:
            start = time.process_time()
            results[label] = fn(case)
            times[label].append(time.process_time() - start)
    return {label: (results[label], statistics.median(times[label])) for label in extractors}


def run_set(name: str, pages: list[Case], extractors: dict[str, Extractor], repeat: int,
            progress: bool) -> dict[str, Any]:
    """Score every extractor on one dev set (and its tagged subsets)."""
    subsets = sorted({tag for case in pages for tag in case.tags})
    tallies = {key: {label: Tally() for label in extractors} for key in ["all", *subsets]}
    per_page = []
    for i, case in enumerate(pages, 1):
        if progress:
            print(f"\r{name}: {i}/{len(pages)}", end="", file=sys.stderr, flush=True)
        page: dict[str, Any] = {"case": case.name, "gold": {
            "title": case.title, "authors": case.authors, "published": case.published}}
        for label, (got, seconds) in timed_round(extractors, case, repeat, i).items():
            page[label] = tallies["all"][label].add(case, got, seconds)
            page[label].update(refused=got.refused, got={
                "title": got.title, "authors": got.authors, "published": got.published})
            for tag in case.tags:
                tallies[tag][label].add(case, got, seconds)
        per_page.append(page)
    if progress:
        print(file=sys.stderr)
    return {"set": name, "pages": len(pages),
            "rows": {key: {label: t.row() for label, t in by.items()}
                     for key, by in tallies.items()},
            "subset_pages": {tag: sum(tag in c.tags for c in pages) for tag in subsets},
            "refused": {label: t.refused for label, t in tallies["all"].items()},
            "per_page": per_page}


def _frac(k_n: list[int]) -> str:
    k, n = k_n
    return f"{k}/{n} ({k / n:.2f})" if n else "–"


def markdown(result: dict[str, Any], key: str = "all") -> str:
    """The set's table: one row per extractor."""
    lines = ["| extractor | title | authors | published, day | published, minute "
             "| body P | body R | body F1 | ms/page (median CPU) | refused |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|"]
    for label, row in result["rows"][key].items():
        body = [f"{x:.3f}" for x in row["body"]] if row["body"] else ["–"] * 3
        lines.append(f"| {label} | {_frac(row['title'])} | {_frac(row['authors'])} "
                     f"| {_frac(row['day'])} | {_frac(row['minute'])} | {' | '.join(body)} "
                     f"| {row['ms']:.1f} | {row['refused']} |")
    return "\n".join(lines)


def report(result: dict[str, Any]) -> str:
    """Tables, the time ratio, and every page our extract refused with its reason."""
    out = [f"### {result['set']}: {result['pages']} pages", "", markdown(result)]
    rows = result["rows"]["all"]
    if "ours" in rows and "trafilatura" in rows and rows["trafilatura"]["ms"]:
        ratio = rows["ours"]["ms"] / rows["trafilatura"]["ms"]
        out += ["", f"Time: ours {ratio:.2f}× plain trafilatura's median CPU ms/page."]
    for tag, n in result["subset_pages"].items():
        out += ["", f"Subset `{tag}` ({n} pages):", "", markdown(result, tag)]
    refused = result["refused"].get("ours", [])
    out += ["", f"Pages ours refused: {len(refused)}" + (":" if refused else ".")]
    out += [f"- `{name}`: {reason}" for name, reason in refused]
    return "\n".join(out)


def behind(result: dict[str, Any]) -> str:
    """Every page and field where a peer scores and ours does not, with the values."""
    out = [f"### {result['set']}: where a peer is right and ours is not", ""]
    source = {"title": "title", "authors": "authors", "day": "published", "minute": "published"}
    for page in result["per_page"]:
        peers_ = [label for label in page if label not in ("case", "gold", "ours")]
        for name in FIELDS:
            right = [p for p in peers_ if page[p][name]]
            if page["ours"][name] is False and right:
                key = source[name]
                out.append(f"- `{page['case']}` {name}: gold {page['gold'][key]!r}, ours "
                           f"{page['ours']['got'][key]!r}, {right[0]} "
                           f"{page[right[0]]['got'][key]!r}")
    return "\n".join(out if len(out) > 2 else out + ["(none)"])


def _default_corpus() -> Path:
    if os.environ.get("SCRAPER_CORPUS"):
        return Path(os.environ["SCRAPER_CORPUS"])
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (root.parent / "shared" / "corpus").is_dir():
            return root.parent / "shared" / "corpus"
    return Path.cwd().parent / "shared" / "corpus"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=None,
                        help="the shared corpus (default: $SCRAPER_CORPUS or ../shared/corpus)")
    parser.add_argument("--set", action="append", choices=corpus_sets.SETS, dest="sets",
                        help="run only this dev set (repeatable; default: all three)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per page (default 3)")
    parser.add_argument("--fast", action="store_true",
                        help="a quick check: one repeat, no newspaper4k")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--per-page", action="store_true",
                        help="with --json: include every page's per-field outcome")
    parser.add_argument("--behind", action="store_true",
                        help="list every page and field where a peer is right and ours is not")
    args = parser.parse_args(argv)
    corpus = args.corpus or _default_corpus()
    if not (corpus / "generic").is_dir():
        print(f"error: no corpus at {corpus} (pass --corpus ../shared/corpus)", file=sys.stderr)
        return 2
    repeat = args.repeat or (1 if args.fast else 3)
    if repeat < 1:
        print("error: --repeat must be at least 1", file=sys.stderr)
        return 2
    peers.forbid_network()
    extractors: dict[str, Extractor] = {"ours": peers.ours(),
                                        "trafilatura": peers.trafilatura_plain()}
    notes = []
    if not args.fast:
        try:
            extractors["newspaper4k"] = peers.newspaper4k()
        except ImportError:
            notes.append("newspaper4k not installed (pip install -e '.[bench]'): left out")
    import scraper

    header = {"scraper": str(Path(scraper.__file__).resolve().parent), "corpus": str(corpus),
              "repeat": repeat, "extractors": list(extractors), "notes": notes}
    results = [run_set(name, corpus_sets.load(corpus, name), extractors, repeat,
                       progress=sys.stderr.isatty())
               for name in (args.sets or corpus_sets.SETS)]
    header["network_attempts_blocked"] = list(peers.BLOCKED)
    if args.json:
        if not args.per_page:
            for r in results:
                del r["per_page"]
        print(json.dumps({**header, "sets": results}, indent=1, ensure_ascii=False))
        return 0
    print(f"scraper from {header['scraper']}; corpus {corpus}; {repeat} repeat(s) per page")
    for note in notes:
        print(f"note: {note}")
    for r in results:
        print()
        print(report(r))
        if args.behind:
            print()
            print(behind(r))
    print(f"\nNetwork attempts blocked: {len(peers.BLOCKED)}"
          + (f" ({', '.join(sorted(set(peers.BLOCKED)))})" if peers.BLOCKED else ""))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the output quietly
    sys.exit(main())
