"""Sections → chunks sized in tiktoken tokens, split on sentence boundaries, never across sections.

Each chunk is an exact slice of the clean text (`text == clean[start:end]`), so a citation can
be highlighted in the document. Consecutive chunks of a section share up to
`overlap_tokens` of whole sentences. A sentence over the limit is cut at ';', ',', spaces
and, failing those, between tokens, so no chunk exceeds `max_tokens` whatever the text (a
2 MB run without spaces takes seconds and makes thousands of chunks, not one; bench/dedup.py).
Near-duplicate paragraphs (the Strategy repeats two of IV (3)'s paragraphs with edits; found
by `ingest.dedup`) become chunks of their own, marked `duplicate_of` the chunk holding the
first copy, so retrieval can avoid showing the same text twice.
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.util
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ingest.dedup import find_repeats
from ingest.sections import Section

if TYPE_CHECKING:
    import tiktoken

ENCODING = "cl100k_base"
# A sentence ends at . ! ? (maybe closed by a quote or bracket) before a capital letter,
# a quote or a list dash. "No. (2006)11" and "etc., and" do not end sentences.
_SENTENCE_END = re.compile(r"(?<=[.!?])[”\"’)\]]?\s+(?=[A-Z“\"–\-\[])")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# Where an over-long sentence is cut, coarsest first; the cut falls right after the match (a
# non-space character) and the whitespace after it is trimmed off. ASCII ';' and ',' only before whitespace ("1,000"
# stays whole); the CJK marks are written without spaces. Past the last, cuts fall between
# tokens.
_CUTS = (
    re.compile(r";(?=\s)|；"),
    re.compile(r",(?=\s)|[，、]"),
    re.compile(r"\S(?=\s)"),
)
# Lines this short without end punctuation are fragments (names, dates, headings).
_FRAGMENT_WORDS = 12


@dataclass(frozen=True)
class ChunkParams:
    """How documents are cut; recorded in the index manifest."""

    max_tokens: int = 160
    overlap_tokens: int = 32


@dataclass(frozen=True)
class Chunk:
    """One retrievable slice of a document, with the structure it sits in."""

    chunk_id: str
    doc_id: str
    doc_title: str
    part: str
    part_title: str
    section_number: str
    section_title: str
    section_path: str
    ordinal: int
    text: str
    start: int
    end: int
    n_tokens: int
    content_hash: str
    duplicate_of: str | None = None
    # The 1-based page the chunk starts on, for paged formats (PDF); None otherwise.
    page: int | None = None


@dataclass(frozen=True)
class _Span:
    start: int
    end: int


def tiktoken_cache_dir() -> Path:
    """The tiktoken files llama-index-core ships (cl100k_base, o200k_base): no download."""
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llama-index-core is not installed; it ships tiktoken's encodings")
    return Path(next(iter(spec.submodule_search_locations))) / "_static" / "tiktoken_cache"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """cl100k_base, loaded from the bundled cache (tiktoken would otherwise download it)."""
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(tiktoken_cache_dir()))
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens in `text`."""
    return len(encoding().encode(text, disallowed_special=()))


def content_hash(text: str) -> str:
    """Stable short hash of a text (sha256, 16 hex digits)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _paragraphs(text: str, start: int, end: int) -> Iterator[_Span]:
    position = start
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        yield from _trimmed(text, position, match.start())
        position = match.end()
    yield from _trimmed(text, position, end)


def _trimmed(text: str, start: int, end: int) -> Iterator[_Span]:
    piece = text[start:end]
    if piece.strip():
        lead = len(piece) - len(piece.lstrip())
        yield _Span(start + lead, start + len(piece.rstrip()))


def _sentences(text: str, paragraph: _Span) -> list[_Span]:
    spans: list[_Span] = []
    position = paragraph.start
    for match in _SENTENCE_END.finditer(text, paragraph.start, paragraph.end):
        spans.extend(_trimmed(text, position, match.start()))
        position = match.end()
    spans.extend(_trimmed(text, position, paragraph.end))
    return spans


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of text[start:end], paragraph by paragraph.

    Runs of short unpunctuated lines (a signature block: issuer, issuer, date) are joined into
    one unit, since none of them means much alone.
    """
    end = len(text) if end is None else end
    units = [
        (sentence.start, sentence.end)
        for paragraph in _paragraphs(text, start, end)
        for sentence in _sentences(text, paragraph)
    ]
    joined: list[tuple[int, int]] = []
    for unit in units:
        if joined and _is_fragment(text, joined[-1]) and _is_fragment(text, unit):
            joined[-1] = (joined[-1][0], unit[1])
        else:
            joined.append(unit)
    return joined


