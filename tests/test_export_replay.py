"""An exported WACZ opened in ReplayWeb.page, in headless Chromium, shows the archived page.

ReplayWeb.page's ui.js and sw.js come from its npm package, which `.ci/run` unpacks into
tests/artifacts/replaywebpage/; the WACZ, the two scripts and a page embedding
<replay-web-page> are served from 127.0.0.1. A script on that page looks through the replay
frames for the article's <h1> and posts what it finds back to the server: the test waits
for that post (a failsafe, not a sleep, bounds the wait). Skipped without Chromium or the
package, saying how to get them.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from export_archive import archived_versions, build, cli_run
from server import TestServer

pytestmark = pytest.mark.slow  # a real Chromium: -m "not slow" skips it

PACKAGE = Path(__file__).parent / "artifacts" / "replaywebpage"
CHROMIUM = "/usr/bin/chromium"
FAILSAFE = 120.0  # seconds; the replay takes two or three

# The page that embeds the replay. The script walks shadow roots and same-origin frames
# for <h1> elements and posts [frame URL, text] pairs once it finds the replayed one.
EMBED = """<!doctype html><html><head><script src="/ui.js"></script></head><body>
<replay-web-page source="/archive.wacz" url="$URL" embed="replayonly" replayBase="/replay/">
</replay-web-page>
<script>
function headings(root, found) {
  const href = root.location ? root.location.href : "";
  for (const h of root.querySelectorAll("h1")) found.push([href, h.textContent.trim()]);
  for (const el of root.querySelectorAll("*")) {
    if (el.shadowRoot) headings(el.shadowRoot, found);
    if (el.tagName === "IFRAME") {
      let doc = null;
      try { doc = el.contentDocument; } catch (e) {}
      if (doc) headings(doc, found);
    }
  }
  return found;
}
const timer = setInterval(() => {
  const found = headings(document, []).filter(([href]) => href.includes("mp_/"));
  if (found.length) {
    clearInterval(timer);
    fetch("/result", {method: "POST", body: JSON.stringify(found)});
  }
}, 200);
</script></body></html>"""


def replay_server(wacz: Path, url: str, results: queue.Queue[Any],
                  seen: list[str]) -> ThreadingHTTPServer:
    """Serves the embedding page, ReplayWeb.page's scripts and the WACZ (with ranges);
    appends each request's line to ``seen`` (for a failure's message)."""
    # /replay/ is the app's own page: its service worker serves it once in control, and
    # a frame that loads before then gets it from here instead of a 404
    files = {"/ui.js": PACKAGE / "ui.js", "/replay/ui.js": PACKAGE / "ui.js",
             "/replay/sw.js": PACKAGE / "sw.js", "/replay/": PACKAGE / "index.html",
             "/replay/index.html": PACKAGE / "index.html", "/archive.wacz": wacz}

    class Handler(BaseHTTPRequestHandler):
        def _body(self) -> tuple[int, bytes, str] | None:
            path = self.path.split("?")[0]
            if path == "/":
                return 200, EMBED.replace("$URL", url).encode(), "text/html; charset=utf-8"
            if path not in files:
                return None
            kind = {".wacz": "application/wacz", ".js": "application/javascript"}.get(
                Path(path).suffix, "text/html; charset=utf-8")
            return 200, files[path].read_bytes(), kind

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, head: bool) -> None:
            seen.append(f"{self.command} {self.path} {self.headers.get('Range', '')}")
            found = self._body()
            if found is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, body, kind = found
            size = len(body)
            wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
            extra = {}
            if wanted:  # ReplayWeb.page reads a WACZ by ranges: its end, then each record
                first, last = wanted.groups()
                start = int(first) if first else size - int(last)
                end = int(last) if first and last else size - 1
                body, status = body[start:end + 1], 206
                extra["Content-Range"] = f"bytes {start}-{end}/{size}"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            results.put(json.loads(data))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def chromium_path() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does)")
    if not all((PACKAGE / name).exists() for name in ("ui.js", "sw.js", "index.html")):
        pytest.skip(f"ReplayWeb.page is not in {PACKAGE} (.ci/run unpacks its npm package)")
    return found


@pytest.fixture
def wacz(tmp_path: Path) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
    db = tmp_path / "archive.db"
    with TestServer() as server:
        build(server, db)
    out = tmp_path / "archive.wacz"
    code, _, err = cli_run("export", "--db", str(db), "-o", str(out))
    assert (code, err) == (0, ""), err
    yield out, archived_versions(db)


def test_replaywebpage_shows_the_archived_headline(
        chromium_path: str, wacz: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    path, versions = wacz
    latest = [v for v in versions if v["article_id"] == 1][-1]  # the edited article
    results: queue.Queue[Any] = queue.Queue()
    seen: list[str] = []
    server = replay_server(path, latest["final_url"], results, seen)
    log = tmp_path / "chromium.log"
    page = f"http://127.0.0.1:{server.server_address[1]}/"
    with open(log, "wb") as errors:  # the browser keeps its own descriptor
        browser = subprocess.Popen(
            [chromium_path, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0",
             f"--user-data-dir={tmp_path / 'profile'}", page],
            stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
    try:
        found = results.get(timeout=FAILSAFE)
    except queue.Empty:
        console = [line for line in log.read_text(errors="replace").splitlines()
                   if "CONSOLE" in line or "ERROR" in line and "dbus" not in line]
        pytest.fail(f"ReplayWeb.page showed no replayed <h1> within {FAILSAFE:g} s; "
                    f"requests: {seen}; browser: {console[-15:]}")
    finally:
        os.killpg(browser.pid, signal.SIGKILL)  # the browser and its helper processes
        browser.wait()
        server.shutdown()
        server.server_close()
    # the replay frame is the archived URL at the capture's time, and shows its headline
    assert any(latest["final_url"] in href and text == latest["title"] for href, text in found), \
        found
