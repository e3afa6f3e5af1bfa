"""What the archive's tables, columns and canned queries mean, as Datasette metadata.

Every table and column is described: tests/test_browse.py fails on a new column that is
not, and says to add it here.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..models import CrawlStatus, Outcome

# The names a fetch's outcome (fetches.outcome, and a crawl's count columns) can take.
OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)
# The outcomes of a fetch that read the page; every other outcome is a failure.
READ_OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome if o.ok)
# recent_changes?days=N: a century at most (SQLite's dates end at year 9999).
MAX_DAYS = 36500


class BadParameter(sqlite3.OperationalError):
    """A canned query's parameter that makes no sense.

    An sqlite3 error, so that Datasette shows it as it shows any error of a query: on the
    query page (status 400), and as ``"error"`` in its JSON.
    """


def query_parameter(name: str, raw: str | None) -> int:
    """The checked value of a canned query's parameter ``name`` (only ``days`` so far)."""
    if name != "days":
        raise KeyError(name)
    raw = (raw or "").strip()
    if not raw:
        return 7
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_DAYS:
        return int(raw)
    raise BadParameter(f"days must be a whole number from 1 to {MAX_DAYS}, not {raw[:20]!r}")

UTC = " (ISO 8601, UTC)"
_VERSION_COLUMNS = {
    "id": "Version id (links to the archived HTML and the FTS index).",
    "article_id": "The article (articles.id).",
    "version": "1 for the first version seen, then 2, 3, ... Links to the diff page.",
    "fetched_at": "When this version was first fetched" + UTC,
    "content_hash": "sha256 of the normalised title, authors and body: a new version is "
                    "stored only when it changes.",
    "title": "The headline.",
    "authors": "The byline, as a JSON list of names.",
    "published": "The publication time the page states.",
    "modified": "The update time the page states.",
    "description": "The page's summary (standfirst or og:description).",
    "language": "The page's language code.",
    "image": "The lead image URL.",
    "tags": "Keywords or sections, as a JSON list.",
    "text": "The article body as plain text, paragraphs separated by blank lines.",
    "word_count": "Words in the body.",
    "url": "The URL that was requested.",
    "final_url": "The URL after redirects.",
    "html_zlib": "The fetched page's HTML as UTF-8, zlib-compressed, for versions stored before "
                 "schema 7: shown as a link to it as plain text.",
    "html_raw": "The fetched page's bytes as received (after any Content-Encoding), compressed "
                "with html_codec: shown as a link to it as plain text.",
    "html_codec": "How html_raw and http_exchange are compressed: zstd.",
    "http_exchange": "The request and response heads (method, status, headers as sent and "
                     "received), JSON compressed with html_codec: for WARC export.",
    "extractor": "What extracted it: the scraper's and trafilatura's versions and a hash of "
                 "the extraction code and the site's definition (`scraper reextract` re-runs "
                 "a version whose extractor is not the current one).",
    "folded": "1 for a false edit: `scraper reextract` found its content equal to the version "
              "before it. Kept with its page, but no version in history, diffs and views.",
}
_ARTICLE_COLUMNS = {
    "id": "Article id.",
    "site": "The site adapter that reads its pages (see `scraper sites`).",
    "url": "The first URL the article was seen at.",
    "canonical_url": "The page's canonical URL, when it is on the same site.",
    "article_key": "The article's identity: the site's stable id, or the normalised canonical "
                   "URL.",
    "first_seen": "When the article was first archived" + UTC,
    "last_checked": "When the article was last fetched" + UTC,
    "last_changed": "When its latest version was stored" + UTC,
    "etag": "The last ETag, sent back as If-None-Match.",
    "last_modified": "The last Last-Modified header, sent back as If-Modified-Since.",
    "state": "active, or gone (the page answered 404 or 410).",
    "next_check": "When the crawl checks it next" + UTC,
    "check_count": "How many times it has been checked.",
    "raw_hash": "sha256 of the last fetched body: the same bytes again skip extraction.",
}
_CRAWL_COLUMNS = {
    "id": "Crawl id.",
    "started_at": "When the crawl started" + UTC,
    "finished_at": "When it ended" + UTC + "; empty while it runs or if it died.",
    "sites": "The sites crawled, as a JSON list.",
    "status": ", ".join(s.value for s in CrawlStatus) + ": running while it runs (or if it was"
              " killed: the next crawl marks it interrupted), timed_out when --max-time"
              " stopped it, interrupted when stopped by Ctrl-C or killed, failed on an"
              " unexpected error.",
    "discovered": "New article URLs found in feeds and sitemaps.",
    "discovery_failed": "Sites none of whose feeds and sitemaps could be read, each site once"
                        " a run (the run exits 1; `scraper stats` says so).",
    "checked": "Pages fetched.",
    **{outcome: f"Fetches whose outcome was {outcome}." for outcome in OUTCOMES},
    "skipped": "Queued pages left unfetched when the crawl stopped.",
}
_FETCH_COLUMNS = {
    "id": "Fetch id.",
    "url": "The URL fetched.",
    "started_at": "When the fetch started" + UTC,
    "elapsed_ms": "How long it took, retries included, in milliseconds.",
    "status": "The last HTTP status, if any.",
    "outcome": ", ".join(OUTCOMES[:-1]) + " or " + OUTCOMES[-1] + ".",
    "error": "What went wrong, for a failed fetch.",
    "attempts": "HTTP attempts made (retries included).",
    "final_url": "The URL after redirects.",
    "article_id": "The article, when the page was one already archived or newly stored.",
    "version": "The version stored or found unchanged.",
}
_CHANGE_COLUMNS = {
    "id": "The new version's id (versions.id).",
    "article_id": _VERSION_COLUMNS["article_id"],
    "site": _ARTICLE_COLUMNS["site"],
    "version": "The new version's number.",
    "previous_version": "The version before it.",
    "fetched_at": "When the new version was first fetched" + UTC,
    "previous_fetched_at": "When the previous version was first fetched" + UTC,
    "title": "The new headline.",
    "previous_title": "The headline before.",
    "words_added": "Words added to the body (a word-level diff, computed when stored).",
    "words_removed": "Words removed from the body.",
    "title_changed": "1 if the headline changed.",
    "authors_changed": "1 if the byline changed.",
    "body_changed": "1 if the body text changed.",
    "dates_changed": "1 if the stated publication or update time changed.",
    "changed": "The fields that changed (title, authors, body, dates), as a JSON list.",
    "diff_url": "The diff page of this change.",
}
_LATEST_COLUMNS = {
    **_VERSION_COLUMNS,
    "id": "The latest version's id (versions.id).",
    "site": _ARTICLE_COLUMNS["site"],
    "state": _ARTICLE_COLUMNS["state"],
    "version": "The latest version's number: how many versions the article has.",
    "fetched_at": "When the latest version was first fetched" + UTC,
    "first_seen": _ARTICLE_COLUMNS["first_seen"],
    "last_checked": _ARTICLE_COLUMNS["last_checked"],
    "diff_url": "The article's diff page: its versions and the latest change.",
}
for _column in ("html_zlib", "html_raw", "html_codec", "http_exchange", "extractor", "folded"):
    del _LATEST_COLUMNS[_column]