def _is_fragment(text: str, span: tuple[int, int]) -> bool:
    piece = text[span[0] : span[1]].rstrip()
    return len(piece.split()) <= _FRAGMENT_WORDS and piece[-1:] not in ".!?;:"


def _fit(text: str, span: _Span, max_tokens: int) -> list[_Span]:
    """Cut a sentence longer than max_tokens at '; ', then ', ', then spaces, then tokens.

    Returns trimmed spans covering every non-space character of `span`, each of at most
    max_tokens tokens when max_tokens >= 4 (a character is at most 4 UTF-8 bytes, so at most
    4 tokens). Linear in the sentence's length: each level counts each character once, and a
    joined piece is re-counted only to confirm or extend it.
    """
    if count_tokens(text[span.start : span.end]) <= max_tokens:
        return [span]
    return _cut(text, span, max_tokens, 0)


def _cut(text: str, span: _Span, max_tokens: int, level: int) -> list[_Span]:
    """Cut a span known to be over the limit with _CUTS[level:], then between tokens."""
    segments: list[_Span] = []
    while len(segments) < 2 and level < len(_CUTS):
        segments = _segments(text, span, _CUTS[level])
        level += 1
    if len(segments) < 2:
        return _cut_between_tokens(text, span, max_tokens)
    # Tokens of each segment with the whitespace before it (a line break is a token of its
    # own), from one encoding of the span: those starting there. Their sum over a group is
    # what the joined text usually counts; an encode per segment would cost ~5 µs each.
    token_starts = _token_offsets(text, span)[0][:-1]
    marks = np.searchsorted(token_starts, [span.start, *(segment.end for segment in segments)])
    counts = np.diff(marks).tolist()
    pieces: list[_Span] = []
    first = 0
    while first < len(segments):
        last, total = first, counts[first]
        while last + 1 < len(segments) and total + counts[last + 1] <= max_tokens:
            last += 1
            total += counts[last]
        # The sum is what the joined text usually counts, but tokens can differ where segments
        # meet: confirm it, dropping about the excess from the end, or add segments while
        # they still fit. Either loop usually stops at once, keeping the whole cut linear.
        while last > first and (excess := _joined_tokens(text, segments, first, last) - max_tokens) > 0:
            while last > first and excess > 0:
                excess -= counts[last]
                last -= 1
        while last + 1 < len(segments) and _joined_tokens(text, segments, first, last + 1) <= max_tokens:
            last += 1
        if last == first and _joined_tokens(text, segments, first, first) > max_tokens:
            pieces.extend(_cut(text, segments[first], max_tokens, level))
        else:
            pieces.append(_Span(segments[first].start, segments[last].end))
        first = last + 1
    return pieces


def _joined_tokens(text: str, segments: list[_Span], first: int, last: int) -> int:
    return count_tokens(text[segments[first].start : segments[last].end])


def _segments(text: str, span: _Span, cut: re.Pattern[str]) -> list[_Span]:
    """`span` cut right after each match of `cut`, trimmed, empty pieces dropped.

    Every cut ends in a non-space character, so a piece before a cut is never empty and only
    its leading whitespace needs skipping (no copy of the piece, which counts in long runs).
    """
    segments: list[_Span] = []
    position = span.start
    for match in cut.finditer(text, span.start, span.end):
        start = position
        while text[start].isspace():
            start += 1
        segments.append(_Span(start, match.end()))
        position = match.end()
    segments.extend(_trimmed(text, position, span.end))
    return segments


