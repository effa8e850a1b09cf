"""Ingest into a real embedded Chroma with the real embedder: idempotency, replacement,
mismatch, bad files and interrupted runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunk import ChunkParams
from ingest.embed import MiniLMEmbedder
from ingest.errors import IndexMismatchError, IndexNotReadyError, InputFileError
from ingest.pipeline import build_index, derived_dir
from ingest.store import ChunkStore, open_client
from tests.conftest import CORPUS

PARAMS = ChunkParams(160, 32)
SMALL = """A Small Policy

I, Aims

(1) Water

The plan keeps rivers clean. Factories report their discharges every month.

(2) Air

Cities plant trees along main roads. Coal boilers are replaced by 2030.
"""


def make_store(folder: Path) -> ChunkStore:
    return ChunkStore(open_client(folder, None), "citeqa")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_ingest_of_the_strategy_stores_every_chunk_with_its_metadata(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    store = make_store(tmp_path)
    summary = build_index([CORPUS], store, embedder, PARAMS, tmp_path)
    assert summary.documents == 1 and summary.chunks == store.count() == summary.embedded_chunks
    assert summary.sections == 34
    chunks = store.all_chunks()
    clean = store.document_text("national-informatization-strategy-2006-2020")
    assert clean is not None
    for chunk in chunks:
        assert clean[chunk.start : chunk.end] == chunk.text
        assert chunk.doc_title == "2006-2020 National Informatization Development Strategy"
        assert chunk.section_path and len(chunk.content_hash) == 16
    manifest = store.ready_manifest()
    assert (manifest.embedding_model, manifest.dimensions) == (embedder.model_id, 384)
    assert (derived_dir(tmp_path, manifest) / "keyword").is_dir()
    # the nearest chunk to the 2005 GDP figures is in part II (1)
    best, similarity = store.query(embedder.embed_query("information industry share of GDP in 2005"), 1)[0]
    assert best.section_path.startswith("II (1)") and "7.2 per cent" in best.text
    assert 0.3 < similarity <= 1.0


def test_reingest_of_unchanged_corpus_writes_nothing(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = write(tmp_path, "small.txt", SMALL)
    store = make_store(tmp_path)
    first = build_index([path], store, embedder, PARAMS, tmp_path)
    ids_before = [c.chunk_id for c in store.all_chunks()]
    second = build_index([path], store, embedder, PARAMS, tmp_path)
    assert first.embedded_chunks == len(ids_before) > 0
    assert second.embedded_chunks == 0 and second.skipped_documents == ["small"]
    assert [c.chunk_id for c in store.all_chunks()] == ids_before


def test_changed_file_replaces_its_chunks_without_stale_or_duplicate_ones(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    path = write(tmp_path, "small.txt", SMALL)
    other = write(tmp_path, "other.md", "Other\n\nThe other note talks about bicycles.\n")
    store = make_store(tmp_path)
    build_index([path, other], store, embedder, PARAMS, tmp_path)
    write(tmp_path, "small.txt", SMALL.replace("rivers clean", "lakes and rivers clean"))
    summary = build_index([path, other], store, embedder, PARAMS, tmp_path)
    assert summary.replaced_documents == ["small"] and summary.skipped_documents == ["other"]
    texts = [c.text for c in store.all_chunks()]
    assert not any("keeps rivers clean" in t for t in texts)
    assert sum("lakes and rivers clean" in t for t in texts) == 1
    assert any("bicycles" in t for t in texts)
    ids = [c.chunk_id for c in store.all_chunks()]
    assert len(ids) == len(set(ids))


def test_other_chunking_gives_a_clear_error_naming_rebuild(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = write(tmp_path, "small.txt", SMALL)
    store = make_store(tmp_path)
    build_index([path], store, embedder, PARAMS, tmp_path)
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        build_index([path], store, embedder, ChunkParams(96, 16), tmp_path)
    rebuilt = build_index([path], store, embedder, ChunkParams(96, 16), tmp_path, rebuild=True)
    assert rebuilt.embedded_chunks == store.count() > 0
    assert store.ready_manifest().chunk_max_tokens == 96


class RenamedEmbedder(MiniLMEmbedder):
    """Fault injector: the same model under another id, as if the embedder had changed."""

    model_id = "some-other-embedder"


def test_other_embedding_model_gives_a_clear_error(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = write(tmp_path, "small.txt", SMALL)
    store = make_store(tmp_path)
    build_index([path], store, embedder, PARAMS, tmp_path)
    with pytest.raises(IndexMismatchError, match="all-MiniLM-L6-v2.*some-other-embedder.*--rebuild"):
        build_index([path], store, RenamedEmbedder(), PARAMS, tmp_path)


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
    store = make_store(tmp_path)
    build_index([good], store, embedder, PARAMS, tmp_path)
    before = [c.chunk_id for c in store.all_chunks()]
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(InputFileError) as raised:
        build_index([good, bad], store, embedder, PARAMS, tmp_path)
    assert message in str(raised.value) and name in str(raised.value)
    assert "\n" not in str(raised.value)
    assert [c.chunk_id for c in store.all_chunks()] == before
    assert store.ready_manifest().state == "ready"


def test_missing_file_is_named(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    with pytest.raises(InputFileError, match="nowhere.txt: no such file"):
        build_index([tmp_path / "nowhere.txt"], make_store(tmp_path), embedder, PARAMS, tmp_path)


class CrashingEmbedder(MiniLMEmbedder):
    """Fault injector: dies after the first batch, like a killed ingest."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def embed_documents(self, texts):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls > 1:
            raise KeyboardInterrupt
        return super().embed_documents(texts)


def test_interrupted_ingest_is_refused_by_queries_and_repaired_by_the_next_ingest(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    path = write(tmp_path, "small.txt", SMALL)
    store = make_store(tmp_path)
    build_index([path], store, embedder, PARAMS, tmp_path)
    write(tmp_path, "small.txt", SMALL + "\n(3) Soil\n\nFarms test soil each spring.\n")
    with pytest.raises(KeyboardInterrupt):
        build_index([path, CORPUS], store, CrashingEmbedder(), PARAMS, tmp_path)
    with pytest.raises(IndexNotReadyError, match="interrupted"):
        store.ready_manifest()
    summary = build_index([path, CORPUS], store, embedder, PARAMS, tmp_path)
    assert store.ready_manifest().state == "ready"
    texts = [c.text for c in store.all_chunks()]
    assert any("Farms test soil" in t for t in texts)
    assert summary.chunks == store.count()


def test_html_is_read_as_its_visible_text(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    page = write(
        tmp_path,
        "page.html",
        "<html><head><style>p{}</style><script>var x=1;</script></head><body>"
        "<h1>Harbour Rules</h1><p>Ships dock at night.</p><p>Pilots board at the buoy.</p></body></html>",
    )
    store = make_store(tmp_path)
    build_index([page], store, embedder, PARAMS, tmp_path)
    text = store.document_text("page")
    assert text is not None and "Ships dock at night." in text and "var x" not in text
    assert store.ready_manifest().documents["page"].title == "Harbour Rules"
