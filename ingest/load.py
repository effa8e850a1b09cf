"""Files → checked, cleaned `SourceDocument`s: the only module that opens a user's file.

Every reader returns clean text plus what the file says about its own structure; a file that
cannot be used is one `InputFileError` line naming it, raised before the index is touched.
Text formats (.txt, .md, .html) are read here with the standard library.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ingest.chunk import content_hash
from ingest.clean import clean_text
from ingest.errors import InputFileError

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True)
class Heading:
    """A heading the file itself declares (a DOCX heading style, a PDF bookmark).

    `start`/`end` are the offsets of the heading's line in the clean text; `level` 1 is the
    top level (a part or chapter), 2 and deeper are sections within it.
    """

    start: int
    end: int
    level: int
    title: str


@dataclass(frozen=True)
class SourceDocument:
    """A file read, checked and cleaned, ready to chunk.

    `kind` is the file type ("txt", "md", "html", "pdf", "docx"). `page_starts[i]` is the
    offset in `text` where page i + 1 begins (empty for formats without pages). `headings`
    is the structure the file declares; empty means `ingest.sections` reads the structure
    from the text itself, as it does for the Strategy.
    """

    doc_id: str
    title: str
    source: str
    text: str
    content_hash: str
    kind: str = "txt"
    page_starts: tuple[int, ...] = ()
    headings: tuple[Heading, ...] = ()

    @property
    def pages(self) -> int | None:
        """Number of pages, or None for formats without pages."""
        return len(self.page_starts) or None

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding `offset`, or None for formats without pages."""
        if not self.page_starts:
            return None
        return max(1, bisect.bisect_right(self.page_starts, offset))


# Characters a document id never holds: '@', ':' and '#' separate the parts of chunk ids
# (`doc@version:section:ordinal:hash`) and sentence ids (`chunk#i`); '/' and '\\' would make an
# id look like a path.
_ID_SEPARATORS = re.compile(r"[\s@:#/\\]+")


def doc_id_for(path: Path) -> str:
    """A stable id from the file name (without its extension), Unicode kept: NFC, lower-case,
    whitespace and separators to '-', anything but letters, digits, '.', '_' and '-' dropped.

    `信息.md` → `信息`, `National Strategy (2006).txt` → `national-strategy-2006`. A name with
    nothing left gets `doc-` and a hash of the name, never a shared fallback id.
    """
    name = unicodedata.normalize("NFC", path.stem).lower()
    name = _ID_SEPARATORS.sub("-", name)
    name = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name)
    name = re.sub(r"-{2,}", "-", name).strip("-._")
    return name or f"doc-{content_hash(path.name)[:8]}"


def kind_of(path: Path) -> str:
    """The document kind recorded in the index: txt, md, html (later pdf, docx)."""
    suffix = path.suffix.lower().lstrip(".")
    return {"markdown": "md", "htm": "html"}.get(suffix, suffix)


class _TextFromHTML(HTMLParser):
    """Visible text of an HTML page, a blank line between blocks (scripts and styles dropped)."""

    _BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style"):
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def read_document(path: Path) -> SourceDocument:
    """Read and clean one file; InputFileError (one line, naming the file) if it cannot be used."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder; name the files to ingest")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputFileError(
            f"{path}: unsupported file type {path.suffix or '(none)'}; "
            f"citeqa reads {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        raw_bytes = path.read_bytes()
    except OSError as error:
        raise InputFileError(f"{path}: cannot be read ({error.strerror})") from None
    if b"\x00" in raw_bytes[:8192]:
        raise InputFileError(f"{path}: looks binary (NUL bytes), not a text document")
    try:
        raw = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"{path}: not UTF-8 (byte {error.start}); convert it, e.g. `iconv -t UTF-8`"
        ) from None
    if path.suffix.lower() in (".html", ".htm"):
        parser = _TextFromHTML()
        parser.feed(raw)
        raw = "".join(parser.parts)
    document = clean_text(raw)
    if not document.text.strip():
        raise InputFileError(f"{path}: is empty (no text after cleaning)")
    return SourceDocument(
        doc_id=doc_id_for(path),
        title=document.title,
        source=path.name,
        text=document.text,
        content_hash=content_hash(document.text),
        kind=kind_of(path),
    )
