"""The offline answerer through `rag.ask` on the real index: answers shaped by the question and
by the document's structure, every item cited, no dangling lead-ins, follow-ups that add."""

from __future__ import annotations

import re

import pytest

from rag import Answer, QAEngine, Turn


def cited_parts(answer: Answer) -> list[str]:
    return [p.section.split()[0] for p in answer.citations]


def items(answer: Answer) -> list[str]:
    return [s.text for s in answer.sentences if s.kind == "item"]


def test_part_iv_priorities_are_listed_with_nine_citations(engine: QAEngine) -> None:
    answer = engine.ask("What are the strategic priorities in Part IV?")
    assert not answer.refused
    assert len(items(answer)) == 9 and len(answer.citations) == 9
    assert all(p.section.startswith("IV (") for p in answer.citations)
    assert "Move e-government forward" in items(answer)
    assert "9 (nine)" in answer.answer
    # each item cites the passage its heading opens, and that is what the page marks
    for sentence in answer.sentences:
        if sentence.kind == "item":
            passage = answer.citations[sentence.citations[0] - 1]
            start, end = sentence.spans[0]
            assert passage.text[start:end].endswith(sentence.text) or sentence.text in passage.text[start:end]


def test_a_count_is_answered_by_counting_the_structure(engine: QAEngine) -> None:
    answer = engine.ask("How many action plans are there?")
    assert "6 (six)" in answer.answer
    assert len(items(answer)) == 6 and {p.section[:5] for p in answer.citations} == {
        f"V ({n})" for n in range(1, 7)
    }


def test_a_list_asked_for_in_the_readers_own_words_is_still_found(engine: QAEngine) -> None:
    # The document says "objectives", never "goals".
    answer = engine.ask("What are the strategy's goals for 2020?")
    assert "9 (nine)" in answer.answer and len(items(answer)) == 9
    assert {p.section for p in answer.citations} == {"III (2) Strategic objectives"}


def test_a_sections_run_in_headings_are_its_list(engine: QAEngine) -> None:
    # IV (4)'s four paragraphs open with short headings; "which areas" asks for them.
    answer = engine.ask("Which areas does social informatization cover?")
    assert len(items(answer)) == 4 and items(answer)[-1] == "Move community informatization forward"
    assert {p.section for p in answer.citations} == {"IV (4) Promote social informatization"}


def test_an_inline_list_keeps_a_last_item_joined_by_and(engine: QAEngine) -> None:
    # "…, integrating the military and the people, security and reliability.": seven
    # principles, the last one two words joined by "and"; asked with a verb ("set out") the
    # list's lead-in does not use.
    answer = engine.ask("How many strategic principles does the strategy set out?")
    assert not answer.refused and "7 (seven)" in answer.answer
    assert items(answer)[-2:] == ["integrating the military and the people", "security and reliability"]


def test_a_lead_in_sharing_its_sentence_with_the_first_item_brings_every_item(engine: QAEngine) -> None:
    # II (3): "…mainly manifested as: first, thought and understanding needs to be raised."
    # Quoting that sentence alone gave one problem of six.
    answer = engine.ask("What does Part II say about problems?")
    assert len(items(answer)) == 6 and items(answer)[-1].startswith("Structural and mechanism reform")
    lead = next(s for s in answer.sentences if s.kind == "claim")
    assert lead.text.rstrip(":").endswith("manifested as")


def test_a_part_the_document_lacks_is_said_not_answered_from_elsewhere(engine: QAEngine) -> None:
    answer = engine.ask("What does Part VI cover?")
    assert answer.refused and not answer.citations
    assert any("Part VI" in notice for notice in answer.notices)


def test_kinds_of_actor_asked_for_are_not_a_missing_name(engine: QAEngine) -> None:
    # "Which organisations and people …" is answered by kinds ("enterprises, individuals and
    # other social organizations"), not by a capitalised body.
    answer = engine.ask(
        "Which organisations and people should be encouraged to take part in not-for-profit use of "
        "information resources?"
    )
    assert not answer.refused and "individuals" in answer.answer


def test_an_ordinal_list_is_enumerated_in_full(engine: QAEngine) -> None:
    answer = engine.ask("What are the main problems?")
    assert len(items(answer)) == 6
    assert items(answer)[0].startswith("Thought and understanding")
    assert all(p.section.startswith("II (3)") for p in answer.citations)


@pytest.mark.parametrize(
    "question",
    [
        "What are the strategic objectives for 2020?",
        "What are the concrete objectives?",
        "How will the objectives be reached?",
    ],
)
def test_no_answer_ends_in_a_dangling_lead_in(engine: QAEngine, question: str) -> None:
    answer = engine.ask(question)
    assert not answer.answer.rstrip().endswith(":"), answer.answer
    for sentence in answer.sentences:
        if sentence.text.rstrip().endswith(":") and sentence.kind != "heading":
            index = answer.sentences.index(sentence)
            assert answer.sentences[index + 1].kind == "item", answer.answer


def test_the_inline_objectives_are_each_an_item(engine: QAEngine) -> None:
    answer = engine.ask("What are the strategic objectives for 2020?")
    assert len(items(answer)) == 9
    assert items(answer)[0] == "the basic spread of comprehensive information infrastructure"


