"""The local keyword cache: what each replica derives from the store without embedding anything.

Under data_dir/cache/:
    keyword-<fingerprint>/   the BM25 index (ingest.keyword), chunk-id order, each chunk's
                             document number, term statistics, each chunk's section (the
                             documents' outlines), each chunk's near-duplicate keys as a
                             look-up table (ingest.dedup.KeyTable, read from the chunks'
                             metadata), and manifest.json (fingerprint, digests of the chunk
                             ids indexed, size and SHA-256 of every file)
    tokens/<doc>-<version>.json  one document version's BM25 tokens, sections, near-duplicate
                             keys, sentence stems and word counts, so a rebuild after adding
                             one document fetches and tokenises only it
The fingerprint hashes the store manifest's build parameters and the live (doc_id, version)
pairs, so a cache never outlives the index state it was built for. Every load verifies the
folder against its manifest.json; anything stale, damaged or missing (a file where a folder
belongs included) is rebuilt from the chunk texts in Chroma, with one notice line naming what
was wrong. Builds go to a temporary folder renamed into place, so a killed build leaves no
half-written cache; temporary folders of dead builds, stale keyword-* folders, token files of
dead versions and the old data_dir/derived/ cache are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.chunk import Chunk, content_hash, split_sentences
from ingest.dedup import KeyTable, near_duplicate_keys, parse_keys
from ingest.keyword import (
    SURFACE_WORD,
    KeywordIndex,
    TermStatistics,
    keyword_text,
    stems,
    tokenize,
)
from ingest.store import DocumentRecord, Manifest, ids_digest

# Bump when anything cached is built differently: every old cache then has another fingerprint.
CACHE_FORMAT = 3
CACHE_DIR = "cache"
_MANIFEST = "manifest.json"
_TERMS = "terms.json"
_STRUCTURE = "structure.json"
_TEMP_PREFIX = ".tmp-keyword-"

Notify = Callable[[str], None]
# Pages of the stored chunks of one document version with their stored near-duplicate keys,
# None where a record has none (ingest.store.ChromaStore.iter_chunk_records).
ChunkSource = Callable[[str, str], Iterable[Sequence[tuple[Chunk, tuple[str, ...] | None]]]]
# (documents done, documents in all, doc_id) while a build fetches and tokenises documents.
BuildProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class StoredSection:
    """One section of a stored document, as its chunks record it: `start` is where its first
    chunk starts; `number` is "" for a part's introduction (or a Notice/Preamble)."""

    doc_id: str
    part: str
    part_title: str
    number: str
    title: str
    path: str
    start: int


@dataclass(frozen=True)
class KeywordState:
    """A verified keyword cache, loaded: what `ingest.index.Index` ranks and counts with.
    `sections[i]` is a section and `chunk_sections[j]` the section of keyword chunk j; row j
    of `near_keys` holds keyword chunk j's near-duplicate keys."""

    keyword: KeywordIndex
    terms: TermStatistics
    sections: list[StoredSection]
    chunk_sections: list[int]
    near_keys: KeyTable
    fingerprint: str


@dataclass(frozen=True)
class _DocumentTokens:
    """One document version, tokenised: (chunk id, start, BM25 tokens, section number,
    near-duplicate keys) per chunk, its sections (part, part title, number, title, path,
    start), (text hash, stems) per distinct sentence text, and its lower-case word counts."""

    chunks: list[tuple[str, int, list[str], int, list[str]]]
    sections: list[tuple[str, str, str, str, str, int]]
    sentences: list[tuple[str, list[str]]]
    words: dict[str, int]


def fingerprint(manifest: Manifest, documents: Mapping[str, DocumentRecord]) -> str:
    """Names the index state a cache is built for (see the module docstring)."""
    state = {
        "format": CACHE_FORMAT,
        "build": manifest.build_parameters(),
        "documents": sorted((d, r.version) for d, r in documents.items()),
    }
    return content_hash(json.dumps(state, sort_keys=True))


