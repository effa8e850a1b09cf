"""FeedbackStore: readers' thumbs up / down on answers, kept in one local SQLite file.

The page records a rating with what was asked, what citeqa answered, the passages it cited
(section, chunk id and an excerpt, so the record still reads after a re-index) and the settings
that produced it; `citeqa eval --from-feedback` turns the thumbs-down into draft QA items. One
table, stdlib sqlite3, a connection per call (the page calls from worker threads and sqlite3
connections do not cross threads), WAL so a reader never waits for a writer. The compromise:
no migrations; a file whose table has another shape is refused with a clear message instead.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeAlias

from rag.errors import CiteqaError
from rag.types import Passage

Rating = Literal[1, -1]
# The file's name in the data folder: the page writes <data_dir>/feedback.sqlite3 and
# `citeqa eval --from-feedback` reads it there unless told otherwise.
FEEDBACK_FILENAME = "feedback.sqlite3"
JSONValue: TypeAlias = "str | int | float | bool | None | list[JSONValue] | dict[str, JSONValue]"
# A cited passage is kept as this much of its text: enough to recognise it, not a copy of the
# document in every row.
EXCERPT_CHARS = 300
# Seconds a write waits for another writer (two page workers rating at once) before failing.
BUSY_TIMEOUT_S = 5.0
_COLUMNS = (
    "id", "created_at", "question", "answer", "citations", "settings", "answerer", "rating",
    "comment",
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    settings TEXT NOT NULL,
    answerer TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (1, -1)),
    comment TEXT NOT NULL DEFAULT ''
)
"""


class FeedbackError(CiteqaError):
    """The feedback file cannot be opened, is not a citeqa feedback database, or is damaged."""


@dataclass(frozen=True)
class CitedExcerpt:
    """A cited passage as feedback keeps it: where it is and the start of its text."""

    section: str
    chunk_id: str
    excerpt: str

    @classmethod
    def of(cls, passage: Passage) -> CitedExcerpt:
        """The excerpt of a passage: its first EXCERPT_CHARS characters, whitespace collapsed."""
        text = " ".join(passage.text.split())
        cut = text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
        return cls(passage.section, passage.chunk_id, cut)


@dataclass(frozen=True)
class Feedback:
    """One rating: `rating` is +1 (thumbs up) or -1 (thumbs down); `created_at` is ISO 8601
    UTC to the second ("2026-03-01T14:22:33+00:00"); `settings` is what the caller recorded."""

    id: int
    created_at: str
    question: str
    answer: str
    citations: tuple[CitedExcerpt, ...]
    settings: Mapping[str, JSONValue]
    answerer: str
    rating: Rating
    comment: str


class FeedbackStore:
    """Ratings in the SQLite file at `path` (see the module docstring).

    Nothing touches the file until the first `record` or `list`; the first call creates it
    (and its folder) when it is missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(
        self,
        *,
        question: str,
        answer: str,
        citations: Sequence[Passage | CitedExcerpt],
        settings: Mapping[str, JSONValue],
        answerer: str,
        rating: int,
        comment: str = "",
    ) -> Feedback:
        """Store one rating and return it with its id and time.

        `citations` are the answer's cited passages (kept as CitedExcerpt); `settings` must be
        JSON-ready and must not hold secrets (the file is plain). ValueError for a rating
        other than +1 / -1 or settings that are not JSON; FeedbackError when the file cannot be
        written or is not a feedback database.
        """
        checked = _as_rating(rating)
        excerpts = tuple(c if isinstance(c, CitedExcerpt) else CitedExcerpt.of(c) for c in citations)
        try:
            settings_json = json.dumps(dict(settings), ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError) as error:
            raise ValueError(f"feedback settings must be JSON-ready: {error}") from None
        created_at = datetime.now(UTC).isoformat(timespec="seconds")
        citations_json = json.dumps(
            [{"section": c.section, "chunk_id": c.chunk_id, "excerpt": c.excerpt} for c in excerpts],
            ensure_ascii=False,
        )
        with self._connection() as connection:
            cursor = connection.execute(
                "INSERT INTO feedback (created_at, question, answer, citations, settings, "
                "answerer, rating, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (created_at, question, answer, citations_json, settings_json, answerer, checked,
                 comment),
            )
            row_id = cursor.lastrowid
        assert row_id is not None
        return Feedback(row_id, created_at, question, answer, excerpts, json.loads(settings_json),
                        answerer, checked, comment)

    def list(self, rating: int | None = None) -> builtins.list[Feedback]:
        """Every rating, oldest first; only those equal to `rating` (+1 or -1) when given.

        FeedbackError when the file is not a feedback database or a row is damaged (the message
        names the row id).
        """
        query = f"SELECT {', '.join(_COLUMNS)} FROM feedback"
        parameters: tuple[int, ...] = ()
        if rating is not None:
            query += " WHERE rating = ?"
            parameters = (rating,)
        with self._connection() as connection:
            rows = connection.execute(query + " ORDER BY id", parameters).fetchall()
        return [self._feedback(row) for row in rows]

    # --- internals -------------------------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection with the table in place, committed on success; sqlite3 errors become
        one-line FeedbackErrors naming the file."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as connection:
                with connection:
                    connection.execute("PRAGMA journal_mode=WAL")
                    connection.execute(_SCHEMA)
                    self._check_shape(connection)
                    yield connection
        except sqlite3.DatabaseError as error:
            raise FeedbackError(
                f"{self.path}: cannot use the feedback database ({error}); move it aside and "
                "citeqa starts a new one"
            ) from None
        except OSError as error:
            raise FeedbackError(f"{self.path}: cannot open the feedback file: {error.strerror}") from None

    def _check_shape(self, connection: sqlite3.Connection) -> None:
        columns = tuple(row[1] for row in connection.execute("PRAGMA table_info(feedback)"))
        if columns != _COLUMNS:
            raise sqlite3.DatabaseError(
                f"its feedback table has columns {', '.join(columns)}, not {', '.join(_COLUMNS)}"
            )

    def _feedback(self, row: tuple[object, ...]) -> Feedback:
        row_id, created_at, question, answer, citations, settings, answerer, rating, comment = row
        try:
            cited = json.loads(str(citations))
            chosen = json.loads(str(settings))
            excerpts = tuple(
                CitedExcerpt(str(c["section"]), str(c["chunk_id"]), str(c["excerpt"])) for c in cited
            )
            if not isinstance(chosen, dict):
                raise ValueError("its settings are not a JSON object")
            checked = _as_rating(rating)
        except (ValueError, TypeError, KeyError) as error:
            raise FeedbackError(f"{self.path}: feedback row {row_id} is damaged ({error})") from None
        return Feedback(
            id=int(str(row_id)),
            created_at=str(created_at),
            question=str(question),
            answer=str(answer),
            citations=excerpts,
            settings=chosen,
            answerer=str(answerer),
            rating=checked,
            comment=str(comment),
        )


def _as_rating(value: object) -> Rating:
    """`value` as a Rating; ValueError unless it is the integer 1 or -1."""
    if not isinstance(value, bool) and isinstance(value, int):
        if value == 1:
            return 1
        if value == -1:
            return -1
    raise ValueError(f"rating must be 1 (thumbs up) or -1 (thumbs down), not {value!r}")
