"""The browse layer: the archive in Datasette, under `scraper serve` or plain `datasette`.

- ``views``: the SQL views ``latest_versions`` and ``changes`` and their word counts
  (``change_stats``); the store creates them, so any SQLite client can read them.
- ``metadata``: a description of every table and column, facets, sorts and search.
- ``queries``: the canned queries, and the check of their parameters.
- ``archives``: which of the served databases are archives.
- ``pages``: the diff page and the archived-HTML page.
- ``atom``: the Atom feeds of changes (``/<archive>/recent_changes.atom``).
- ``plugin``: the Datasette hooks; the ``datasette`` entry point in pyproject.toml names it.
- ``serve``: the ``scraper serve`` command.

Nothing is imported here: the store imports ``views`` without loading Datasette.
"""
