"""rag.question: sanitising, follow-up detection by meaning, question shapes, spelling."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.errors import QuestionError
from rag.question import (
    MAX_QUESTION_CHARS,
    compared_items,
    correct_spelling,
    is_follow_up,
    question_shape,
    sanitize_question,
    scope_references,
    split_parts,
    swap_topic,
)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_is_sanitised_or_refused_with_a_question_error(text: str) -> None:
    try:
        cleaned, notices = sanitize_question(text)
    except QuestionError as error:
        assert "empty" in str(error)
        return
    cleaned.encode("utf-8")  # no lone surrogate survives: every result is encodable
    assert cleaned and len(cleaned) <= MAX_QUESTION_CHARS
    assert not any(ord(ch) < 32 for ch in cleaned)
    if notices:  # only a cut question gets a notice, and it is cut at the limit
        assert len(cleaned) == MAX_QUESTION_CHARS and "only the first" in notices[0]


def test_lone_surrogates_become_replacement_characters() -> None:
    cleaned, _ = sanitize_question("What about \ud800 security?")
    assert cleaned == "What about \ufffd security?"


@pytest.mark.parametrize("value", [None, 5, b"bytes", ["a"]])
def test_a_question_that_is_not_text_is_a_question_error(value: object) -> None:
    with pytest.raises(QuestionError, match="must be text"):
        sanitize_question(value)


@pytest.mark.parametrize(
    "question",
    [
        "Digital divide?",
        "Who issued it?",
        "What does it say about security?",
        "E-government plans?",
        "How many action plans are there?",
        "What is e-government and why is it important?",
        "2005年信息产业增加值占国内生产总值的比重是多少？",  # Chinese after English: not a follow-up
        "电子政务行动计划的目标是什么？",
    ],
)
def test_standalone_questions_are_not_follow_ups_however_short(question: str) -> None:
    assert not is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "Why is it important?",
        "How will they be funded?",
        "And what about e-commerce?",
        "Which of them comes first?",
        "Why?",
        "Tell me more",
        "那电子商务呢？",
    ],
)
def test_questions_that_cannot_stand_alone_are_follow_ups(question: str) -> None:
    assert is_follow_up(question)


def test_the_new_topic_of_a_what_about_follow_up() -> None:
    assert swap_topic("And what about e-commerce?") == "e-commerce"
    assert swap_topic("Why is it important?") is None


@pytest.mark.parametrize(
    ("question", "shape"),
    [
        ("How many action plans are there?", "count"),
        ("What are the strategic objectives for 2020?", "list"),
        ("List the safeguard measures", "list"),
        ("Compare Part IV and Part V", "multi"),
        ("What is the 2020 target for security, and which plan addresses it?", "multi"),
        ("What does it say about the digital divide?", "overview"),
        ("Digital divide?", "overview"),
        ("Why does it call informatization urgent?", "explain"),
        ("What share of GDP did the information industry reach in 2005?", "fact"),
        ("In what year was the conference held?", "fact"),
        ("Which areas does social informatization cover?", "list"),  # which + a plural noun
        ("What progress has been made?", "fact"),  # "progress" is not a plural
        ("What does it say?", "overview"),
    ],
)
def test_question_shapes(question: str, shape: str) -> None:
    assert question_shape(question) == shape


def test_parts_of_multi_part_and_comparison_questions() -> None:
    assert split_parts("What is X, and how will Y be done?") == ["What is X", "how will Y be done?"]
    assert split_parts("What are the aims and tasks of X?") == ["What are the aims and tasks of X?"]
    assert compared_items("Compare Part IV and Part V") == ["Part IV", "Part V"]
    # what is asked of both items belongs to neither
    assert compared_items("Compare what A plans and B plans say about talent") == ["A plans", "B plans"]
    assert [s.label for s in scope_references("compare part 4 with IV (2)")] == ["IV", "IV (2)"]
    assert [s.label for s in scope_references("What does section (8) of Part IV say?")] == ["IV (8)"]
    # Two parts, each with its own topic, are two questions; two parts sharing one are one.
    assert split_parts("What does Part II say about problems and Part III about principles?") == [
        "What does Part II say about problems", "Part III about principles?"
    ]
    assert len(split_parts("What do Part IV and Part V say about e-government?")) == 1
    assert [s.label for s in scope_references("section 3 in part ii")] == ["II (3)"]


CORPUS_WORDS = {
    "strategy": 20, "government": 30, "organization": 2, "shape": 5, "information": 9, "rural": 40,
}


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the stratgey?", "What is the strategy?"),
        ("goverment organisation", "government organization"),
        ("What share of GDP?", "What share of GDP?"),  # an English word is not a typo of "shape"
        ("What about spam?", "What about spam?"),  # an English word, left alone
        ("plans for rual areas", "plans for rural areas"),  # four letters: a corpus word one edit away
        ("Tell me about NATO", "Tell me about NATO"),  # an acronym is a name
        ("What about zorb?", "What about zorb?"),  # four letters, no corpus word near: left alone
    ],
)
def test_spelling_is_read_against_the_corpus_and_english(question: str, expected: str) -> None:
    corrected, fixes = correct_spelling(question, lambda word: CORPUS_WORDS.get(word, 0))
    assert corrected == expected
    assert bool(fixes) == (question != expected)
