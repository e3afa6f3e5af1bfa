"""Word-level diffs of two stored versions. Pure functions over strings and dicts."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Literal

Op = Literal["equal", "insert", "delete"]
# a word with the whitespace before it: matching compares the words alone, so two versions
# that differ only in spacing or paragraph breaks diff as equal (as their content hash is)
_TOKENS = re.compile(r"\s*\S+")
_PARAGRAPH_BREAK = re.compile(r"\s*\n\s*\n")
# fields compared besides the body, in the order they are reported
META_FIELDS = ("title", "authors", "published", "modified", "description", "tags")


@dataclass(frozen=True)
class Chunk:
    op: Op
    text: str


def word_diff(old: str, new: str) -> list[Chunk]:
    """The edit from ``old`` to ``new`` as equal/insert/delete chunks of whole words.

    Paragraphs are matched first and words only within changed paragraphs: a word-level
    match over a whole article is quadratic in its common words ("the", "of").
    """
    a, b = _PARAGRAPH_BREAK.split(old.strip()), _PARAGRAPH_BREAK.split(new.strip())
    out: list[Chunk] = []
    blocks = difflib.SequenceMatcher(None, [" ".join(p.split()) for p in a],
                                     [" ".join(p.split()) for p in b], autojunk=False)
    for tag, i1, i2, j1, j2 in blocks.get_opcodes():
        sep = "\n\n" if out else ""
        if tag == "equal":
            out.append(Chunk("equal", sep + "\n\n".join(b[j1:j2])))
        elif tag == "delete":
            out += [Chunk("equal", sep), Chunk("delete", "\n\n".join(a[i1:i2]))]
        elif tag == "insert":
            out += [Chunk("equal", sep), Chunk("insert", "\n\n".join(b[j1:j2]))]
        else:
            out.append(Chunk("equal", sep))
            out += _words(a[i1:i2], b[j1:j2])
    return [c for c in out if c.text]


def _words(old: list[str], new: list[str]) -> list[Chunk]:
    a, b = _TOKENS.findall("\n\n".join(old)), _TOKENS.findall("\n\n".join(new))
    out: list[Chunk] = []
    matcher = difflib.SequenceMatcher(None, [t.lstrip() for t in a], [t.lstrip() for t in b],
                                      autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.append(Chunk("equal", "".join(b[j1:j2])))  # the new version's spacing
            continue
        deleted, inserted = "".join(a[i1:i2]), "".join(b[j1:j2])
        if i2 < len(a) and _PARAGRAPH_BREAK.match(a[i2]) and not (
                j2 < len(b) and _PARAGRAPH_BREAK.match(b[j2])):
            deleted += "\n\n"  # the old text went on in a new paragraph: keep them apart
        if tag == "replace":  # one shared space before the pair: "to [-seven-]{+eight+} on"
            lead = inserted[: len(inserted) - len(inserted.lstrip())]
            out.append(Chunk("equal", lead))
            deleted, inserted = deleted.lstrip(), inserted.lstrip()
        if deleted:
            out.append(Chunk("delete", deleted))
        if inserted:
            out.append(Chunk("insert", inserted))
    return out


def words_changed(chunks: list[Chunk]) -> tuple[int, int]:
    """(words added, words removed)."""
    added = sum(len(c.text.split()) for c in chunks if c.op == "insert")
    removed = sum(len(c.text.split()) for c in chunks if c.op == "delete")
    return added, removed


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Names of the metadata fields that differ, then "text" if the body does."""
    fields = [f for f in META_FIELDS if (old.get(f) or None) != (new.get(f) or None)]
    if (old.get("text") or "") != (new.get("text") or ""):
        fields.append("text")
    return fields


def changed_paragraphs(chunks: list[Chunk]) -> list[list[Chunk]]:
    """The diff cut into paragraphs (at blank lines), keeping only those with a change."""
    paragraphs: list[list[Chunk]] = [[]]
    for chunk in chunks:
        parts = re.split(r"(\n\s*\n)", chunk.text)
        for i, part in enumerate(parts):
            if i % 2 == 1:  # a paragraph break, kept or deleted: deleted paragraphs show apart
                paragraphs.append([])
                continue
            if part:
                paragraphs[-1].append(Chunk(chunk.op, part))
    return [p for p in paragraphs if any(c.op != "equal" for c in p)]


def render_plain(chunks: list[Chunk], color: bool = False) -> str:
    """Chunks as text, deletions ``[-like this-]`` and insertions ``{+like this+}``."""
    out = []
    for c in chunks:
        if c.op == "equal" or not c.text.strip():
            out.append(c.text if c.op != "delete" else "")
            continue
        # whitespace around a change stays outside the markers: "He {+later+} added"
        core = c.text.strip()
        lead, trail = c.text[: len(c.text) - len(c.text.lstrip())], c.text[len(c.text.rstrip()):]
        if color:
            marked = f"\x1b[{'31' if c.op == 'delete' else '32'}m{core}\x1b[0m"
        else:
            marked = f"[-{core}-]" if c.op == "delete" else f"{{+{core}+}}"
        out.append(lead + marked + trail)
    return "".join(out)


def format_field(value: Any) -> str:
    """A metadata value for people: lists joined with commas, empty as "(none)"."""
    if isinstance(value, list):
        return ", ".join(value) or "(none)"
    return "(none)" if value in (None, "") else str(value)
