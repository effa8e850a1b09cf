"""Reading the index: `open_index()` → `Index`, what answering needs, and nothing that writes Chroma.

Opening reads the store's manifest, its document records and the local keyword cache (built
from the store's chunk texts if missing; nothing is embedded), never the corpus, so start-up
stays flat as documents are added. The cache also holds every chunk's near-duplicate keys, so
`near_duplicate_candidates` finds a chunk's likely copies in other documents without a store
request. Chunks and sentence vectors are fetched from Chroma when
a question needs them and kept in bounded LRU caches (chunk ids are content-addressed, so a
cached chunk never goes stale). `refresh()` polls the manifest's generation counter, so a
replica sees documents another process ingests or deletes without a restart.

Whether a data folder ever held an index is recorded in it (`has_held_index`): the engine
builds the bundled corpus only into a folder that never did, so a lost database is an error
that says so, not a silent re-index of something else.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from ingest import cache
from ingest.cache import StoredSection
from ingest.chunk import Chunk, ChunkParams, version_of_chunk_id
from ingest.dedup import KeyTable
from ingest.embed import SENTENCE_VECTOR_METHOD_IDS, Embedder, Matrix, SentenceVectors
from ingest.errors import IndexMismatchError, IndexNotReadyError
from ingest.keyword import KeywordIndex, TermStatistics
from ingest.store import (
    TEXT_BLOCK_CHARS,
    ChromaStore,
    DocumentRecord,
    Manifest,
    open_client,
)

MARKER = "citeqa-index.json"
# Chunks and sentence rows kept in memory per process: a few hundred questions' worth
# (a question touches ~40 candidates), a few MB.
LRU_CHUNKS = 4096
# Characters shown on each side of a passage by `document_window`.
WINDOW_CHARS = 1500
# Extra dense candidates asked for so that n survive dropping stale versions' chunks.
_DENSE_SLACK = 8
_FORCED_REFRESH_S = 1.0
# Sentence hits asked for per wanted chunk: a chunk has ~4 sentences, and its best one is
# what counts, so several hits of one chunk are common near the top.
_SENTENCES_PER_CHUNK = 4

Notify = Callable[[str], None]
V = TypeVar("V")


class IndexSettings(Protocol):
    """What opening and writing an index needs; rag's Settings has these attributes."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def chroma_url(self) -> str | None: ...

    @property
    def collection(self) -> str: ...

    @property
    def chunk_tokens(self) -> int: ...

    @property
    def chunk_overlap_tokens(self) -> int: ...

    @property
    def chroma_timeout_s(self) -> float: ...

    @property
    def refresh_s(self) -> float: ...

    @property
    def sentence_vectors(self) -> SentenceVectors: ...


@dataclass(frozen=True)
class IndexConfig:
    """IndexSettings as plain values, for scripts and tests that do not use rag's Settings."""

    data_dir: Path
    chroma_url: str | None = None
    collection: str = "citeqa"
    chunk_tokens: int = 160
    chunk_overlap_tokens: int = 32
    chroma_timeout_s: float = 10.0
    refresh_s: float = 2.0
    sentence_vectors: SentenceVectors = "sentences"  # as rag's Settings (see there why)


def chunk_params(settings: IndexSettings) -> ChunkParams:
    return ChunkParams(settings.chunk_tokens, settings.chunk_overlap_tokens)


def wanted_manifest(settings: IndexSettings, embedder: Embedder) -> Manifest:
    """The manifest an index built now with these settings and this embedder would have."""
    return Manifest(
        embedding_model=embedder.model_id,
        dimensions=embedder.dimensions,
        chunk_max_tokens=settings.chunk_tokens,
        chunk_overlap_tokens=settings.chunk_overlap_tokens,
        sentence_vectors=SENTENCE_VECTOR_METHOD_IDS[settings.sentence_vectors],
    )


def open_store(settings: IndexSettings) -> ChromaStore:
    """The Chroma store the settings name (StoreUnavailableError, StoreDamagedError)."""
    client, location = open_client(settings.data_dir, settings.chroma_url, settings.chroma_timeout_s)
    return ChromaStore(client, settings.collection, location)


def has_held_index(data_dir: Path) -> bool:
    """True once an index was built or opened with this data folder."""
    return (data_dir / MARKER).exists()