def _cut_between_tokens(text: str, span: _Span, max_tokens: int) -> list[_Span]:
    """Cut a run without spaces or separators into pieces of at most max_tokens tokens.

    The run is encoded once and cut only where a token starts a character: byte-level tokens
    may split a multi-byte character (an emoji is often two tokens), and no character offset
    lies inside one. Byte accounting rather than `decode_with_offsets`: the latter maps a
    token starting mid-character to that character's start, hiding whether a cut there is
    clean, and builds Python lists of bytes and offsets (~100 B a token) where this keeps two
    numpy arrays. Each piece is re-counted alone, since the pre-tokenizer may group digits
    differently at its edges, and cut earlier by the excess if it comes out over.
    """
    offsets, starts_character = _token_offsets(text, span)
    boundaries = np.append(np.flatnonzero(starts_character), len(starts_character))
    pieces: list[_Span] = []
    at = 0
    while at < len(boundaries) - 1:
        reach = int(np.searchsorted(boundaries, boundaries[at] + max_tokens, side="right")) - 1
        end = max(reach, at + 1)
        while True:
            piece = _Span(int(offsets[boundaries[at]]), int(offsets[boundaries[end]]))
            excess = count_tokens(text[piece.start : piece.end]) - max_tokens
            if excess <= 0 or end == at + 1:
                break
            shorter = int(np.searchsorted(boundaries, boundaries[end] - excess, side="right")) - 1
            end = max(at + 1, min(end - 1, shorter))
        if excess > 0:
            # A single unit between two clean cuts is still over: a limit this small must
            # fall back to characters (each at most 4 tokens).
            pieces.extend(_Span(offset, offset + 1) for offset in range(piece.start, piece.end))
        else:
            pieces.extend(_trimmed(text, piece.start, piece.end))
        at = end
    return pieces


