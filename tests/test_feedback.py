"""rag.feedback: ratings round-trip through a real SQLite file; a damaged file is one clear error."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from rag import CiteqaError, Passage
from rag.feedback import EXCERPT_CHARS, CitedExcerpt, FeedbackError, FeedbackStore

LONG_TEXT = "In 2005, the information industry’s added value amounted to 7.2 per cent of GDP. " * 10
CITED = Passage("doc:II-1:0003:ab12", "doc", "T", "II (1) The situation of progress", "II", "1",
                LONG_TEXT, 100, 100 + len(LONG_TEXT))
SETTINGS = {"top_k": 5, "retrieval": "hybrid", "mode": "extractive"}


def record(store: FeedbackStore, rating: int, question: str = "What share of GDP?", comment: str = "") -> None:
    store.record(question=question, answer="7.2 per cent of GDP [1].", citations=[CITED],
                 settings=SETTINGS, answerer="extractive", rating=rating, comment=comment)


def test_ratings_round_trip_in_order_with_their_citations_and_settings(tmp_path: Path) -> None:
    path = tmp_path / "data" / "feedback.sqlite3"
    store = FeedbackStore(path)
    assert not path.exists()  # nothing is created before the first call
    saved = store.record(question="What share of GDP?", answer="7.2 per cent of GDP [1].",
                         citations=[CITED], settings=SETTINGS, answerer="extractive", rating=-1,
                         comment="It should say 16.6% too.")
    record(store, 1, question="Who issued the notice?")
    assert path.is_file()
    entries = FeedbackStore(path).list()  # a new store on the same file reads what was written
    assert [e.id for e in entries] == [saved.id, saved.id + 1]
    first = entries[0]
    assert first == saved
    assert (first.question, first.rating, first.comment) == ("What share of GDP?", -1, "It should say 16.6% too.")
    assert first.citations == (CitedExcerpt.of(CITED),)
    excerpt = first.citations[0]
    assert (excerpt.section, excerpt.chunk_id) == (CITED.section, CITED.chunk_id)
    assert len(excerpt.excerpt) == EXCERPT_CHARS and excerpt.excerpt.endswith("…")
    assert dict(first.settings) == SETTINGS and first.answerer == "extractive"
    assert first.created_at.endswith("+00:00") and first.created_at[:4].isdigit()
    assert [e.question for e in store.list(rating=-1)] == ["What share of GDP?"]
    assert [e.question for e in store.list(rating=1)] == ["Who issued the notice?"]


def test_the_file_is_in_wal_mode_with_one_feedback_table(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    record(FeedbackStore(path), 1)
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        assert ("feedback",) in tables
        columns = [row[1] for row in connection.execute("PRAGMA table_info(feedback)")]
    assert columns == ["id", "created_at", "question", "answer", "citations", "settings",
                       "answerer", "rating", "comment"]


def test_ratings_from_several_threads_are_all_kept(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    threads = [threading.Thread(target=record, args=(store, 1, f"question {n}?")) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(e.question for e in store.list()) == sorted(f"question {n}?" for n in range(8))


def test_a_bad_rating_or_settings_are_refused_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(path)
    for rating in (0, 2, True):
        with pytest.raises(ValueError, match="rating must be 1 .* or -1"):
            record(store, rating)
    with pytest.raises(ValueError, match="settings must be JSON-ready"):
        store.record(question="q", answer="a", citations=[], settings={"path": Path("x")},  # type: ignore[dict-item]
                     answerer="extractive", rating=1)
    assert not path.exists()


def test_a_damaged_file_is_one_line_feedback_error(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    path.write_bytes(b"this is not a database, it is a text file that happens to be here\n" * 20)
    store = FeedbackStore(path)
    for call in (store.list, lambda: record(store, 1)):
        with pytest.raises(FeedbackError) as caught:
            call()
        message = str(caught.value)
        assert isinstance(caught.value, CiteqaError) and "\n" not in message
        assert message.startswith(f"{path}: cannot use the feedback database (file is not a database)")


def test_another_table_shape_and_a_damaged_row_are_named(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    with closing(sqlite3.connect(other)) as connection, connection:
        connection.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY, note TEXT)")
    with pytest.raises(FeedbackError, match="its feedback table has columns id, note, not id, created_at"):
        FeedbackStore(other).list()
    path = tmp_path / "feedback.sqlite3"
    record(FeedbackStore(path), -1)
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE feedback SET citations = 'not json' WHERE id = 1")
    with pytest.raises(FeedbackError, match=r"feedback row 1 is damaged"):
        FeedbackStore(path).list()
