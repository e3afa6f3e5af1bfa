"""The extractors the benchmark compares, each as ``fn(case) -> Result``, with no network.

``ours`` is ``scraper.extract`` from whatever ``scraper`` the running interpreter imports (the
venv's editable install), so the same script measures any worktree's code.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from cases import Case


@dataclass
class Result:
    """What one extractor returned for one page; ``refused`` holds the reason, else None."""

    text: str = ""
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    refused: str | None = None


Extractor = Callable[[Case], Result]
BLOCKED: list[str] = []  # every outside connection an extractor tried (and was refused)


def _loopback(host: Any) -> bool:
    try:
        return ipaddress.ip_address(str(host).strip("[]")).is_loopback
    except ValueError:
        return str(host) == "localhost"


def forbid_network() -> None:
    """Make any non-loopback DNS look-up or connection in this process fail (and record it)."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            BLOCKED.append(str(host))
            raise OSError(f"benchmark: network access to {host} refused")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and not _loopback(address[0]):
            BLOCKED.append(str(address[0]))
            raise OSError(f"benchmark: network access to {address[0]} refused")
        real_connect(self, address)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = connect  # type: ignore[method-assign]


def ours() -> Extractor:
    """Our ``extract``; an ExtractError is a refusal with its message as the reason."""
    from scraper import extract
    from scraper.models import ExtractError

    def run(case: Case) -> Result:
        try:
            art = extract(case.html, url=case.url)
        except ExtractError as exc:
            return Result(refused=f"{type(exc).__name__}: {exc}")
        return Result(art.text, art.title, list(art.authors), art.published)
    return run


def trafilatura_plain() -> Extractor:
    """``trafilatura.bare_extraction(with_metadata=True)`` with its defaults."""
    import trafilatura

    def run(case: Case) -> Result:
        try:
            doc = trafilatura.bare_extraction(case.html, url=case.url, with_metadata=True)
        except Exception as exc:  # noqa: BLE001 - a peer's crash is a refusal, not ours
            return Result(refused=f"{type(exc).__name__}: {exc}")
        if doc is None:
            return Result(refused="no result")
        authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
        return Result(doc.text or "", doc.title, authors, doc.date,
                      None if doc.text else "no text")
    return run


def newspaper4k() -> Extractor:
    """newspaper4k's ``Article(url).download(input_html=html).parse()``.

    ``fetch_images=False``: with it on, ``parse`` downloads images to measure them. No
    ``nlp()`` (it needs nltk data from the internet); meta refresh is not followed (default).
    """
    with warnings.catch_warnings():  # "nltk is not installed": only nlp() needs it
        warnings.simplefilter("ignore")
        from newspaper import Article
    try:  # its Chinese tokenizer logs the building of its dictionary on stderr
        import jieba

        jieba.setLogLevel(logging.WARNING)
    except ImportError:
        pass
    # dateutil on "EDT", "CET": newspaper4k then keeps the time without its zone; said once here
    warnings.filterwarnings("ignore", message="tzname .* identified but not understood")

    def run(case: Case) -> Result:
        try:
            art = Article(case.url, fetch_images=False).download(input_html=case.html).parse()
        except Exception as exc:  # noqa: BLE001 - a peer's crash is a refusal, not ours
            return Result(refused=f"{type(exc).__name__}: {exc}")
        date = art.publish_date.isoformat() if art.publish_date else None
        return Result(art.text or "", art.title or None, list(art.authors or []), date,
                      None if art.text else "no text")
    return run
