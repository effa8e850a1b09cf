"""Writing the index: `ingest_paths()` (files → clean → sections → chunks → vectors → Chroma),
`delete_document()` and `list_documents()`.

Each document version is written so that readers see either the old version or the new one,
never a mix, whatever moment the process dies:
  (a) delete this document's records of versions other than the live one (an earlier kill's
      leftovers); (b) chunk, embed and write the new version's chunks (with their near-duplicate
      keys, ingest.dedup), sentences and text blocks in batches of WRITE_BATCH chunks (readers ignore them: the document record still
      names the old version); (c) upsert the document record (the commit); (d) bump the
      manifest's generation (replicas poll it); (e) delete the old version's records.
An unchanged file is skipped only if the store really holds it: the record's version is the
file's content hash, the stored chunk ids of that version are the ids chunking produces, and
the stored sentence and text-block counts match; otherwise it is written again. Every run ends
by deleting records of versions no document record names and updating the local keyword cache.

Every input file is read and checked before the store is touched, so a bad file costs nothing.
Memory: a document's clean text is held while it is written, its chunks are produced lazily
and vectors exist for one batch at a time. Measured peak RSS of a whole ingest (bench/ingest.py,
embedded Chroma): ~750 MB for a 0.5 MB text, 790-825 MB for 2 MB. About 700 MB is fixed (model,
onnxruntime's arena for batches of 16, Chroma); the rest, ~28 KB per chunk stored, is the
embedded Chroma's in-process vector index and the keyword cache build over the whole index,
which a Chroma server (and a smaller index) does not put on the ingesting process.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TextIO

import numpy as np

from ingest import cache
from ingest.chunk import Chunk, content_hash, iter_document_chunks, split_sentences
from ingest.dedup import near_duplicate_keys
from ingest.embed import (
    Embedder,
    Matrix,
    SentencePoolingEmbedder,
    SentenceVectors,
    embed_distinct,
)
from ingest.errors import (
    IndexNotReadyError,
    InputFileError,
    StoreDamagedError,
    UnknownDocumentError,
)
from ingest.index import (
    IndexSettings,
    chunk_params,
    mark_index_held,
    open_store,
    print_notice,
    wanted_manifest,
)
from ingest.load import SourceDocument, doc_id_for, read_document
from ingest.sections import Section, parse_sections
from ingest.store import (
    TEXT_BLOCK_CHARS,
    ChromaStore,
    DocumentRecord,
    StoredSentence,
    embedded_path,
    ids_digest,
    move_aside,
)

Stage = Literal["read", "clean", "sections", "chunk", "embed", "write", "commit", "cleanup", "keyword"]
STAGES: tuple[Stage, ...] = (
    "read", "clean", "sections", "chunk", "embed", "write", "commit", "cleanup", "keyword",
)
# Chunks embedded and written together: bounds the vectors held at once (64 chunk vectors and
# their ~400 sentence vectors, ~0.7 MB) while keeping Chroma writes few.
WRITE_BATCH = 64


@dataclass(frozen=True)
class ProgressEvent:
    """One step of an ingest: `done` of `total` units of `stage` (total 0: not known yet, as
    while a document is still being chunked), for `doc_id` (None for whole-run stages)."""

    stage: Stage
    done: int
    total: int
    doc_id: str | None = None


Progress = Callable[[ProgressEvent], None]


class ProgressLine:
    """A Progress that shows one line per stage and document on a stream (stderr): updated in
    place on a terminal, written once when the stage ends otherwise (logs stay readable)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._live = self._stream.isatty()
        self._current: tuple[Stage, str | None] | None = None
        self._last = ""

    def __call__(self, event: ProgressEvent) -> None:
        key = (event.stage, event.doc_id)
        if key != self._current:
            self._finish()
            self._current = key
        count = f"{event.done}/{event.total}" if event.total else f"{event.done}"
        self._last = f"  {event.stage:<8} {event.doc_id or '':<40} {count}"
        if self._live:
            self._stream.write("\r" + self._last)
            self._stream.flush()

    def _finish(self) -> None:
        if self._current is not None:
            self._stream.write(("\r" if self._live else "") + self._last + "\n")
            self._stream.flush()

    def close(self) -> None:
        """End the last line (call once the ingest returned)."""
        self._finish()
        self._current = None


