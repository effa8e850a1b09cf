"""Reading the index (ingest.index) over a real embedded Chroma: the local keyword cache repairs
itself, start-up reads no corpus, stale versions stay invisible, refresh follows the store,
and a lost store is an error rather than a silent re-index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.chunk import split_sentences
from ingest.embed import MiniLMEmbedder
from ingest.errors import IndexNotReadyError
from ingest.index import IndexConfig, has_held_index, open_index, open_store
from ingest.keyword import KeywordIndex
from ingest.pipeline import delete_document, ingest_paths
from ingest.store import ChromaStore
from rag import QAEngine, load_settings
from tests.conftest import CORPUS, SMALL

QUESTIONS = ["digital divide", "information security protection", "e-commerce small enterprises"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder) -> IndexConfig:
    """An index of the Strategy, built once; tests damage its keyword cache and reopen."""
    settings = IndexConfig(tmp_path_factory.mktemp("index-cache"))
    ingest_paths([CORPUS], settings, embedder)
    return settings


def keyword_folder(settings: IndexConfig) -> Path:
    [folder] = (settings.data_dir / "cache").glob("keyword-*")
    return folder


def rankings(settings: IndexConfig, embedder: MiniLMEmbedder, notices: list[str]) -> list[list[str]]:
    index = open_index(settings, embedder, notify=notices.append)
    return [[i for i, _ in index.keyword_top(q, 10)] for q in QUESTIONS]


CACHE_FILES = [
    "manifest.json", "chunk_ids.json", "doc_ids.json", "chunk_docs.npy", "terms.json", "structure.json",
    "vocab.index.json", "params.index.json", "data.csc.index.npy", "indices.csc.index.npy",
    "indptr.csc.index.npy", "near_keys.npz",
]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garble(path: Path) -> None:
    path.write_bytes(b"\x00garbage{" * 50)


def delete(path: Path) -> None:
    path.unlink()


def folder_instead(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("x")


def shuffle(path: Path) -> None:
    """Valid JSON in the wrong order (a list) or with a changed value, else garbage."""
    try:
        content = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        content = None
    if isinstance(content, list) and len(content) > 1:
        path.write_text(json.dumps(content[1:] + content[:1]))
    elif isinstance(content, list | dict):
        changed = (
            {k: v + 1 if isinstance(v, int) else v[::-1] if isinstance(v, list) else v for k, v in content.items()}
            if isinstance(content, dict)
            else content + ["extra"]
        )
        path.write_text(json.dumps(changed))
    else:
        garble(path)


@pytest.mark.parametrize("damage", [truncate, garble, delete, folder_instead, shuffle])
@pytest.mark.parametrize("name", CACHE_FILES)
def test_a_damaged_keyword_cache_file_is_rebuilt_with_a_notice_and_the_same_results(
    built: IndexConfig, embedder: MiniLMEmbedder, name: str, damage: object
) -> None:
    expected = rankings(built, embedder, [])
    damage(keyword_folder(built) / name)  # type: ignore[operator]
    notices: list[str] = []
    assert rankings(built, embedder, notices) == expected
    assert len(notices) == 1 and "rebuilding it from the store" in notices[0], notices
    again: list[str] = []
    assert rankings(built, embedder, again) == expected and again == []  # repaired for good


@pytest.mark.parametrize("where", ["cache", "keyword", "tokens"])
def test_a_file_where_a_cache_folder_belongs_is_replaced(
    built: IndexConfig, embedder: MiniLMEmbedder, where: str
) -> None:
    expected = rankings(built, embedder, [])
    target = {
        "cache": built.data_dir / "cache",
        "keyword": keyword_folder(built),
        "tokens": built.data_dir / "cache" / "tokens",
    }[where]
    shutil.rmtree(target)
    target.write_text("not a folder")
    notices: list[str] = []
    assert rankings(built, embedder, notices) == expected
    assert target.is_dir()
    assert rankings(built, embedder, []) == expected


def test_leftovers_are_removed_old_derived_dead_builds_and_stale_states(
    built: IndexConfig, embedder: MiniLMEmbedder
) -> None:
    cache = built.data_dir / "cache"
    derived = built.data_dir / "derived" / "v3-0123456789abcdef.partial"
    derived.mkdir(parents=True)
    (derived / "sentences.npz").write_bytes(b"")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_build = cache / f".tmp-keyword-feedface-{int(dead.stdout)}-abcd1234"
    dead_build.mkdir()
    live_build = cache / f".tmp-keyword-feedface-{os.getpid()}-abcd1234"
    live_build.mkdir()
    stale = cache / "keyword-0000000000000000"
    stale.mkdir()
    notices: list[str] = []
    open_index(built, embedder, notify=notices.append)
    assert not (built.data_dir / "derived").exists() and not dead_build.exists() and not stale.exists()
    assert live_build.exists()  # a build of a running process is left alone
    assert any("removed the old cache" in n for n in notices)
    live_build.rmdir()


def test_opening_reads_no_chunks_when_the_cache_is_warm(
    built: IndexConfig, embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_index(built, embedder)
    reads: list[str] = []
    for name in ("chunks", "iter_chunks", "iter_chunk_records", "sentences_of", "text_blocks"):
        original = getattr(ChromaStore, name)

        def spy(self: ChromaStore, *args: object, _name: str = name, _original: object = original) -> object:
            reads.append(_name)
            return _original(self, *args)  # type: ignore[operator]

        monkeypatch.setattr(ChromaStore, name, spy)
    index = open_index(built, embedder)
    assert reads == []
    index.keyword_top("digital divide", 5)
    assert reads == []  # keyword ranking is local


def test_keyword_top_matches_a_full_stable_sort_and_filters_by_document(
    built: IndexConfig, embedder: MiniLMEmbedder
) -> None:
    index = open_index(built, embedder)
    keyword = KeywordIndex.load(keyword_folder(built))
    for question in [*QUESTIONS, "informatization development", "the of and"]:
        scores = keyword.scores(question)
        order = np.argsort(-scores, kind="stable")[:20]
        oracle = [(keyword.chunk_ids[i], float(scores[i])) for i in order if scores[i] > 0]
        assert index.keyword_top(question, 20) == oracle
    assert index.keyword_top("digital divide", 5, documents={"some-other-document"}) == []
    assert index.keyword_top("digital divide", 5, documents=set(index.documents))


def test_sentence_rows_and_document_windows_are_slices_of_the_document(
    built: IndexConfig, embedder: MiniLMEmbedder
) -> None:
    index = open_index(built, embedder)
    [doc_id] = index.documents
    text = index.document_text(doc_id)
    assert text is not None
    chunks = list(index.iter_chunks())
    rows = index.sentence_rows([c.chunk_id for c in chunks[:10]])
    for chunk in chunks[:10]:
        assert rows[chunk.chunk_id].texts == [chunk.text[a:b] for a, b in split_sentences(chunk.text)]
    for chunk in (chunks[0], chunks[len(chunks) // 2], chunks[-1]):
        window = index.document_window(doc_id, chunk.start, chunk.end)
        assert window is not None
        shown, offset = window
        assert shown == text[max(0, chunk.start - 1500) : chunk.end + 1500] and offset == max(0, chunk.start - 1500)
    assert index.document_window("no-such-document", 0, 10) is None


def test_nearest_sentences_ranks_live_chunks_by_their_best_sentence(
    built: IndexConfig, embedder: MiniLMEmbedder
) -> None:
    index = open_index(built, embedder)
    chunk_ids = [c.chunk_id for c in index.iter_chunks()]
    rows = index.sentence_rows(chunk_ids)
    for question in ("How will the gap between town and country be narrowed?", "Who issued the notice?"):
        vector = embedder.embed_query(question)
        oracle = sorted(
            ((chunk_id, float((r.vectors @ vector).max())) for chunk_id, r in rows.items()),
            key=lambda item: -item[1],
        )[:5]
        found = index.nearest_sentences(vector, 5)
        assert [i for i, _ in found] == [i for i, _ in oracle]
        assert np.allclose([s for _, s in found], [s for _, s in oracle], atol=1e-4)
    assert index.nearest_sentences(vector, 5, documents={"no-such-document"}) == []


def test_outline_sections_and_word_counts_come_from_the_cache(
    built: IndexConfig, embedder: MiniLMEmbedder
) -> None:
    index = open_index(built, embedder)
    [doc_id] = index.documents
    chunks = list(index.iter_chunks())
    paths = list(dict.fromkeys(c.section_path for c in chunks))
    outline = index.outline(doc_id)
    assert [s.path for s in outline] == paths and len(outline) == 34
    assert outline[0].start == chunks[0].start
    for section in outline:
        assert index.section_chunk_ids(doc_id, section.path) == [
            c.chunk_id for c in chunks if c.section_path == section.path
        ]
    from ingest.keyword import SURFACE_WORD, keyword_text, tokenize

    assert index.word_frequency("informatization") == sum(
        SURFACE_WORD.findall(c.text.lower()).count("informatization") for c in chunks
    )
    assert index.word_frequency("stratgey") == 0
    stem = tokenize(["security"])[0][0]
    assert index.chunk_frequency(stem) == sum(stem in tokenize([keyword_text(c)])[0] for c in chunks)


def test_refresh_follows_documents_added_and_deleted_by_another_writer(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    settings = IndexConfig(tmp_path / "data", refresh_s=0)
    small = tmp_path / "small.txt"
    small.write_text(SMALL, encoding="utf-8")
    ingest_paths([small], settings, embedder)
    index = open_index(settings, embedder)
    assert index.refresh() is False
    harbour = tmp_path / "harbour.md"
    harbour.write_text("Harbour Rules\n\nPilots board ships at the outer buoy.\n", encoding="utf-8")
    ingest_paths([harbour], settings, embedder)  # another writer of the same store
    assert index.refresh() is True and set(index.documents) == {"small", "harbour"}
    assert index.keyword_top("pilots buoy", 3)[0][0].startswith("harbour@")
    delete_document(settings, "harbour")
    assert index.refresh() is True and set(index.documents) == {"small"}
    assert index.keyword_top("pilots buoy", 3) == []


def test_a_dense_hit_on_an_unknown_version_forces_a_refresh(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    settings = IndexConfig(tmp_path / "data", refresh_s=3600)  # no periodic refresh in this test
    small = tmp_path / "small.txt"
    small.write_text(SMALL, encoding="utf-8")
    ingest_paths([small], settings, embedder)
    index = open_index(settings, embedder)
    harbour = tmp_path / "harbour.md"
    harbour.write_text("Harbour Rules\n\nPilots board ships at the outer buoy.\n", encoding="utf-8")
    ingest_paths([harbour], settings, embedder)
    assert set(index.documents) == {"small"}  # not refreshed yet
    hits = index.nearest(embedder.embed_query("Where do pilots board ships?"), 3)
    assert hits[0][0].startswith("harbour@") and "harbour" in index.documents


def test_stale_versions_in_the_store_are_never_returned(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    settings = IndexConfig(tmp_path / "data", refresh_s=0)
    small = tmp_path / "small.txt"
    small.write_text(SMALL, encoding="utf-8")
    ingest_paths([small], settings, embedder)
    small.write_text(SMALL.replace("rivers clean", "canals clean"), encoding="utf-8")

    class Killed(BaseException):
        """Fault injector: the ingest dies right after writing the new version's chunks."""

    def kill(event: object) -> None:
        if getattr(event, "stage", "") == "write":
            raise Killed

    with pytest.raises(Killed):
        ingest_paths([small], settings, embedder, progress=kill)
    index = open_index(settings, embedder)
    live = index.documents["small"].version[:8]
    hits = index.nearest(embedder.embed_query("canals clean"), 10)
    assert hits and all(i.startswith(f"small@{live}:") for i, _ in hits)


