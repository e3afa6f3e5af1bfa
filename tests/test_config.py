from datetime import timedelta
from pathlib import Path

import pytest

from scraper.config import Config, load_config, parse_config
from scraper.models import UsageError


def test_no_file_gives_safe_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert config == Config()
    assert config.for_site("bbc").delay == 1.0 and config.for_site("bbc").concurrency == 1


def test_site_overrides_inherit_crawl_defaults(tmp_path: Path) -> None:
    path = tmp_path / "scraper.toml"
    path.write_text("""
[crawl]
sites = ["themoscowtimes", "bbc"]
delay = 2.0
max_age = "3d"
schedule = [["1h", "5m"], ["1d", "2h"]]

[sites.bbc]
concurrency = 2
user_agent = "my-archive/1.0"
""")
    config = load_config(path)
    assert config.sites == ("themoscowtimes", "bbc")
    bbc = config.for_site("bbc")
    assert (bbc.delay, bbc.concurrency, bbc.user_agent) == (2.0, 2, "my-archive/1.0")
    assert bbc.max_age == timedelta(days=3)
    assert config.for_site("themoscowtimes").schedule[0] == (timedelta(hours=1),
                                                             timedelta(minutes=5))


@pytest.mark.parametrize("data, message", [
    ({"crawl": {"dealy": 1}}, "unknown key 'dealy'"),
    ({"crawls": {}}, "unknown key 'crawls'"),
    ({"sites": {"bbc": {"speed": 3}}}, "unknown key 'speed'"),
    ({"crawl": {"delay": -1}}, "delay = -1 is out of range"),
    ({"crawl": {"concurrency": 0}}, "concurrency = 0 is out of range"),
    ({"crawl": {"concurrency": 1.5}}, "concurrency must be an integer"),
    ({"crawl": {"delay": "fast"}}, "delay must be a number"),
    ({"crawl": {"max_checks": 10**12}}, "out of range"),
    ({"crawl": {"max_age": "soon"}}, "not a duration"),
    ({"crawl": {"schedule": [["1d", "1h"], ["1h", "5m"]]}}, "must increase"),
    ({"crawl": {"sites": "bbc"}}, "must be a list"),
    ({"sites": {"bbc": 3}}, "must be a table"),
])
def test_bad_config_is_refused_with_the_key_named(data: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_config(data)


def test_malformed_toml_is_one_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "scraper.toml"
    path.write_text("[crawl\ndelay = ")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_config(path)


def test_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read config"):
        load_config(tmp_path / "nope.toml")