def mark_index_held(data_dir: Path, store: ChromaStore) -> None:
    """Record in data_dir that it holds (or reads) an index (see the module docstring)."""
    path = data_dir / MARKER
    if path.exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "collection": store.name,
                "store": store.location.url or "embedded",
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        + "\n",
        encoding="utf-8",
    )


def print_notice(message: str) -> None:
    """The default notice: one line on stderr."""
    print(f"citeqa: {message}", file=sys.stderr)


@dataclass(frozen=True)
class SentenceRows:
    """The sentences of one chunk: row i spans document offsets starts[i]:ends[i] and has
    vectors[i]. The texts are slices of the chunk's text (nothing is stored twice)."""

    chunk_id: str
    chunk_text: str
    chunk_start: int
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    vectors: Matrix

    @property
    def texts(self) -> list[str]:
        return [
            self.chunk_text[s - self.chunk_start : e - self.chunk_start]
            for s, e in zip(self.starts.tolist(), self.ends.tolist())
        ]


class SentenceSource(Protocol):
    """What answer scoring reads from an index: sentence rows of chunks and term counts
    (`Index` is one; rag's answerer and citation scorer take any)."""

    def sentence_rows(self, chunk_ids: Sequence[str]) -> Mapping[str, SentenceRows]: ...

    @property
    def vocabulary(self) -> frozenset[str]: ...

    def sentence_frequency(self, stem: str) -> int: ...

    @property
    def sentence_count(self) -> int: ...


@dataclass(frozen=True)
class _State:
    """What one generation of the index looks like to this process (swapped whole)."""

    generation: int
    collection_id: str
    manifest: Manifest
    documents: dict[str, DocumentRecord]
    keyword: KeywordIndex
    terms: TermStatistics
    outlines: dict[str, list[StoredSection]]
    section_chunks: dict[tuple[str, str], list[str]]
    near_keys: KeyTable
    # Row of each chunk id in the keyword cache (its BM25 and near-duplicate key tables).
    rows: dict[str, int]


