"""Archive news articles and every edit to them in SQLite.

    >>> from scraper import extract
    >>> article = extract(html, url="https://example.com/news/1")
    >>> article.to_dict()
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from .models import Article, Page, ScraperError

__all__ = ["Article", "Page", "ScraperError", "extract"]
__version__ = "0.1.0"


class _Package(ModuleType):
    """``scraper.extract`` is the function, imported on first use: the extraction stack
    (trafilatura, lxml) takes a fifth of a second to import, and a crawl whose pages all
    answer 304 never needs it."""

    def __getattr__(self, name: str) -> Any:
        if name == "extract":
            from .extract import extract

            ModuleType.__setattr__(self, "extract", extract)
            return extract
        raise AttributeError(f"module 'scraper' has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        # importing the submodule scraper.extract sets it as the package's attribute: the
        # public name stays the function, as it was when this file imported it eagerly
        if name == "extract" and isinstance(value, ModuleType):
            from .extract import extract

            value = extract
        ModuleType.__setattr__(self, name, value)


sys.modules[__name__].__class__ = _Package