_DAY_AGO = "strftime('%Y-%m-%dT%H:%M:%S', 'now', '-1 day')"
_READ = "(" + ", ".join(f"'{outcome}'" for outcome in READ_OUTCOMES) + ")"

# an article's versions, folded false edits left out (version numbers may skip them)
_COUNT = ("(SELECT count(*) FROM versions c WHERE c.article_id = {0}.article_id"
          " AND NOT c.folded)")
QUERIES: dict[str, dict[str, Any]] = {
    "recent_changes": {
        "title": "Recent changes",
        "description": "Changes to archived articles (each version after the first) stored in "
                       f"the last N days (default 7, at most {MAX_DAYS}), newest first; an "
                       "article archived for the first time is not a change.",
        "params": ["days"],  # the form's field; the SQL reads it checked, as :_scraper_days
        "sql": "SELECT fetched_at, site, title, previous_title, words_added, words_removed,"
               " changed, diff_url, article_id, version FROM changes WHERE fetched_at >="
               " strftime('%Y-%m-%dT%H:%M:%S', 'now', '-' || :_scraper_days || ' days')"
               " ORDER BY fetched_at DESC",
    },
    "most_edited": {
        "title": "Most-edited articles",
        "description": "Articles with more than one version, most versions first.",
        "sql": "SELECT article_id, site, title, " + _COUNT.format("l") + " AS version_count,"
               " fetched_at AS last_changed, first_seen, diff_url FROM latest_versions l"
               " WHERE version_count > 1 ORDER BY version_count DESC, fetched_at DESC"
               " LIMIT 100",
    },
    "articles_gone": {
        "title": "Articles gone",
        "description": "Articles whose page now answers 404 or 410, most recently checked first.",
        "sql": "SELECT a.id AS article_id, a.site, l.title, a.url, a.first_seen, a.last_checked,"
               " " + _COUNT.format("l") + " AS version_count, l.diff_url FROM articles a"
               " LEFT JOIN latest_versions l ON l.article_id = a.id"
               " WHERE a.state = 'gone' ORDER BY a.last_checked DESC",
    },
    "fetch_failures": {
        "title": "Fetch failures in the last day",
        "description": "Failed fetches of the last 24 hours by site (or host, for a page never "
                       "archived) and outcome, with the latest error of each group.",
        # SQLite takes bare columns next to max() from the row holding the maximum.
        "sql": "WITH failed AS (SELECT f.*, a.site AS site_name,"
               " substr(f.url, instr(f.url, '//') + 2) AS rest FROM fetches f"
               " LEFT JOIN articles a ON a.id = f.article_id"
               f" WHERE f.outcome NOT IN {_READ} AND f.started_at >= {_DAY_AGO})"
               " SELECT coalesce(site_name, substr(rest, 1, instr(rest || '/', '/') - 1))"
               " AS site, outcome, count(*) AS failures, max(started_at) AS last_failure,"
               " status AS last_status, error AS last_error, url AS last_url FROM failed"
               " GROUP BY 1, 2 ORDER BY failures DESC, site, outcome",
    },
    "title_changes": {
        "title": "Headline changes",
        "description": "Every version whose headline differs from the one before, newest "
                       "first.",
        "sql": "SELECT fetched_at, site, previous_title, title, article_id, previous_version,"
               " version, diff_url FROM changes WHERE title_changed ORDER BY fetched_at DESC",
    },
}
_FTS = {"fts_table": "versions_fts", "fts_pk": "id",
        # "escaped" keeps "quoted phrases" and never fails on punctuation (U.S., Xi-Putin);
        # _searchmode=raw in the URL gives FTS5 operators (OR, NEAR, prefix*).
        "searchmode": "escaped"}
