"""Files → checked, cleaned `SourceDocument`s: the only module that opens a user's file.

Every reader returns clean text plus what the file says about its own structure; a file that
cannot be used is one `InputFileError` line naming it, raised before the index is touched.
Text formats (.txt, .md, .html) are read with the standard library, PDF with pypdf (page by
page, bookmarks as headings), DOCX with python-docx (heading styles as headings). PDF text is
what pypdf extracts: line breaks and hyphens stay where the page put them, since cleaning only
removes, so a quote that spans a printed line has a newline where the reader saw a space.
"""

from __future__ import annotations

import bisect
import io
import logging
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal

import docx
import pypdf
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from ingest.chunk import content_hash
from ingest.clean import clean_text
from ingest.errors import InputFileError

# Heading is re-exported: the loader is where a document's headings come from.
from ingest.sections import Heading as Heading
from ingest.sections import shorten

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
DocumentKind = Literal["txt", "md", "html", "pdf", "docx"]
_TEXT_KINDS: dict[str, DocumentKind] = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
}
# Long enough for any real title; a one-line 1.5 MB text file must not become one.
TITLE_CHARS = 200
# pypdf raises these besides its own errors on damaged files (seen by fuzzing real PDFs).
_PDF_DAMAGE = (
    PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError,
    NotImplementedError, RecursionError,
)
# python-docx: not a package, a package without a Word document, broken XML (lxml's
# XMLSyntaxError is a SyntaxError), a damaged zip.
_DOCX_DAMAGE = (PackageNotFoundError, KeyError, ValueError, SyntaxError, zipfile.BadZipFile)
_DOCX_HEADING_STYLE = re.compile(r"^heading (?P<level>[1-9])$", re.IGNORECASE)
_DASHES = "-‐‑‒–—―"
_APOSTROPHES = "'’‘`"


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
    kind: DocumentKind = "txt"
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
    name = unicodedata.normalize("NFC", readable(path.stem)).lower()
    name = _ID_SEPARATORS.sub("-", name)
    name = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name)
    name = re.sub(r"-{2,}", "-", name).strip("-._")
    return name or f"doc-{content_hash(readable(path.name))[:8]}"


