"""Every domain without an adapter of its own: trafilatura, JSON-LD and meta tags only."""

from __future__ import annotations

from scraper.sites import Site


class Generic(Site):
    name = "generic"