DATABASE_METADATA: dict[str, Any] = {
    "title": "News archive",
    "description": "Every version of every archived news article. Start with the canned "
                   "queries, the changes view, or a search of versions.",
    "tables": {
        "articles": {
            "description": "One row per article: where it was first seen, its identity, "
                           "when it was checked, and whether it is gone.",
            "columns": _ARTICLE_COLUMNS, "facets": ["site", "state"],
            "sort_desc": "first_seen", "label_column": "article_key",
        },
        "versions": {
            "description": "A row each time an article's title, authors or body changed "
                           "(A→B→A keeps three). Full-text search covers title and text.",
            "columns": _VERSION_COLUMNS, **_FTS,
            "facets": [{"array": "authors"}, {"date": "fetched_at"}],
            "sort_desc": "fetched_at",
        },
        "fetches": {
            "description": "Every fetch attempt, failures included, so cron trouble is "
                           "queryable.",
            "columns": _FETCH_COLUMNS, "facets": ["outcome", "status", {"date": "started_at"}],
            "sort_desc": "started_at",
        },
        "crawls": {
            "description": "One row per `scraper crawl` run: when, which sites, how it ended "
                           "and its counts by outcome.",
            "columns": _CRAWL_COLUMNS, "facets": ["status"], "sort_desc": "started_at",
        },
        "versions_fts": {
            "description": "The full-text index over versions.title and versions.text.",
            "columns": {"title": _VERSION_COLUMNS["title"], "text": _VERSION_COLUMNS["text"]},
        },
        "tombstones": {
            "description": "What `scraper forget` removed (a takedown): a hash per identity "
                           "of each forgotten article, never its URL, so that no crawl or "
                           "archive stores it again.",
            "columns": {"key_hash": "sha256 of a normalised URL or article key of it.",
                        "forgotten_at": "When it was forgotten" + UTC,
                        "reason": "The reason given to `scraper forget --reason`, if any."},
            "sort_desc": "forgotten_at",
        },
        "feed_validators": {
            "description": "Each feed's and sitemap's validators from its last fetch, so the "
                           "next crawl asks with a conditional GET.",
            "columns": {"url": "The feed or sitemap URL.",
                        "etag": "Its ETag header, if it sent one.",
                        "last_modified": "Its Last-Modified header, if it sent one.",
                        "checked_at": "When it was last fetched" + UTC},
            "hidden": True,
        },
        "change_stats": {
            "description": "Words added and removed by each version after the first, "
                           "computed once when stored; read it through the changes view.",
            "columns": {"version_id": "The version (versions.id).",
                        "words_added": _CHANGE_COLUMNS["words_added"],
                        "words_removed": _CHANGE_COLUMNS["words_removed"]},
            "hidden": True,
        },
        "latest_versions": {
            "description": "One row per article: its current version, without the raw HTML.",
            "columns": _LATEST_COLUMNS, **_FTS,
            "facets": ["site", {"array": "authors"}, {"date": "fetched_at"}],
            "sort_desc": "fetched_at",
        },
        "changes": {
            "description": "Each version after the first, beside the one before it: what "
                           "changed and how many words. diff_url opens the diff page.",
            "columns": _CHANGE_COLUMNS,
            "facets": ["site", {"array": "changed"}, {"date": "fetched_at"}],
            "sort_desc": "fetched_at",
        },
    },
    "queries": QUERIES,
}
INSTANCE_METADATA = {
    "title": DATABASE_METADATA["title"],
    "description": "Every version of archived news articles: search them, see what changed "
                   "and when, and read word-level diffs.",
}
