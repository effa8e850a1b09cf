"""ChunkStore: chunks, vectors and metadata in one Chroma collection (embedded or server).

Writes go through llama-index's `ChromaVectorStore` (nodes with our embeddings); the
collection's own metadata holds the manifest (embedding model, dimensions, chunking, one
content hash per document, and a `state` that is "writing" while an ingest runs), so the
manifest travels with the vectors to a Chroma server. A second collection keeps each
document's clean text, for highlighting a cited passage in its context.
Embedded and server Chroma differ only in the client, so there is no protocol here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ingest.chunk import Chunk
from ingest.embed import Matrix
from ingest.errors import IndexMismatchError, IndexNotReadyError, StoreUnavailableError

MANIFEST_KEY = "citeqa_manifest"
MANIFEST_SCHEMA = 1
_TEXT_FIELDS = ("text",)


@dataclass(frozen=True)
class DocumentRecord:
    """What the manifest remembers of one ingested document."""

    doc_id: str
    title: str
    source: str
    content_hash: str
    chunks: int


@dataclass(frozen=True)
class Manifest:
    """How the index was built; a mismatch with the current settings needs `--rebuild`."""

    embedding_model: str
    dimensions: int
    chunk_max_tokens: int
    chunk_overlap_tokens: int
    state: str = "ready"  # "writing" while an ingest is under way
    documents: dict[str, DocumentRecord] = field(default_factory=dict)
    schema: int = MANIFEST_SCHEMA

    @property
    def fingerprint(self) -> str:
        """Changes whenever the stored chunks could have changed (keys derived caches)."""
        from ingest.chunk import content_hash

        parts = [self.embedding_model, str(self.chunk_max_tokens), str(self.chunk_overlap_tokens)]
        parts += [f"{d}={r.content_hash}" for d, r in sorted(self.documents.items())]
        return content_hash("|".join(parts))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Manifest:
        data = json.loads(raw)
        documents = {k: DocumentRecord(**v) for k, v in data.pop("documents", {}).items()}
        return cls(documents=documents, **data)

    def check_compatible(self, model_id: str, dimensions: int, max_tokens: int, overlap: int) -> None:
        """Raise IndexMismatchError if the index was built another way."""
        wanted = (model_id, dimensions, max_tokens, overlap)
        built = (self.embedding_model, self.dimensions, self.chunk_max_tokens, self.chunk_overlap_tokens)
        if wanted != built:
            raise IndexMismatchError(
                f"the index was built with embedder {built[0]} ({built[1]} dims), chunks of "
                f"{built[2]} tokens overlapping {built[3]}; now {wanted[0]} ({wanted[1]} dims), "
                f"{wanted[2]}/{wanted[3]}: run `citeqa ingest --rebuild`"
            )


def open_client(data_dir: Path, chroma_url: str | None) -> Any:
    """An embedded PersistentClient in data_dir/chroma, or an HttpClient for a server URL."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        try:
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception as error:  # chromadb raises bare ValueError/httpx errors here
            raise StoreUnavailableError(
                f"no Chroma server answers at {chroma_url} ({type(error).__name__}); "
                "start one with `chroma run` or unset CITEQA_CHROMA_URL"
            ) from None
        return client
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