@dataclass(frozen=True)
class RebuildReport:
    """What `--rebuild` removed before writing anew."""

    dropped_collections: list[str]
    dropped_documents: int
    removed_caches: list[str]
    moved_damaged_to: str | None


@dataclass(frozen=True)
class IngestSummary:
    """What an ingest did (printed by `citeqa ingest`, asserted by tests).

    `documents`/`chunks`/`sections`/`sentences` count the files of this run; `embedded_chunks`
    is how many chunks were embedded (not reused), `embedded_texts` how many texts the
    pipeline sent to the embedder (chunks for "separate" and "late", distinct sentences for
    "separate" and "sentences");
    `removed_records` counts chunk/sentence/text records of dead versions deleted.
    """

    documents: int
    chunks: int
    sections: int
    sentences: int
    embedded_chunks: int
    embedded_texts: int
    skipped_documents: list[str]
    replaced_documents: list[str]
    added_documents: list[str]
    removed_records: int
    rebuild: RebuildReport | None
    stage_seconds: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class _Planned:
    """A checked input file, before writing (its text is read again when written)."""

    path: Path
    doc_id: str
    source: str
    version: str


@dataclass
class _Run:
    """Counters and timers of one ingest run."""

    progress: Progress | None
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    embedded_chunks: int = 0
    embedded_texts: int = 0
    removed: int = 0

    def emit(self, stage: Stage, done: int, total: int, doc_id: str | None = None) -> None:
        if self.progress is not None:
            self.progress(ProgressEvent(stage, done, total, doc_id))

    @contextmanager
    def timed(self, stage: Stage) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - started


