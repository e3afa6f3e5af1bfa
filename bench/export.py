"""`scraper export` memory and speed: does peak RSS stay flat as the archive grows?

    python bench/export.py [--small 1000] [--large 10000] [--formats jsonl,csv,warc,wacz]

Builds two archives of real pages (the 14 pages of ``corpus/sites/``, read at run time,
cycled; two versions per article, each with its page bytes and HTTP heads stored as
`scraper archive` stores them), then runs the real command (`python -m scraper export --db
... --format F -o FILE`) once per archive and format, each in its own process. Peak RSS is
that process's ``ru_maxrss`` from ``wait4``, so nothing else on the machine is counted.
Reported per format: peak RSS at each size, their ratio (issue 12's target: at most 1.2),
wall time, versions per second and the output's size.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scraper.store import Archive, codec

FORMATS = ("jsonl", "csv", "warc", "wacz")


def corpus_pages(corpus: Path) -> list[tuple[bytes, str, str]]:
    """(page bytes, title, text) of each adapter page in the corpus."""
    pages = []
    for gold in sorted((corpus / "sites").glob("*/*.json")):
        html = gold.with_suffix(".html.gz")
        if html.exists():
            meta = json.loads(gold.read_text())
            pages.append((gzip.decompress(html.read_bytes()), meta.get("title") or "",
                          "\n\n".join(meta.get("paragraphs") or []) or "text"))
    if not pages:
        sys.exit(f"bench/export.py: no pages under {corpus}/sites (see --corpus)")
    return pages


def build(path: Path, versions: int, pages: list[tuple[bytes, str, str]]) -> None:
    """An archive of ``versions`` versions, two per article, rows as the pipeline writes them."""
    with Archive(path) as archive:
        conn = archive.db.conn
        conn.execute("BEGIN")
        for article in range(versions // 2):
            url = f"https://news.example/story/{article}"
            conn.execute("INSERT INTO articles (id, site, url, article_key, first_seen, state)"
                         " VALUES (?, 'generic', ?, ?, '2024-05-01T08:00:00+00:00', 'active')",
                         [article + 1, url, url])
            for number in (1, 2):
                raw, title, text = pages[(article + number) % len(pages)]
                text = f"{text}\n\nVersion {number}."
                http = {"request": {"method": "GET", "url": url,
                                    "headers": [["Host", "news.example"]]},
                        "response": {"http_version": "HTTP/1.1", "status": 200, "reason": "OK",
                                     "headers": [["Content-Type", "text/html; charset=utf-8"],
                                                 ["Content-Length", str(len(raw))]]}}
                conn.execute(
                    "INSERT INTO versions (article_id, version, fetched_at, content_hash, title,"
                    " authors, text, word_count, url, final_url, html_raw, html_codec,"
                    " http_exchange) VALUES (?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?, 'zstd', ?)",
                    [article + 1, number, f"2024-05-0{number}T08:00:00+00:00",
                     f"{article}-{number}", title, text, len(text.split()), url, url,
                     codec.compress(raw), codec.pack_json(http)])
        conn.execute("COMMIT")


def run_export(db: Path, fmt: str, out: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one `scraper export` process."""
    start = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "scraper", "export", "--db", str(db),
                              "--format", fmt, "-o", str(out)])
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        sys.exit(f"bench/export.py: scraper export --format {fmt} exited {child.returncode}")
    return time.monotonic() - start, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--corpus", type=Path,
                        default=Path(os.environ.get("SCRAPER_CORPUS", "../shared/corpus")))
    args = parser.parse_args()
    pages = corpus_pages(args.corpus)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        dbs = {}
        for n in (args.small, args.large):
            dbs[n] = folder / f"archive-{n}.db"
            build(dbs[n], n, pages)
        print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}; archives of "
              f"{args.small:,} and {args.large:,} versions ({dbs[args.large].stat().st_size >> 20}"
              f" MB), {len(pages)} corpus pages cycled\n")
        print("| format | versions | seconds | versions/s | peak RSS (MB) | output (MB) |"
              " RSS ratio large/small |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for fmt in args.formats.split(","):
            peaks = {}
            for n in (args.small, args.large):
                out = folder / f"out-{n}.{fmt}"
                seconds, peak = run_export(dbs[n], fmt, out)
                peaks[n] = peak
                ratio = f"{peaks[args.large] / peaks[args.small]:.2f}" if n == args.large else ""
                print(f"| {fmt} | {n:,} | {seconds:.1f} | {n / seconds:,.0f} | {peak / 1024:.0f} "
                      f"| {out.stat().st_size / 2**20:.0f} | {ratio} |", flush=True)
                out.unlink()


if __name__ == "__main__":
    main()
