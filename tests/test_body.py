"""Refusals need strong evidence and say which rule refused: real articles are kept, however
short or however their site marks them; teasers, error and captcha pages are refused with the
rule's name and what it saw. Pages written by the team under fixtures/body/."""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper import extract
from scraper.models import ExtractError, NotAnArticle

FIXTURES = Path(__file__).parent / "fixtures" / "body"
URL = "https://www.coastal-courier.example/news/2024/11/04/story"


def page(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_long_article_that_mentions_subscribe_to_continue_reading_is_kept() -> None:
    article = extract(page("long-article-mentions-subscribe.html"), url=URL)
    assert article.text.startswith("Three weekly papers on the north coast")
    assert "ready to change course if the numbers turn" in article.text


def test_short_brief_on_a_site_that_marks_everything_not_free_is_kept() -> None:
    # isAccessibleForFree false and "Already a subscriber? Sign in" are on every page of
    # such sites: without a paywall prompt they are no evidence of a teaser
    article = extract(page("short-brief-not-free.html"), url=URL)
    assert article.text.startswith("The first ferry to the island will leave at 6.40am")
    assert article.text.endswith("do not need to do anything, the operator added.")


def test_article_in_a_script_without_spaces_is_not_counted_as_a_few_words() -> None:
    article = extract(page("japanese-not-free.html"), url=URL)
    assert article.text.startswith("台風の被害で通行止めになっていた港の橋が")
    assert "今月末の見込みだ。" in article.text


def test_brief_whose_words_all_occur_in_links_is_kept() -> None:
    # every word is in some link, but no run of link or heading texts makes up the brief
    article = extract(page("brief-with-related-links.html"), url=URL)
    assert article.text == ("The council approved new lights for the harbour on Tuesday. The work "
                            "will start in the spring and cost the town less than the old lights "
                            "did to run.")


def test_paywall_teaser_is_refused_with_its_evidence() -> None:
    with pytest.raises(NotAnArticle) as refused:
        extract(page("teaser.html"), url=URL)
    assert str(refused.value) == (
        f"{URL} is not an article: paywall teaser (isAccessibleForFree false, the page says "
        "'Subscribe to continue reading', and 45 words of text)")


def test_paywall_teaser_marked_by_content_tier_is_refused_saying_so() -> None:
    html = page("teaser.html").replace(
        '"isAccessibleForFree": false,', "").replace(
        "</head>", '<meta property="article:content_tier" content="locked">\n</head>')
    with pytest.raises(NotAnArticle, match=r"paywall teaser \(article:content_tier locked, "):
        extract(html, url=URL)


def test_not_found_page_under_the_site_title_is_refused_as_an_error_page() -> None:
    with pytest.raises(NotAnArticle) as refused:
        extract(page("error-404.html"), url=URL)
    assert str(refused.value) == (
        f"{URL} is not an article: error page (its heading says 'Error 404: page not found')")


def test_error_status_in_the_text_is_refused_as_an_error_page() -> None:
    with pytest.raises(NotAnArticle) as refused:
        extract(page("error-status-text.html"), url=URL)
    assert str(refused.value) == (
        f"{URL} is not an article: error page (its text says '503 Service Unavailable')")


def test_captcha_widget_is_refused_as_a_captcha_page() -> None:
    with pytest.raises(NotAnArticle) as refused:
        extract(page("captcha-widget.html"), url=URL)
    assert str(refused.value) == (
        f"{URL} is not an article: captcha page (a captcha widget, .g-recaptcha)")


def test_link_list_refusal_still_says_only_navigation() -> None:
    html = page("brief-with-related-links.html").replace(
        '<p>The council approved', '<p><a href="/g">The council approved').replace(
        "did to run.</p>", "did to run.</a></p>")
    with pytest.raises(ExtractError, match=r"no article text found on .* \(only navigation "
                                           r"links and headings\)"):
        extract(html, url=URL)


def test_short_brief_with_a_hidden_paywall_box_is_kept() -> None:
    article = extract(page("short-brief-hidden-prompt.html"), url=URL)
    assert article.text.startswith("The first ferry to the island will leave at 6.40am")


@pytest.mark.parametrize("heading", [
    "Oops! That page can’t be found.",  # WordPress's own 404, with its curly apostrophe
    "We can't find that page",
    "Nothing found",
])
def test_common_not_found_headings_are_refused_as_error_pages(heading: str) -> None:
    html = page("error-404.html").replace("Error 404: page not found", heading)
    with pytest.raises(NotAnArticle, match=r"error page \(its heading says "):
        extract(html, url=URL)