@pytest.fixture()
def small_corpus(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "small.txt"
    path.write_text(SMALL, encoding="utf-8")
    yield path


def test_the_bundled_corpus_is_built_only_into_a_never_used_data_folder(
    tmp_path: Path, embedder: MiniLMEmbedder, small_corpus: Path
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", corpus=[small_corpus])
    assert not has_held_index(settings.data_dir)
    engine = QAEngine(settings, embedder=embedder)
    engine.warm_up()  # a never-used folder: the configured corpus is built
    assert has_held_index(settings.data_dir)
    assert engine.retrieve("rivers factories discharges", 1)[0].doc == "small"
    shutil.rmtree(settings.data_dir / "chroma")  # the database is lost
    # A new process (this one keeps the deleted database open): ask, then list documents.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    environment.update(CITEQA_DATA_DIR=str(settings.data_dir), CITEQA_CORPUS=json.dumps([str(small_corpus)]))
    asked = subprocess.run(
        [sys.executable, "-m", "ui.cli", "ask", "What do factories report?"],
        capture_output=True, text=True, env=environment, timeout=300,
    )
    assert asked.returncode == 1 and asked.stderr.count("\n") == 1, asked.stderr
    assert "held documents before" in asked.stderr and "was the database deleted?" in asked.stderr
    assert "citeqa ingest FILES" in asked.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "ui.cli", "documents", "--json"],
        capture_output=True, text=True, env=environment, timeout=300,
    )
    assert json.loads(listed.stdout) == []  # nothing was re-indexed behind the user's back


def test_an_index_with_its_documents_deleted_is_not_ready_and_says_so(
    tmp_path: Path, embedder: MiniLMEmbedder, small_corpus: Path
) -> None:
    settings = IndexConfig(tmp_path / "data")
    ingest_paths([small_corpus], settings, embedder)
    delete_document(settings, "small")
    with pytest.raises(IndexNotReadyError, match="holds no documents: run `citeqa ingest FILES`"):
        open_index(settings, embedder)
    assert open_store(settings).count() == 0
