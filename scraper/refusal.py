"""When a page is not an article: the refusal rules, each needing strong evidence, each naming
itself and what it saw in the message.

A refusal loses an article for good if it is wrong, while keeping a non-article only stores one
page too many; so every rule asks for a short text *and* a sign that can only come from an error
page, a bot check or a paywall. The rules, in the order they are tried:

- error page: the title, the first heading or (for a very short text) the text says an HTTP
  error ("404", "Page not found", "Access denied", "503 Service Unavailable").
- captcha page: the same places say it is a bot check ("Just a moment...", "verify you are
  human"), or the page holds a captcha widget.
- paywall teaser: the page declares the article not free (JSON-LD ``isAccessibleForFree`` false
  or ``article:content_tier`` locked) *and* shows a paywall prompt ("subscribe to continue
  reading"); either alone is common on pages that serve the whole article.
- link list: the text is nothing but a run of the page's link and heading texts (menus, a
  video's title, "more video" lists).
- empty: no text at all.
Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from .models import ExtractError, NotAnArticle, counted

if TYPE_CHECKING:
    from .sites import Draft

# Below this many words (see ``word_count``) a page may be refused; a longer text is an article
# whatever it says. Teasers run to 30-120 words.
SHORT_TEXT_WORDS = 150
# Below this many words the text alone may say it is an error page or a bot check: a real brief
# that quotes "503 Service Unavailable" is longer than this.
_TINY_TEXT_WORDS = 50

_STATUS = r"\b(?:error\s*)?(?:4(?:00|01|03|04|10|29)|5(?:00|02|03|04))\b"
# what an error page's title or heading says; the whole title part must be this (see _says)
_ERROR = re.compile(
    rf"{_STATUS}(?:\W{{0,3}}(?:error|not found|forbidden|bad request|unauthori[sz]ed|gone|"
    r"too many requests|internal server error|bad gateway|service (?:temporarily )?"
    r"unavailable|gateway time-?out|page not found))?|(?:error\W{0,3})?(?:(?:the|that|this) )?"
    r"(?:page|file|article|story) (?:not found|(?:does not|doesn['’]?t) exist|(?:could|can)"
    r"(?:no|['’])t be found)|(?:we )?(?:can['’]?t|cannot|could ?n['’]?o?t) find (?:that|this|"
    r"the) page|nothing (?:was )?found|"
    r"access denied|bad gateway|service (?:temporarily )?unavailable|internal server error|"
    r"gateway time-?out|too many requests|seite nicht gefunden|page (?:introuvable|non trouvée)|"
    r"página no encontrada|pagina non trovata|pagina niet gevonden|strony nie znaleziono",
    re.IGNORECASE,
)
_CAPTCHA = re.compile(
    r"just a moment\W*|attention required!?|are you a (?:robot|human)\??|verify (?:you are|that "
    r"you'?re) (?:a )?human|(?:security|bot|browser) check|checking your browser(?: before "
    r"accessing[^.]*)?|pardon our interruption|one more step|captcha|unusual traffic(?: from "
    r"your computer network)?|(?:please )?enable javascript and cookies to continue",
    re.IGNORECASE,
)
# what a bot check's text says; bare "captcha" or "security check" may be a brief's subject
_CAPTCHA_TEXT = re.compile(
    r"verify (?:you are|that you'?re) (?:a )?human|are you a robot|checking your browser|"
    r"unusual traffic from your computer network|enable javascript and cookies to continue|"
    r"complete the (?:security check|captcha)",
    re.IGNORECASE,
)
# the only words a title part or heading may hold beside the phrase ("Oops! Page not found"):
# "Access denied for 3,000 customers" is a headline
_FILLER = {"error", "oops", "whoops", "sorry", "uh", "oh", "http", "status", "code"}
_TITLE_PARTS = re.compile(r"\s+[|\-–—·:]\s+|\s*[|·]\s*")
_CAPTCHA_WIDGETS = (".g-recaptcha", ".h-captcha", ".cf-turnstile", "#challenge-form",
                    "#cf-challenge-running", "iframe[src*='captcha']")

# what a paywall box says; "Already a subscriber? Sign in" is left out: it is in the header of
# every page of many sites
_PAYWALL_PROMPT = re.compile(
    r"(?:subscribe|register|sign up)(?: now| today)? to (?:continue|keep) reading|"
    r"(?:log ?in|sign in) to (?:continue|keep) reading|"
    r"(?:to )?(?:continue|keep) reading,? (?:please )?(?:subscribe|log ?in|sign in|register)|"
    r"subscribe to (?:read|unlock) (?:the (?:full|whole|rest of the) (?:article|story)|more)|"
    r"(?:this|the rest of this) (?:article|content|story) is (?:only )?(?:available|reserved|"
    r"exclusive) (?:to|for) (?:paying )?(?:subscribers|members)|"
    r"réservée? aux abonnés|nur für abonnenten|exclusiv[oa] para (?:suscriptores|abonados)|"
    r"riservato agli abbonati|alleen voor abonnees",
    re.IGNORECASE,
)
_HIDDEN = '[hidden], [aria-hidden="true"], [style*="display:none"], [style*="display: none"]'

# scripts written without spaces between words: a character counts as half a word
_UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
                       r"\u4e00-\u9fff\uf900-\ufaff]")


def word_count(text: str) -> int:
    """Words in ``text``: whitespace-separated, and two characters to a word in Chinese,
    Japanese, Thai, Lao, Khmer and Burmese, which put no spaces between words."""
    unspaced = len(_UNSPACED.findall(text))
    if not unspaced:
        return len(text.split())
    return len(_UNSPACED.sub(" ", text).split()) + unspaced // 2


def refuse_non_article(url: str, html: str, tree: HTMLParser, draft: Draft, text: str) -> None:
    """Raise NotAnArticle (error page, captcha, paywall teaser) or ExtractError (no text)."""
    where = url or "the page"
    words = word_count(text)
    if words < SHORT_TEXT_WORDS:
        # checked before the empty-text case: a captcha page often has no body text at all,
        # and the recorded reason should say it was a captcha
        for kind, pattern in (("error page", _ERROR), ("captcha page", _CAPTCHA)):
            if evidence := _says(pattern, tree, draft.title, text, words):
                raise NotAnArticle(f"{where} is not an article: {kind} ({evidence})")
        if words < _TINY_TEXT_WORDS and (widget := _captcha_widget(tree)):
            raise NotAnArticle(f"{where} is not an article: captcha page "
                               f"(a captcha widget, {widget})")
        if evidence := _paywall(html, tree, draft):
            raise NotAnArticle(f"{where} is not an article: paywall teaser ({evidence}, "
                               f"and {counted(words, 'word')} of text)")
    if not text.strip():
        raise ExtractError(f"no article text found on {where}")


def refuse_link_list(url: str, tree: HTMLParser, text: str) -> None:
    """A short "body" that is only a run of the page's link and heading texts is navigation,
    a video or a gallery page: a section front's menus, a player's title, "more video" lists."""
    if word_count(text) >= SHORT_TEXT_WORDS:
        return
    links = tree.css("a")
    if len(links) < 2:
        return
    body = _tokens(text)
    if len(body) > 2 * SHORT_TEXT_WORDS:  # "a-a-a-...": one "word" of 60,000 tokens is no
        return                            # short link list, and would cost the check minutes
    starts: dict[str, dict[int, set[tuple[str, ...]]]] = {}
    for node in links + tree.css("h1, h2, h3, h4, h5, h6"):
        tokens = _tokens(node.text(deep=True))
        if tokens and len(tokens) <= len(body):
            starts.setdefault(tokens[0], {}).setdefault(len(tokens), set()).add(tuple(tokens))
    if _covered(body, starts):
        raise ExtractError(f"no article text found on {url or 'the page'} "
                           "(only navigation links and headings)")


def _says(pattern: re.Pattern[str], tree: HTMLParser, title: str | None, text: str,
          words: int) -> str | None:
    """Where and what the page says matching ``pattern``: a title part or the first heading
    that is (nearly) only the phrase, or a tiny text holding it."""
    h1 = tree.css_first("h1")
    # the <title> element, where error pages and bot checks say it (og:title is an article's)
    places = [("title", p) for p in _TITLE_PARTS.split(_norm(_title(tree) or title or ""))]
    places.append(("heading", _norm(h1.text(deep=True)) if h1 else ""))
    for where, part in places:
        if (found := pattern.search(part)) and _nearly_only(part, found.group(0)):
            return f"its {where} says {part!r}"
    if words >= _TINY_TEXT_WORDS:
        return None
    if pattern is _CAPTCHA:
        found = _CAPTCHA_TEXT.search(text)
        return f"its text says {_norm(found.group(0))!r}" if found else None
    for line in text.splitlines():
        if (found := pattern.search(line)) and _nearly_only(line, found.group(0)):
            return f"its text says {_norm(line)!r}"
    return None


def _nearly_only(part: str, phrase: str) -> bool:
    """Whether ``part`` is ``phrase`` with at most filler words around it."""
    start = part.find(phrase)
    rest = part[:start] + " " + part[start + len(phrase):]
    return all(w in _FILLER for w in _tokens(rest))


def _title(tree: HTMLParser) -> str | None:
    node = tree.css_first("title")
    return node.text() if node is not None else None


def _captcha_widget(tree: HTMLParser) -> str | None:
    return next((s for s in _CAPTCHA_WIDGETS if tree.css_first(s) is not None), None)


def _paywall(html: str, tree: HTMLParser, draft: Draft) -> str | None:
    """The declared marker and the visible prompt of a paywall, when the page has both."""
    tier = tree.css_first('meta[property="article:content_tier"]')
    if draft.paywalled:
        declared = "isAccessibleForFree false"
    elif tier is not None and (tier.attributes.get("content") or "").lower() == "locked":
        declared = "article:content_tier locked"
    else:
        return None
    # a fresh parse: scripts (a client-side paywall's templates) and styles dropped, the
    # caller's tree left untouched
    page = HTMLParser(html)
    page.strip_tags(["script", "style", "template", "noscript"])
    # a client-side paywall ships its box hidden in every page, the full text beside it
    for node in page.css(_HIDDEN):
        node.decompose()
    body = page.body
    said = _PAYWALL_PROMPT.search(_norm(body.text(deep=True, separator=" ")) if body else "")
    if said is None:
        return None
    return f"{declared}, the page says {said.group(0)!r}"


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _covered(tokens: list[str], starts: dict[str, dict[int, set[tuple[str, ...]]]]) -> bool:
    """Whether ``tokens`` is a run of the sequences in ``starts`` (by first token, then by
    length: one slice per length and a set look-up, whatever the number of links)."""
    reachable = [False] * (len(tokens) + 1)
    reachable[0] = True
    for i in range(len(tokens)):
        if not reachable[i]:
            continue
        for length, seqs in starts.get(tokens[i], {}).items():
            if tuple(tokens[i:i + length]) in seqs:
                reachable[i + length] = True
    return bool(tokens) and reachable[-1]


def _norm(text: str) -> str:
    return " ".join(text.split())
