"""The diff page in a real browser: headless Chromium against the plugin served by uvicorn.

Skipped when Chromium is not installed (`.ci/run` installs Debian's `chromium`). Saves a
phone-sized screenshot to tests/artifacts/diff-page.png.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from scraper.browse.serve import build_datasette, prepare_archive
from scraper.models import Article, Page
from scraper.store import Archive

pytestmark = pytest.mark.slow  # a real Chromium: -m "not slow" skips it

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
URL = "https://example.com/world/summit-ends-a7"
V1 = ("Leaders met in Geneva on Monday for talks on the grain corridor.\n\n"
      "The summit ended without a joint statement, officials said.")
V2 = ("Leaders met in Geneva on Monday for two days of talks on the grain corridor.\n\n"
      "The summit ended with a short joint statement on shipping, officials said.\n\n"
      "A further round is planned for June.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a served archive holding one article with two versions."""
    path = tmp_path_factory.mktemp("browser") / "archive.db"
    with Archive(path) as archive:
        for when, text, title, authors in [
                ("2024-05-01T08:00:00+00:00", V1, "Summit ends without deal", ("Ann Lee",)),
                ("2024-05-01T11:30:00+00:00", V2, "Summit ends with statement",
                 ("Ann Lee", "Bo Chen"))]:
            article = Article(url=URL, text=text, title=title, authors=authors, site="example")
            archive.save(article, Page(url=URL, final_url=URL, status=200, html="<p>x</p>"),
                         site_name="example", key="example:a7", fetched_at=when)
    prepare_archive(path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_datasette(path).app(), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 20 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does)")
    profile = tmp_path / f"profile-{time.monotonic_ns()}"  # a fresh profile per run
    command = [shutil.which("chromium") or CHROMIUM, "--headless", "--no-sandbox",
               "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-quic",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, f"chromium failed ({result.returncode}): {result.stderr[-2000:]}"
    return result


def test_diff_page_renders_marked_changes_on_a_phone(served: str, tmp_path: Path) -> None:
    url = f"{served}/-/diff/1?from=1&to=2"
    dom = chromium(tmp_path, "--window-size=390,844", "--dump-dom", url).stdout
    inserted = re.findall(r"<ins>(.*?)</ins>", dom)
    deleted = re.findall(r"<del>(.*?)</del>", dom)
    # body: "for [two days of] talks", "ended [-without-]{with} a {short} joint ..."
    assert {"two days of", "with", "short", "statement on shipping,",
            "A further round is planned for June."} <= set(inserted)
    assert {"without", "statement,"} <= set(deleted)
    # the headline: both words replaced, "[-without deal-]{+with statement+}"
    assert "without deal" in deleted and "with statement" in inserted
    assert "<dt>authors</dt>" in dom and "Ann Lee, Bo Chen" in inserted

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "diff-page.png"
    shot.unlink(missing_ok=True)
    chromium(tmp_path, "--window-size=390,844", "--hide-scrollbars", f"--screenshot={shot}", url)
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
