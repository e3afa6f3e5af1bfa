"""Metadata of an article page: headline, authors, dates, tags, and the rest.

One module per field family, pure functions over a selectolax tree or strings:

- ``jsonld``: schema.org article objects (``jsonld_articles``, ``first_str``);
- ``head``: the candidates of the page head (``head_metadata``, ``meta_tags``);
- ``authors``, ``dates``, ``tags``: cleaning and normalising each field.
"""

from __future__ import annotations

from .authors import clean_authors
from .dates import normalize_date
from .head import head_metadata, meta_tags
from .jsonld import ARTICLE_TYPES, first_str, jsonld_articles
from .tags import clean_tags, tag_list

__all__ = ["ARTICLE_TYPES", "clean_authors", "clean_tags", "first_str", "head_metadata",
           "jsonld_articles", "meta_tags", "normalize_date", "tag_list"]