def _token_offsets(
    text: str, span: _Span
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Encode `span` once: where each token starts, and whether it starts a character.

    `offsets[i]` is span.start plus the characters starting in tokens 0..i-1 (the last entry is
    span.end): the offset where token i begins when it begins a character; a token that
    continues a character gets the offset after that character.
    """
    tokens = encoding().encode_to_numpy(text[span.start : span.end], disallowed_special=())
    starts_character, characters = _token_tables()
    offsets = span.start + np.concatenate(([0], np.cumsum(characters[tokens])))
    return offsets, starts_character[tokens]


@lru_cache(maxsize=1)
def _token_tables() -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """For each cl100k token id: does its first byte start a character (is not a UTF-8
    continuation byte 0b10xxxxxx), and how many characters start within its bytes."""
    enc = encoding()
    starts_character = np.zeros(enc.max_token_value + 1, dtype=np.bool_)
    characters = np.zeros(enc.max_token_value + 1, dtype=np.int64)
    for token in range(enc.max_token_value + 1):
        try:
            raw = enc.decode_single_token_bytes(token)
        except KeyError:  # ids between the ordinary and the special tokens are unused
            continue
        starts_character[token] = not 0x80 <= raw[0] < 0xC0
        characters[token] = sum(not 0x80 <= byte < 0xC0 for byte in raw)
    return starts_character, characters


def find_duplicate_paragraphs(text: str, sections: list[Section]) -> dict[int, int]:
    """Map a repeated paragraph's start offset to the start of its first occurrence.

    What counts as a repeat is `ingest.dedup.find_repeats`'s rule, applied to the paragraphs
    of the section bodies in document order.
    """
    paragraphs = [p for s in sections for p in _paragraphs(text, s.body_start, s.end)]
    repeats = find_repeats([text[p.start : p.end] for p in paragraphs])
    return {paragraphs[copy].start: paragraphs[original].start for copy, original in repeats.items()}


def chunk_document(
    text: str,
    sections: list[Section],
    doc_id: str,
    doc_title: str,
    params: ChunkParams,
    page_starts: Sequence[int] = (),
    *,
    version: str,
) -> list[Chunk]:
    """Every chunk of a clean document, as a list (see `iter_document_chunks`)."""
    return list(iter_document_chunks(text, sections, doc_id, doc_title, params, page_starts, version=version))


def chunk_id_for(doc_id: str, version: str, section_slug: str, ordinal: int, digest: str) -> str:
    """`doc@version8:section:ordinal:hash8`: the id names the document version it belongs to,
    so a reader holding only ids (a dense query's answer) can tell live chunks from stale ones."""
    return f"{doc_id}@{version[:8]}:{section_slug}:{ordinal:03d}:{digest[:8]}"


def version_of_chunk_id(chunk_id: str) -> tuple[str, str]:
    """(doc_id, version prefix) of a chunk id made by `chunk_id_for` (doc ids hold no '@')."""
    doc_id, _, rest = chunk_id.partition("@")
    return doc_id, rest[:8]


def iter_document_chunks(
    text: str,
    sections: list[Section],
    doc_id: str,
    doc_title: str,
    params: ChunkParams,
    page_starts: Sequence[int] = (),
    *,
    version: str,
) -> Iterator[Chunk]:
    """Cut every section of a clean document into chunks, in document order (see the module
    docstring). A generator, so a large document is embedded and written batch by batch.

    `version` is the document's clean-text content hash; it goes into every chunk id.
    `page_starts` (offsets where pages 1, 2, … begin) sets each chunk's `page`; empty for
    formats without pages.

    Raises ValueError if overlap_tokens >= max_tokens.
    """
    if params.overlap_tokens >= params.max_tokens:
        raise ValueError("chunk overlap must be smaller than the chunk size")
    duplicates = find_duplicate_paragraphs(text, sections)
    # Paragraphs taking part in a repeat get chunks of their own, so the repeat is one chunk.
    isolated = set(duplicates) | set(duplicates.values())
    chunk_at_paragraph: dict[int, str] = {}
    # A document can repeat a section heading (a text pasted twice, appendices numbered
    # alike): later sections with the same slug get "~2", "~3", so chunk ids stay unique.
    slugs: dict[str, int] = {}
    for section in sections:
        slug = _slug(section)
        slugs[slug] = slugs.get(slug, 0) + 1
        if slugs[slug] > 1:
            slug = f"{slug}~{slugs[slug]}"
        groups: list[tuple[int | None, list[_Span]]] = []
        # From the heading on: a heading is document text a reader quotes and asks with, and
        # the passage it opens reads better with it ("(2) E-commerce action plans …").
        for paragraph in _paragraphs(text, section.start, section.end):
            units = [
                piece
                for sentence in _sentences(text, paragraph)
                for piece in _fit(text, sentence, params.max_tokens)
            ]
            if paragraph.start in isolated:
                groups.append((paragraph.start, units))
                groups.append((None, []))
            elif groups and groups[-1][0] is None:
                groups[-1][1].extend(units)
            else:
                groups.append((None, units))
        ordinal = 0
        for paragraph_start, units in groups:
            for window in _pack(text, units, params):
                start, end = window[0].start, window[-1].end
                body = text[start:end]
                digest = content_hash(body)
                chunk_id = chunk_id_for(doc_id, version, slug, ordinal, digest)
                duplicate_of = None
                if paragraph_start is not None:
                    if paragraph_start in duplicates:
                        duplicate_of = chunk_at_paragraph.get(duplicates[paragraph_start])
                    else:
                        chunk_at_paragraph.setdefault(paragraph_start, chunk_id)
                yield Chunk(
                    chunk_id=chunk_id,
                    doc_id=doc_id,
                    doc_title=doc_title,
                    part=section.part,
                    part_title=section.part_title,
                    section_number=section.number,
                    section_title=section.title,
                    section_path=section.path,
                    ordinal=ordinal,
                    text=body,
                    start=start,
                    end=end,
                    n_tokens=count_tokens(body),
                    content_hash=digest,
                    duplicate_of=duplicate_of,
                    page=(max(1, bisect.bisect_right(page_starts, start)) if page_starts else None),
                )
                ordinal += 1


def _pack(text: str, units: list[_Span], params: ChunkParams) -> Iterator[list[_Span]]:
    """Greedily fill windows of sentences up to max_tokens, overlapping by whole sentences."""
    window: list[_Span] = []
    for unit in units:
        if window and count_tokens(text[window[0].start : unit.end]) > params.max_tokens:
            yield window
            carried: list[_Span] = []
            for previous in reversed(window):
                candidate = [previous, *carried]
                fits_overlap = count_tokens(text[previous.start : window[-1].end]) <= params.overlap_tokens
                fits_chunk = count_tokens(text[previous.start : unit.end]) <= params.max_tokens
                if not (fits_overlap and fits_chunk):
                    break
                carried = candidate
            window = carried
        window.append(unit)
    if window:
        yield window


def _slug(section: Section) -> str:
    return f"{section.part}.{section.number}" if section.number else section.part
