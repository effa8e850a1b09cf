"""Ingest into a real embedded Chroma with the real embedder: what is stored, idempotency,
replacement, repair of interrupted and damaged state, mismatches, bad files, document ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.chunk import split_sentences
from ingest.embed import MiniLMEmbedder
from ingest.errors import (
    IndexMismatchError,
    InputFileError,
    StoreDamagedError,
    UnknownDocumentError,
)
from ingest.index import IndexConfig, open_index, open_store
from ingest.load import read_document
from ingest.pipeline import (
    STAGES,
    ProgressEvent,
    delete_document,
    ingest_paths,
    list_documents,
)
from ingest.store import TEXT_BLOCK_CHARS, ChromaStore
from tests.conftest import CORPUS, SMALL, CountingEmbedder

STRATEGY = "national-informatization-strategy-2006-2020"
SOIL = "\n(3) Soil\n\nFarms test soil each spring. Orchards rotate their crops.\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def snapshot(store: ChromaStore) -> dict[str, object]:
    """Everything stored for the live documents: records, chunk ids, sentence rows, texts."""
    records = store.documents()
    chunk_ids = sorted(i for r in records.values() for i in store.chunk_ids(r.doc_id, r.version))
    sentences = sorted((s.chunk_id, s.index, s.start, s.end) for s in store.sentences_of(chunk_ids))
    return {
        "versions": {d: r.version for d, r in records.items()},
        "chunk_ids": chunk_ids,
        "sentences": sentences,
        "records": (store.count("chunks"), store.count("sentences"), store.count("texts")),
    }


class Killed(BaseException):
    """Fault injector: raised from a progress callback, like a process killed at that step."""


def kill_at(stage: str, doc_id: str) -> object:
    def progress(event: ProgressEvent) -> None:
        if event.stage == stage and event.doc_id == doc_id:
            raise Killed(f"{stage} {doc_id}")

    return progress


def test_ingest_of_the_strategy_stores_chunks_sentences_texts_and_one_record(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    settings = IndexConfig(tmp_path)
    events: list[ProgressEvent] = []
    summary = ingest_paths([CORPUS], settings, embedder, progress=events.append)
    assert {e.stage for e in events} == set(STAGES)
    store = open_store(settings)
    [record] = store.documents().values()
    assert record.doc_id == STRATEGY and record.source == CORPUS.name and record.kind == "txt"
    assert record.title == "2006-2020 National Informatization Development Strategy"
    assert summary.documents == 1 and summary.sections == 34
    assert record.chunks == summary.chunks == store.count("chunks") == summary.embedded_chunks
    index = open_index(settings, embedder)
    chunks = list(index.iter_chunks())
    clean = read_document(CORPUS).text
    assert index.document_text(STRATEGY) == clean  # the text blocks reassemble it exactly
    assert store.count("texts") == -(-len(clean) // TEXT_BLOCK_CHARS)
    expected_sentences = sum(len(split_sentences(c.text)) for c in chunks)
    assert record.sentences == summary.sentences == store.count("sentences") == expected_sentences
    rows = index.sentence_rows([c.chunk_id for c in chunks])
    for chunk in chunks:
        assert clean[chunk.start : chunk.end] == chunk.text
        assert chunk.chunk_id.startswith(f"{STRATEGY}@{record.version[:8]}:")
        assert chunk.doc_title == record.title  # from the record: chunks store no title
        assert rows[chunk.chunk_id].texts == [chunk.text[a:b] for a, b in split_sentences(chunk.text)]
        for start, end, text in zip(rows[chunk.chunk_id].starts, rows[chunk.chunk_id].ends, rows[chunk.chunk_id].texts):
            assert clean[start:end] == text
    assert all(c.doc_title == "" for c in store.chunks([chunks[0].chunk_id]))
    # the nearest chunk to the 2005 GDP figures is in part II (1)
    best, similarity = index.nearest(embedder.embed_query("information industry share of GDP in 2005"), 1)[0]
    assert index.chunks([best])[best].section_path.startswith("II (1)")
    assert "7.2 per cent" in index.chunks([best])[best].text and 0.3 < similarity <= 1.0


def test_reingest_of_an_unchanged_file_embeds_and_writes_nothing(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = write(tmp_path, "small.txt", SMALL)
    settings = IndexConfig(tmp_path / "data")
    counting = CountingEmbedder(embedder)
    first = ingest_paths([path], settings, counting)
    store = open_store(settings)
    before, generation = snapshot(store), store.generation()
    counting.texts = 0
    second = ingest_paths([path], settings, counting)
    assert first.embedded_chunks > 0 and first.added_documents == ["small"]
    assert counting.texts == 0 and second.embedded_texts == 0
    assert second.skipped_documents == ["small"] and second.removed_records == 0
    assert snapshot(store) == before and store.generation() == generation


def test_a_changed_file_replaces_its_chunks_and_leaves_no_old_records(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = write(tmp_path, "small.txt", SMALL)
    other = write(tmp_path, "other.md", "Other\n\nThe other note talks about bicycles.\n")
    settings = IndexConfig(tmp_path / "data")
    ingest_paths([path, other], settings, embedder)
    write(tmp_path, "small.txt", SMALL.replace("rivers clean", "lakes and rivers clean"))
    counting = CountingEmbedder(embedder)
    summary = ingest_paths([path, other], settings, counting)
    assert summary.replaced_documents == ["small"] and summary.skipped_documents == ["other"]
    # only the edited section's chunk is new: the others' vectors are reused by content
    assert summary.embedded_chunks == 1
    index = open_index(settings, embedder)
    texts = [c.text for c in index.iter_chunks()]
    assert not any("keeps rivers clean" in t for t in texts)
    assert sum("lakes and rivers clean" in t for t in texts) == 1 and any("bicycles" in t for t in texts)
    store = open_store(settings)
    state = snapshot(store)
    assert state["records"] == (len(texts), len(state["sentences"]), 2)  # type: ignore[arg-type]


def test_chunks_deleted_behind_the_records_back_are_rewritten_not_skipped(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    path = write(tmp_path, "small.txt", SMALL + SOIL)
    settings = IndexConfig(tmp_path / "data")
    ingest_paths([path], settings, embedder)
    store = open_store(settings)
    clean = snapshot(store)
    record = store.documents()["small"]
    lost = store.chunk_ids("small", record.version)[:2]
    store.delete_chunks(lost)  # the store loses data behind the record's back
    summary = ingest_paths([path], settings, embedder)
    assert summary.skipped_documents == [] and summary.replaced_documents == ["small"]
    assert summary.embedded_chunks == len(lost)  # the intact chunks' vectors are reused
    assert snapshot(store) == clean


@pytest.mark.parametrize("stage", ["embed", "write", "commit"])
def test_an_interrupted_write_keeps_the_old_version_and_the_next_ingest_repairs_it(
    tmp_path: Path, embedder: MiniLMEmbedder, stage: str
) -> None:
    path = write(tmp_path, "small.txt", SMALL)
    settings = IndexConfig(tmp_path / "data")
    ingest_paths([path], settings, embedder)
    old = read_document(path)
    write(tmp_path, "small.txt", SMALL + SOIL)
    with pytest.raises(Killed):
        ingest_paths([path], settings, embedder, progress=kill_at(stage, "small"))
    index = open_index(settings, embedder)
    visible = index.documents["small"].version
    if stage == "commit":  # killed after the commit: the new version is the one seen
        assert visible == read_document(path).content_hash
    else:
        assert visible == old.content_hash
        assert index.document_text("small") == old.text
        vector = embedder.embed_query("Farms test soil each spring")
        found = index.chunks([i for i, _ in index.nearest(vector, 10)])
        assert found and all("soil" not in c.text for c in found.values())
        assert [i for i, _ in index.keyword_top("soil farms", 5)] == []
    repaired = ingest_paths([path], settings, embedder)
    assert repaired.removed_records > 0  # the killed run's (or the old version's) records
    clean_settings = IndexConfig(tmp_path / "clean")
    ingest_paths([path], clean_settings, embedder)
    assert snapshot(open_store(settings)) == snapshot(open_store(clean_settings))
    vectors = {
        (s.chunk_id, s.index): s.vector
        for s in open_store(clean_settings).sentences_of(open_store(clean_settings).chunk_ids("small", visible))
    }
    for sentence in open_store(settings).sentences_of(open_store(settings).chunk_ids("small", visible)):
        assert np.allclose(sentence.vector, vectors[(sentence.chunk_id, sentence.index)], atol=1e-5)
    assert any("Farms test soil" in c.text for c in open_index(settings, embedder).iter_chunks())


def test_other_chunking_or_sentence_vectors_give_a_clear_error_naming_rebuild(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    path = write(tmp_path, "small.txt", SMALL)
    settings = IndexConfig(tmp_path / "data")
    ingest_paths([path], settings, embedder)
    with pytest.raises(IndexMismatchError, match="chunk_max_tokens 160 \\(now 96\\).*--rebuild"):
        ingest_paths([path], IndexConfig(tmp_path / "data", chunk_tokens=96, chunk_overlap_tokens=16), embedder)
    with pytest.raises(IndexMismatchError, match="sentence_vectors.*late.*--rebuild"):
        ingest_paths([path], IndexConfig(tmp_path / "data", sentence_vectors="late"), embedder)
    rebuilt_settings = IndexConfig(tmp_path / "data", chunk_tokens=96, chunk_overlap_tokens=16)
    rebuilt = ingest_paths([path], rebuilt_settings, embedder, rebuild=True)
    assert rebuilt.rebuild is not None and len(rebuilt.rebuild.dropped_collections) == 4
    assert rebuilt.rebuild.dropped_documents == 1 and rebuilt.rebuild.moved_damaged_to is None
    assert any(p.endswith("cache") for p in rebuilt.rebuild.removed_caches)
    assert rebuilt.embedded_chunks == open_store(rebuilt_settings).count() > 0
    assert open_index(rebuilt_settings, embedder).manifest.chunk_max_tokens == 96


class RenamedEmbedder(MiniLMEmbedder):
    """Fault injector: the same model under another id, as if the embedder had changed."""

    model_id = "some-other-embedder"


def test_other_embedding_model_gives_a_clear_error(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = write(tmp_path, "small.txt", SMALL)
    settings = IndexConfig(tmp_path / "data")
    ingest_paths([path], settings, embedder)
    with pytest.raises(IndexMismatchError, match="all-MiniLM-L6-v2.*some-other-embedder.*--rebuild"):
        ingest_paths([path], settings, RenamedEmbedder())
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        open_index(settings, RenamedEmbedder())


def test_late_sentence_vectors_embed_each_chunk_once(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = write(tmp_path, "small.txt", SMALL + SOIL)
    counting = CountingEmbedder(embedder)
    summary = ingest_paths([path], IndexConfig(tmp_path / "data", sentence_vectors="late"), counting)
    assert counting.texts == summary.chunks == summary.embedded_texts  # no sentence pass
    index = open_index(IndexConfig(tmp_path / "data", sentence_vectors="late"), embedder)
    rows = index.sentence_rows([c.chunk_id for c in index.iter_chunks()])
    assert sum(len(r.texts) for r in rows.values()) == summary.sentences
    for r in rows.values():
        assert np.allclose(np.linalg.norm(r.vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "is empty"),
        ("blank.md", b"   \n\n  \n", "is empty"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "looks binary"),
        ("latin1.txt", "Caf\u00e9 cr\u00e8me policy".encode("latin-1"), "not UTF-8"),
        ("table.xlsx", b"PK\x03\x04", "unsupported file type .xlsx"),
    ],
)
def test_bad_files_get_one_line_errors_and_leave_the_index_intact(
    tmp_path: Path, embedder: MiniLMEmbedder, name: str, content: bytes, message: str
) -> None:
    good = write(tmp_path, "small.txt", SMALL)
    settings = IndexConfig(tmp_path / "data")
    ingest_paths([good], settings, embedder)
    before = snapshot(open_store(settings))
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(InputFileError) as raised:
        ingest_paths([good, bad], settings, embedder)
    assert message in str(raised.value) and name in str(raised.value)
    assert "\n" not in str(raised.value)
    assert snapshot(open_store(settings)) == before


def test_missing_file_is_named(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    with pytest.raises(InputFileError, match="nowhere.txt: no such file"):
        ingest_paths([tmp_path / "nowhere.txt"], IndexConfig(tmp_path), embedder)


def test_html_is_read_as_its_visible_text(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    page = write(
        tmp_path,
        "page.html",
        "<html><head><style>p{}</style><script>var x=1;</script></head><body>"
        "<h1>Harbour Rules</h1><p>Ships dock at night.</p><p>Pilots board at the buoy.</p></body></html>",
    )
    settings = IndexConfig(tmp_path / "data")
    ingest_paths([page], settings, embedder)
    index = open_index(settings, embedder)
    text = index.document_text("page")
    assert text is not None and "Ships dock at night." in text and "var x" not in text
    assert index.documents["page"].title == "Harbour Rules" and index.documents["page"].kind == "html"


def test_file_names_in_any_script_are_distinct_documents(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    first = write(tmp_path, "信息.md", "信息\n\nThe first note is about information.\n")
    second = write(tmp_path, "数据.md", "数据\n\nThe second note is about data.\n")
    settings = IndexConfig(tmp_path / "data")
    summary = ingest_paths([first, second], settings, embedder)
    assert summary.added_documents == ["信息", "数据"]
    assert [r.doc_id for r in list_documents(settings)] == sorted(["信息", "数据"])
    assert {r.source for r in list_documents(settings)} == {"信息.md", "数据.md"}


def test_two_files_with_one_document_id_are_refused_naming_both(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write(tmp_path / "a", "notes.md", "Notes\n\nOne.\n")
    two = write(tmp_path / "b", "notes.md", "Notes\n\nTwo.\n")
    with pytest.raises(InputFileError, match=f"{two}.*{one}.*document id 'notes'.*rename"):
        ingest_paths([one, two], IndexConfig(tmp_path / "data"), embedder)


def test_a_file_whose_id_belongs_to_another_stored_file_is_refused(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    settings = IndexConfig(tmp_path / "data")
    notes = write(tmp_path, "notes.md", "Notes\n\nThe harbour opens at six.\n")
    ingest_paths([notes], settings, embedder)
    other = write(tmp_path, "Notes.txt", "Notes\n\nSomething else entirely.\n")
    with pytest.raises(InputFileError, match="'notes' belongs to notes.md.*citeqa delete notes"):
        ingest_paths([other], settings, embedder)
    write(tmp_path, "notes.md", "Notes\n\nThe harbour opens at seven.\n")
    assert ingest_paths([notes], settings, embedder).replaced_documents == ["notes"]  # its own file


def test_a_long_one_line_file_gets_a_capped_title_and_lean_chunk_metadata(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    line = "The plan keeps every river clean and every factory reports its discharges. " * 20_000
    assert len(line) >= 1_500_000
    path = write(tmp_path, "long.txt", line.strip() + "\n")
    settings = IndexConfig(tmp_path / "data")
    counting = CountingEmbedder(embedder)
    summary = ingest_paths([path], settings, counting)
    store = open_store(settings)
    record = store.documents()["long"]
    assert len(record.title) <= 200 and record.title.endswith("…")
    chunks = store.chunks(store.chunk_ids("long", record.version))
    assert len(chunks) == record.chunks == summary.chunks > 1000
    for chunk in chunks:
        labels = (chunk.section_path, chunk.part_title, chunk.section_title, chunk.doc_title)
        assert max(len(label) for label in labels) <= 220
    # the repeated text is embedded once per distinct chunk text, not once per chunk
    assert counting.texts < 20


def test_rebuild_moves_a_damaged_database_aside_and_builds_anew(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = write(tmp_path, "small.txt", SMALL)
    settings = IndexConfig(tmp_path / "data")
    ingest_paths([path], settings, embedder)
    sqlite = tmp_path / "data" / "chroma" / "chroma.sqlite3"
    sqlite.write_bytes(b"this is not a database " * 2000)
    for attempt in (lambda: open_index(settings, embedder), lambda: ingest_paths([path], settings, embedder)):
        with pytest.raises(StoreDamagedError) as raised:
            attempt()
        message = str(raised.value)
        assert str(sqlite) in message and "citeqa ingest --rebuild" in message and "\n" not in message
    summary = ingest_paths([path], settings, embedder, rebuild=True)
    assert summary.rebuild is not None and summary.rebuild.moved_damaged_to is not None
    moved = Path(summary.rebuild.moved_damaged_to)
    assert moved.name.startswith("chroma.damaged-")
    assert (moved / "chroma.sqlite3").read_bytes().startswith(b"this is not a database")  # kept
    assert open_index(settings, embedder).documents.keys() == {"small"}


def test_delete_removes_the_record_first_then_every_record_of_the_document(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    settings = IndexConfig(tmp_path / "data")
    small = write(tmp_path, "small.txt", SMALL)
    other = write(tmp_path, "other.md", "Other\n\nThe other note talks about bicycles.\n")
    ingest_paths([small, other], settings, embedder)
    store = open_store(settings)
    generation = store.generation()
    record = delete_document(settings, "small")
    assert record.doc_id == "small" and store.generation() == generation + 1
    assert [r.doc_id for r in list_documents(settings)] == ["other"]
    kept = store.documents()["other"]
    assert snapshot(store)["records"] == (kept.chunks, kept.sentences, 1)
    with pytest.raises(UnknownDocumentError, match="no document 'small'.*citeqa documents"):
        delete_document(settings, "small")
