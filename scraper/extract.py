"""Placeholder: being written."""
from __future__ import annotations

from .models import Article


def extract(html: str, url: str, site=None) -> Article:  # pragma: no cover
    raise NotImplementedError
