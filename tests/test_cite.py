"""Citation checking at answer time, with real passages, the real embedder and sentence vectors."""

from __future__ import annotations

import pytest

from rag import Passage, QAEngine
from rag.cite import SupportScorer, check_citations, markers_in, split_answer, strip_markers


@pytest.fixture(scope="module")
def scorer(engine: QAEngine) -> SupportScorer:
    return engine._load().scorer


@pytest.fixture(scope="module")
def passages(engine: QAEngine) -> list[Passage]:
    gdp = engine.retrieve("information industry added value share of GDP in 2005", 1)[0]
    security = engine.retrieve("national information security protection system", 1)[0]
    assert "7.2 per cent" in gdp.text and "security" in security.text.lower()
    return [security, gdp]  # [1] security, [2] GDP


GDP_CLAIM = "In 2005 the information industry's added value was 7.2 per cent of GDP"


def test_split_and_markers() -> None:
    text = "First claim [1]. Second claim [2, 3]. Third [1][4]."
    assert split_answer(text) == ["First claim [1].", "Second claim [2, 3].", "Third [1][4]."]
    assert markers_in("Third [1][4] and [1].") == [1, 4]
    assert strip_markers("Second claim [2, 3].") == "Second claim."


def test_a_correct_citation_is_kept(scorer: SupportScorer, passages: list[Passage]) -> None:
    checked = check_citations(f"{GDP_CLAIM} [2].", passages, scorer)
    assert checked.citations == [passages[1]]
    assert checked.text == f"{GDP_CLAIM} [1]."
    assert checked.sentences[0].is_supported and checked.sentences[0].citations == (1,)


def test_a_wrong_citation_is_re_cited_to_the_supporting_passage(
    scorer: SupportScorer, passages: list[Passage]
) -> None:
    checked = check_citations(f"{GDP_CLAIM} [1].", passages, scorer)
    assert checked.citations == [passages[1]]  # moved from the security passage to the GDP one
    assert checked.sentences[0].citations == (1,) and checked.sentences[0].is_supported


def test_a_marker_pointing_at_no_passage_is_removed(scorer: SupportScorer, passages: list[Passage]) -> None:
    checked = check_citations(f"{GDP_CLAIM} [7].", passages, scorer)
    assert "[7]" not in checked.text
    assert checked.citations == [passages[1]]  # re-cited to the passage that supports it


def test_an_unsupported_claim_is_flagged_and_left_uncited(scorer: SupportScorer, passages: list[Passage]) -> None:
    checked = check_citations(
        f"{GDP_CLAIM} [2]. The Strategy assigns a budget of 50 billion yuan to space tourism [1].",
        passages,
        scorer,
    )
    first, second = checked.sentences
    assert first.is_supported and first.citations == (1,)
    assert not second.is_supported and second.citations == ()
    assert checked.text.endswith("space tourism.")
    assert checked.citations == [passages[1]]


def test_citations_are_renumbered_in_order_of_first_use(scorer: SupportScorer, passages: list[Passage]) -> None:
    security_claim = "Comprehensively strengthen the construction of a national information security protection system"
    checked = check_citations(f"{GDP_CLAIM} [2]. {security_claim} [1].", passages, scorer)
    assert checked.citations == [passages[1], passages[0]]
    assert "[1]" in checked.sentences[0].text or checked.sentences[0].citations == (1,)
    assert checked.sentences[1].citations == (2,)


def test_a_refusal_sentence_needs_no_citation(scorer: SupportScorer, passages: list[Passage]) -> None:
    checked = check_citations("The document does not say.", passages, scorer)
    assert checked.citations == [] and checked.sentences[0].is_supported