class _LRU(Generic[V]):
    """A bounded, thread-safe least-recently-used map."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, V]:
        with self._lock:
            found = {k: self._items[k] for k in keys if k in self._items}
            for key in found:
                self._items.move_to_end(key)
        return found

    def put_many(self, items: dict[str, V]) -> None:
        with self._lock:
            self._items.update(items)
            for key in items:
                self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class Index:
    """A read-only view of a stored index (see the module docstring); thread-safe."""

    def __init__(
        self,
        store: ChromaStore,
        settings: IndexSettings,
        state: _State,
        notify: Notify,
        embedder: Embedder,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._settings = settings
        self._state = state
        self._notify = notify
        self._lock = threading.Lock()
        self._checked_at = time.monotonic()
        self._forced_at = float("-inf")
        self._chunks: _LRU[Chunk] = _LRU(LRU_CHUNKS)
        self._sentences: _LRU[SentenceRows] = _LRU(LRU_CHUNKS)

    # --- what the index holds -------------------------------------------------------------
    @property
    def documents(self) -> dict[str, DocumentRecord]:
        """The live document records, by doc_id."""
        return self._state.documents

    @property
    def manifest(self) -> Manifest:
        return self._state.manifest

    @property
    def generation(self) -> int:
        """The store's change counter when this process last read the documents."""
        return self._state.generation

    @property
    def chunk_count(self) -> int:
        """Chunks of the live documents (as their records say)."""
        return sum(r.chunks for r in self._state.documents.values())

    @property
    def terms(self) -> TermStatistics:
        """Term statistics of the indexed text (vocabulary, sentence document frequency)."""
        return self._state.terms

    @property
    def vocabulary(self) -> frozenset[str]:
        return self._state.terms.vocabulary

    def sentence_frequency(self, stem: str) -> int:
        """Distinct sentence texts holding `stem` (0 when none)."""
        return int(self._state.terms.sentence_frequency.get(stem, 0))

    @property
    def sentence_count(self) -> int:
        """Distinct sentence texts of the index."""
        return self._state.terms.sentences

    def chunk_frequency(self, stem: str) -> int:
        """Chunks whose BM25 stems (section path and text) include `stem`."""
        return int(self._state.terms.chunk_frequency.get(stem, 0))

    def word_frequency(self, word: str) -> int:
        """How often the lower-case word occurs in the chunk texts (0: the corpus never uses it)."""
        return int(self._state.terms.word_counts.get(word, 0))

    def outline(self, doc_id: str) -> list[StoredSection]:
        """The sections of a document in document order, as its chunks record them."""
        return self._state.outlines.get(doc_id, [])

    def section_chunk_ids(self, doc_id: str, path: str) -> list[str]:
        """The ids of a section's chunks in document order (fetch them with `chunks`)."""
        return self._state.section_chunks.get((doc_id, path), [])

    # --- ranking --------------------------------------------------------------------------
    def nearest(
        self, vector: Matrix, n: int, documents: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the n nearest live chunks, best first, optionally
        only of `documents`. Chunks of a version no live record names are dropped (ask a
        little more so n survive); one of a version this process does not know forces a
        refresh first, so a document another process added is not silently missed."""
        refreshed = False
        want = n
        while True:
            state = self._state
            selected = None if documents is None else [d for d in documents if d in state.documents]
            if n <= 0 or selected == []:
                return []
            asked = want + _DENSE_SLACK
            raw = self._store.nearest(vector, asked, selected)
            live: list[tuple[str, float]] = []
            unknown = False
            for chunk_id, similarity in raw:
                doc_id, version = version_of_chunk_id(chunk_id)
                record = state.documents.get(doc_id)
                if record is not None and record.version[:8] == version:
                    live.append((chunk_id, similarity))
                else:
                    unknown = True
            if unknown and not refreshed:
                refreshed = True
                if self.refresh(force=True):
                    continue
            if len(live) >= n or len(raw) < asked:
                return live[:n]
            want *= 2

    def nearest_sentences(
        self, vector: Matrix, n: int, documents: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """The n live chunks whose best sentence is nearest to `vector`, with that sentence's
        cosine, best first (a paraphrased question often matches one sentence of a chunk far
        better than the chunk's mean vector). Stale versions are dropped and unknown ones force
        a refresh, as in `nearest`."""
        refreshed = False
        want = n * _SENTENCES_PER_CHUNK
        while True:
            state = self._state
            selected = None if documents is None else [d for d in documents if d in state.documents]
            if n <= 0 or selected == []:
                return []
            asked = want + _DENSE_SLACK
            raw = self._store.nearest_sentences(vector, asked, selected)
            best: dict[str, float] = {}
            unknown = False
            for sentence_id, similarity in raw:
                chunk_id = sentence_id.rpartition("#")[0]
                doc_id, version = version_of_chunk_id(chunk_id)
                record = state.documents.get(doc_id)
                if record is None or record.version[:8] != version:
                    unknown = True
                elif chunk_id not in best:
                    best[chunk_id] = similarity
            if unknown and not refreshed:
                refreshed = True
                if self.refresh(force=True):
                    continue
            if len(best) >= n or len(raw) < asked:
                return list(best.items())[:n]
            want *= 2

    def keyword_top(
        self, question: str, n: int, documents: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """Ids and BM25 scores of the n best keyword matches (score > 0), best first,
        optionally only of `documents`."""
        return self._state.keyword.top(question, n, documents)

    def near_duplicate_candidates(
        self, chunk_id: str, documents: Collection[str] | None = None, limit: int | None = None
    ) -> list[str]:
        """For each other document (only of `documents`, when given) holding a live chunk that
        shares a near-duplicate key with `chunk_id`, the id of the one sharing most keys; most
        shared keys first, at most `limit`; [] for a chunk this process does not know.
        Candidates only: a shared key means a likely Jaccard similarity of 0.8 or more, not a
        certain one (check the texts, ingest.dedup). Local: reads the keyword cache's key
        table, not the store."""
        state = self._state
        row = state.rows.get(chunk_id)
        if row is None:
            return []
        rows, _ = state.near_keys.sharing(row)
        chunk_docs = state.keyword.chunk_docs
        rows = rows[chunk_docs[rows] != chunk_docs[row]]
        if documents is not None and len(rows):
            wanted = [i for i, d in enumerate(state.keyword.doc_ids) if d in documents]
            rows = rows[np.isin(chunk_docs[rows], wanted)]
        _, first = np.unique(chunk_docs[rows], return_index=True)  # best-sharing row per document
        rows = rows[np.sort(first)]
        ids = state.keyword.chunk_ids
        return [ids[i] for i in rows[:limit].tolist()]

    # --- content --------------------------------------------------------------------------
    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """The chunks with these ids (ids the store no longer holds are left out), with
        their document's title."""
        found = self._chunks.get_many(ids)
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            documents = self._state.documents
            fetched = {
                c.chunk_id: replace(c, doc_title=documents[c.doc_id].title if c.doc_id in documents else "")
                for c in self._store.chunks(missing)
            }
            self._chunks.put_many(fetched)
            found.update(fetched)
        return {i: found[i] for i in ids if i in found}

    def sentence_rows(self, chunk_ids: Sequence[str]) -> dict[str, SentenceRows]:
        """The stored sentences of these chunks (chunks without any are left out)."""
        found = self._sentences.get_many(chunk_ids)
        missing = [i for i in dict.fromkeys(chunk_ids) if i not in found]
        if missing:
            chunks = self.chunks(missing)
            grouped: dict[str, list[tuple[int, int, int, Matrix]]] = {}
            for sentence in self._store.sentences_of(list(chunks)):
                grouped.setdefault(sentence.chunk_id, []).append(
                    (sentence.index, sentence.start, sentence.end, sentence.vector)
                )
            fetched = {}
            for chunk_id, rows in grouped.items():
                rows.sort(key=lambda r: r[0])
                chunk = chunks[chunk_id]
                fetched[chunk_id] = SentenceRows(
                    chunk_id=chunk_id,
                    chunk_text=chunk.text,
                    chunk_start=chunk.start,
                    starts=np.array([r[1] for r in rows], dtype=np.int64),
                    ends=np.array([r[2] for r in rows], dtype=np.int64),
                    vectors=np.vstack([r[3] for r in rows]).astype(np.float32),
                )
            self._sentences.put_many(fetched)
            found.update(fetched)
        return {i: found[i] for i in chunk_ids if i in found}

    def document_window(
        self, doc_id: str, start: int, end: int, context_chars: int = WINDOW_CHARS
    ) -> tuple[str, int] | None:
        """The clean text from start - context_chars to end + context_chars (clipped to the
        document) and the offset it begins at; None for an unknown document. Reads only the
        text blocks that overlap it."""
        record = self._state.documents.get(doc_id)
        if record is None:
            return None
        low = max(0, start - context_chars)
        high = end + context_chars
        numbers = list(range(low // TEXT_BLOCK_CHARS, high // TEXT_BLOCK_CHARS + 1))
        blocks = self._store.text_blocks(doc_id, record.version, numbers)
        first = numbers[0]
        text = "".join(blocks[n] for n in numbers if n in blocks)
        offset = first * TEXT_BLOCK_CHARS
        return text[low - offset : high - offset], low

    def document_text(self, doc_id: str) -> str | None:
        """The whole clean text of a document (None for an unknown one). Prefer
        `document_window` for showing a passage: a text can be tens of MB."""
        record = self._state.documents.get(doc_id)
        if record is None:
            return None
        parts: list[str] = []
        first = 0
        while True:
            numbers = list(range(first, first + 100))
            blocks = self._store.text_blocks(record.doc_id, record.version, numbers)
            parts += [blocks[n] for n in numbers if n in blocks]
            if len(blocks) < len(numbers):
                return "".join(parts)
            first += len(numbers)

    def iter_chunks(self, documents: Collection[str] | None = None) -> Iterator[Chunk]:
        """Every chunk of the live documents (or of `documents`), document by document, read
        from the store a page at a time."""
        state = self._state
        for doc_id in sorted(state.documents):
            if documents is not None and doc_id not in documents:
                continue
            record = state.documents[doc_id]
            for page in self._store.iter_chunks(doc_id, record.version):
                for chunk in sorted(page, key=lambda c: c.start):
                    yield replace(chunk, doc_title=record.title)

    # --- keeping up with the store ----------------------------------------------------------
    def refresh(self, *, force: bool = False) -> bool:
        """Catch up with changes other processes committed; returns whether anything changed.

        Reads the manifest's generation at most every `refresh_s` seconds (0: every call), or
        now when `force` (at most once a second); when it moved (or the index was
        rebuilt), re-reads the document records and brings the keyword cache up to date.
        Raises IndexNotReadyError if the index is gone or empty, IndexMismatchError if it was
        rebuilt with another embedding model.
        """
        now = time.monotonic()
        interval = self._settings.refresh_s
        if force:
            # Forced by a stale-looking dense hit; garbage of a killed ingest looks the same
            # until the next ingest removes it, so at most one forced check a second.
            if now - self._forced_at < min(interval, _FORCED_REFRESH_S):
                return False
            self._forced_at = now
        elif now - self._checked_at < interval:
            return False
        with self._lock:
            self._checked_at = time.monotonic()
            state = self._state
            manifest = self._store.manifest()
            if manifest is None:
                raise IndexNotReadyError(self._store.lost_message())
            _check_embedder(manifest, self._embedder)  # rebuilt by another process?
            moved = (
                manifest.generation != state.generation
                or self._store.collection_id != state.collection_id
            )
            if not moved and not force:
                return False
            documents = self._store.documents()
            if not moved and {d: r.version for d, r in documents.items()} == {
                d: r.version for d, r in state.documents.items()
            }:
                return False
            self._state = _load_state(self._store, self._settings, manifest, documents, self._notify)
            return True


def _load_state(
    store: ChromaStore,
    settings: IndexSettings,
    manifest: Manifest,
    documents: dict[str, DocumentRecord],
    notify: Notify,
) -> _State:
    if not documents:
        raise IndexNotReadyError(
            f"the index {store.name!r} in {store.location.describe()} holds no documents: "
            "run `citeqa ingest FILES`"
        )

    def source(doc_id: str, version: str) -> Iterator[list[tuple[Chunk, tuple[str, ...] | None]]]:
        return store.iter_chunk_records(doc_id, version)

    keyword = cache.load_or_build(settings.data_dir, manifest, documents, source, notify)
    outlines: dict[str, list[StoredSection]] = {}
    for section in keyword.sections:
        outlines.setdefault(section.doc_id, []).append(section)
    section_chunks: dict[tuple[str, str], list[str]] = {}
    for chunk_id, number in zip(keyword.keyword.chunk_ids, keyword.chunk_sections):
        section = keyword.sections[number]
        section_chunks.setdefault((section.doc_id, section.path), []).append(chunk_id)
    return _State(
        generation=manifest.generation,
        collection_id=store.collection_id,
        manifest=manifest,
        documents=documents,
        keyword=keyword.keyword,
        terms=keyword.terms,
        outlines={d: sorted(o, key=lambda s: s.start) for d, o in outlines.items()},
        section_chunks=section_chunks,
        near_keys=keyword.near_keys,
        rows={chunk_id: row for row, chunk_id in enumerate(keyword.keyword.chunk_ids)},
    )


def open_index(
    settings: IndexSettings, embedder: Embedder, *, notify: Notify = print_notice
) -> Index:
    """Open the index the settings name, for reading (see the module docstring).

    Reads the manifest, the document records and the local keyword cache (rebuilding it from
    the store's chunk texts if it is stale, damaged or missing, with a notice). Raises
    IndexNotReadyError when there is no index or it holds no documents (saying whether this
    data folder held one before), IndexMismatchError when it was built with another embedding
    model, StoreUnavailableError / StoreDamagedError when the store cannot be read.
    """
    store = open_store(settings)
    manifest = store.manifest()
    if manifest is None or not store.exists():
        if has_held_index(settings.data_dir):
            raise IndexNotReadyError(store.lost_message())
        raise IndexNotReadyError(
            f"there is no index {settings.collection!r} in {store.location.describe()} yet: "
            "run `citeqa ingest FILES`"
        )
    _check_embedder(manifest, embedder)
    state = _load_state(store, settings, manifest, store.documents(), notify)
    mark_index_held(settings.data_dir, store)
    return Index(store, settings, state, notify, embedder)


def _check_embedder(manifest: Manifest, embedder: Embedder) -> None:
    """Questions are embedded by `embedder`: the stored vectors must come from the same model."""
    if (manifest.embedding_model, manifest.dimensions) != (embedder.model_id, embedder.dimensions):
        raise IndexMismatchError(
            f"the index was built with {manifest.embedding_model} ({manifest.dimensions} dims) "
            f"but the embedder is {embedder.model_id}: run `citeqa ingest --rebuild FILES`"
        )