def load_or_build(
    data_dir: Path,
    manifest: Manifest,
    documents: Mapping[str, DocumentRecord],
    source: ChunkSource,
    notify: Notify,
    *,
    progress: BuildProgress | None = None,
    quiet: bool = False,
) -> KeywordState:
    """The verified keyword cache for this index state, built (from `source`) if need be.

    `notify` receives one line for each thing found wrong or rebuilt (not for a cache that
    is merely absent when `quiet`, as after an ingest that builds it on purpose).
    """
    root = _prepare(data_dir, notify)
    key = fingerprint(manifest, documents)
    folder = root / f"keyword-{key}"
    state = None
    if folder.exists() or folder.is_symlink():
        try:
            state = _load_verified(folder, key)
        except _Damaged as damage:
            notify(f"keyword cache {folder.name}: {damage}; rebuilding it from the store")
            _remove(folder)
    elif not quiet:
        stale = any(p.name.startswith("keyword-") for p in root.iterdir())
        notify(
            "keyword cache out of date (the documents changed); rebuilding it from the store"
            if stale
            else f"no keyword cache in {root}; building it from the store"
        )
    if state is None:
        state = _build(root, folder, key, documents, source, notify, progress)
    _remove_stale(root, folder, documents)
    return state


class _Damaged(Exception):
    """A cache folder that does not verify; the message says what is wrong."""


def _prepare(data_dir: Path, notify: Notify) -> Path:
    """data_dir/cache as a folder, the old derived/ cache and dead builds' leftovers gone."""
    old = data_dir / "derived"
    if old.exists() or old.is_symlink():
        _remove(old)
        notify(f"removed the old cache {old} (replaced by {data_dir / CACHE_DIR})")
    root = data_dir / CACHE_DIR
    if (root.exists() or root.is_symlink()) and not root.is_dir():
        _remove(root)
        notify(f"{root} was a file, not a folder; removed it and rebuilding the keyword cache")
    root.mkdir(parents=True, exist_ok=True)
    tokens = root / "tokens"
    if (tokens.exists() or tokens.is_symlink()) and not tokens.is_dir():
        _remove(tokens)
    tokens.mkdir(exist_ok=True)
    for temp in root.glob(_TEMP_PREFIX + "*"):
        if not _is_alive(temp.name.rsplit("-", 2)[-2]):
            _remove(temp)
    return root