def readable(name: str) -> str:
    """A file name as text: bytes that were not UTF-8 (Python keeps them as lone surrogates,
    which no JSON, database or terminal takes) become U+FFFD."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte
        raw = name.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


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
    """Read and clean one file, choosing the reader by its suffix.

    Returns the document with its clean text, a title of at most TITLE_CHARS characters, and
    for PDF its `page_starts`, for PDF and DOCX its declared `headings`.
    Raises InputFileError (one line, naming the file) if the file is missing, unsupported,
    unreadable, binary or not UTF-8 (text formats), encrypted, damaged or without text.
    """
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder; name the files to ingest")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputFileError(
            f"{path}: unsupported file type {path.suffix or '(none)'}; "
            f"citeqa reads {', '.join(SUPPORTED_SUFFIXES)}"
        )
    try:
        raw_bytes = path.read_bytes()
    except OSError as error:
        raise InputFileError(f"{path}: cannot be read ({error.strerror})") from None
    if suffix == ".pdf":
        return _read_pdf(path, raw_bytes)
    if suffix == ".docx":
        return _read_docx(path, raw_bytes)
    return _read_text(path, raw_bytes, _TEXT_KINDS[suffix])


def _document(
    path: Path,
    text: str,
    title: str,
    kind: DocumentKind,
    page_starts: Sequence[int] = (),
    headings: Sequence[Heading] = (),
) -> SourceDocument:
    """The one place a SourceDocument is made: every format gets the same id, title cap and
    emptiness check."""
    if not text.strip():
        raise InputFileError(f"{path}: is empty (no text after cleaning)")
    return SourceDocument(
        doc_id=doc_id_for(path),
        title=shorten(title, TITLE_CHARS),
        source=readable(path.name),
        text=text,
        content_hash=content_hash(text),
        kind=kind,
        page_starts=tuple(page_starts),
        headings=tuple(headings),
    )


def _read_text(path: Path, raw_bytes: bytes, kind: DocumentKind) -> SourceDocument:
    if b"\x00" in raw_bytes[:8192]:
        raise InputFileError(f"{path}: looks binary (NUL bytes), not a text document")
    try:
        raw = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"{path}: not UTF-8 (byte {error.start}); convert it, e.g. `iconv -t UTF-8`"
        ) from None
    if kind == "html":
        parser = _TextFromHTML()
        parser.feed(raw)
        raw = "".join(parser.parts)
    document = clean_text(raw)
    return _document(path, document.text, document.title, kind)


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """Silence pypdf while it reads: it reports every repaired flaw of a damaged-but-readable
    file as a warning or a log line, and the user wants our one line, not dozens of
    "Ignoring wrong pointing object"."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _read_pdf(path: Path, raw_bytes: bytes) -> SourceDocument:
    """Pages cleaned one by one and joined by a blank line, so each page's start is exact."""
    encrypted = (
        f"{path}: is encrypted; decrypt it first, "
        "e.g. `qpdf --decrypt --password=… in.pdf out.pdf`"
    )
    with _quiet_pypdf():
        try:
            reader = pypdf.PdfReader(io.BytesIO(raw_bytes))
            # pypdf has already tried the empty user password: a file only an owner password
            # protects (print or copy limits) opens in any viewer, and reads here too.
            if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
                raise InputFileError(encrypted)
            pages = [clean_text(page.extract_text()).text.strip() for page in reader.pages]
            metadata_title = (reader.metadata.title if reader.metadata else None) or ""
        except (FileNotDecryptedError, DependencyError):
            # DependencyError: AES encryption, which pypdf decrypts only with `cryptography`.
            raise InputFileError(encrypted) from None
        except _PDF_DAMAGE as error:
            raise InputFileError(f"{path}: is not a readable PDF ({_reason(error)})") from None
        outline = _pdf_outline(reader, len(pages))
    if not any(re.search(r"[^\W\d_]", page) for page in pages):
        raise InputFileError(
            f"{path}: has no extractable text (a scanned image?); run OCR first, "
            "e.g. `ocrmypdf in.pdf out.pdf`"
        )
    page_starts, offset = [], 0
    for page in pages:
        page_starts.append(offset)
        offset += len(page) + 2
    text = "\n\n".join(pages) + "\n"
    headings = _find_headings(text, page_starts, outline)
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    # Word and similar tools often store the file name as the title; that names nothing.
    is_file_name = re.search(
        r"\.(docx?|pdf|odt|rtf|tex|indd)$|^Microsoft Word - ", metadata_title, re.IGNORECASE
    )
    title = metadata_title.strip() if metadata_title.strip() and not is_file_name else first_line
    return _document(path, text, title, "pdf", page_starts, headings)


def _reason(error: BaseException) -> str:
    """A library error as a short clause for our one-line message."""
    return shorten(str(error), 120) or type(error).__name__


def _pdf_outline(reader: pypdf.PdfReader, n_pages: int) -> list[tuple[int, int | None, str]]:
    """(level, 0-based page, title) of each bookmark in outline order; page None if it does
    not point at a page of this file (a link elsewhere, a dangling reference).

    A damaged outline is ignored rather than refused: the text is what matters, and the
    structure falls back to the pages.
    """
    items: list[tuple[int, int | None, str]] = []

    def walk(entries: Sequence[object], level: int) -> None:
        for entry in entries:
            if isinstance(entry, list):  # the children of the entry before it
                walk(entry, level + 1)
            elif isinstance(entry, pypdf.generic.Destination):
                page = reader.get_destination_page_number(entry)
                title = " ".join(str(entry.title or "").split())
                is_in_file = page is not None and 0 <= page < n_pages
                items.append((level, page if is_in_file else None, title))

    try:
        walk(reader.outline, 1)
    except _PDF_DAMAGE:
        return []
    return items


def _title_pattern(title: str) -> re.Pattern[str]:
    """A bookmark title as it may appear on the page: any case, any dash or apostrophe, and
    any spacing, even inside a word (pypdf drops, doubles and inserts spaces where a font's
    spacing is odd)."""
    pieces = []
    for char in "".join(title.split()):
        if char in _DASHES:
            pieces.append(f"[{_DASHES}]")
        elif char in _APOSTROPHES:
            pieces.append(f"[{_APOSTROPHES}]")
        else:
            pieces.append(re.escape(char))
    return re.compile(r"(?<!\w)" + r"\s*".join(pieces) + r"(?!\w)", re.IGNORECASE)


