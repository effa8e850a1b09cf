"""Chroma access: the index's four collections, embedded or on a server; the only chromadb user.

For a configured name N the store keeps, shared by every replica and authoritative:
    N            chunks: chunk vector, chunk text, metadata (no document title: it is in the
                 document record; headings are capped by ingest.sections; `near_keys`, the
                 text's eight MinHash band keys from ingest.dedup as one 87-character string,
                 so near-duplicates across documents are found by equality); the collection
                 metadata is the manifest (how the index was built, and a `generation` counter
                 bumped after every committed change, which replicas poll)
    N_sentences  one record per sentence of every chunk: its vector and its offsets
    N_documents  one record per live document: the COMMIT POINT of that document's version
    N_texts      the clean text of each document in blocks of TEXT_BLOCK_CHARS
Chunk, sentence and text records carry the document version (its clean-text hash); records of a
version no document record names are invisible to readers and removed by the next ingest.

Every Chroma call goes through `_calls()`, which turns library and transport failures into
one-line citeqa errors: StoreUnavailableError for a server that is down, hung or failing (every
HTTP request is bounded by the timeout, see `open_client`), StoreDamagedError for an embedded
database that cannot be read, IndexNotReadyError for collections that vanished. A collection
that does not exist on delete is the one failure expected and matched by type.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ingest.chunk import Chunk
from ingest.embed import Matrix
from ingest.errors import (
    CiteqaError,
    IndexMismatchError,
    IndexNotReadyError,
    StoreDamagedError,
    StoreUnavailableError,
)
from ingest.vector_files import check_vector_files

SCHEMA = 2
_MANIFEST_PREFIX = "citeqa_"
_OLD_MANIFEST_KEY = "citeqa_manifest"  # schema 1 kept the whole manifest as one JSON string
# Clean text is stored in blocks this long: the page shows ±1,500 characters around a passage
# from one or two blocks, never loading a 50 MB text. Fixed-size blocks make the block of an
# offset `offset // TEXT_BLOCK_CHARS`, so a window is fetched by id, without a metadata query.
TEXT_BLOCK_CHARS = 16_000
# Records per Chroma write or page of a read: under chromadb's max batch (5,461 here) and small
# enough that a page of 384-d vectors stays ~1.5 MB.
PAGE = 1_000
# The documents and texts collections hold no meaningful vector, but Chroma requires one for
# every record (without one it calls its default embedding function, which downloads a model).
# [1.0] is the smallest valid vector: one dimension, non-zero (a zero vector has no direction,
# which cosine spaces reject or turn into NaN); it is never queried.
PLACEHOLDER_VECTOR = [1.0]
# Stored copies fetched per distinct text when looking for vectors to reuse.
_REUSE_LIMIT = 2
# The sentences collection is searched by similarity too (a chunk ranked by its best sentence), so
# its HNSW graph has Chroma's default quality; that costs about twice the write time of the
# cheapest graph (measured: 1.4 s vs 0.6 s for 5,000 vectors), small beside embedding them.
_SENTENCE_GRAPH = {"space": "cosine"}


# Chroma's collection names (the stricter of its Python and Rust checks): 3-63 characters of
# [a-zA-Z0-9._-], starting and ending with a letter or digit, no "..", not an IPv4 address.
# The longest of the four names is NAME_sentences, so NAME may have 63 - 10 characters.
COLLECTION_NAME_CHARS = 63 - len("_sentences")
_COLLECTION_NAME = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9._-]*[a-zA-Z0-9])?$")
_IPV4 = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$")


def collection_name_problem(name: str) -> str | None:
    """Why Chroma would refuse `name` (or one of the four names made from it); None if fine."""
    if not 3 <= len(name) <= COLLECTION_NAME_CHARS:
        return f"{name!r} must have 3 to {COLLECTION_NAME_CHARS} characters"
    if not _COLLECTION_NAME.match(name) or ".." in name or _IPV4.match(name):
        return (
            f"{name!r} must be letters, digits, '.', '_' and '-', start and end with a letter "
            "or digit, hold no '..' and not be an IPv4 address"
        )
    return None


@dataclass(frozen=True)
class Manifest:
    """How the index was built (a mismatch needs `--rebuild`) and its change counter."""

    embedding_model: str
    dimensions: int
    chunk_max_tokens: int
    chunk_overlap_tokens: int
    sentence_vectors: str
    generation: int = 0
    schema: int = SCHEMA

    def build_parameters(self) -> dict[str, str | int]:
        """Everything but the generation: what the stored vectors and chunks depend on."""
        values = asdict(self)
        values.pop("generation")
        return values

    def to_metadata(self) -> dict[str, str | int]:
        return {_MANIFEST_PREFIX + k: v for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None) -> Manifest | None:
        """The manifest in a collection's metadata; None if it has none.

        Raises IndexMismatchError for an index written by an older citeqa (another schema).
        """
        metadata = metadata or {}
        if _OLD_MANIFEST_KEY in metadata or (
            _MANIFEST_PREFIX + "schema" in metadata
            and metadata[_MANIFEST_PREFIX + "schema"] != SCHEMA
        ):
            raise IndexMismatchError(
                "the index was written by an older citeqa in another layout: "
                "run `citeqa ingest --rebuild FILES`"
            )
        values = {
            f.name: metadata[_MANIFEST_PREFIX + f.name]
            for f in fields(cls)
            if _MANIFEST_PREFIX + f.name in metadata
        }
        if len(values) != len(fields(cls)):
            return None
        return cls(**values)

    def check_compatible(self, wanted: Manifest) -> None:
        """Raise IndexMismatchError if the index was built otherwise than `wanted` asks."""
        built, asked = self.build_parameters(), wanted.build_parameters()
        if built != asked:
            differs = ", ".join(f"{k} {built[k]} (now {asked[k]})" for k in built if built[k] != asked[k])
            raise IndexMismatchError(
                f"the index was built with {differs}: run `citeqa ingest --rebuild FILES`"
            )


@dataclass(frozen=True)
class DocumentRecord:
    """One live document: the commit point of its current version.

    `version` is the clean text's content hash; chunk, sentence and text records of any other
    version are not this document's. `chunk_ids_digest` hashes the sorted ids of its chunks
    (see `ids_digest`); `pages` is 0 for formats without pages; `added_at` is ISO 8601 UTC.
    """

    doc_id: str
    title: str
    source: str
    kind: str
    version: str
    chunks: int
    sentences: int
    pages: int
    added_at: str
    bytes: int
    chunk_ids_digest: str

    def to_metadata(self) -> dict[str, str | int]:
        values = asdict(self)
        values.pop("doc_id")
        return values

    @classmethod
    def from_record(cls, doc_id: str, metadata: Mapping[str, Any]) -> DocumentRecord:
        return cls(doc_id=doc_id, **{f.name: metadata[f.name] for f in fields(cls) if f.name != "doc_id"})


@dataclass(frozen=True)
class StoredSentence:
    """A sentence record: offsets into its document's clean text, and its vector."""

    chunk_id: str
    index: int
    start: int
    end: int
    vector: Matrix