def _is_alive(pid_text: str) -> bool:
    """Whether the build that made a temporary folder may still be running."""
    try:
        os.kill(int(pid_text), 0)
    except ValueError:
        return False  # not our naming: a leftover
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _describe_files(folder: Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {
        name: {"bytes": (folder / name).stat().st_size, "sha256": _sha256(folder / name)}
        for name in sorted(names)
    }


def _load_verified(folder: Path, key: str) -> KeywordState:
    """Load a cache folder after checking it against its manifest.json; _Damaged otherwise."""
    if not folder.is_dir():
        raise _Damaged("is a file, not a folder")
    path = folder / _MANIFEST
    if not path.is_file():
        raise _Damaged(f"{_MANIFEST} is missing")
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        files = dict(recorded["files"])
        documents = dict(recorded["documents"])
        if recorded["format"] != CACHE_FORMAT or recorded["fingerprint"] != key:
            raise _Damaged(f"{_MANIFEST} describes another index state")
        if recorded["chunks_digest"] != content_hash(json.dumps(documents, sort_keys=True)):
            raise _Damaged(f"{_MANIFEST} does not match its own digests")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise _Damaged(f"{_MANIFEST} is not valid ({type(error).__name__})") from None
    for name, expected in files.items():
        file = folder / name
        if not file.is_file():
            raise _Damaged(f"{name} is missing or not a file")
        if file.stat().st_size != expected["bytes"] or _sha256(file) != expected["sha256"]:
            raise _Damaged(f"{name} changed on disk (size or checksum differs)")
    try:
        keyword = KeywordIndex.load(folder)
        raw_terms = json.loads((folder / _TERMS).read_text(encoding="utf-8"))
        terms = TermStatistics(
            sentences=int(raw_terms["sentences"]),
            sentence_frequency=dict(raw_terms["sentence_frequency"]),
            vocabulary=keyword.vocabulary,
            chunks=len(keyword.chunk_ids),
            chunk_frequency=dict(raw_terms["chunk_frequency"]),
            word_counts=dict(raw_terms["word_counts"]),
        )
        structure = json.loads((folder / _STRUCTURE).read_text(encoding="utf-8"))
        sections = [StoredSection(*row) for row in structure["sections"]]
        chunk_sections = [int(i) for i in structure["chunk_sections"]]
        if len(chunk_sections) != len(keyword.chunk_ids) or any(
            not 0 <= i < len(sections) for i in chunk_sections
        ):
            raise ValueError("sections do not fit the chunks")
        near_keys = KeyTable.load(folder, len(keyword.chunk_ids))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _Damaged(f"cannot be read ({type(error).__name__})") from None
    if recorded["chunks"] != len(keyword.chunk_ids):
        raise _Damaged(f"{_MANIFEST} counts {recorded['chunks']} chunks, the index holds {len(keyword.chunk_ids)}")
    by_document: dict[str, list[str]] = {d: [] for d in keyword.doc_ids}
    for chunk_id, number in zip(keyword.chunk_ids, keyword.chunk_docs):
        by_document[keyword.doc_ids[number]].append(chunk_id)
    if {d: ids_digest(ids) for d, ids in by_document.items()} != documents:
        raise _Damaged("its chunk ids differ from the ones it was built from")
    return KeywordState(keyword, terms, sections, chunk_sections, near_keys, key)


def _token_file(root: Path, doc_id: str, version: str) -> Path:
    # Hashed doc id: ids keep any Unicode, file systems differ in what names they take.
    return root / "tokens" / f"{content_hash(doc_id)}-{version}.json"


def _read_tokens(path: Path, doc_id: str, version: str) -> _DocumentTokens | None:
    """A document's cached tokens, or None when absent or not intact (it is then rebuilt)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        payload = raw["payload"]
        if (
            raw["checksum"] != content_hash(json.dumps(payload, sort_keys=True))
            or payload["doc_id"] != doc_id
            or payload["version"] != version
        ):
            return None
        return _DocumentTokens(
            chunks=[
                (str(i), int(s), list(t), int(n), _checked_keys(k)) for i, s, t, n, k in payload["chunks"]
            ],
            sections=[(str(a), str(b), str(c), str(d), str(e), int(f)) for a, b, c, d, e, f in payload["sections"]],
            sentences=[(str(h), list(w)) for h, w in payload["sentences"]],
            words={str(w): int(n) for w, n in payload["words"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_tokens(path: Path, doc_id: str, version: str, tokens: _DocumentTokens) -> None:
    payload = {
        "doc_id": doc_id,
        "version": version,
        "chunks": tokens.chunks,
        "sections": tokens.sections,
        "sentences": tokens.sentences,
        "words": tokens.words,
    }
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temp.write_text(
        json.dumps({"payload": payload, "checksum": content_hash(json.dumps(payload, sort_keys=True))}),
        encoding="utf-8",
    )
    os.replace(temp, path)


def _checked_keys(keys: Sequence[str]) -> list[str]:
    """Keys as stored, if they are what `near_duplicate_keys` makes (ValueError otherwise)."""
    keys = [str(k) for k in keys]
    if keys:
        parse_keys(keys)
    return keys


def _stored_or_computed_keys(chunk: Chunk, stored: tuple[str, ...] | None) -> list[str]:
    """The chunk's stored keys; computed from its text (the same function, so the same keys)
    for a record written before keys were stored, or whose keys do not parse."""
    if stored is not None:
        try:
            return _checked_keys(stored)
        except ValueError:
            pass
    return list(near_duplicate_keys(chunk.text))


def _tokenise(pages: Iterable[Sequence[tuple[Chunk, tuple[str, ...] | None]]]) -> _DocumentTokens:
    records = sorted((r for page in pages for r in page), key=lambda r: (r[0].start, r[0].chunk_id))
    sections: list[tuple[str, str, str, str, str, int]] = []
    section_of_path: dict[str, int] = {}
    sentences: dict[str, list[str]] = {}
    words: Counter[str] = Counter()
    rows: list[tuple[str, int, list[str], int, list[str]]] = []
    for chunk, stored_keys in records:
        if chunk.section_path not in section_of_path:
            section_of_path[chunk.section_path] = len(sections)
            sections.append(
                (chunk.part, chunk.part_title, chunk.section_number, chunk.section_title,
                 chunk.section_path, chunk.start)
            )
        tokens = tokenize([keyword_text(chunk)])[0]
        rows.append(
            (chunk.chunk_id, chunk.start, tokens, section_of_path[chunk.section_path],
             _stored_or_computed_keys(chunk, stored_keys))
        )
        words.update(SURFACE_WORD.findall(chunk.text.lower()))
        for start, end in split_sentences(chunk.text):
            text = chunk.text[start:end]
            sentences.setdefault(content_hash(text), sorted(set(stems(text))))
    return _DocumentTokens(
        chunks=rows, sections=sections, sentences=sorted(sentences.items()), words=dict(words)
    )


def _build(
    root: Path,
    folder: Path,
    key: str,
    documents: Mapping[str, DocumentRecord],
    source: ChunkSource,
    notify: Notify,
    progress: BuildProgress | None,
) -> KeywordState:
    chunk_ids: list[str] = []
    tokens: list[list[str]] = []
    chunk_docs: list[int] = []
    doc_ids = sorted(documents)
    sentence_frequency: dict[str, int] = {}
    chunk_frequency: Counter[str] = Counter()
    word_counts: Counter[str] = Counter()
    sections: list[StoredSection] = []
    chunk_sections: list[int] = []
    near_keys: list[list[str]] = []
    seen_sentences: set[str] = set()
    indexed: dict[str, str] = {}
    for number, doc_id in enumerate(doc_ids):
        record = documents[doc_id]
        path = _token_file(root, doc_id, record.version)
        document = _read_tokens(path, doc_id, record.version)
        if document is None:
            document = _tokenise(source(doc_id, record.version))
            ids = [c[0] for c in document.chunks]
            if ids_digest(ids) == record.chunk_ids_digest:
                _write_tokens(path, doc_id, record.version, document)
            else:  # the store lost chunks behind the record's back: index what is there
                notify(
                    f"document {doc_id}: the store holds {len(ids)} of its {record.chunks} "
                    "chunks; run `citeqa ingest` on its file to repair it"
                )
        first_section = len(sections)
        sections += [StoredSection(doc_id, *section) for section in document.sections]
        for chunk_id, _, words, section, keys in document.chunks:
            chunk_ids.append(chunk_id)
            tokens.append(words)
            chunk_docs.append(number)
            chunk_sections.append(first_section + section)
            near_keys.append(keys)
            chunk_frequency.update(set(words))
        word_counts.update(document.words)
        for text_hash, words in document.sentences:
            if text_hash not in seen_sentences:
                seen_sentences.add(text_hash)
                for word in words:
                    sentence_frequency[word] = sentence_frequency.get(word, 0) + 1
        indexed[doc_id] = ids_digest([c[0] for c in document.chunks])
        if progress is not None:
            progress(number + 1, len(doc_ids), doc_id)
    keyword = KeywordIndex.build(chunk_ids, tokens, chunk_docs, doc_ids)
    table = KeyTable.build(near_keys)
    terms = TermStatistics(
        sentences=len(seen_sentences),
        sentence_frequency=sentence_frequency,
        vocabulary=keyword.vocabulary,
        chunks=len(chunk_ids),
        chunk_frequency=dict(chunk_frequency),
        word_counts=dict(word_counts),
    )
    temp = root / f"{_TEMP_PREFIX}{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temp.mkdir()
    names = keyword.save(temp) + table.save(temp)
    (temp / _TERMS).write_text(
        json.dumps(
            {
                "sentences": terms.sentences,
                "sentence_frequency": sentence_frequency,
                "chunk_frequency": terms.chunk_frequency,
                "word_counts": terms.word_counts,
            }
        ),
        encoding="utf-8",
    )
    (temp / _STRUCTURE).write_text(
        json.dumps(
            {
                "sections": [
                    [s.doc_id, s.part, s.part_title, s.number, s.title, s.path, s.start] for s in sections
                ],
                "chunk_sections": chunk_sections,
            }
        ),
        encoding="utf-8",
    )
    manifest = {
        "format": CACHE_FORMAT,
        "fingerprint": key,
        "documents": indexed,
        "chunks_digest": content_hash(json.dumps(indexed, sort_keys=True)),
        "chunks": len(chunk_ids),
        "files": _describe_files(temp, [*names, _TERMS, _STRUCTURE]),
    }
    (temp / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    try:
        temp.rename(folder)
    except OSError:  # another process put the same cache in place first: keep the valid one
        try:
            state = _load_verified(folder, key)
        except _Damaged:
            _remove(folder)
            temp.rename(folder)
        else:
            _remove(temp)
            return state
    return KeywordState(keyword, terms, sections, chunk_sections, table, key)


def _remove_stale(root: Path, current: Path, documents: Mapping[str, DocumentRecord]) -> None:
    """Remove keyword folders of other index states and token files of dead versions."""
    for folder in root.glob("keyword-*"):
        if folder != current:
            _remove(folder)
    live = {_token_file(root, d, r.version).name for d, r in documents.items()}
    for path in (root / "tokens").iterdir():
        if path.name.endswith(".tmp"):  # <name>.<pid>.tmp: a write under way, or a dead one's
            if not _is_alive(path.name.rsplit(".", 2)[-2]):
                _remove(path)
        elif path.name not in live:
            _remove(path)


def remove_cache(data_dir: Path) -> list[Path]:
    """Delete every local cache in data_dir (for --rebuild); returns what was removed."""
    removed = []
    for path in (data_dir / CACHE_DIR, data_dir / "derived"):
        if path.exists() or path.is_symlink():
            _remove(path)
            removed.append(path)
    return removed
