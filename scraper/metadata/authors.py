"""Authors: person and agency names cleaned of bylines words, e-mails, job titles, duplicates."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_BY = re.compile(r"^\s*by\s+", re.I)
# "Von Anna Schmidt", "Par Jean Dupont": but "Von Trapp", "Di Caprio" and "von der Leyen"
# are names, so these go only before at least two words, the first capitalised
_BY_ELSEWHERE = re.compile(r"^\s*(?:von|par|por|di|door|av|от|автор[ы]?:?)\s+", re.I)


def _strip_by(text: str) -> str:
    text = _BY.sub("", text)
    match = _BY_ELSEWHERE.match(text)
    if match:
        rest = text[match.end():]
        words = rest.split()
        if len(words) >= 2 and words[0][:1].isupper():
            return rest
    return text
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_NOT_A_NAME = re.compile(
    r"^(?:follow|follow us|more|and|staff|contact|email|twitter|facebook|linkedin|"
    r"reporter|correspondent|editor|writer|staff writer|senior editor|contributor|columnist)$",
    re.I,
)
_ROLE_SUFFIX = re.compile(
    r"\s*[,|–—-]\s*(?:(?:senior|chief|special|political|staff|foreign|deputy|associate|"
    r"managing|executive|contributing|business|tech|science|health|sports?|world|national|"
    r"investigative|data)\s+)*(?:reporter|correspondent|editor|writer|columnist|contributor|"
    r"producer|analyst|journalist)\b.*$",
    re.I,
)
# a job title standing alone, as left by splitting "Jane Doe, Senior Reporter" at the comma
_ROLE_ONLY = re.compile(
    r"^(?:(?:senior|chief|special|political|staff|foreign|deputy|associate|managing|executive|"
    r"contributing|business|tech|science|health|sports?|world|national|investigative|data|"
    r"white house|economics|culture|defen[cs]e|security|diplomatic|europe|us|uk)\s+)*"
    r"(?:reporter|correspondent|editor|writer|columnist|contributor|producer|analyst|"
    r"journalist|photographer|news editor|editor-at-large)s?$",
    re.I,
)
_SPLIT = re.compile(r"\s*(?:;|\||,|&|\band\b|\bund\b|\bet\b|\bи\b)\s*", re.I)


def clean_authors(values: Iterable[str]) -> list[str]:
    """Person or agency names: no "By", e-mail addresses, "Follow", job titles or duplicates."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        value = unicodedata.normalize("NFC", " ".join(str(value).split()))
        value = _EMAIL.sub("", value)
        value = _strip_by(value)
        for name in _SPLIT.split(value):
            name = _ROLE_SUFFIX.sub("", name)
            name = _strip_by(name).strip(" \t.,:;|-–—·")
            if not name or _NOT_A_NAME.match(name) or _ROLE_ONLY.match(name) \
                    or name.startswith("http"):
                continue
            if len(name) > 60 or not any(c.isalpha() for c in name):
                continue
            key = name.casefold()
            if key not in seen:
                seen.add(key)
                out.append(name)
    return out
