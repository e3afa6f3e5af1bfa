"""Open brand-new archives at the same instant as other processes: the migration race.

    python tests/store_child.py START STEP DB...

tests/test_concurrency.py starts several of these at once. For the i-th DB this process
sleeps until the wall-clock time START + i * STEP, opens the file with ``Archive`` (which
migrates it), records one fetch and closes it. It prints one JSON line per DB,
``{"db": PATH, "error": null}`` or the error's text.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scraper.models import ScraperError  # noqa: E402
from scraper.store import Archive, utc_now  # noqa: E402


def main() -> None:
    start, step, paths = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
    for i, path in enumerate(paths):
        time.sleep(max(0.0, start + i * step - time.time()))
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
