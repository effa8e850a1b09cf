"""A conversation as the page keeps it: a list of exchanges, saved in the browser and exported.

An `Exchange` is one question and what came back: an `Answer`, or a one-line message instead
(an error, an answer stopped half-way). The page keeps the list per browser tab and writes it
to the browser's localStorage after every change (`to_saved`), so a reload restores it
(`from_saved`); what is read back is checked field by field and anything unreadable starts a
new conversation instead of failing the page. Pure functions, no gradio.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast, get_args

from rag import Answer, AnswerSentence, Passage, Settings, Turn
from rag.feedback import JSONValue
from rag.types import SentenceKind

# Bump when the saved shape changes: an older browser copy is then dropped, not misread.
SAVED_VERSION = 1
# Exchanges kept in the browser: about 10 kB each, far under localStorage's 5 MB, and more
# than anyone scrolls back through.
MAX_SAVED_EXCHANGES = 50


@dataclass(frozen=True)
class Exchange:
    """One question and its answer, or the `message` shown instead of one. `asked_with` is
    how it was asked (mode, top_k, documents), recorded with a rating; `rating` is the
    reader's rating once given (+1, -1; 0 for none)."""

    question: str
    answer: Answer | None = None
    message: str = ""
    asked_with: Mapping[str, JSONValue] = field(default_factory=dict)
    rating: int = 0


def history(exchanges: Sequence[Exchange]) -> list[Turn]:
    """The earlier turns a follow-up question is read against (answered exchanges only)."""
    return [Turn(e.answer.original_question, e.answer.answer) for e in exchanges if e.answer]


# --- saved in the browser ------------------------------------------------------------------
def to_saved(exchanges: Sequence[Exchange]) -> dict[str, JSONValue]:
    """The conversation as the JSON object the browser keeps (the last MAX_SAVED_EXCHANGES)."""
    return {
        "version": SAVED_VERSION,
        "exchanges": [_exchange_dict(e) for e in exchanges[-MAX_SAVED_EXCHANGES:]],
    }


def from_saved(saved: object) -> list[Exchange]:
    """The conversation `to_saved` wrote; [] for nothing, another version, or damage."""
    if not isinstance(saved, dict) or saved.get("version") != SAVED_VERSION:
        return []
    try:
        return [_exchange(item) for item in _list(saved, "exchanges")]
    except (KeyError, TypeError, ValueError):
        return []


def conversation_json(exchanges: Sequence[Exchange], title: str) -> str:
    """The conversation as an indented JSON document (the page's "Export JSON")."""
    document = {
        "title": title,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exchanges": [_exchange_dict(e) for e in exchanges],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _exchange_dict(exchange: Exchange) -> dict[str, JSONValue]:
    answer = cast(JSONValue, exchange.answer.to_dict()) if exchange.answer else None
    return {
        "question": exchange.question,
        "answer": answer,
        "message": exchange.message,
        "asked_with": dict(exchange.asked_with),
        "rating": exchange.rating,
    }


def _exchange(data: object) -> Exchange:
    item = _dict(data)
    answer = item.get("answer")
    asked_with = item.get("asked_with", {})
    if not isinstance(asked_with, dict):
        raise TypeError("asked_with is not an object")
    rating = _int(item, "rating")
    if rating not in (-1, 0, 1):
        raise ValueError(f"rating {rating}")
    return Exchange(
        question=_str(item, "question"),
        answer=answer_from_dict(answer) if answer is not None else None,
        message=_str(item, "message"),
        asked_with=asked_with,
        rating=rating,
    )


def answer_from_dict(data: object) -> Answer:
    """An Answer from `Answer.to_dict()` output. KeyError, TypeError or ValueError when a
    field is missing or of the wrong type."""
    item = _dict(data)
    return Answer(
        question=_str(item, "question"),
        original_question=_str(item, "original_question"),
        answer=_str(item, "answer"),
        citations=[_passage(p) for p in _list(item, "citations")],
        retrieved=[_passage(p) for p in _list(item, "retrieved")],
        refused=_bool(item, "refused"),
        sentences=[_sentence(s) for s in _list(item, "sentences")],
        caveat=_bool(item, "caveat"),
        answerer=_str(item, "answerer"),
        notices=[_text(n) for n in _list(item, "notices")],
        latency_ms=_float(item, "latency_ms"),
    )


def _passage(data: object) -> Passage:
    item = _dict(data)
    page = item.get("page")
    duplicate_of = item.get("duplicate_of")
    return Passage(
        chunk_id=_str(item, "chunk_id"),
        doc=_str(item, "doc"),
        doc_title=_str(item, "doc_title"),
        section=_str(item, "section"),
        part=_str(item, "part"),
        section_number=_str(item, "section_number"),
        text=_str(item, "text"),
        start=_int(item, "start"),
        end=_int(item, "end"),
        score=_float(item, "score"),
        duplicate_of=_text(duplicate_of) if duplicate_of is not None else None,
        page=_whole(page) if page is not None else None,
        # Saved before near-duplicates were named: absent means none.
        also_in=tuple(_text(v) for v in _list(item, "also_in")) if "also_in" in item else (),
        also_in_titles=(
            tuple(_text(v) for v in _list(item, "also_in_titles")) if "also_in_titles" in item else ()
        ),
    )


def _sentence(data: object) -> AnswerSentence:
    item = _dict(data)
    kind = _str(item, "kind")
    if kind not in get_args(SentenceKind):
        raise ValueError(f"sentence kind {kind!r}")
    return AnswerSentence(
        text=_str(item, "text"),
        citations=tuple(_whole(n) for n in _list(item, "citations")),
        support=_float(item, "support"),
        is_supported=_bool(item, "is_supported"),
        spans=tuple(_span(s) for s in _list(item, "spans")),
        kind=cast(SentenceKind, kind),
    )


def _span(data: object) -> tuple[int, int]:
    if not isinstance(data, list | tuple) or len(data) != 2:
        raise TypeError("a span is two offsets")
    return _whole(data[0]), _whole(data[1])


def _dict(data: object) -> dict[str, object]:
    if not isinstance(data, dict):
        raise TypeError("not an object")
    return data


def _list(item: Mapping[str, object], key: str) -> list[object]:
    value = item[key]
    if not isinstance(value, list):
        raise TypeError(f"{key} is not a list")
    return value


def _str(item: Mapping[str, object], key: str) -> str:
    return _text(item[key])


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _int(item: Mapping[str, object], key: str) -> int:
    return _whole(item[key])


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not a whole number")
    return value


def _float(item: Mapping[str, object], key: str) -> float:
    value = item[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key} is not a number")
    return float(value)


def _bool(item: Mapping[str, object], key: str) -> bool:
    value = item[key]
    if not isinstance(value, bool):
        raise TypeError(f"{key} is not true or false")
    return value


# --- ratings -------------------------------------------------------------------------------
def rating_settings(settings: Settings, exchange: Exchange) -> dict[str, JSONValue]:
    """What produced an answer, stored with a reader's rating (FeedbackStore): how it was
    asked, plus the index and retrieval settings. No URLs or keys (the file is plain)."""
    answer = exchange.answer
    recorded: dict[str, JSONValue] = {
        **dict(exchange.asked_with),
        "retrieval_mode": settings.retrieval_mode,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap_tokens": settings.chunk_overlap_tokens,
        "collection": settings.collection,
        "answerer": answer.answerer if answer else "",
    }
    if answer is not None and answer.answerer.startswith("generative:"):
        recorded["llm_model"] = settings.llm_model
    return recorded