def ids_digest(chunk_ids: Sequence[str]) -> str:
    """Hash of a set of chunk ids (order-free): what a document record and the keyword cache
    compare to know they describe the same chunks (ids are content-addressed)."""
    from ingest.chunk import content_hash

    return content_hash("\n".join(sorted(chunk_ids)))


def sentence_id(chunk_id: str, index: int) -> str:
    return f"{chunk_id}#{index}"


def text_block_id(doc_id: str, version: str, number: int) -> str:
    return f"{doc_id}@{version}:{number}"


@dataclass(frozen=True)
class StoreLocation:
    """Where the store is, for messages: a server URL, or the embedded database's folder."""

    url: str | None
    path: Path | None
    timeout_s: float

    @property
    def sqlite_file(self) -> Path:
        assert self.path is not None
        return self.path / "chroma.sqlite3"

    def describe(self) -> str:
        return f"the Chroma server at {self.url}" if self.url else str(self.path)


def embedded_path(data_dir: Path) -> Path:
    return data_dir / "chroma"


def open_client(data_dir: Path, chroma_url: str | None, timeout_s: float) -> tuple[Any, StoreLocation]:
    """A Chroma client and where it points: embedded in data_dir/chroma, or a server URL.

    Server mode bounds every request by `timeout_s`. chromadb's HttpClient builds its httpx
    session with `timeout=None` and offers no setting for it, and its constructor already sends
    three requests; so the client is built in a daemon thread we wait `timeout_s` for, then its
    session's timeout is set (httpx applies a client's timeout to every later request). This
    touches one private attribute (`_server._session`), checked here so a chromadb upgrade that
    moves it fails loudly at connect instead of hanging later; tests/test_chroma_server.py
    covers it with a server that accepts and never answers.

    Raises StoreUnavailableError (server down, hung, or failing) or StoreDamagedError (the
    embedded database cannot be opened).
    """
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        location = StoreLocation(url=chroma_url, path=None, timeout_s=timeout_s)
        return _connect_server(chroma_url, timeout_s, chroma_settings, location), location
    path = embedded_path(data_dir)
    location = StoreLocation(url=None, path=path, timeout_s=timeout_s)
    if data_dir.exists() and not data_dir.is_dir():
        raise StoreUnavailableError(
            f"the data folder {data_dir} is a file, not a folder: point CITEQA_DATA_DIR at a folder"
        )
    if path.exists() and not path.is_dir():
        raise StoreDamagedError(
            f"{path} is a file, not the database folder: run `citeqa ingest --rebuild FILES`, "
            f"which moves it aside to {path.name}.damaged-<UTC time>"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreUnavailableError(f"{path} cannot be created: {error.strerror}") from None
    check_vector_files(path)  # hnswlib crashes, or answers wrongly, on damaged graph files
    try:
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings), location
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # PanicException from chromadb's Rust core is a BaseException
        _forget_failed_system(str(path))
        raise _translate(error, location) from None


