"""ui.conversation: the conversation the browser keeps comes back exactly, and damage in it
never breaks the page; ratings record how an answer was produced, without secrets."""

from __future__ import annotations

import json

import pytest

from rag import Answer, AnswerSentence, Passage, Turn, load_settings
from ui.conversation import (
    MAX_SAVED_EXCHANGES,
    Exchange,
    answer_from_dict,
    conversation_json,
    from_saved,
    history,
    rating_settings,
    to_saved,
)

PASSAGE = Passage(
    chunk_id="harbour:fees:000:abcd", doc="harbour", doc_title="Harbour Policy", section="Fees",
    part="Fees", section_number="", text="The mooring fee is 42 euros per night.", start=388,
    end=426, score=0.031, page=3, also_in=("harbour-2019",), also_in_titles=("Harbour Policy 2019",),
)
ANSWER = Answer(
    question="What is the mooring fee?",
    original_question="what is the mooring fee",
    answer="The mooring fee is 42 euros per night [1].",
    citations=[PASSAGE],
    retrieved=[PASSAGE, Passage(**{**PASSAGE.to_dict(), "chunk_id": "x", "page": None,  # type: ignore[arg-type]
                                   "duplicate_of": "harbour:fees:000:abcd"})],
    refused=False,
    sentences=[AnswerSentence("The mooring fee is 42 euros per night.", (1,), 1.0, True,
                              spans=((0, 38),), kind="claim")],
    answerer="extractive",
    notices=["Read “moring” as “mooring”."],
    latency_ms=12.5,
)
CONVERSATION = [
    Exchange("what is the mooring fee", ANSWER, asked_with={"mode": "extractive", "top_k": 5}, rating=-1),
    Exchange("", None, "The question is empty"),
]


def through_the_browser(value: object) -> object:
    """What the browser hands back: the value as JSON text, parsed again."""
    return json.loads(json.dumps(value))


def test_a_saved_conversation_comes_back_exactly() -> None:
    assert from_saved(through_the_browser(to_saved(CONVERSATION))) == CONVERSATION
    assert answer_from_dict(through_the_browser(ANSWER.to_dict())) == ANSWER


def test_only_the_last_exchanges_are_kept_in_the_browser() -> None:
    many = [Exchange(f"q{i}", None, "stopped") for i in range(MAX_SAVED_EXCHANGES + 5)]
    restored = from_saved(through_the_browser(to_saved(many)))
    assert [e.question for e in restored] == [f"q{i}" for i in range(5, MAX_SAVED_EXCHANGES + 5)]


@pytest.mark.parametrize(
    "saved",
    [
        None,
        "test",
        {"version": 99, "exchanges": []},
        {"version": 1},
        {"version": 1, "exchanges": [{"question": 3}]},
        {"version": 1, "exchanges": [{"question": "q", "answer": {"answer": "x"}, "message": ""}]},
    ],
)
def test_anything_unreadable_starts_a_new_conversation(saved: object) -> None:
    assert from_saved(saved) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("start", "388"), ("page", 2.5), ("text", None), ("score", True)],
)
def test_a_passage_field_of_the_wrong_type_is_refused(field: str, value: object) -> None:
    data = ANSWER.to_dict()
    data["citations"] = [{**PASSAGE.to_dict(), field: value}]
    with pytest.raises((TypeError, ValueError, KeyError)):
        answer_from_dict(data)
    saved = to_saved(CONVERSATION)
    saved["exchanges"][0]["answer"] = data  # type: ignore[index]
    assert from_saved(through_the_browser(saved)) == []


def test_follow_ups_are_read_against_the_answered_exchanges_only() -> None:
    assert history(CONVERSATION) == [Turn("what is the mooring fee", ANSWER.answer)]


def test_the_json_export_holds_every_exchange_with_its_whole_answer() -> None:
    data = json.loads(conversation_json(CONVERSATION, "Harbour Policy"))
    assert data["title"] == "Harbour Policy" and data["exported_at"]
    assert data["exchanges"][0]["answer"]["citations"][0]["page"] == 3
    assert data["exchanges"][0]["rating"] == -1
    assert data["exchanges"][1] == {
        "question": "", "answer": None, "message": "The question is empty", "asked_with": {},
        "rating": 0,
    }


def test_a_rating_records_how_the_answer_was_produced_and_no_secret() -> None:
    settings = load_settings(
        llm_base_url="http://user:pw@127.0.0.1:9/v1", llm_api_key="sk-secret", llm_model="m"
    )
    generative = Exchange(
        "q",
        Answer(**{**ANSWER.__dict__, "answerer": "generative:m"}),
        asked_with={"mode": "generative", "top_k": 8, "documents": ["harbour"]},
    )
    recorded = rating_settings(settings, generative)
    assert recorded == {
        "mode": "generative", "top_k": 8, "documents": ["harbour"], "retrieval_mode": "hybrid",
        "chunk_tokens": 160, "chunk_overlap_tokens": 32, "collection": "citeqa",
        "answerer": "generative:m", "llm_model": "m",
    }
    assert "sk-secret" not in json.dumps(recorded) and "pw@" not in json.dumps(recorded)