def _find_title(text: str, title: str, start: int, end: int) -> tuple[int, int] | None:
    """Where `title` is in text[start:end]: preferably opening a line, else anywhere."""
    fallback = None
    for match in _title_pattern(title).finditer(text, start, end):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if not text[line_start : match.start()].strip():
            return match.start(), match.end()
        fallback = fallback or (match.start(), match.end())
    return fallback


def _find_headings(
    text: str, page_starts: Sequence[int], outline: Sequence[tuple[int, int | None, str]]
) -> tuple[Heading, ...]:
    """Each bookmark's title found on its page (after the previous bookmark on that page, if
    it can be). A bookmark whose title is not on its page is skipped, and its children move
    up a level: "3.1" under a chapter that was not found must not join the chapter before."""
    found: list[Heading] = []
    searched_to: dict[int, int] = {}
    open_items: list[tuple[int, bool]] = []  # (level, was found) of the enclosing bookmarks
    for level, page, title in outline:
        while open_items and open_items[-1][0] >= level:
            open_items.pop()
        span = None
        if page is not None and title:
            page_start = page_starts[page]
            page_end = page_starts[page + 1] if page + 1 < len(page_starts) else len(text)
            span = _find_title(text, title, searched_to.get(page, page_start), page_end)
            span = span or _find_title(text, title, page_start, page_end)
        open_items.append((level, span is not None))
        if page is None or span is None:
            continue
        searched_to[page] = span[1]
        missing_above = sum(1 for _, was_found in open_items if not was_found)
        found.append(Heading(span[0], span[1], level - missing_above, title))
    return _in_order(found)


def _in_order(headings: list[Heading]) -> tuple[Heading, ...]:
    """Sorted by position, dropping any that overlaps an earlier one (a bookmark listed twice)."""
    kept: list[Heading] = []
    for heading in sorted(headings, key=lambda h: (h.start, h.level)):
        if not kept or heading.start >= kept[-1].end:
            kept.append(heading)
    return tuple(kept)


def _read_docx(path: Path, raw_bytes: bytes) -> SourceDocument:
    """Paragraphs and table rows in document order, a blank line between blocks; headings
    are the paragraphs styled Heading 1, Heading 2, …, found again in the clean text."""
    if not zipfile.is_zipfile(io.BytesIO(raw_bytes)):
        raise InputFileError(
            f"{path}: is not a readable DOCX (not a zip package: an old .doc or a renamed "
            "file? save it as .docx)"
        )
    blocks: list[str] = []
    declared: list[tuple[int, str]] = []  # (level, text) of heading paragraphs, in order
    title = ""
    try:
        for block in docx.Document(io.BytesIO(raw_bytes)).iter_inner_content():
            if isinstance(block, Table):
                blocks.append(_table_text(block))
                continue
            blocks.append(block.text)
            style = _style_name(block)
            if style == "Title" and not title:
                title = block.text
            elif (match := _DOCX_HEADING_STYLE.match(style)) and block.text.strip():
                declared.append((int(match["level"]), block.text))
    except _DOCX_DAMAGE as error:
        raise InputFileError(f"{path}: is not a readable DOCX ({_reason(error)})") from None
    document = clean_text("\n\n".join(block for block in blocks if block.strip()))
    headings, searched_to = [], 0
    for level, heading_text in declared:
        span = _find_title(document.text, heading_text, searched_to, len(document.text))
        if span is not None:  # cleaning only removes; a heading it removed is not structure
            headings.append(Heading(span[0], span[1], level, " ".join(heading_text.split())))
            searched_to = span[1]
    title = title or (declared[0][1] if declared else document.title)
    return _document(path, document.text, title, "docx", (), _in_order(headings))


def _style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""


def _table_text(table: Table) -> str:
    """One line per row, cells joined by " | "; a merged cell once, not once per column."""
    rows = []
    for row in table.rows:
        cells, index = [], 0
        while index < len(row.cells):
            cell = row.cells[index]
            cells.append(" ".join(cell.text.split()))
            index += max(1, cell.grid_span)  # python-docx repeats a merged cell per column
        rows.append(" | ".join(cells))
    return "\n".join(row for row in rows if row.strip(" |"))
