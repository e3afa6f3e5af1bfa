"""Archive news articles and every edit to them in SQLite.

    >>> from scraper import extract
    >>> article = extract(html, url="https://example.com/news/1")
    >>> article.to_dict()
"""

from __future__ import annotations

from .extract import extract
from .models import Article, Page, ScraperError

__all__ = ["Article", "Page", "ScraperError", "extract"]
__version__ = "0.1.0"