def ingest_paths(
    paths: Sequence[Path],
    settings: IndexSettings,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestSummary:
    """Ingest `paths` into the index `settings` names (see the module docstring).

    `rebuild` drops the four collections and the local caches first (moving a damaged
    embedded database aside, never deleting it) and writes everything anew. `progress`
    receives a ProgressEvent for every step of every stage.

    Raises InputFileError before any write if a file cannot be used or two files (or a file
    and a stored document of another file) map to one document id; IndexMismatchError if the
    index was built with another embedder, chunking or sentence vectors and `rebuild` is
    False; StoreDamagedError / StoreUnavailableError when the store cannot be used.
    """
    started = time.perf_counter()
    run = _Run(progress)
    planned = _check_inputs(paths, run)
    report = None
    if rebuild:
        store, report = _rebuild(settings)
    else:
        store = open_store(settings)
    wanted = wanted_manifest(settings, embedder)
    manifest = store.create(wanted)
    manifest.check_compatible(wanted)
    records = store.documents()
    for plan in planned:
        held = records.get(plan.doc_id)
        if held is not None and held.source != plan.source:
            raise InputFileError(
                f"{plan.path}: its document id {plan.doc_id!r} belongs to {held.source}, another "
                f"file; rename one of them, or `citeqa delete {plan.doc_id}` first"
            )

    skipped: list[str] = []
    replaced: list[str] = []
    added: list[str] = []
    total_chunks = total_sections = total_sentences = 0
    for number, plan in enumerate(planned, 1):
        document = read_document(plan.path)
        with run.timed("sections"):
            sections = parse_sections(
                document.text, document.title, document.headings, document.page_starts
            )
        run.emit("sections", number, len(planned), plan.doc_id)
        total_sections += len(sections)
        record = records.get(plan.doc_id)
        if record is not None and _is_stored(store, record, document, sections, settings, run):
            skipped.append(plan.doc_id)
            total_chunks += record.chunks
            total_sentences += record.sentences
            continue
        written = _write_document(store, document, sections, plan, record, settings, embedder, run)
        records[plan.doc_id] = written
        (replaced if record is not None else added).append(plan.doc_id)
        total_chunks += written.chunks
        total_sentences += written.sentences

    with run.timed("cleanup"):
        garbage = store.delete_garbage({d: r.version for d, r in records.items()})
        run.removed += garbage
        if garbage:
            store.bump_generation()
    run.emit("cleanup", 1, 1)
    _update_keyword_cache(store, settings, run)
    mark_index_held(settings.data_dir, store)
    return IngestSummary(
        documents=len(planned),
        chunks=total_chunks,
        sections=total_sections,
        sentences=total_sentences,
        embedded_chunks=run.embedded_chunks,
        embedded_texts=run.embedded_texts,
        skipped_documents=skipped,
        replaced_documents=replaced,
        added_documents=added,
        removed_records=run.removed,
        rebuild=report,
        stage_seconds={k: round(v, 3) for k, v in run.seconds.items()},
        seconds=time.perf_counter() - started,
    )


def _check_inputs(paths: Sequence[Path], run: _Run) -> list[_Planned]:
    """Read and check every file (InputFileError names the first bad one); ids must be unique."""
    planned: list[_Planned] = []
    by_id: dict[str, _Planned] = {}
    for number, raw_path in enumerate(paths, 1):
        path = Path(raw_path)
        run.emit("read", number, len(paths), doc_id_for(path))
        with run.timed("read"):
            document = read_document(path)
        run.emit("clean", number, len(paths), document.doc_id)
        plan = _Planned(path, document.doc_id, document.source, document.content_hash)
        other = by_id.get(plan.doc_id)
        if other is not None:
            if other.path.resolve() == path.resolve():
                continue  # the same file named twice
            raise InputFileError(
                f"{path} and {other.path} both map to document id {plan.doc_id!r}; "
                "rename one of them (ids come from file names)"
            )
        by_id[plan.doc_id] = plan
        planned.append(plan)
    return planned


def _rebuild(settings: IndexSettings) -> tuple[ChromaStore, RebuildReport]:
    """Drop the collections and local caches; move a damaged embedded database aside."""
    moved = None
    dropped: list[str] = []
    documents = 0
    try:
        store = open_store(settings)
        try:
            if store.exists():
                documents = len(store.documents())
            dropped = store.drop()
        except StoreDamagedError:
            store.close()
            raise
    except StoreDamagedError:
        if settings.chroma_url:
            raise
        moved = str(move_aside(embedded_path(settings.data_dir)))
        store = open_store(settings)
    removed = [str(p) for p in cache.remove_cache(settings.data_dir)]
    return store, RebuildReport(dropped, documents, removed, moved)


def _expected_counts(chunks: Sequence[Chunk]) -> int:
    return sum(len(split_sentences(c.text)) for c in chunks)


def _text_blocks(text: str) -> int:
    return max(1, -(-len(text) // TEXT_BLOCK_CHARS))


def _is_stored(
    store: ChromaStore,
    record: DocumentRecord,
    document: SourceDocument,
    sections: list[Section],
    settings: IndexSettings,
    run: _Run,
) -> bool:
    """Whether the store holds exactly what writing this document would write."""
    if record.version != document.content_hash:
        return False
    with run.timed("chunk"):
        chunks = list(
            iter_document_chunks(
                document.text, sections, document.doc_id, document.title,
                chunk_params(settings), document.page_starts, version=document.content_hash,
            )
        )
    run.emit("chunk", len(chunks), len(chunks), document.doc_id)
    ids = [c.chunk_id for c in chunks]
    return (
        ids_digest(ids) == record.chunk_ids_digest
        and sorted(store.chunk_ids(record.doc_id, record.version)) == sorted(ids)
        and store.sentence_count(record.doc_id, record.version) == _expected_counts(chunks) == record.sentences
        and store.text_block_count(record.doc_id, record.version) == _text_blocks(document.text)
    )


def _write_document(
    store: ChromaStore,
    document: SourceDocument,
    sections: list[Section],
    plan: _Planned,
    record: DocumentRecord | None,
    settings: IndexSettings,
    embedder: Embedder,
    run: _Run,
) -> DocumentRecord:
    """Steps (a)-(e) of the module docstring for one document; returns its new record."""
    doc_id, version = document.doc_id, document.content_hash
    live = record.version if record is not None else None
    with run.timed("cleanup"):
        run.removed += store.delete_versions(doc_id, keep=live)  # (a)
    ids: list[str] = []
    sentences = 0
    batch: list[Chunk] = []
    stream = iter_document_chunks(
        document.text, sections, doc_id, document.title, chunk_params(settings),
        document.page_starts, version=version,
    )
    while True:
        with run.timed("chunk"):
            batch = [chunk for _, chunk in zip(range(WRITE_BATCH), stream)]
        if not batch:
            break
        ids += [c.chunk_id for c in batch]
        run.emit("chunk", len(ids), 0, doc_id)
        sentences += _write_batch(store, batch, version, settings.sentence_vectors, embedder, run)  # (b)
    if len(set(ids)) != len(ids):  # a second chunk under one id would silently replace the first
        raise RuntimeError(f"chunking {doc_id} produced repeated chunk ids; this is a bug")
    with run.timed("write"):
        blocks = store.write_text_blocks(doc_id, version, document.text)
    run.emit("write", len(ids), len(ids), doc_id)
    if live == version:  # a repair of the live version: drop records it no longer has
        with run.timed("cleanup"):
            run.removed += store.delete_chunks(set(store.chunk_ids(doc_id, version)) - set(ids))
            run.removed += store.delete_text_blocks_from(doc_id, version, blocks)
    written = DocumentRecord(
        doc_id=doc_id,
        title=document.title,
        source=document.source,
        kind=document.kind,
        version=version,
        chunks=len(ids),
        sentences=sentences,
        pages=document.pages or 0,
        added_at=datetime.now(UTC).isoformat(timespec="seconds"),
        bytes=plan.path.stat().st_size,
        chunk_ids_digest=ids_digest(ids),
    )
    with run.timed("commit"):
        store.commit_document(written)  # (c)
        store.bump_generation()  # (d)
    run.emit("commit", 1, 1, doc_id)
    if live is not None and live != version:
        with run.timed("cleanup"):
            run.removed += store.delete_versions(doc_id, keep=version)  # (e)
        run.emit("cleanup", 1, 1, doc_id)
    return written


def _write_batch(
    store: ChromaStore,
    batch: list[Chunk],
    version: str,
    method: SentenceVectors,
    embedder: Embedder,
    run: _Run,
) -> int:
    """Embed and write one batch of chunks with their sentences; returns the sentence count.

    Sentences are written before their chunks, so a stored chunk always has its sentences
    (vector reuse relies on it).
    """
    doc_id = batch[0].doc_id
    spans = [split_sentences(c.text) for c in batch]
    with run.timed("embed"):
        chunk_vectors, sentence_vectors = _embed_batch(store, batch, spans, method, embedder, run)
    run.emit("embed", run.embedded_chunks, 0, doc_id)
    stored = [
        StoredSentence(chunk.chunk_id, i, chunk.start + a, chunk.start + b, vectors[i])
        for chunk, chunk_spans, vectors in zip(batch, spans, sentence_vectors)
        for i, (a, b) in enumerate(chunk_spans)
    ]
    hashes = [content_hash(c.text[a:b]) for c, chunk_spans in zip(batch, spans) for a, b in chunk_spans]
    with run.timed("chunk"):  # ~0.1 ms a chunk: MinHash over its words (ingest.dedup)
        keys = [near_duplicate_keys(c.text) for c in batch]
    with run.timed("write"):
        store.write_sentences(doc_id, version, stored, hashes)
        store.write_chunks(batch, version, chunk_vectors, keys)
    run.emit("write", len(stored), 0, doc_id)
    return len(stored)


def _embed_batch(
    store: ChromaStore,
    batch: list[Chunk],
    spans: list[list[tuple[int, int]]],
    method: SentenceVectors,
    embedder: Embedder,
    run: _Run,
) -> tuple[Matrix, list[Matrix]]:
    """Chunk vectors and per-chunk sentence vectors for a batch.

    A chunk whose text is already stored (any document or version: an edited document keeps
    most of its chunks) reuses the stored chunk and sentence vectors. The rest are embedded
    by `method`: "late" pools sentence vectors out of the chunk's own pass; "separate" embeds
    the chunk and each distinct sentence text not already stored; "sentences" embeds only the
    sentences and averages them into the chunk's vector.
    """
    dimensions = embedder.dimensions
    chunk_vectors = np.zeros((len(batch), dimensions), dtype=np.float32)
    sentence_vectors = [np.zeros((len(s), dimensions), dtype=np.float32) for s in spans]
    todo = list(range(len(batch)))
    stored = store.vectors_by_content([c.content_hash for c in batch])
    if stored:
        rows: dict[str, dict[int, StoredSentence]] = {}
        for sentence in store.sentences_of([chunk_id for chunk_id, _, _ in stored.values()]):
            rows.setdefault(sentence.chunk_id, {})[sentence.index] = sentence
        todo = []
        for i, chunk in enumerate(batch):
            found = stored.get(chunk.content_hash)
            old = rows.get(found[0], {}) if found else {}
            relative = [(s.start - found[1], s.end - found[1]) for _, s in sorted(old.items())] if found else []
            if found is None or relative != spans[i]:
                todo.append(i)
                continue
            chunk_vectors[i] = found[2]
            sentence_vectors[i] = np.vstack([s.vector for _, s in sorted(old.items())]) if old else sentence_vectors[i]
    if not todo:
        return chunk_vectors, sentence_vectors
    texts = [batch[i].text for i in todo]
    run.embedded_chunks += len(todo)
    if method == "late":
        if not isinstance(embedder, SentencePoolingEmbedder):
            raise IndexNotReadyError(
                f"the embedder {embedder.model_id} cannot pool sentence vectors from a chunk: "
                "set CITEQA_SENTENCE_VECTORS=separate and run `citeqa ingest --rebuild FILES`"
            )
        fresh_chunks, fresh_sentences = embedder.embed_with_sentences(texts, [spans[i] for i in todo])
        run.embedded_texts += len(texts)
        for k, i in enumerate(todo):
            chunk_vectors[i] = fresh_chunks[k]
            sentence_vectors[i] = fresh_sentences[k]
        return chunk_vectors, sentence_vectors
    if method == "separate":
        fresh = embed_distinct(embedder, texts)
        run.embedded_texts += len(set(texts))
    sentence_texts = [batch[i].text[a:b] for i in todo for a, b in spans[i]]
    hashes = [content_hash(t) for t in sentence_texts]
    known = store.sentence_vectors_by_text(hashes)
    unknown = [t for t, h in zip(sentence_texts, hashes) if h not in known]
    computed = dict(zip(unknown, embed_distinct(embedder, unknown))) if unknown else {}
    run.embedded_texts += len(computed)
    position = 0
    for k, i in enumerate(todo):
        count = len(spans[i])
        sentence_vectors[i] = np.vstack(
            [
                known[h] if h in known else computed[t]
                for t, h in zip(sentence_texts[position : position + count], hashes[position : position + count])
            ]
        ) if count else sentence_vectors[i]
        position += count
        if method == "separate":
            chunk_vectors[i] = fresh[k]
        else:  # "sentences": the chunk is what its sentences say, on average
            mean = sentence_vectors[i].mean(axis=0) if count else sentence_vectors[i].sum(axis=0)
            norm = float(np.linalg.norm(mean))
            chunk_vectors[i] = mean / norm if norm > 0 else mean
    return chunk_vectors, sentence_vectors


def _update_keyword_cache(store: ChromaStore, settings: IndexSettings, run: _Run) -> None:
    """Bring this data folder's keyword cache up to date with the store (stage "keyword")."""
    manifest = store.manifest()
    if manifest is None:
        return
    documents = store.documents()

    def source(doc_id: str, version: str) -> Iterator[list[tuple[Chunk, tuple[str, ...] | None]]]:
        return store.iter_chunk_records(doc_id, version)

    def progress(done: int, total: int, doc_id: str) -> None:
        run.emit("keyword", done, total, doc_id)

    with run.timed("keyword"):
        cache.load_or_build(settings.data_dir, manifest, documents, source, print_notice, progress=progress, quiet=True)
    run.emit("keyword", len(documents), len(documents))


def delete_document(
    settings: IndexSettings, doc_id: str, *, progress: Progress | None = None
) -> DocumentRecord:
    """Remove a document from the index; returns the record it had.

    The record goes first (the document vanishes for readers), then the generation is bumped,
    then its chunks, sentences and text blocks are deleted. Raises UnknownDocumentError when
    no document has this id.
    """
    run = _Run(progress)
    store = open_store(settings)
    records = store.documents() if store.manifest() is not None else {}
    record = records.get(doc_id)
    if record is None:
        known = ", ".join(sorted(records)[:5]) or "none"
        raise UnknownDocumentError(
            f"no document {doc_id!r} in the index (documents: {known}); `citeqa documents` lists them"
        )
    store.delete_document_record(doc_id)
    store.bump_generation()
    run.emit("commit", 1, 1, doc_id)
    store.delete_versions(doc_id, keep=None)
    run.emit("cleanup", 1, 1, doc_id)
    _update_keyword_cache(store, settings, run)
    return record


def list_documents(settings: IndexSettings) -> list[DocumentRecord]:
    """The live documents of the index, by doc_id (empty when there is no index)."""
    store = open_store(settings)
    if store.manifest() is None or not store.exists():
        return []
    return [record for _, record in sorted(store.documents().items())]
