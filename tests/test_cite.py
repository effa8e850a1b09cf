"""Citations: the answer-time check of a model's [n] markers and the layout of composed answers,
with real passages, the real embedder and the stored sentence vectors."""

from __future__ import annotations

import pytest

from rag import Passage, QAEngine
from rag.cite import assemble, check_citations, markers_in, split_answer, strip_markers
from rag.compose import ComposedSentence
from rag.evidence import Evidence


@pytest.fixture(scope="module")
def evidence(engine: QAEngine) -> Evidence:
    return engine.evidence()


@pytest.fixture(scope="module")
def passages(engine: QAEngine) -> list[Passage]:
    gdp = engine.retrieve("information industry added value share of GDP in 2005", 1)[0]
    security = engine.retrieve("national information security protection system", 1)[0]
    assert "7.2 per cent" in gdp.text and "security" in security.text.lower()
    return [security, gdp]  # [1] security, [2] GDP


GDP_CLAIM = "In 2005 the information industry's added value was 7.2 per cent of GDP"
THRESHOLD = 0.58


def test_split_and_markers() -> None:
    text = "First claim [1]. Second claim [2, 3]. Third [1][4].\n1. An item [2]\n2. Another"
    assert split_answer(text) == [
        "First claim [1].", "Second claim [2, 3].", "Third [1][4].", "1. An item [2]", "2. Another",
    ]
    assert markers_in("Third [1][4] and [1].") == [1, 4]
    assert strip_markers("Second claim [2, 3].") == "Second claim."


def test_a_correct_citation_is_kept_with_its_supporting_span(
    evidence: Evidence, passages: list[Passage]
) -> None:
    checked = check_citations(f"{GDP_CLAIM} [2].", passages, evidence, THRESHOLD)
    assert checked.citations == [passages[1]]
    assert checked.text == f"{GDP_CLAIM} [1]."
    sentence = checked.sentences[0]
    assert sentence.is_supported and sentence.citations == (1,)
    start, end = sentence.spans[0]
    assert "7.2 per cent" in passages[1].text[start:end]


def test_a_wrong_citation_is_moved_to_the_passage_that_supports_it(
    evidence: Evidence, passages: list[Passage]
) -> None:
    checked = check_citations(f"{GDP_CLAIM} [1].", passages, evidence, THRESHOLD)
    assert checked.citations == [passages[1]]
    assert checked.sentences[0].citations == (1,)


def test_a_marker_pointing_at_no_passage_is_removed(evidence: Evidence, passages: list[Passage]) -> None:
    checked = check_citations(f"{GDP_CLAIM} [7].", passages, evidence, THRESHOLD)
    assert "[7]" not in checked.text and checked.citations == [passages[1]]


def test_an_unsupported_claim_is_flagged_and_left_uncited(evidence: Evidence, passages: list[Passage]) -> None:
    checked = check_citations(
        "The Strategy bans all foreign software by 2008 [1].", passages, evidence, THRESHOLD
    )
    assert checked.citations == []
    assert not checked.sentences[0].is_supported and checked.sentences[0].citations == ()
    assert "[1]" not in checked.text


def test_citations_are_renumbered_in_order_of_first_use(evidence: Evidence, passages: list[Passage]) -> None:
    security_claim = passages[0].text.split(". ")[0]
    checked = check_citations(f"{GDP_CLAIM} [2]. {security_claim} [1].", passages, evidence, THRESHOLD)
    assert checked.citations == [passages[1], passages[0]]
    assert markers_in(checked.text) == [1, 2]


def test_a_refusal_sentence_needs_no_citation(evidence: Evidence, passages: list[Passage]) -> None:
    checked = check_citations("The document does not say.", passages, evidence, THRESHOLD)
    assert checked.citations == [] and checked.sentences[0].is_supported


def test_a_verbatim_quote_is_fully_supported_even_without_its_marker(
    evidence: Evidence, passages: list[Passage]
) -> None:
    quote = passages[1].text.split(". ")[1].strip()
    support = evidence.support(quote, passages[1])
    assert support.score == 1.0 and support.span is not None
    assert passages[1].text[support.span[0] : support.span[1]].startswith(quote[:30])


def test_a_model_list_keeps_its_lines(evidence: Evidence, passages: list[Passage]) -> None:
    text = f"The figures:\n1. {GDP_CLAIM} [2]\n2. Nothing else is claimed here."
    checked = check_citations(text, passages, evidence, THRESHOLD)
    lines = checked.text.split("\n")
    assert lines[1] == f"1. {GDP_CLAIM} [1]"
    assert checked.sentences[1].kind == "item"


def test_assemble_lays_out_headings_items_and_claims(passages: list[Passage]) -> None:
    security, gdp = passages
    composed = [
        ComposedSentence("Two things:", (), (), heading=True),
        ComposedSentence("first", (gdp,), ((0, 5),), item=True),
        ComposedSentence("second", (security,), ((0, 6),), item=True),
        ComposedSentence("A closing sentence.", (gdp,), ((0, 5),)),
    ]
    checked = assemble(composed)
    assert checked.text == "Two things:\n1. first [1]\n2. second [2]\nA closing sentence [1]."
    assert checked.citations == [gdp, security]
    assert [s.kind for s in checked.sentences] == ["heading", "item", "item", "claim"]
    assert checked.sentences[2].spans == ((0, 6),)
