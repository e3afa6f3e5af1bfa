"""The corpus scoring rules (bench/scoring.py) and the extraction benchmark's bookkeeping."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))  # bench/ is scripts, not a package

import cases  # noqa: E402
import extraction  # noqa: E402
import scoring  # noqa: E402
from peers import Result  # noqa: E402

CORPUS = Path(os.environ.get("SCRAPER_CORPUS") or BENCH.parents[1] / "shared" / "corpus")


def test_title_is_compared_after_nfc_and_whitespace_normalisation() -> None:
    assert scoring.title_ok("Cafe\u0301  au\u00a0lait ", "Café au lait")
    assert not scoring.title_ok("Café au lait", "Café au lait | Site")
    assert not scoring.title_ok("Café", None)


def test_authors_are_a_case_insensitive_set_and_an_extra_name_is_a_miss() -> None:
    assert scoring.authors_ok(["Jane  Doe", "AP"], ["ap", "jane doe"])
    assert not scoring.authors_ok(["Jane Doe"], ["Jane Doe", "Staff"])
    assert scoring.split_byline("By Jane Doe and John Roe, Ann Poe") == [
        "Jane Doe", "John Roe", "Ann Poe"]


def test_published_minute_is_compared_in_utc_and_a_bare_day_never_matches() -> None:
    assert scoring.published_ok("2024-02-09T12:00:35.000Z", "2024-02-09T13:00:59+01:00")
    assert not scoring.published_ok("2024-02-09T12:00Z", "2024-02-09T12:01Z")
    assert not scoring.published_ok("2024-02-09", "2024-02-09")
    # no offset: wall-clock time
    assert scoring.published_ok("2023-02-21T21:20", "2023-02-21T21:20:00")
    assert scoring.has_time("2023-02-21T21:20") and not scoring.has_time("2023-02-21")


def test_published_day_same_local_day_or_same_utc_day() -> None:
    evening = "2019-06-17T23:30:00-05:00"
    assert scoring.published_day_ok("2019-06-17", evening)
    assert scoring.published_day_ok("2019-06-17", "2019-06-17")
    # the local evening converted to UTC lands on the next day: a miss against the page's day
    assert not scoring.published_day_ok("2019-06-17", "2019-06-18T04:30:00+00:00")
    # two instants with offsets on different local days but the same UTC day
    assert scoring.published_day_ok("2019-06-18T02:00:00Z", "2019-06-17T21:00:00-05:00")
    assert not scoring.published_day_ok("2019-06-18T02:00:00Z", "2019-06-16T21:00:00-05:00")
    # a gold day that is a UTC day matches a predicted time whose UTC day it is
    assert scoring.published_day_ok("2019-06-18", evening)
    assert not scoring.published_day_ok("2019-06-17", None)
    assert not scoring.published_day_ok("2019-06-17", "June 17")


def test_body_scores_average_pages_and_leave_empty_predictions_out_of_precision() -> None:
    gold = "one two three four five"
    assert scoring.page_counts(gold, gold) == (2, 0, 0)
    assert scoring.page_counts("a b", "a b") == (1, 0, 0)  # 1-3 tokens: one shorter shingle
    empty = scoring.page_counts(gold, "")
    assert empty == (0, 0, 2)
    p, r, f1 = scoring.body_prf([(2, 0, 0), empty])
    assert (p, r) == (1.0, 0.5) and f1 == pytest.approx(2 / 3)


def _case(name: str, **gold: object) -> cases.Case:
    return cases.Case(name, "https://example.org/a", "<html></html>", gold.get("text"),
                      gold.get("title"), gold.get("authors", []), gold.get("published"),
                      gold.get("tags", set()))


def test_benchmark_counts_fields_only_where_labelled_and_lists_refusals() -> None:
    pages = [_case("a", title="T", published="2020-01-02T10:00Z", tags={"first69"}),
             _case("b", authors=["X"], published="2020-01-03"),
             _case("c", title="U", text="some body words here")]

    def ours(case: cases.Case) -> Result:
        if case.name == "c":
            return Result(refused="NotAnArticle: paywall teaser (12 words)")
        return Result("", "T", ["x"], "2020-01-02T11:00+01:00")

    def peer(case: cases.Case) -> Result:
        return Result("some body words here", "T", ["X"], "2020-01-03")

    result = extraction.run_set("demo", pages, {"ours": ours, "peer": peer}, repeat=1,
                                progress=False)
    row = result["rows"]["all"]["ours"]
    assert row["title"] == [1, 2] and row["authors"] == [1, 1]
    assert row["day"] == [1, 2] and row["minute"] == [1, 1]
    assert row["body"] == [0.0, 0.0, 0.0] and row["refused"] == 1
    assert result["rows"]["first69"]["ours"]["title"] == [1, 1]
    text = extraction.report(result)
    assert "- `c`: NotAnArticle: paywall teaser (12 words)" in text
    assert "| ours | 1/2 (0.50) | 1/1 (1.00) | 1/2 (0.50) | 1/1 (1.00) |" in text
    # ours is behind the peer on b's day only (c's title is a miss for both)
    assert extraction.behind(result).splitlines()[2:] == [
        "- `b` day: gold '2020-01-03', ours '2020-01-02T11:00+01:00', peer '2020-01-03'"]


def test_metadata_first_build_subset_is_the_69_pages_the_corpus_readme_counts() -> None:
    if not (CORPUS / "generic" / "metadata").is_dir():
        pytest.skip(f"corpus not found at {CORPUS}: it lives in ../shared/corpus")
    pages = cases.load_metadata(CORPUS)
    first = [c for c in pages if "first69" in c.tags]
    assert len(pages) == 121 and len(first) == 69
    assert sum(c.name.startswith("htmldate-") for c in first) == 1
    assert not any(c.name.startswith("trafilatura-") for c in first)


def test_bad_corpus_path_is_one_line_and_exit_2(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert extraction.main(["--corpus", str(tmp_path), "--fast"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no corpus at") and err.count("\n") == 1
