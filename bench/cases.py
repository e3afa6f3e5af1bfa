"""The dev sets of ../shared/corpus as benchmark cases (see its README for each set's gold).

``sites`` (adapter pages, body gold), ``readability`` (Mozilla Readability pages, body gold) and
``metadata`` (generic/metadata: title, authors and published only, decoded with MANIFEST.tsv's
charset). Nothing here imports ``scraper``: the pages are decoded the same way whatever code is
being measured.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from scoring import split_byline

SETS = ("sites", "readability", "metadata")
FAKE_URL = "http://fakehost/test/page.html"  # what Readability's own test suite uses
# Library prefixes of generic/metadata's first build (its README: "the 69 of the first build");
# its one htmldate page of that build is the htmldate page not "admitted" since.
FIRST_BUILD = ("newspaper4k-", "goose3-", "metascraper-")
ADMITTED = "admitted as development data"

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


@dataclass
class Case:
    """One page and its gold; ``text`` is None where the set has no body gold."""

    name: str
    url: str
    html: str
    text: str | None
    title: str | None
    authors: list[str]
    published: str | None
    tags: set[str] = field(default_factory=set)  # subsets the page belongs to


def _gunzip(path: Path) -> bytes:
    with gzip.open(path, "rb") as f:
        return f.read()


def _decode(raw: bytes, charset: str | None = None) -> str:
    """BOM, then the given charset; without one, valid UTF-8, then the <meta> charset.

    Readability's pages are stored as UTF-8 even where their <meta> says otherwise (qq:
    gb2312), as a browser-saved page is; valid UTF-8 wins, as in scraper's own decoding.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", "replace")
    if charset is None:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        found = _META_CHARSET.search(raw[:4096])
        charset = found.group(1).decode("ascii") if found else "utf-8"
    try:
        return raw.decode(charset, "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def load_sites(corpus: Path) -> list[Case]:
    """The adapter pages: corpus/sites/<site>/<page>.html.gz with its golden JSON."""
    cases = []
    for gold_path in sorted((corpus / "sites").glob("*/*.json")):
        page = gold_path.with_name(gold_path.stem + ".html.gz")
        if not page.exists():
            continue  # themoscowtimes: notes and feed entries, no page
        gold = json.loads(gold_path.read_text())
        cases.append(Case(f"{gold_path.parent.name}/{gold_path.stem}", gold["url"],
                          _decode(_gunzip(page), "utf-8"), "\n\n".join(gold["paragraphs"]),
                          gold["title"], gold["authors"] or [], gold["published"]))
    return cases


def load_readability(corpus: Path) -> list[Case]:
    """Mozilla Readability's test pages; the byline is split into names by the scoring rule."""
    cases = []
    for gold_path in sorted((corpus / "generic" / "readability").glob("*.json")):
        gold = json.loads(gold_path.read_text())
        raw = _gunzip(gold_path.with_name(gold_path.stem + ".html.gz"))
        cases.append(Case(gold_path.stem, gold.get("url") or FAKE_URL, _decode(raw),
                          gold.get("text") or "", gold.get("title"),
                          split_byline(gold["byline"]) if gold.get("byline") else [],
                          gold.get("published")))
    return cases


def load_metadata(corpus: Path) -> list[Case]:
    """generic/metadata: no body gold; ``first69`` tags the pages of the first build."""
    folder = corpus / "generic" / "metadata"
    with (folder / "MANIFEST.tsv").open(newline="", encoding="utf-8") as f:
        manifest = {row["case"]: row for row in csv.DictReader(f, delimiter="\t")}
    cases = []
    for name, row in sorted(manifest.items()):
        gold = json.loads((folder / f"{name}.json").read_text())
        html = _decode(_gunzip(folder / f"{name}.html.gz"), row["charset"] or "utf-8")
        first = name.startswith(FIRST_BUILD) or (
            name.startswith("htmldate-") and ADMITTED not in row.get("notes", ""))
        cases.append(Case(name, gold.get("url") or FAKE_URL, html, None, gold.get("title"),
                          gold.get("authors") or [], gold.get("published"),
                          {"first69"} if first else set()))
    return cases


def load(corpus: Path, name: str) -> list[Case]:
    """One dev set by name (one of SETS)."""
    return {"sites": load_sites, "readability": load_readability,
            "metadata": load_metadata}[name](corpus)
