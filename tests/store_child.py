"""Open brand-new archives at the same instant as other processes: the migration race.

    python tests/store_child.py DB...

tests/test_concurrency.py starts several of these at once. Each prints ``{"ready": true}``
once it has imported the scraper; then for each DB it waits for a line on stdin (the test
sends one to every process together), opens the file with ``Archive`` (which migrates it),
records one fetch and closes it, and prints ``{"db": PATH, "error": null}`` or the error's text.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scraper.models import ScraperError  # noqa: E402
from scraper.store import Archive, utc_now  # noqa: E402


def main() -> None:
    print(json.dumps({"ready": True}), flush=True)
    for path in sys.argv[1:]:
        sys.stdin.readline()  # "go"
        error = None
        try:
            with Archive(path) as archive:
                archive.record_fetch(f"http://127.0.0.1/{os.getpid()}", started_at=utc_now(),
                                     elapsed_ms=0, status=200, outcome="unchanged")
        except ScraperError as err:
            error = str(err)
        print(json.dumps({"db": path, "error": error}), flush=True)


if __name__ == "__main__":
    main()