def _connect_server(url: str, timeout_s: float, chroma_settings: Any, location: StoreLocation) -> Any:
    import chromadb
    import httpx

    parsed = urlparse(url)
    outcome: dict[str, Any] = {}

    def connect() -> None:
        try:
            outcome["client"] = chromadb.HttpClient(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error

    # A daemon thread: if the server never answers, the thread stays blocked until the server
    # closes the socket, and must not keep the process alive at exit.
    thread = threading.Thread(target=connect, name="citeqa-chroma-connect", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise StoreUnavailableError(
            f"the Chroma server at {url} did not answer within {timeout_s:g} s; check it, or "
            "raise CITEQA_CHROMA_TIMEOUT_S"
        )
    if "error" in outcome:
        raise _translate(outcome["error"], location) from None
    client = outcome["client"]
    session = getattr(getattr(client, "_server", None), "_session", None)
    if not isinstance(session, httpx.Client):
        raise RuntimeError(
            "cannot bound Chroma requests: chromadb's HTTP client no longer keeps an httpx "
            "session at ._server._session (see ingest/store.py, open_client)"
        )
    session.timeout = httpx.Timeout(timeout_s)
    return client


def _forget_failed_system(identifier: str) -> None:
    """chromadb caches a client's System by path before starting it; when starting fails the
    half-made System stays cached and the next open in this process gets it (AttributeError).
    Drop it, so a later open (after --rebuild moved the damaged files) starts afresh."""
    from chromadb.api.shared_system_client import SharedSystemClient

    systems = getattr(SharedSystemClient, "_identifier_to_system", None)
    if isinstance(systems, dict):
        systems.pop(identifier, None)


def close_client(client: Any) -> None:
    """Release the client's database handles (an embedded database can then be moved)."""
    close = getattr(client, "close", None)
    if callable(close):
        close()


def move_aside(path: Path) -> Path:
    """Move a damaged embedded database folder (or a file in its place) to
    `<name>.damaged-<UTC time>` beside it; it is never deleted. Returns the new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    suffix = 1
    while target.exists():
        suffix += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{suffix}")
    _forget_failed_system(str(path))
    shutil.move(str(path), str(target))
    return target


def _translate(error: BaseException, location: StoreLocation) -> CiteqaError:
    """The citeqa error for a failure of Chroma at `location` (see the module docstring)."""
    import httpx
    from chromadb.errors import ChromaError

    # chromadb re-raises some transport errors as ValueError ("Could not connect to a Chroma
    # server"): the httpx error it hides is the one that says what happened.
    chain: list[BaseException] = [error]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 8:
        chain.append(cause)
    error = next((e for e in chain if isinstance(e, httpx.HTTPError | ConnectionError)), error)
    name = type(error).__name__
    detail = " ".join(str(error).split())[:160]
    if location.url:
        if isinstance(error, httpx.TimeoutException):
            return StoreUnavailableError(
                f"the Chroma server at {location.url} did not answer within "
                f"{location.timeout_s:g} s ({name}); check it, or raise CITEQA_CHROMA_TIMEOUT_S"
            )
        if isinstance(error, httpx.TransportError | ConnectionError):
            return StoreUnavailableError(
                f"no Chroma server answers at {location.url} ({name}); start one with "
                "`chroma run` or unset CITEQA_CHROMA_URL"
            )
        return StoreUnavailableError(f"the Chroma server at {location.url} failed: {name}: {detail}")
    if "locked" in detail:
        return StoreUnavailableError(
            f"{location.sqlite_file} is locked by another process (an ingest running?): try again"
        )
    if isinstance(error, OSError) and not isinstance(error, ChromaError):
        return StoreUnavailableError(f"{location.path} cannot be opened: {error.strerror or name}")
    return StoreDamagedError(
        f"{location.sqlite_file} is damaged ({detail or name}): run `citeqa ingest --rebuild "
        f"FILES`, which moves it aside to {location.path and location.path.name}.damaged-<UTC time> "
        "and builds the index anew"
    )


class ChromaStore:
    """The four collections of one index name (see the module docstring)."""

    def __init__(self, client: Any, name: str, location: StoreLocation) -> None:
        self._client = client
        self.name = name
        self.location = location
        self._collections: dict[str, Any] = {}
        # The chunks collection's id when last read: it changes when the index is rebuilt.
        self.collection_id = ""

    # --- errors ---------------------------------------------------------------------------
    @contextmanager
    def _calls(self) -> Iterator[None]:
        from chromadb.errors import InvalidArgumentError, NotFoundError

        try:
            yield
        except (CiteqaError, KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except NotFoundError:
            self._collections.clear()
            raise IndexNotReadyError(self.lost_message()) from None
        except (InvalidArgumentError, TypeError, ValueError, AssertionError):
            raise  # a bug in what we asked for, not a store failure: show it
        except BaseException as error:
            raise _translate(error, self.location) from None

    def lost_message(self) -> str:
        where = self.location.describe()
        cause = (
            "was the server restarted without its data?"
            if self.location.url
            else "was the database deleted?"
        )
        return (
            f"the index {self.name!r} in {where} held documents before but is gone or empty now "
            f"({cause}): run `citeqa ingest FILES` to rebuild it"
        )

    # --- collections ----------------------------------------------------------------------
    def _names(self) -> dict[str, str]:
        n = self.name
        return {"chunks": n, "sentences": f"{n}_sentences", "documents": f"{n}_documents", "texts": f"{n}_texts"}

    def exists(self) -> bool:
        """True when all four collections exist (an index was created here)."""
        from chromadb.errors import NotFoundError

        with self._calls():
            try:
                for role, name in self._names().items():
                    self._collections[role] = self._client.get_collection(name, embedding_function=None)
            except NotFoundError:
                self._collections.clear()
                return False
        self.collection_id = str(self._collections["chunks"].id)
        return True

    def _collection(self, role: str) -> Any:
        if role not in self._collections and not self.exists():
            raise IndexNotReadyError(self.lost_message())
        return self._collections[role]

    def create(self, manifest: Manifest) -> Manifest:
        """Create the missing collections; write `manifest` if the index has none yet.
        Returns the stored manifest (the existing one when there was one)."""
        configurations: dict[str, dict[str, Any]] = {
            "chunks": {"hnsw": {"space": "cosine"}},
            "sentences": {"hnsw": _SENTENCE_GRAPH},
            "documents": {},
            "texts": {},
        }
        with self._calls():
            for role, name in self._names().items():
                self._collections[role] = self._client.get_or_create_collection(
                    name, configuration=configurations[role] or None, embedding_function=None
                )
            self.collection_id = str(self._collections["chunks"].id)
            stored = Manifest.from_metadata(self._collections["chunks"].metadata)
            if stored is None:
                self._collections["chunks"].modify(metadata=manifest.to_metadata())
                return manifest
        return stored

    def drop(self) -> list[str]:
        """Delete the four collections; returns the names that existed."""
        from chromadb.errors import NotFoundError

        dropped = []
        with self._calls():
            for name in self._names().values():
                try:
                    self._client.delete_collection(name)
                    dropped.append(name)
                except NotFoundError:  # never created: nothing to drop
                    continue
        self._collections.clear()
        return dropped

    # --- manifest -------------------------------------------------------------------------
    def manifest(self) -> Manifest | None:
        """The stored manifest, read fresh: one request (None when there is no index)."""
        from chromadb.errors import NotFoundError

        with self._calls():
            try:
                chunks = self._client.get_collection(self.name, embedding_function=None)
            except NotFoundError:
                self._collections.clear()
                return None
            if self.collection_id and str(chunks.id) != self.collection_id:
                self._collections.clear()  # rebuilt: the other handles name dropped collections
            self._collections["chunks"] = chunks
            self.collection_id = str(chunks.id)
            return Manifest.from_metadata(chunks.metadata)

    def generation(self) -> int:
        """The manifest's change counter, read fresh: one small request."""
        manifest = self.manifest()
        if manifest is None:
            raise IndexNotReadyError(self.lost_message())
        return manifest.generation

    def bump_generation(self) -> int:
        """Add one to the generation (after a committed change); returns the new value.
        One writer at a time is assumed; two racing writers still both move it forward."""
        manifest = self.manifest()
        if manifest is None:
            raise IndexNotReadyError(self.lost_message())
        bumped = Manifest(**{**asdict(manifest), "generation": manifest.generation + 1})
        with self._calls():
            self._collection("chunks").modify(metadata=bumped.to_metadata())
        return bumped.generation

    # --- documents ------------------------------------------------------------------------
    def documents(self) -> dict[str, DocumentRecord]:
        """Every live document record, by doc_id."""
        with self._calls():
            result = self._collection("documents").get(include=["metadatas"])
        return {
            doc_id: DocumentRecord.from_record(doc_id, metadata)
            for doc_id, metadata in zip(result["ids"], result["metadatas"])
        }

    def commit_document(self, record: DocumentRecord) -> None:
        """Write the document record: from now on readers see `record.version`."""
        with self._calls():
            self._collection("documents").upsert(
                ids=[record.doc_id], embeddings=[PLACEHOLDER_VECTOR], metadatas=[record.to_metadata()]
            )

    def delete_document_record(self, doc_id: str) -> None:
        with self._calls():
            self._collection("documents").delete(ids=[doc_id])

    # --- writes of a version's records -------------------------------------------------------
    def write_chunks(
        self, chunks: Sequence[Chunk], version: str, vectors: Matrix, near_keys: Sequence[Sequence[str]]
    ) -> None:
        """Upsert chunks (of one document version) with their vectors and near-duplicate keys
        (`near_keys[i]` for chunks[i]: `ingest.dedup.near_duplicate_keys` of its text)."""
        for start in range(0, len(chunks), PAGE):
            part = chunks[start : start + PAGE]
            with self._calls():
                self._collection("chunks").upsert(
                    ids=[c.chunk_id for c in part],
                    embeddings=vectors[start : start + PAGE],
                    documents=[c.text for c in part],
                    metadatas=[
                        _chunk_metadata(c, version, keys)
                        for c, keys in zip(part, near_keys[start : start + PAGE])
                    ],
                )

    def write_sentences(
        self, doc_id: str, version: str, sentences: Sequence[StoredSentence], text_hashes: Sequence[str]
    ) -> None:
        """Upsert sentence records (vectors and document offsets) of one document version."""
        for start in range(0, len(sentences), PAGE):
            part = sentences[start : start + PAGE]
            with self._calls():
                self._collection("sentences").upsert(
                    ids=[sentence_id(s.chunk_id, s.index) for s in part],
                    embeddings=np.vstack([s.vector for s in part]),
                    metadatas=[
                        {
                            "chunk_id": s.chunk_id,
                            "doc_id": doc_id,
                            "version": version,
                            "start": s.start,
                            "end": s.end,
                            "text_hash": h,
                        }
                        for s, h in zip(part, text_hashes[start : start + PAGE])
                    ],
                )

    def write_text_blocks(self, doc_id: str, version: str, text: str) -> int:
        """Store the clean text in TEXT_BLOCK_CHARS blocks; returns the number of blocks.

        The text goes into metadata, not the record's document: Chroma full-text-indexes
        documents (measured: ~8× the text in size, ~10× the write time), a search citeqa
        never runs on whole texts.
        """
        numbers = range(0, max(1, -(-len(text) // TEXT_BLOCK_CHARS)))
        for first in range(0, len(numbers), PAGE // 10):
            part = numbers[first : first + PAGE // 10]
            with self._calls():
                self._collection("texts").upsert(
                    ids=[text_block_id(doc_id, version, n) for n in part],
                    embeddings=[PLACEHOLDER_VECTOR] * len(part),
                    metadatas=[
                        {
                            "doc_id": doc_id,
                            "version": version,
                            "start": n * TEXT_BLOCK_CHARS,
                            "text": text[n * TEXT_BLOCK_CHARS : (n + 1) * TEXT_BLOCK_CHARS],
                        }
                        for n in part
                    ],
                )
        return len(numbers)

    def delete_versions(self, doc_id: str, keep: str | None) -> int:
        """Delete the chunk, sentence and text records of doc_id whose version is not `keep`
        (all of them when keep is None); returns how many were deleted."""
        where: dict[str, Any] = {"doc_id": doc_id}
        if keep is not None:
            where = {"$and": [{"doc_id": doc_id}, {"version": {"$ne": keep}}]}
        return self._delete_where(where)

    def delete_garbage(self, live: Mapping[str, str]) -> int:
        """Delete records of versions no live document names (doc_id → version in `live`);
        returns how many. One query per collection: a record is garbage if its version is no
        live version or its doc_id no live document. (A record of document A whose version
        equals B's live text is missed here; writing A always removes A's other versions.)"""
        if live:
            where: dict[str, Any] = {
                "$or": [
                    {"version": {"$nin": sorted(set(live.values()))}},
                    {"doc_id": {"$nin": sorted(live)}},
                ]
            }
        else:
            where = {"doc_id": {"$ne": ""}}  # every record
        return self._delete_where(where)

    def _delete_where(
        self, where: dict[str, Any], roles: Sequence[str] = ("chunks", "sentences", "texts")
    ) -> int:
        # Chunks before their sentences: a stored chunk always has its sentences.
        deleted = 0
        for role in roles:
            while True:
                with self._calls():
                    ids = self._collection(role).get(where=where, limit=PAGE, include=[])["ids"]
                    if not ids:
                        break
                    self._collection(role).delete(ids=ids)
                deleted += len(ids)
        return deleted

    # --- reads ----------------------------------------------------------------------------
    def nearest(
        self, vector: Matrix, n: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the n nearest chunk vectors, best first (of any
        version: the caller drops what is not live). Ids and distances only: fetching texts
        and metadata triples the query time."""
        if n <= 0:
            return []
        where = {"doc_id": {"$in": list(doc_ids)}} if doc_ids is not None else None
        with self._calls():
            result = self._collection("chunks").query(
                query_embeddings=[vector], n_results=n, where=where, include=["distances"]
            )
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    def nearest_sentences(
        self, vector: Matrix, n: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the n nearest sentence vectors (of any version),
        best first; a sentence id is `chunk_id#i`."""
        if n <= 0:
            return []
        where = {"doc_id": {"$in": list(doc_ids)}} if doc_ids is not None else None
        with self._calls():
            result = self._collection("sentences").query(
                query_embeddings=[vector], n_results=n, where=where, include=["distances"]
            )
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]

    def chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks with these ids (missing ids are left out); doc_title is ""."""
        found: list[Chunk] = []
        for start in range(0, len(ids), PAGE):
            with self._calls():
                result = self._collection("chunks").get(
                    ids=list(ids[start : start + PAGE]), include=["documents", "metadatas"]
                )
            found += [
                _chunk_from_record(i, t, m)
                for i, t, m in zip(result["ids"], result["documents"], result["metadatas"])
            ]
        return found

    def chunk_ids(self, doc_id: str, version: str) -> list[str]:
        """Ids of the stored chunks of one document version."""
        return self._ids("chunks", _version_where(doc_id, version))

    def sentence_count(self, doc_id: str, version: str) -> int:
        return len(self._ids("sentences", _version_where(doc_id, version)))

    def text_block_count(self, doc_id: str, version: str) -> int:
        return len(self._ids("texts", _version_where(doc_id, version)))

    def delete_chunks(self, chunk_ids: Collection[str]) -> int:
        """Delete these chunks and their sentences; returns how many records went."""
        chunk_ids = sorted(chunk_ids)
        deleted = 0
        for start in range(0, len(chunk_ids), PAGE // 10):
            part = chunk_ids[start : start + PAGE // 10]
            deleted += self._delete_where({"chunk_id": {"$in": part}}, roles=("sentences",))
            with self._calls():
                self._collection("chunks").delete(ids=part)
            deleted += len(part)
        return deleted

    def delete_text_blocks_from(self, doc_id: str, version: str, first: int) -> int:
        """Delete the text blocks of a version numbered `first` and above (a shorter text)."""
        extra = [
            block_id
            for block_id in self._ids("texts", _version_where(doc_id, version))
            if int(block_id.rpartition(":")[2]) >= first
        ]
        if extra:
            with self._calls():
                self._collection("texts").delete(ids=extra)
        return len(extra)

    def close(self) -> None:
        """Release the client (an embedded database's files can then be moved)."""
        close_client(self._client)
        self._collections.clear()

    def _ids(self, role: str, where: dict[str, Any]) -> list[str]:
        ids: list[str] = []
        while True:
            with self._calls():
                page = self._collection(role).get(where=where, limit=PAGE, offset=len(ids), include=[])["ids"]
            ids += page
            if len(page) < PAGE:
                return ids

    def iter_chunks(self, doc_id: str, version: str) -> Iterator[list[Chunk]]:
        """The chunks of one document version, a page at a time (doc_title is "")."""
        for page in self.iter_chunk_records(doc_id, version):
            yield [chunk for chunk, _ in page]

    def iter_chunk_records(
        self, doc_id: str, version: str
    ) -> Iterator[list[tuple[Chunk, tuple[str, ...] | None]]]:
        """The chunks of one document version with their stored near-duplicate keys (None for
        a record written before keys were stored), a page at a time (doc_title is "")."""
        where = _version_where(doc_id, version)
        offset = 0
        while True:
            with self._calls():
                result = self._collection("chunks").get(
                    where=where, limit=PAGE, offset=offset, include=["documents", "metadatas"]
                )
            page = [
                (_chunk_from_record(i, t, m), _near_keys(m))
                for i, t, m in zip(result["ids"], result["documents"], result["metadatas"])
            ]
            if page:
                yield page
            if len(page) < PAGE:
                return
            offset += PAGE

    def sentences_of(self, chunk_ids: Sequence[str]) -> list[StoredSentence]:
        """The sentence records of these chunks (any order)."""
        found: list[StoredSentence] = []
        for start in range(0, len(chunk_ids), PAGE // 10):
            where = {"chunk_id": {"$in": list(chunk_ids[start : start + PAGE // 10])}}
            offset = 0
            while True:
                with self._calls():
                    result = self._collection("sentences").get(
                        where=where, limit=PAGE, offset=offset, include=["embeddings", "metadatas"]
                    )
                for record_id, vector, metadata in zip(
                    result["ids"], result["embeddings"], result["metadatas"]
                ):
                    found.append(
                        StoredSentence(
                            chunk_id=metadata["chunk_id"],
                            index=int(record_id.rpartition("#")[2]),
                            start=int(metadata["start"]),
                            end=int(metadata["end"]),
                            vector=np.asarray(vector, dtype=np.float32),
                        )
                    )
                if len(result["ids"]) < PAGE:
                    break
                offset += PAGE
        return found

    def vectors_by_content(self, content_hashes: Sequence[str]) -> dict[str, tuple[str, int, Matrix]]:
        """For chunk content hashes already stored (any document or version): one stored
        chunk's id, start offset and vector per hash. Embedding depends on the text alone, so
        equal text means an equal vector (under the one manifest)."""
        found: dict[str, tuple[str, int, Matrix]] = {}
        distinct = list(dict.fromkeys(content_hashes))
        if not distinct:
            return found
        with self._calls():
            # Limited: text repeated across many chunks (boilerplate) must not make every batch
            # fetch every copy; a hash crowded out is simply embedded again.
            result = self._collection("chunks").get(
                where={"content_hash": {"$in": distinct}},
                limit=_REUSE_LIMIT * len(distinct),
                include=["embeddings", "metadatas"],
            )
        for chunk_id, vector, metadata in zip(result["ids"], result["embeddings"], result["metadatas"]):
            found.setdefault(
                metadata["content_hash"],
                (chunk_id, int(metadata["start"]), np.asarray(vector, dtype=np.float32)),
            )
        return found

    def sentence_vectors_by_text(self, text_hashes: Sequence[str]) -> dict[str, Matrix]:
        """Stored sentence vectors by the sentence text's hash (reused by "separate" and "sentences")."""
        found: dict[str, Matrix] = {}
        distinct = list(dict.fromkeys(text_hashes))
        for start in range(0, len(distinct), PAGE // 10):
            part = distinct[start : start + PAGE // 10]
            with self._calls():
                result = self._collection("sentences").get(
                    where={"text_hash": {"$in": part}},
                    limit=_REUSE_LIMIT * len(part),
                    include=["embeddings", "metadatas"],
                )
            for vector, metadata in zip(result["embeddings"], result["metadatas"]):
                found.setdefault(metadata["text_hash"], np.asarray(vector, dtype=np.float32))
        return found

    def text_blocks(self, doc_id: str, version: str, numbers: Sequence[int]) -> dict[int, str]:
        """The stored text blocks with these numbers (block n starts at n·TEXT_BLOCK_CHARS)."""
        found: dict[int, str] = {}
        for start in range(0, len(numbers), PAGE // 10):
            part = numbers[start : start + PAGE // 10]
            with self._calls():
                result = self._collection("texts").get(
                    ids=[text_block_id(doc_id, version, n) for n in part], include=["metadatas"]
                )
            for metadata in result["metadatas"]:
                found[int(metadata["start"]) // TEXT_BLOCK_CHARS] = str(metadata["text"])
        return found

    def count(self, role: str = "chunks") -> int:
        """Records in one of the collections (chunks, sentences, documents, texts)."""
        with self._calls():
            return int(self._collection(role).count())


def _version_where(doc_id: str, version: str) -> dict[str, Any]:
    return {"$and": [{"doc_id": doc_id}, {"version": version}]}


_CHUNK_FIELDS = tuple(f.name for f in fields(Chunk) if f.name not in ("chunk_id", "text", "doc_title"))


def _chunk_metadata(chunk: Chunk, version: str, near_keys: Sequence[str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {name: getattr(chunk, name) for name in _CHUNK_FIELDS}
    metadata["version"] = version
    metadata["duplicate_of"] = chunk.duplicate_of or ""
    if chunk.page is None:
        metadata.pop("page")  # Chroma metadata holds no nulls
    # One string of space-separated keys: as a list (which Chroma could search with $contains,
    # a look-up citeqa does in the local cache instead) the index grew by ~690 bytes a chunk,
    # as one string by ~185 (measured on the Strategy: 2.69 MB → 2.75 / 2.71 MB).
    metadata["near_keys"] = " ".join(near_keys)
    return metadata


def _near_keys(metadata: Mapping[str, Any]) -> tuple[str, ...] | None:
    keys = metadata.get("near_keys")
    if not isinstance(keys, str):
        return None  # written before keys were stored
    return tuple(keys.split())


def _chunk_from_record(chunk_id: str, text: str, metadata: Mapping[str, Any]) -> Chunk:
    values = {name: metadata[name] for name in _CHUNK_FIELDS if name in metadata}
    values["duplicate_of"] = metadata.get("duplicate_of") or None
    values["page"] = metadata.get("page")
    return Chunk(chunk_id=chunk_id, text=text, doc_title="", **values)