class ChunkStore:
    """One Chroma collection of chunks (plus a companion collection of document texts)."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self.name = name
        self._collection = client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        self._documents = client.get_or_create_collection(
            f"{name}_documents", embedding_function=None
        )

    @cached_property
    def _vector_store(self) -> Any:
        # Imported on first write only: llama-index takes ~1.6 s to import, and a process
        # that only answers questions reads the collection directly.
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self._collection)

    # --- manifest -------------------------------------------------------------------------
    def manifest(self) -> Manifest | None:
        """The stored manifest, or None for an empty, never-ingested collection."""
        self._collection = self._client.get_collection(self.name, embedding_function=None)
        raw = (self._collection.metadata or {}).get(MANIFEST_KEY)
        return Manifest.from_json(raw) if raw else None

    def write_manifest(self, manifest: Manifest) -> None:
        self._collection.modify(metadata={MANIFEST_KEY: manifest.to_json()})

    def ready_manifest(self) -> Manifest:
        """The manifest of a complete index; IndexNotReadyError otherwise."""
        manifest = self.manifest()
        if manifest is None or not manifest.documents:
            raise IndexNotReadyError("the index is empty: run `citeqa ingest` first")
        if manifest.state != "ready":
            raise IndexNotReadyError(
                "an ingest was interrupted and the index is incomplete: run `citeqa ingest` again"
            )
        return manifest

    # --- writes ---------------------------------------------------------------------------
    def replace_document(
        self, doc_id: str, clean_text: str, chunks: Sequence[Chunk], vectors: Matrix
    ) -> None:
        """Remove every chunk of doc_id, then store the new chunks with their vectors."""
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        self.delete_document(doc_id)
        nodes = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            metadata = {k: v for k, v in asdict(chunk).items() if k not in _TEXT_FIELDS}
            metadata["duplicate_of"] = chunk.duplicate_of or ""
            if chunk.page is None:
                metadata.pop("page")  # Chroma metadata holds no nulls
            nodes.append(
                TextNode(
                    id_=chunk.chunk_id,
                    text=chunk.text,
                    metadata=metadata,
                    embedding=[float(x) for x in vector],
                    start_char_idx=chunk.start,
                    end_char_idx=chunk.end,
                    # llama-index stores the SOURCE node id as `document_id` and deletes by it.
                    relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc_id)},
                )
            )
        if nodes:
            self._vector_store.add(nodes)
        centroid = vectors.mean(axis=0) if len(vectors) else np.zeros(1, dtype=np.float32)
        self._documents.upsert(
            ids=[doc_id], documents=[clean_text], embeddings=[[float(x) for x in centroid]]
        )

    def delete_document(self, doc_id: str) -> None:
        self._vector_store.delete(ref_doc_id=doc_id)
        self._documents.delete(ids=[doc_id])

    def clear(self) -> None:
        """Drop everything (for --rebuild)."""
        for name in (self.name, f"{self.name}_documents"):
            try:
                self._client.delete_collection(name)
            except Exception:  # missing already: nothing to drop
                pass
        self.__dict__.pop("_vector_store", None)
        self.__init__(self._client, self.name)  # type: ignore[misc]

    # --- reads ----------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._collection.count())

    def query(self, vector: Matrix, k: int) -> list[tuple[Chunk, float]]:
        """The k chunks nearest to vector, with cosine similarity, best first."""
        k = min(k, self.count())
        if k <= 0:
            return []
        result = self._collection.query(
            query_embeddings=[[float(x) for x in vector]],
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (_chunk_from_record(text, metadata), 1.0 - float(distance))
            for text, metadata, distance in zip(
                result["documents"][0], result["metadatas"][0], result["distances"][0]
            )
        ]

    def nearest(self, vector: Matrix, k: int) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the k chunks nearest to vector, best first.

        Asks Chroma for ids and distances only: fetching texts and metadata triples the
        query time, and the caller already holds every chunk in memory. The caller keeps k at
        most the number of stored chunks (counting would cost another round trip).
        """
        if k <= 0:
            return []
        result = self._collection.query(
            query_embeddings=[[float(x) for x in vector]], n_results=k, include=["distances"]
        )
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    def all_chunks(self) -> list[Chunk]:
        """Every stored chunk, in document order."""
        result = self._collection.get(include=["documents", "metadatas"])
        chunks = [_chunk_from_record(t, m) for t, m in zip(result["documents"], result["metadatas"])]
        return sorted(chunks, key=lambda c: (c.doc_id, c.start))

    def document_text(self, doc_id: str) -> str | None:
        result = self._documents.get(ids=[doc_id], include=["documents"])
        return result["documents"][0] if result["documents"] else None


def _chunk_from_record(text: str, metadata: dict[str, Any]) -> Chunk:
    fields = {name: metadata[name] for name in Chunk.__dataclass_fields__ if name in metadata}
    fields["duplicate_of"] = metadata.get("duplicate_of") or None
    fields["page"] = metadata.get("page")
    return Chunk(text=text, **fields)

