"""Sites declared in the config file: crawled and archived end to end, with no Python written."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from local_site import serve_site
from server import Response, TestServer

from scraper.cli import cli
from scraper.sites import declare


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    declare(())  # each command declares the sites of its own config: none leak to the next
    return result.exit_code, result.stdout, result.stderr


def declared(tmp_path: Path, feed: str, sitemap: str) -> Path:
    config = tmp_path / "scraper.toml"
    config.write_text(f"""
[crawl]
delay = 0

[sites.harbour]
domains = ["127.0.0.1"]
feeds = ["{feed}"]
sitemaps = ["{sitemap}"]
article_path = '^/news/\\d+$'
article_id = '^/news/(\\d+)$'
drop = [".related"]
""")
    return config


def test_a_site_declared_in_the_config_is_crawled_end_to_end(server: TestServer,
                                                              tmp_path: Path) -> None:
    feed, sitemap = serve_site(server, 4)
    config, db = str(declared(tmp_path, feed, sitemap)), str(tmp_path / "archive.db")
    code, out, err = run("sites", "--config", config, "--json")
    harbour = next(s for s in json.loads(out) if s["name"] == "harbour")
    assert harbour["kind"] == "config" and harbour["declared_in"].endswith("[sites.harbour]")
    code, out, _ = run("sites", "--config", config)
    assert any(line.split()[:2] == ["harbour", "config"] for line in out.splitlines())
    code, out, err = run("crawl", "harbour", "--config", config, "--db", db, "--json")
    assert code == 0, err
    assert json.loads(out)["new_version"] == 4
    # its article_id is the identity: history finds /news/2 by another spelling of its URL
    code, out, _ = run("history", server.url("/news/2?utm_source=x"), "--db", db,
                       "--config", config)
    assert code == 0 and "(harbour, state active)" in out


def test_every_command_refuses_a_config_naming_an_unknown_site(tmp_path: Path) -> None:
    config = tmp_path / "scraper.toml"
    config.write_text("[sites.nosuch]\ndelay = 2\n")
    for command in (("sites",), ("history", "https://example.com/x")):
        code, out, err = run(*command, "--config", str(config))
        assert (code, out) == (2, "") and "[sites.nosuch]: unknown site 'nosuch'" in err


def test_a_declared_site_named_like_a_python_adapter_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "scraper.toml"
    config.write_text('[sites.bbc]\ndomains = ["bbc.example"]\n')
    code, out, err = run("sites", "--config", str(config))
    assert (code, out) == (2, "")
    assert err.strip() == (f"scraper: error: {config} [sites.bbc]: 'bbc' is already the Python "
                           "adapter sites/bbc.py; give the declared site another name")


def test_bad_declarations_are_one_line_each(tmp_path: Path) -> None:
    config = tmp_path / "scraper.toml"
    for text, says in (
        ('[sites.x]\ndomains = "x.example"\n', "domains must be a list of strings"),
        ('[sites.x]\ndomains = []\n', "domains must name at least one domain"),
        ('[sites.x]\ndomains = ["x.example"]\ncolour = 1\n', "unknown key 'colour'"),
        ('[sites.x]\ndomains = ["x.example"]\narticle_path = "(unclosed"\n',
         "article_path is not a valid regex"),
        ('[sites.X-Y]\ndomains = ["x.example"]\n', "must be lower-case letters"),
        ('[sites.x]\ndomains = ["www.bbc.co.uk"]\n', "the domain www.bbc.co.uk is already bbc's"),
        ('[sites.nosuch]\ndelay = 2\n', "[sites.nosuch]: unknown site 'nosuch'"),
    ):
        config.write_text(text)
        code, out, err = run("crawl", "--config", str(config), "--db",
                             str(tmp_path / "archive.db"))
        assert (code, out) == (2, ""), text
        assert len(err.strip().splitlines()) == 1 and says in err, err
        assert not (tmp_path / "archive.db").exists()


def test_every_line_a_crawl_logs_starts_with_its_time(server: TestServer, tmp_path: Path) -> None:
    feed, sitemap = serve_site(server, 2)
    config, db = str(declared(tmp_path, feed, sitemap)), str(tmp_path / "archive.db")
    server.route("/sitemap.xml", Response(404, b"gone"))  # a warning: skipping the sitemap
    result = CliRunner().invoke(cli, ["crawl", "harbour", "--config", config, "--db", db, "-v"])
    declare(())
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    assert len(lines) >= 3  # each URL, the summary, the sitemap warning
    for line in lines:
        when, _, rest = line.partition(" ")
        assert datetime.fromisoformat(when).tzinfo is not None, line
        assert rest


def test_sites_add_proposes_a_block_that_crawls_the_site(server: TestServer,
                                                        tmp_path: Path) -> None:
    # a home page announcing its feed, a robots.txt naming a news sitemap and an archive one
    feed, _ = serve_site(server, 4)  # /news/1..4; the feed lists /news/1-2
    news = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + "".join(
                f"<url><loc>{server.url(f'/news/{n}')}</loc><news:news><news:publication_date>"
                "2099-10-10T12:00:00Z</news:publication_date></news:news></url>"
                for n in (3, 4)) + "</urlset>")
    server.route("/news-sitemap.xml", Response(200, news.encode(),
                                               {"Content-Type": "application/xml"}))
    server.route("/robots.txt", Response(200, (
        f"User-agent: *\nAllow: /\nSitemap: {server.url('/news-sitemap.xml')}\n"
        f"Sitemap: {server.url('/sitemap.xml')}\n").encode(), {"Content-Type": "text/plain"}))
    server.route("/", Response.html(
        f'<html><head><link rel="alternate" type="application/rss+xml" href="{feed}">'
        '</head><body><a href="/about">About</a></body></html>'))
    config = tmp_path / "scraper.toml"
    config.write_text("[crawl]\ndelay = 0\n")
    code, out, err = run("sites", "add", server.url("/"), "--name", "harbour", "--config",
                         str(config), "--write")
    assert code == 0, err
    assert out.splitlines() == [
        "[sites.harbour]", 'domains = ["127.0.0.1"]', f'feeds = ["{feed}"]',
        f'news_sitemaps = ["{server.url("/news-sitemap.xml")}"]',
        f'sitemaps = ["{server.url("/sitemap.xml")}"]', "article_path = '^/news/.+'"]
    assert config.read_text().endswith(out)
    code, out, err = run("crawl", "harbour", "--config", str(config), "--db",
                         str(tmp_path / "archive.db"), "--json")
    assert code == 0, err
    assert json.loads(out)["new_version"] == 4


def test_sites_add_refuses_a_name_that_exists(server: TestServer, tmp_path: Path) -> None:
    server.route("/", Response.html("<html><body><p>Home</p></body></html>"))
    code, out, err = run("sites", "add", server.url("/"), "--name", "bbc")
    assert (code, out) == (2, "") and "a site named 'bbc' exists already" in err


def test_the_article_pattern_is_read_from_the_shape_of_article_urls() -> None:
    from scraper.siteprobe import guess_article_path

    dated = [f"https://x.example/{y}/05/1{n}/story-{n}" for n, y in enumerate((2023, 2024, 2024))]
    assert guess_article_path(dated) == r"/(?:19|20)\d\d/\d\d?/"
    ids = [f"https://x.example/world/story-{n}-{n}00123" for n in range(4)]
    assert guess_article_path(ids) == r"^/world/.*\d{5,}"
    assert guess_article_path(["https://x.example/a", "https://x.example/b"]) is None


def test_sites_add_write_to_a_config_it_cannot_write_is_one_line(
        server: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server.route("/", Response.html("<html><body><p>Home</p></body></html>"))
    config = tmp_path / "scraper.toml"
    config.write_text("[crawl]\ndelay = 0\n")

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(30, "Read-only file system")  # root writes anything: so a disk

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    code, out, err = run("sites", "add", server.url("/"), "--name", "harbour", "--write",
                         "--config", str(config))
    assert (code, out) == (2, "")
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"scraper: error: cannot write {config}: Read-only file system")


def test_a_declared_domain_nested_in_another_declared_site_is_one_line_either_way(
        tmp_path: Path) -> None:
    config = tmp_path / "scraper.toml"
    for first, second, clash in (("news.harbour.example", "HARBOUR.example.", "harbour.example"),
                                 ("harbour.example", "x.news.harbour.example",
                                  "x.news.harbour.example")):
        config.write_text(f'[sites.one]\ndomains = ["{first}"]\n\n'
                          f'[sites.two]\ndomains = ["{second}"]\n')
        code, out, err = run("sites", "--config", str(config))
        assert (code, out) == (2, "")
        assert err.strip() == (f"scraper: error: {config} [sites.two]: the domain {clash} is "
                               "already one's; a host belongs to one site")


def test_sites_add_write_refuses_a_block_the_config_would_refuse(server: TestServer,
                                                                 tmp_path: Path) -> None:
    # the home page's domain 127.0.0.1 is the declared site harbour's already
    server.route("/", Response.html("<html><body><p>Home</p></body></html>"))
    config = declared(tmp_path, server.url("/feed.xml"), server.url("/sitemap.xml"))
    before = config.read_bytes()
    code, out, err = run("sites", "add", server.url("/"), "--name", "harbourtwo", "--write",
                         "--config", str(config))
    assert (code, out) == (2, "")
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(
        f"scraper: error: {config} [sites.harbourtwo]: the domain 127.0.0.1 is already "
        "harbour's; a host belongs to one site")
    assert config.read_bytes() == before  # the config still loads: every command still works
    code, _, err = run("sites", "--config", str(config))
    assert code == 0, err


def test_sites_add_write_replaces_the_config_whole(server: TestServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # a write that fails half-way leaves the old file, not a truncated one
    import os

    server.route("/", Response.html("<html><body><p>Home</p></body></html>"))
    config = tmp_path / "scraper.toml"
    config.write_text("[crawl]\ndelay = 0\n")
    config.chmod(0o640)

    def no_rename(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    code, out, err = run("sites", "add", server.url("/"), "--name", "harbour", "--write",
                         "--config", str(config))
    assert (code, out) == (2, "")
    assert err.strip().splitlines()[-1] == (
        f"scraper: error: cannot write {config}: No space left on device")
    assert config.read_text() == "[crawl]\ndelay = 0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scraper.toml"]  # no temp file left
    monkeypatch.undo()
    code, out, err = run("sites", "add", server.url("/"), "--name", "harbour", "--write",
                         "--config", str(config))
    assert code == 0, err
    assert config.read_text() == "[crawl]\ndelay = 0\n\n" + out
    assert config.stat().st_mode & 0o777 == 0o640  # the rename keeps the file's mode
