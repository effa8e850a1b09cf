"""Raw document text → clean text: drop web furniture, keep every word of the document.

Cleaning only removes; it never rewrites a sentence of the document, so quotes copied from
the source file are found verbatim in the clean text and character offsets stay meaningful.
Typos in headings (the Strategy's `94)` for `(4)`) are handled by `ingest.sections`, and
duplicated paragraphs are flagged by `ingest.chunk`, not deleted here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Blog furniture that WordPress puts after (and just before) a post. A tail marker only counts
# in the last third of a document, so a policy text that says "Leave a reply" survives.
_TAIL_MARKERS = re.compile(
    r"^\s*(One thought on\b|\d+ thoughts on\b|Leave a Reply\s*$|Fill in your details below"
    r"|You are commenting using\b|Connecting to %s|Related\s*$|Share this:\s*$)",
    re.IGNORECASE,
)
_HEADER_NOISE = re.compile(r"^\s*(Posted on( Updated on)?|Posted by\b.*)\s*$", re.IGNORECASE)
_TAIL_FRACTION = 2 / 3
# Titles and headings are labels: a one-line file's "first line" can be megabytes long, and a
# title is stored once per document (and a heading once per chunk), so both are capped.
TITLE_MAX_CHARS = 200


@dataclass(frozen=True)
class CleanDocument:
    """The clean text of one document and what cleaning removed (for the ingest summary)."""

    text: str
    title: str
    removed_lines: int


def clean_text(raw: str) -> CleanDocument:
    """Clean one document's raw text.

    Normalises line ends and no-break spaces, strips trailing spaces, drops blog header lines and everything from
    the first blog tail marker on (comments, "Leave a Reply", login furniture), and squeezes
    runs of blank lines to one. The title is the first non-empty line, capped by `cap_title`.
    """
    # A no-break space becomes a space (same length): web copies scatter them inside words'
    # gaps, where they would break title matching and quoting.
    text = raw.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    kept: list[str] = []
    removed = 0
    tail_from = int(len(lines) * _TAIL_FRACTION)
    for index, line in enumerate(lines):
        if index >= tail_from and _TAIL_MARKERS.match(line):
            removed += sum(1 for rest in lines[index:] if rest.strip())
            break
        if _HEADER_NOISE.match(line):
            removed += 1
            continue
        kept.append(line)
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip() + "\n"
    title = cap_title(next((line.strip() for line in kept if line.strip()), ""))
    return CleanDocument(text=cleaned, title=title, removed_lines=removed)


def cap_title(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    """`text` if at most `limit` characters, else cut at the last word break before the limit
    (or at the limit when there is none) and ended with '…'."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"
