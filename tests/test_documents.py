"""The page's document API on the engine (`documents`, `add_documents`, `delete_document`,
`ask(documents=...)`) and the page's background ingest (`ui.documents`), over a real index of
real files in embedded Chroma, built per test in a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.embed import MiniLMEmbedder
from ingest.errors import InputFileError
from rag import CiteqaError, QAEngine, RetrievalMode, load_settings
from rag.errors import UnknownDocumentError
from tests.ui_files import (
    FEE_PAGE,
    FEE_QUESTION,
    FEE_SENTENCE,
    LATE_FEE_QUESTION,
    LIBRARY_HEADINGS,
    write_corrupt_pdf,
    write_encrypted_pdf,
    write_harbour_pdf,
    write_library_docx,
    write_notes,
    write_scanned_pdf,
)
from ui.documents import (
    IngestJobs,
    documents_to_search,
    selection_after_change,
)
from ui.uploads import UploadLimits, stage_upload, uploads_dir

MODES: tuple[RetrievalMode, ...] = ("hybrid", "dense", "keyword")
FEE = "What fee is charged?"


@pytest.fixture
def two_notes(tmp_path: Path, embedder: MiniLMEmbedder) -> QAEngine:
    """An engine over two small Markdown documents that both state a fee."""
    engine = QAEngine(load_settings(data_dir=tmp_path / "data"), embedder=embedder)
    engine.add_documents([
        write_notes(tmp_path / "harbour.md", "Harbour Charges", "The mooring fee is 42 euros per night."),
        write_notes(tmp_path / "library.md", "Library Charges", "The late fee is 20 cents per day."),
    ])
    return engine


def test_added_documents_are_listed_with_their_own_titles(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    engine = QAEngine(load_settings(data_dir=tmp_path / "data"), embedder=embedder)
    heard: list[tuple[str, int, int]] = []
    added = engine.add_documents(
        [write_harbour_pdf(tmp_path / "harbour.pdf"), write_notes(tmp_path / "n.md", "Notes", "x.")],
        on_progress=lambda stage, done, total: heard.append((stage, done, total)),
    )
    assert [(d.doc_id, d.title, d.kind, d.status) for d in added] == [  # by title
        ("n", "Notes", "md", "ready"),
        ("harbour", "Westhaven Harbour Policy", "pdf", "ready"),
    ]
    stages = list(dict.fromkeys(stage for stage, _, _ in heard))
    assert stages[0] == "read" and stages[-1] == "keyword"
    assert {"chunk", "embed", "write", "commit"} <= set(stages)
    listed = {d.doc_id: d for d in engine.documents()}
    assert listed["harbour"].pages == 4 and listed["harbour"].source == "harbour.pdf"
    assert listed["n"].pages is None and listed["n"].chunks >= 1
    assert sum(d.chunks for d in listed.values()) == len(engine.passages())


def test_a_pdf_passage_knows_its_page(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    engine = QAEngine(load_settings(data_dir=tmp_path / "data"), embedder=embedder)
    engine.add_documents([write_harbour_pdf(tmp_path / "harbour.pdf")])
    answer = engine.ask(FEE_QUESTION)
    assert answer.citations, answer.answer
    cited = answer.citations[0]
    assert FEE_SENTENCE in " ".join(cited.text.split())
    assert cited.page == FEE_PAGE and cited.doc_title == "Westhaven Harbour Policy"


def test_docx_section_paths_come_from_its_headings(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    engine = QAEngine(load_settings(data_dir=tmp_path / "data"), embedder=embedder)
    engine.add_documents([write_library_docx(tmp_path / "library.docx")])
    sections = {p.section for p in engine.passages()}
    # Each Heading 1 is a section (the title paragraph above them is the "Preamble").
    assert set(LIBRARY_HEADINGS) <= sections <= {*LIBRARY_HEADINGS, "Preamble"}, sections
    answer = engine.ask(LATE_FEE_QUESTION)
    assert answer.citations and answer.citations[0].section == "Late returns"


@pytest.mark.parametrize("mode", MODES)
def test_a_question_searches_only_the_chosen_document_in_every_ranker(
    two_notes: QAEngine, mode: RetrievalMode
) -> None:
    for chosen in ("harbour", "library"):
        answer = two_notes.ask(FEE, retrieval=mode, documents=[chosen])
        assert answer.retrieved, (mode, chosen)
        assert {p.doc for p in answer.retrieved} == {chosen}
        assert {p.doc for p in answer.citations} <= {chosen}


def test_choosing_every_document_searches_as_choosing_none(two_notes: QAEngine) -> None:
    everything = two_notes.ask(FEE, documents=["library", "harbour"])
    unfiltered = two_notes.ask(FEE)
    assert [p.chunk_id for p in everything.retrieved] == [p.chunk_id for p in unfiltered.retrieved]
    assert everything.answer == unfiltered.answer


@pytest.mark.parametrize(
    ("documents", "message"),
    [
        (["harbour", "nope", "also-nope"], "no such document(s) in the index: also-nope, nope"),
        ([], "documents is empty: choose at least one document to search"),
        ("harbour", "documents must be a list of document ids, not one string"),
    ],
)
def test_a_bad_selection_is_a_value_error_naming_it(
    two_notes: QAEngine, documents: list[str] | str, message: str
) -> None:
    with pytest.raises(ValueError) as error:
        two_notes.ask(FEE, documents=documents)
    assert str(error.value) == message


def test_a_deleted_document_is_never_retrieved_again(two_notes: QAEngine, tmp_path: Path) -> None:
    data_dir = two_notes.settings.data_dir
    caches_before = sorted(p.name for p in (data_dir / "cache").glob("keyword-*"))
    two_notes.delete_document("harbour")
    assert [d.doc_id for d in two_notes.documents()] == ["library"]
    for mode in MODES:
        answer = two_notes.ask("What is the mooring fee per night?", retrieval=mode, top_k=10)
        assert all(p.doc == "library" for p in answer.retrieved), mode
    assert two_notes.document_text("harbour") is None
    # the keyword cache built with it is gone, and a new process sees the same index
    assert not set(caches_before) & {p.name for p in (data_dir / "cache").glob("keyword-*")}
    reopened = QAEngine(load_settings(data_dir=data_dir), embedder=two_notes.embedder)
    assert [p.doc for p in reopened.passages()] == ["library"] * len(reopened.passages())
    with pytest.raises(UnknownDocumentError, match="no document 'harbour' in the index"):
        two_notes.delete_document("harbour")


def test_the_last_document_cannot_be_deleted(two_notes: QAEngine) -> None:
    two_notes.delete_document("harbour")
    with pytest.raises(CiteqaError, match=r"^Library Charges is the only document; add another"):
        two_notes.delete_document("library")
    assert [d.doc_id for d in two_notes.documents()] == ["library"]


def test_a_bad_file_is_one_line_and_leaves_the_index_as_it_was(
    two_notes: QAEngine, tmp_path: Path
) -> None:
    before = (two_notes.documents(), [p.chunk_id for p in two_notes.passages()])
    corrupt = write_corrupt_pdf(tmp_path / "broken.pdf")
    with pytest.raises(InputFileError) as error:
        two_notes.add_documents([write_notes(tmp_path / "fine.md", "Fine", "x."), corrupt])
    assert str(error.value).startswith(f"{corrupt}: is not a readable PDF (")
    assert "\n" not in str(error.value)
    # a different file whose name gives an id already taken is refused, not swapped in
    other = tmp_path / "other"
    other.mkdir()
    clash = write_notes(other / "harbour.txt", "Another harbour", "The fee is 1 euro.")
    with pytest.raises(InputFileError, match=r"its document id 'harbour' belongs to harbour\.md"):
        two_notes.add_documents([clash])
    assert (two_notes.documents(), [p.chunk_id for p in two_notes.passages()]) == before


@pytest.mark.parametrize(
    ("write", "reason"),
    [
        (write_scanned_pdf, "has no extractable text (a scanned image?); run OCR first"),
        (write_encrypted_pdf, "is encrypted; decrypt it first"),
        (write_corrupt_pdf, "is not a readable PDF ("),
    ],
)
def test_scanned_encrypted_and_corrupt_pdfs_fail_alone_with_one_line(
    two_notes: QAEngine, tmp_path: Path, write: Callable[[Path], Path], reason: str
) -> None:
    before = (two_notes.documents(), [p.chunk_id for p in two_notes.passages()])
    jobs = IngestJobs(two_notes)
    jobs.submit([stage_upload(write(tmp_path / "f.pdf"), "scan.pdf", two_notes.settings.data_dir, UploadLimits())])
    assert jobs.wait(timeout_s=120)
    (row,) = jobs.rows()
    assert row.status == "failed" and row.error.startswith(f"scan.pdf: {reason}"), row.error
    assert "\n" not in row.error
    assert (two_notes.documents(), [p.chunk_id for p in two_notes.passages()]) == before


# --- background ingest ---------------------------------------------------------------------
def test_uploads_are_ingested_in_the_background_and_a_bad_one_fails_alone(
    two_notes: QAEngine, tmp_path: Path
) -> None:
    data_dir = two_notes.settings.data_dir
    jobs = IngestJobs(two_notes)
    good = stage_upload(write_harbour_pdf(tmp_path / "h.pdf"), "westhaven.pdf", data_dir, UploadLimits())
    bad = stage_upload(write_corrupt_pdf(tmp_path / "b.pdf"), "../../broken.pdf", data_dir, UploadLimits())
    jobs.submit([good, bad])
    assert [r.status for r in jobs.rows()] == ["ingesting", "ingesting"]
    assert jobs.wait(timeout_s=240)
    assert "westhaven" in {d.doc_id for d in two_notes.documents()}
    (failed,) = jobs.rows()
    assert failed.status == "failed" and failed.title == "broken.pdf"
    assert failed.error.startswith("broken.pdf: is not a readable PDF (")  # the name, not the staging path
    uploads = uploads_dir(data_dir)
    assert sorted(p.name for p in uploads.iterdir()) == [".incoming", "westhaven.pdf"]
    assert list((uploads / ".incoming").iterdir()) == []
    assert not (tmp_path / "broken.pdf").exists() and not (data_dir.parent / "broken.pdf").exists()
    assert jobs.dismiss(failed.doc_id) and jobs.rows() == []


# --- which documents a question searches ---------------------------------------------------
def test_all_stays_all_when_a_document_arrives_and_a_choice_stays_a_choice() -> None:
    assert selection_after_change(["a", "b"], ["a", "b"], ["a", "b", "c"]) == ["a", "b", "c"]
    assert selection_after_change(["a", "b"], ["b"], ["a", "b", "c"]) == ["b"]
    assert selection_after_change(["a", "b"], ["b"], ["a", "c"]) == []
    assert selection_after_change([], [], ["a", "b"]) == ["a", "b"]  # the first load


def test_the_search_argument_is_none_for_all_and_an_error_for_nothing() -> None:
    assert documents_to_search(["a", "b"], ["a", "b"]) is None
    assert documents_to_search(None, ["a", "b"]) is None
    assert documents_to_search(["b", "gone"], ["a", "b"]) == ["b"]
    with pytest.raises(CiteqaError, match="no document is selected"):
        documents_to_search(["gone"], ["a", "b"])
