"""build_index(): files → clean → sections → chunks → vectors → Chroma, plus derived caches.

Safe to run again and again: an unchanged document (same clean-text hash, same embedder and
chunking) is skipped without embedding; a changed one has all its chunks replaced. Every
input file is read and checked before the index is touched, so a bad file costs nothing.
The manifest says "writing" from the first write until the last, so an interrupted run is
noticed by the next query instead of being used silently.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ingest.chunk import Chunk, ChunkParams, chunk_document
from ingest.embed import Embedder
from ingest.errors import InputFileError
from ingest.keyword import KeywordIndex
from ingest.load import SourceDocument, read_document
from ingest.sections import parse_sections
from ingest.sentences import SentenceIndex
from ingest.store import ChunkStore, DocumentRecord, Manifest


@dataclass(frozen=True)
class IngestSummary:
    """What an ingest did (printed by `citeqa ingest`, asserted by tests)."""

    documents: int
    chunks: int
    sections: int
    embedded_chunks: int
    skipped_documents: list[str]
    replaced_documents: list[str]
    seconds: float


# Bump when the keyword index or sentence index is built differently: old caches are ignored.
DERIVED_VERSION = 3


def derived_dir(data_dir: Path, manifest: Manifest) -> Path:
    """Where the keyword index and sentence vectors of this exact index state live."""
    return data_dir / "derived" / f"v{DERIVED_VERSION}-{manifest.fingerprint}"


def chunk_source(document: SourceDocument, params: ChunkParams) -> tuple[list[Chunk], int]:
    """The chunks of a document and its number of sections."""
    sections = parse_sections(document.text, document.title)
    chunks = chunk_document(
        document.text, sections, document.doc_id, document.title, params, document.page_starts
    )
    return chunks, len(sections)


def build_index(
    paths: Sequence[Path],
    store: ChunkStore,
    embedder: Embedder,
    params: ChunkParams,
    data_dir: Path,
    *,
    rebuild: bool = False,
    show_progress: bool = False,
) -> IngestSummary:
    """Ingest `paths` into `store` (see the module docstring for the guarantees).

    Raises InputFileError before any write if a file cannot be used, IndexMismatchError if the
    stored index was built with another embedder or chunking and `rebuild` is False, and
    InputFileError if two files would get the same document id.
    """
    from tqdm import tqdm

    started = time.perf_counter()
    documents = [read_document(Path(p)) for p in paths]
    seen: dict[str, str] = {}
    for document in documents:
        if document.doc_id in seen and seen[document.doc_id] != document.source:
            raise InputFileError(
                f"{document.source} and {seen[document.doc_id]} both map to document id "
                f"{document.doc_id}; rename one"
            )
        seen[document.doc_id] = document.source

    if rebuild:
        store.clear()
    fresh = Manifest(
        embedding_model=embedder.model_id,
        dimensions=embedder.dimensions,
        chunk_max_tokens=params.max_tokens,
        chunk_overlap_tokens=params.overlap_tokens,
    )
    manifest = store.manifest()
    if manifest is None:
        manifest = fresh
    else:
        manifest.check_compatible(
            embedder.model_id, embedder.dimensions, params.max_tokens, params.overlap_tokens
        )

    records = dict(manifest.documents)
    skipped, replaced = [], []
    embedded = 0
    total_sections = 0
    todo: list[tuple[SourceDocument, list[Chunk]]] = []
    for document in documents:
        chunks, sections = chunk_source(document, params)
        total_sections += sections
        known = records.get(document.doc_id)
        # Skip only if the previous ingest finished: after an interruption every changed
        # document is written again, the unchanged ones are trusted as stored.
        if known and known.content_hash == document.content_hash:
            skipped.append(document.doc_id)
        else:
            todo.append((document, chunks))

    if todo:
        store.write_manifest(replace(manifest, state="writing", documents=records))
        bar = tqdm(
            total=sum(len(chunks) for _, chunks in todo),
            desc="embedding chunks",
            unit="chunk",
            disable=not show_progress,
        )
        for document, chunks in todo:
            vectors = []
            for start in range(0, len(chunks), 32):
                batch = chunks[start : start + 32]
                vectors.append(embedder.embed_documents([c.text for c in batch]))
                bar.update(len(batch))
            matrix = np.vstack(vectors) if vectors else np.zeros((0, embedder.dimensions), np.float32)
            if document.doc_id in records:
                replaced.append(document.doc_id)
            store.replace_document(document.doc_id, document.text, chunks, matrix)
            embedded += len(chunks)
            records[document.doc_id] = DocumentRecord(
                doc_id=document.doc_id,
                title=document.title,
                source=document.source,
                content_hash=document.content_hash,
                chunks=len(chunks),
            )
        bar.close()
    manifest = replace(manifest, state="ready", documents=records)
    ensure_derived(store, embedder, manifest, data_dir, show_progress=show_progress)
    # "ready" is written last: derived caches exist before any query can see the new state.
    store.write_manifest(manifest)
    return IngestSummary(
        documents=len(documents),
        chunks=sum(r.chunks for r in records.values() if r.doc_id in seen),
        sections=total_sections,
        embedded_chunks=embedded,
        skipped_documents=skipped,
        replaced_documents=replaced,
        seconds=time.perf_counter() - started,
    )


def ensure_derived(
    store: ChunkStore,
    embedder: Embedder,
    manifest: Manifest,
    data_dir: Path,
    *,
    show_progress: bool = False,
) -> Path:
    """Build the keyword index and sentence vectors for this index state unless cached."""
    folder = derived_dir(data_dir, manifest)
    if (folder / "complete").exists():
        return folder
    chunks = store.all_chunks()
    staging = folder.with_name(folder.name + ".partial")
    if show_progress:
        print(f"building keyword index and sentence vectors for {len(chunks)} chunks …")
    KeywordIndex.build(chunks).save(staging / "keyword")
    SentenceIndex.build(chunks, embedder).save(staging / "sentences")
    (staging / "complete").write_text("ok\n", encoding="utf-8")
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    staging.rename(folder)
    return folder