def test_a_comparison_cites_both_parts(engine: QAEngine) -> None:
    answer = engine.ask("Compare Part IV and Part V")
    assert not answer.refused
    assert "On Part IV:" in answer.answer and "On Part V:" in answer.answer
    assert {"IV", "V"} <= set(cited_parts(answer))


def test_a_named_part_alone_is_answered_by_what_that_part_sets_out(engine: QAEngine) -> None:
    # A part with a list of sections: its sections, each cited.
    summary = engine.ask("Summarise Part VII.")
    assert len(items(summary)) == 9 and all(p.section.startswith("VII (") for p in summary.citations)
    # A part without one (Part I's trends): its key sentences, answered, cited only to Part I.
    part_one = engine.ask("What does Part I say?")
    assert not part_one.refused and not part_one.caveat
    claims = [s for s in part_one.sentences if s.kind == "claim"]
    assert len(claims) >= 2 and set(cited_parts(part_one)) == {"I"}
    # One section, named the way readers write it.
    section = engine.ask("What does section (8) of Part IV say?")
    assert section.citations and {p.section.split(" ", 2)[:2] == ["IV", "(8)"] for p in section.citations} == {True}


@pytest.mark.parametrize(
    "question", ["What is this document about?", "How many parts does the strategy have?", "Summarise the strategy"]
)
def test_a_question_about_the_whole_document_is_answered_by_its_parts(engine: QAEngine, question: str) -> None:
    answer = engine.ask(question)
    assert "6 (six) numbered parts" in answer.answer
    assert items(answer)[0].startswith("Part I: The basic trends") and items(answer)[-1].startswith("Part VII:")
    # each part cited to where it begins, in document order
    assert [p.section.split()[0] for p in answer.citations] == ["I", "II", "III", "IV", "V", "VII"]


def test_a_question_about_a_topic_in_a_named_part_is_searched_in_that_part(engine: QAEngine) -> None:
    answer = engine.ask("What does Part VII say about talent?")
    assert answer.citations and set(cited_parts(answer)) == {"VII"}
    # A part the document does not have is said, and the whole text is searched instead.
    missing = engine.ask("What does Part IX say about talent?")
    assert any("Part IX" in notice for notice in missing.notices)
    assert missing.citations


def test_a_multi_part_answer_does_not_say_the_same_sentence_under_two_parts(engine: QAEngine) -> None:
    answer = engine.ask("What is the digital divide and how will it be narrowed?")
    claims = [s.text for s in answer.sentences if s.kind in ("claim", "item")]
    assert answer.answer.count("On “") == 2 and len(claims) == len(set(claims)) >= 3


def test_a_comparison_of_parts_named_by_their_titles_searches_each_part(engine: QAEngine) -> None:
    # "the strategic focus" is Part IV's title, "the guarantee measures" Part VII's; what is
    # asked of both ("informatization talent") is searched in each.
    answer = engine.ask(
        "Compare what the strategic focus and the guarantee measures say about informatization talent"
    )
    assert answer.answer.count("On “") == 2
    assert {p.section[:6] for p in answer.citations} == {"IV (9)", "VII (7"}


def test_an_overview_draws_several_cited_sentences_from_the_best_section(engine: QAEngine) -> None:
    answer = engine.ask("What does it say about the digital divide?")
    claims = [s for s in answer.sentences if s.kind == "claim"]
    assert 2 <= len(claims) <= 5
    assert all(s.citations for s in claims)
    assert any("digital divide" in p.text for p in answer.citations)


def test_answers_read_as_prose_without_copied_bullets_or_breaks(engine: QAEngine) -> None:
    for question in ("What progress has been made in information networks?", "Tell me about security"):
        answer = engine.ask(question)
        for sentence in answer.sentences:
            assert not sentence.text.startswith(("–", "-", "•")), sentence.text
            assert "\n" not in sentence.text
        # lines are whole units: a claim never breaks across lines
        assert all(line.strip() for line in answer.answer.split("\n") if line) or answer.refused


def test_a_follow_up_answer_does_not_repeat_the_previous_answer(engine: QAEngine) -> None:
    first = engine.ask("What does the Strategy say about information security?")
    follow = engine.ask("Why is it important?", history=[Turn(first.question, first.answer)])
    said = {s.text for s in first.sentences if s.kind == "claim"}
    assert not said & {s.text for s in follow.sentences}, follow.answer
    assert follow.question == "Why is information security important?"


def test_a_short_standalone_question_after_another_is_not_glued_to_it(engine: QAEngine) -> None:
    first = engine.ask("What are the strategic objectives for 2020?")
    answer = engine.ask("Who won the 2008 Olympics?", history=[Turn(first.question, first.answer)])
    assert answer.question == "Who won the 2008 Olympics?" and answer.refused


def test_a_misspelled_question_is_read_and_says_so(engine: QAEngine) -> None:
    answer = engine.ask("What does the stratgey say about goverment services?")
    assert any("“stratgey” as “strategy”" in n for n in answer.notices)
    assert not answer.refused and re.search(r"government", answer.answer, re.IGNORECASE)
