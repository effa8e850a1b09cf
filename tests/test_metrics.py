"""eval.metrics: hand-computed cases, invariants, and llama-index's retrieval metrics as oracle."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from llama_index.core.evaluation.retrieval.metrics import MRR, NDCG, HitRate

from eval import metrics
from ingest.embed import MiniLMEmbedder
from rag import Passage

DOC = (
    "In 2005, the information industry’s added value amounted to 7.2 per cent of GDP. "
    "The export value of the electronic and information product manufacturing sector "
    "exceeded 30% of the total value of exports. Informatization is a great trend."
)


def passage(text: str, start: int = 0, *, doc: str = "d", chunk_id: str | None = None) -> Passage:
    return Passage(
        chunk_id=chunk_id or f"{doc}:{start}",
        doc=doc,
        doc_title="T",
        section="II (1) The situation",
        part="II",
        section_number="1",
        text=text,
        start=start,
        end=start + len(text),
    )


def span(start: int, end: int) -> Passage:
    return passage(DOC[start:end], start)


# --- relevance ----------------------------------------------------------------------------
def test_a_quote_is_found_across_case_whitespace_and_curly_quotes() -> None:
    text = "IN 2005, the information   industry's added value amounted to 7.2 %\nof GDP."
    assert metrics.covers(text, "the information industry’s added value amounted to 7.2 per cent")


def test_a_short_quote_needs_its_exact_text() -> None:
    assert not metrics.covers("the information technology application levels", "application levels are not high")
    assert metrics.covers("levels are not high, yes", "Levels are  not HIGH")


def test_a_long_quote_is_covered_by_a_contiguous_run_of_sixty_percent_of_its_words() -> None:
    quote = "one two three four five six seven eight nine ten"
    assert metrics.covers("x one two three four five six y", quote)  # run of 6/10
    assert not metrics.covers("x one two three four five y six", quote)  # run of 5/10
    # The same words in another order are not the quote.
    assert not metrics.covers("six five four three two one ten nine eight seven", quote)
    assert metrics.longest_shared_run(quote, "six five four three two one") == pytest.approx(0.1)


def test_a_quote_straddling_two_retrieved_chunks_counts_as_retrieved() -> None:
    # 16 words: the first chunk holds 8 of them, the second 9 (both under 60%).
    quote = "added value amounted to 7.2 per cent of GDP. The export value of the electronic"
    cut = DOC.index("of GDP")
    first, second = span(0, cut), span(DOC.index("cent of GDP"), len(DOC))  # they overlap
    assert not metrics.covers(first.text, quote) and not metrics.covers(second.text, quote)
    assert metrics.quote_is_covered(quote, [second, first])
    assert not metrics.quote_is_covered(quote, [first])
    # Touching spans join too; spans of different documents never do.
    assert metrics.quote_is_covered(quote, [first, span(cut, len(DOC))])
    other_doc = passage(DOC[cut:], cut, doc="other")
    assert not metrics.quote_is_covered(quote, [first, other_doc])


def test_merged_texts_rebuild_the_document_from_overlapping_spans() -> None:
    pieces = [span(50, 120), span(0, 60), span(100, len(DOC)), span(10, 20)]
    assert metrics.merged_texts(pieces) == [DOC]
    assert metrics.merged_texts([span(0, 10), span(20, 30)]) == [DOC[0:10], DOC[20:30]]


def test_evidence_recall_is_the_share_of_quotes_covered() -> None:
    evidence = ["7.2 per cent of GDP", "exceeded 30% of the total value", "a quote from elsewhere"]
    assert metrics.evidence_recall(evidence, [span(0, 80)]) == pytest.approx(1 / 3)
    assert metrics.evidence_recall(evidence, [span(0, len(DOC))]) == pytest.approx(2 / 3)
    assert metrics.evidence_recall([], [span(0, 80)]) is None
    assert metrics.evidence_recall(evidence, []) == 0.0


# --- ranking: hand-computed and oracle ----------------------------------------------------
def test_ranking_metrics_by_hand() -> None:
    flags = [False, True, False, True, False]
    assert metrics.hit_at_k(flags, 5) == 1.0
    assert metrics.hit_at_k(flags, 1) == 0.0
    assert metrics.reciprocal_rank(flags) == 0.5
    assert metrics.reciprocal_rank(flags, 1) == 0.0
    # DCG = 1/log2(3) + 1/log2(5); IDCG (3 relevant) = 1 + 1/log2(3) + 1/log2(4)
    dcg = 0.6309297535714575 + 0.43067655807339306
    idcg = 1 + 0.6309297535714575 + 0.5
    assert metrics.ndcg_at_k(flags, 5, n_relevant=3) == pytest.approx(dcg / idcg)
    assert metrics.ndcg_at_k(flags, 5, n_relevant=3) == pytest.approx(0.498189, abs=1e-6)
    assert metrics.ndcg_at_k([True, True], 2, n_relevant=2) == 1.0
    assert metrics.ndcg_at_k([False, False], 2, n_relevant=0) is None
    with pytest.raises(ValueError):
        metrics.ndcg_at_k([True, True], 2, n_relevant=1)


def _random_ranking(rng: random.Random) -> tuple[list[str], list[str]]:
    """A ranked id list of 1..10 passages, and 1..k relevant ids (some not retrieved)."""
    pool = [f"c{i}" for i in range(20)]
    retrieved = rng.sample(pool, rng.randint(1, 10))
    expected = rng.sample(pool, rng.randint(1, len(retrieved)))
    return retrieved, expected


def test_ranking_metrics_agree_with_llama_index() -> None:
    rng = random.Random(20060319)
    for _ in range(300):
        retrieved, expected = _random_ranking(rng)
        flags = [doc_id in expected for doc_id in retrieved]
        k = len(retrieved)
        hit = HitRate().compute(expected_ids=expected, retrieved_ids=retrieved).score
        rr = MRR().compute(expected_ids=expected, retrieved_ids=retrieved).score
        ndcg = NDCG().compute(expected_ids=expected, retrieved_ids=retrieved).score
        assert metrics.hit_at_k(flags, k) == hit
        assert metrics.reciprocal_rank(flags, k) == pytest.approx(rr)
        # llama-index's ideal DCG counts every expected id; ours caps it at k. With at most
        # k relevant passages in the index the two are the same number.
        assert metrics.ndcg_at_k(flags, k, len(expected)) == pytest.approx(ndcg)


def test_ndcg_caps_the_ideal_at_k_where_llama_index_does_not() -> None:
    retrieved, expected = ["a", "b"], ["a", "b", "c", "d"]
    assert metrics.ndcg_at_k([True, True], 2, n_relevant=4) == 1.0
    oracle = NDCG().compute(expected_ids=expected, retrieved_ids=retrieved).score
    assert oracle < 1.0


# --- answers ------------------------------------------------------------------------------
def test_key_facts_match_case_per_cent_and_whole_words_only() -> None:
    answer = "In 2005 the Information Industry reached 7.2% of GDP [1], and exports grew often [2]."
    assert metrics.fact_is_stated("7.2 per cent of GDP", answer)
    assert metrics.fact_is_stated("information industry", answer)
    assert not metrics.fact_is_stated("ten", answer)  # inside "often"
    assert not metrics.fact_is_stated("72 per cent", answer)  # 7.2 is not 72
    assert not metrics.fact_is_stated("GDP 1", answer)  # the [1] marker is not a word
    assert metrics.fact_is_stated("GDP, and exports", answer)
    facts = ["7.2%", "16.6%", "information industry", "Golden Shield"]
    assert metrics.missing_key_facts(facts, answer) == ["16.6%", "Golden Shield"]
    assert metrics.key_fact_recall(facts, answer) == 0.5
    assert metrics.key_fact_recall([], answer) is None


def test_a_chinese_key_fact_is_matched_as_text() -> None:
    assert metrics.fact_is_stated("信息化", "推进信息化发展 [1]")
    assert not metrics.fact_is_stated("信息产业", "推进信息化发展")


def test_token_f1_by_hand() -> None:
    # prediction tokens: information industry grew (markers, articles, punctuation dropped)
    # reference tokens: information industry grew fast → P = 3/3, R = 3/4, F1 = 6/7
    assert metrics.token_f1("The information industry grew [1].", "the information industry grew fast") == pytest.approx(6 / 7)
    assert metrics.token_f1("7.2%", "7.2 per cent") == 1.0
    assert metrics.token_f1("", "") == 1.0
    assert metrics.token_f1("something", "") == 0.0
    assert metrics.token_f1("apples", "oranges") == 0.0


def test_semantic_similarity_is_the_cosine_of_the_two_vectors() -> None:
    seen: list[list[str]] = []

    def embed(texts: object) -> np.ndarray:
        seen.append(list(texts))  # type: ignore[call-overload]
        return np.array([[3.0, 0.0], [2.0, 2.0]])

    assert metrics.semantic_similarity("answer [1]", "reference", embed) == pytest.approx(1 / math.sqrt(2))
    assert seen == [["answer", "reference"]]


def test_semantic_similarity_with_the_bundled_embedder_ranks_a_paraphrase_higher(
    embedder: MiniLMEmbedder,
) -> None:
    reference = "The information industry contributed 7.2 per cent of GDP in 2005."
    close = metrics.semantic_similarity(
        "In 2005 the information industry made up 7.2% of GDP [1].", reference, embedder.embed_documents
    )
    far = metrics.semantic_similarity(
        "Strengthen Internet governance and network culture [1].", reference, embedder.embed_documents
    )
    assert 0 < far < close <= 1.0 + 1e-6


def test_citation_precision_and_recall() -> None:
    evidence = ["7.2 per cent of GDP", "Informatization is a great trend"]
    relevant, irrelevant = span(0, 82), passage("Strengthen Internet governance.", 500)
    assert metrics.citation_precision([relevant, irrelevant], evidence) == 0.5
    assert metrics.citation_precision([], evidence) is None
    assert metrics.citation_recall([relevant, irrelevant], evidence) == 0.5
    assert metrics.citation_recall([span(0, len(DOC))], evidence) == 1.0
    assert metrics.citation_recall([], evidence) == 0.0


# --- refusal, latency, mean ---------------------------------------------------------------
def test_refusal_rates() -> None:
    assert metrics.refusal_rate([True, True, False, True]) == 0.75
    assert metrics.refusal_rate([]) is None


def test_a_refusal_or_a_caveat_says_the_document_does_not_state_it() -> None:
    assert [metrics.says_not_stated(r, c) for r, c in [(True, False), (False, True), (False, False)]] == [
        True, True, False,
    ]
    # (refused, caveat) of four unanswerable cases: a refusal, a caveat, two answers → 2 / 4.
    outcomes = [(True, False), (False, True), (False, False), (False, False)]
    assert metrics.refusal_on_unanswerable(outcomes) == 0.5
    assert metrics.refusal_on_unanswerable([]) is None


def test_key_fact_recall_of_a_type_averages_that_type_only() -> None:
    rows = [("list", 1.0), ("list", 0.5), ("multi-part", 0.25), ("list", None), ("factoid", 0.0)]
    assert metrics.key_fact_recall_of_type(rows, "list") == 0.75  # (1.0 + 0.5) / 2
    assert metrics.key_fact_recall_of_type(rows, "multi-part") == 0.25
    assert metrics.key_fact_recall_of_type(rows, "descriptive") is None


def test_percentiles_are_nearest_rank() -> None:
    latencies = [float(v) for v in range(10, 101, 10)]  # 10, 20, …, 100
    assert metrics.percentile(latencies, 50) == 50.0
    assert metrics.percentile(latencies, 95) == 100.0
    assert metrics.percentile(latencies, 0) == 10.0
    assert metrics.percentile([7.0, 3.0, 5.0], 50) == 5.0
    assert metrics.percentile([], 50) is None
    with pytest.raises(ValueError):
        metrics.percentile(latencies, 101)


def test_mean_skips_undefined_values() -> None:
    assert metrics.mean([1.0, None, 0.0]) == 0.5
    assert metrics.mean([None]) is None
