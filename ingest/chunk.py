"""Sections → chunks sized in tiktoken tokens, split on sentence boundaries, never across sections.

Each chunk is an exact slice of the clean text (`text == clean[start:end]`), so a citation can
be highlighted in the document. Consecutive chunks of a section share up to
`overlap_tokens` of whole sentences. Near-duplicate paragraphs (the Strategy repeats two of
IV (3)'s paragraphs with edits) become chunks of their own, marked `duplicate_of` the
chunk holding the first copy, so retrieval can avoid showing the same text twice.
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.util
import math
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.sections import Section

if TYPE_CHECKING:
    import tiktoken

ENCODING = "cl100k_base"
# A sentence ends at . ! ? (maybe closed by a quote or bracket) before a capital letter,
# a quote or a list dash. "No. (2006)11" and "etc., and" do not end sentences.
_SENTENCE_END = re.compile(r"(?<=[.!?])[”\"’)\]]?\s+(?=[A-Z“\"–\-\[])")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"[a-z0-9]+")
# Two paragraphs sharing this share of their word sets are one paragraph told twice: the
# Strategy's two repeats in IV (3) score 0.92 and 0.56 (a re-translation under a new opening
# sentence); every other pair of its paragraphs scores 0.28 or less.
DUPLICATE_JACCARD = 0.5
_MIN_DUPLICATE_WORDS = 20
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
    """Cut a sentence longer than max_tokens at '; ' then ', ' then spaces."""
    if count_tokens(text[span.start : span.end]) <= max_tokens:
        return [span]
    for separator in ("; ", ", ", " "):
        cuts = [m.end() for m in re.finditer(re.escape(separator), text[span.start : span.end])]
        if not cuts:
            continue
        pieces: list[_Span] = []
        piece_start = span.start
        last_cut = None
        for cut in cuts:
            absolute = span.start + cut
            if count_tokens(text[piece_start:absolute]) > max_tokens and last_cut:
                pieces.append(_Span(piece_start, last_cut))
                piece_start = last_cut
            last_cut = absolute
        pieces.append(_Span(piece_start, span.end))
        result: list[_Span] = []
        for piece in pieces:
            result.extend(_trimmed(text, piece.start, piece.end))
        if all(count_tokens(text[p.start : p.end]) <= max_tokens for p in result):
            return result
    return [span]  # one unbreakable token run; kept whole rather than cut mid-word


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def find_duplicate_paragraphs(text: str, sections: list[Section]) -> dict[int, int]:
    """Map a repeated paragraph's start offset to the start of its first occurrence.

    A later paragraph repeats the first earlier paragraph (itself no repeat) whose word set
    shares at least DUPLICATE_JACCARD of their union; both need _MIN_DUPLICATE_WORDS words.
    Comparing every pair is quadratic (minutes for a 50 MB text), so candidates come from a
    prefix filter (Chaudhuri et al. 2006): with words ordered rarest first, two sets reaching
    Jaccard t share a word among the first |s| - ceil(t·|s|) + 1 words of each. The result is
    exactly the pairwise one: only pairs that cannot reach t are never compared.
    """
    paragraphs = [p for s in sections for p in _paragraphs(text, s.body_start, s.end)]
    frequency: Counter[str] = Counter()
    long_enough: list[bool] = []
    for paragraph in paragraphs:
        words = _words(text[paragraph.start : paragraph.end])
        long_enough.append(len(words) >= _MIN_DUPLICATE_WORDS)
        if long_enough[-1]:
            frequency.update(words)
    by_prefix_word: dict[str, list[int]] = {}
    duplicates: dict[int, int] = {}
    for later, paragraph in enumerate(paragraphs):
        if not long_enough[later]:
            continue
        words = _words(text[paragraph.start : paragraph.end])
        ordered = sorted(words, key=lambda w: (frequency[w], w))
        # 1e-9: t·n computed in floats must not round up past the true bound.
        prefix = ordered[: len(ordered) - math.ceil(DUPLICATE_JACCARD * len(ordered) - 1e-9) + 1]
        candidates = sorted({e for word in prefix for e in by_prefix_word.get(word, ())})
        first = None
        for earlier in candidates:
            other = paragraphs[earlier]
            earlier_words = _words(text[other.start : other.end])
            if len(words & earlier_words) / len(words | earlier_words) >= DUPLICATE_JACCARD:
                first = earlier
                break
        if first is not None:
            duplicates[paragraph.start] = paragraphs[first].start
        else:  # repeats are never the first copy of anything, so only originals are indexed
            for word in prefix:
                by_prefix_word.setdefault(word, []).append(later)
    return duplicates


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
        for paragraph in _paragraphs(text, section.body_start, section.end):
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
