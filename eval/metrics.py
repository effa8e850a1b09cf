"""Pure, deterministic metrics for one QA case: retrieval, answer quality, citations, refusal.

Every function takes plain values (texts, flags, `rag.Passage`s) and returns a number, or None
when the metric is undefined for its input (no evidence, no citation); callers average the
defined values only. Text is compared after `normalize`, the one normalisation all metrics
share. The compromise: relevance is judged by matching the QA set's verbatim evidence quotes
against passage text, not by human judgments per chunk, so a quote the cleaner changed is only
found through the word-overlap rule (see `covers`).

Retrieval metrics are our own few lines rather than llama-index's `HitRate`/`MRR`/`NDCG`:
those raise on an empty expected set (a case whose quotes match no passage) and their nDCG
does not cap the ideal at k. tests/test_metrics.py checks ours against them as an oracle.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from difflib import SequenceMatcher
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from rag import Passage

# A passage holding a contiguous run of at least this share of a quote's words covers the
# quote even without the whole text: quotes may straddle a chunk boundary (each chunk then
# holds one contiguous piece), and the cleaner fixes typos inside them.
PARTIAL_COVER_SHARE = 0.6
# The run rule needs quotes of this many words: a shorter quote fits inside one chunk whole
# (chunks repeat their neighbour's trailing sentences), and a run of 3-4 common words
# ("information technology application levels") recurs all over this document.
MIN_PARTIAL_WORDS = 8

_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
        "\u2013": "-", "\u2014": "-", "\u00a0": " ", "\u3000": " ",
    }
)
_PER_CENT = re.compile(r"\bper\s+cent\b")
_WORD = re.compile(r"[^\W_]+")
# A number keeps its decimal point ("7.2"), so "7.2 percent" never matches "72 percent".
_FACT_TOKEN = re.compile(r"\d+(?:\.\d+)*|[^\W\d_]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CITATION_MARKER = re.compile(r"\s*\[\d+(?:\s*[,\u2013-]\s*\d+)*\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


# --- text ---------------------------------------------------------------------------------
# Cached: an eval normalises the same ~76 passages and quotes thousands of times.
@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    """Text as all metrics compare it.

    NFKC; curly quotes, en/em dashes and no-break spaces made plain; lower case; "%",
    "per cent" and "percent" all written "percent" (the document says "7.2 per cent" and
    "16.6%" for the same kind of figure); runs of whitespace made one space; stripped.
    """
    text = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION).lower()
    text = _PER_CENT.sub("percent", text.replace("%", " percent"))
    return " ".join(text.split())


def strip_citation_markers(text: str) -> str:
    """`text` without its [n] / [1, 2] / [1-3] citation markers (they are not answer words)."""
    return " ".join(_CITATION_MARKER.sub("", text).split())


@lru_cache(maxsize=8192)
def words(text: str) -> tuple[str, ...]:
    """The words of `normalize(text)`: runs of letters or digits ("7.2" is "7", "2")."""
    return tuple(_WORD.findall(normalize(text)))


# --- relevance ----------------------------------------------------------------------------
def longest_shared_run(quote: str, text: str) -> float:
    """Share of the quote's words in the longest run of them that `text` holds contiguously.

    share = L / n, where n = len(words(quote)) and L is the length of the longest sequence of
    consecutive quote words that also occurs consecutively in words(text). 0.0 for a quote
    without words.
    """
    wanted, found = words(quote), words(text)
    if not wanted or not found:
        return 0.0
    matcher = SequenceMatcher(None, wanted, found, autojunk=False)
    return matcher.find_longest_match(0, len(wanted), 0, len(found)).size / len(wanted)


def covers(text: str, quote: str) -> bool:
    """Whether a passage text covers an evidence quote.

    True when `normalize(quote)` is a substring of `normalize(text)`, or when the quote has at
    least MIN_PARTIAL_WORDS (8) words and `longest_shared_run(quote, text)` ≥
    PARTIAL_COVER_SHARE (0.6). An empty quote is covered by nothing.

    Why a contiguous run and not any 60% of the words in any order: on the bundled QA set the
    order-free rule also matched ~20 passages of other sections (this document repeats its
    phrases), while the run rule matches the neighbour chunk of a straddling quote only.
    """
    wanted = normalize(quote)
    if not wanted:
        return False
    if wanted in normalize(text):
        return True
    if len(words(quote)) < MIN_PARTIAL_WORDS:
        return False
    return longest_shared_run(quote, text) >= PARTIAL_COVER_SHARE


def is_relevant(text: str, evidence: Sequence[str]) -> bool:
    """A passage is relevant to a case when it `covers` at least one of its evidence quotes."""
    return any(covers(text, quote) for quote in evidence)


def merged_texts(passages: Sequence[Passage]) -> list[str]:
    """The texts of `passages` with overlapping or touching spans of one document joined.

    Passages are grouped by `doc` and sorted by `start`; a passage whose `start` is at or
    before the running `end` extends the run with its text past that end. This is what lets a
    quote that straddles two retrieved chunks count as retrieved. A passage whose text length
    disagrees with its offsets is never merged (its offsets cannot be trusted).
    """
    runs: list[str] = []
    current: Passage | None = None
    text, end, current_trusted = "", 0, False
    for passage in sorted(passages, key=lambda p: (p.doc, p.start, p.end)):
        trusted = len(passage.text) == passage.end - passage.start
        joins = current is not None and current_trusted and trusted and passage.doc == current.doc
        if joins and passage.start <= end:
            if passage.end > end:
                text += passage.text[end - passage.start :]
                end = passage.end
            continue
        if current is not None:
            runs.append(text)
        current, text, end, current_trusted = passage, passage.text, passage.end, trusted
    if current is not None:
        runs.append(text)
    return runs


def quote_is_covered(quote: str, passages: Sequence[Passage]) -> bool:
    """Whether `passages` together cover `quote`: some run of `merged_texts` `covers` it."""
    return any(covers(text, quote) for text in merged_texts(passages))


def evidence_recall(evidence: Sequence[str], passages: Sequence[Passage]) -> float | None:
    """Share of evidence quotes covered by `passages` taken together (`quote_is_covered`).

    Used as evidence recall@k with the top-k retrieved passages, and as citation recall with
    the cited ones. None when the case has no evidence (unanswerable questions).
    """
    if not evidence:
        return None
    return sum(quote_is_covered(q, passages) for q in evidence) / len(evidence)


# --- ranking ------------------------------------------------------------------------------
def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    """1.0 if any of the first k ranked passages is relevant, else 0.0 (binary hit rate)."""
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool], k: int | None = None) -> float:
    """1 / rank of the first relevant passage (ranks from 1) within the first k; 0.0 if none.

    The mean of this over cases is MRR (MRR@k when k is given).
    """
    for rank, flag in enumerate(relevant[:k] if k is not None else relevant, start=1):
        if flag:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(relevant: Sequence[bool], k: int, n_relevant: int) -> float | None:
    """Binary-relevance nDCG@k.

    DCG = Σ_{i=1..k} rel_i / log2(i + 1); IDCG = Σ_{i=1..min(n_relevant, k)} 1 / log2(i + 1),
    the DCG of a ranking with all relevant passages first; nDCG = DCG / IDCG. `n_relevant` is
    how many passages of the whole index are relevant. None when n_relevant is 0 (nothing to
    find). ValueError if the ranking holds more relevant passages than n_relevant.
    """
    if n_relevant < sum(bool(flag) for flag in relevant[:k]):
        raise ValueError("n_relevant is smaller than the relevant passages in the ranking")
    if n_relevant == 0:
        return None
    dcg = sum(1.0 / math.log2(i + 1) for i, flag in enumerate(relevant[:k], start=1) if flag)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, min(n_relevant, k) + 1))
    return dcg / idcg


# --- answers ------------------------------------------------------------------------------
def fact_is_stated(fact: str, answer: str) -> bool:
    """Whether a key fact appears in an answer.

    Both are normalised (`normalize`: case, quotes, dashes, "%"/"per cent"), citation markers
    are dropped, and the fact's tokens (words, and numbers with their decimal point) must occur
    as one contiguous run of the answer's tokens: "ten" is not found in "often", "2010" not in
    "20105". A fact written in Chinese characters is matched as a plain substring instead.
    """
    wanted = normalize(fact)
    text = normalize(strip_citation_markers(answer))
    if not wanted:
        return False
    if _CJK.search(wanted):
        return wanted.replace(" ", "") in text.replace(" ", "")
    fact_tokens = _FACT_TOKEN.findall(wanted)
    answer_tokens = _FACT_TOKEN.findall(text)
    n = len(fact_tokens)
    if n == 0:
        return wanted in text
    return any(answer_tokens[i : i + n] == fact_tokens for i in range(len(answer_tokens) - n + 1))


def missing_key_facts(key_facts: Sequence[str], answer: str) -> list[str]:
    """The key facts `fact_is_stated` does not find in `answer`, in their order."""
    return [fact for fact in key_facts if not fact_is_stated(fact, answer)]


def key_fact_recall(key_facts: Sequence[str], answer: str) -> float | None:
    """Share of key facts stated in the answer (`fact_is_stated`); None without key facts."""
    if not key_facts:
        return None
    return 1.0 - len(missing_key_facts(key_facts, answer)) / len(key_facts)


def squad_tokens(text: str) -> list[str]:
    """SQuAD's answer normalisation, after citation markers are dropped and `normalize`.

    Lower case, punctuation removed, articles (a, an, the) removed, split on whitespace.
    `normalize` first writes "%" as "percent", so "7.2%" and "7.2 per cent" agree.
    """
    text = normalize(strip_citation_markers(text))
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 of `prediction` against `reference` (`squad_tokens` of each).

    common = |tokens(prediction) ∩ tokens(reference)| as multisets; precision = common /
    |prediction|, recall = common / |reference|, F1 = 2PR / (P + R). Two empty texts score
    1.0, one empty text 0.0 (as SQuAD).
    """
    predicted, expected = squad_tokens(prediction), squad_tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


# Any array-like of shape (n, d) will do: the bundled embedder returns float32 unit vectors.
EmbedTexts = Callable[[Sequence[str]], npt.ArrayLike]


def semantic_similarity(answer: str, reference: str, embed: EmbedTexts) -> float:
    """Cosine similarity of the embeddings of `answer` (markers dropped) and `reference`.

    `embed` maps n texts to an (n, d) array, e.g. the bundled embedder's `embed_documents`.
    The vectors are normalised here, so `embed` need not return unit vectors. 0.0 when either
    vector is zero.
    """
    vectors = np.asarray(embed([strip_citation_markers(answer), reference]), dtype=np.float64)
    a, b = vectors[0], vectors[1]
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norms if norms > 0 else 0.0


# --- citations ----------------------------------------------------------------------------
def citation_precision(cited: Sequence[Passage], evidence: Sequence[str]) -> float | None:
    """Share of cited passages that are relevant (`is_relevant`); None when nothing is cited."""
    if not cited:
        return None
    return sum(is_relevant(p.text, evidence) for p in cited) / len(cited)


def citation_recall(cited: Sequence[Passage], evidence: Sequence[str]) -> float | None:
    """Share of evidence quotes covered by the cited passages together (`evidence_recall`)."""
    return evidence_recall(evidence, cited)


# --- refusal, latency, aggregation -------------------------------------------------------
def refusal_rate(refused: Iterable[bool]) -> float | None:
    """Share of True flags; None for no flags.

    On unanswerable cases this is the refusal rate (higher is better); on answerable cases it
    is the false-refusal rate (lower is better).
    """
    flags = list(refused)
    return sum(flags) / len(flags) if flags else None


def says_not_stated(refused: bool, caveat: bool) -> bool:
    """Whether an answer tells the reader the document does not say what was asked.

    True for a refusal and for a caveat ("The document does not say this directly; the
    closest it comes is … [1]"): both warn the reader, so on an unanswerable question both are
    right. On an answerable question only a refusal withholds the answer; a caveat still gives
    it, so false refusals count `refused` alone.
    """
    return refused or caveat


def refusal_on_unanswerable(outcomes: Iterable[tuple[bool, bool]]) -> float | None:
    """Share of unanswerable cases whose answer `says_not_stated`; None for no cases.

    outcomes are (refused, caveat) pairs: rate = |{refused ∨ caveat}| / n.
    """
    return refusal_rate(says_not_stated(refused, caveat) for refused, caveat in outcomes)


def key_fact_recall_of_type(
    rows: Iterable[tuple[str, float | None]], case_type: str
) -> float | None:
    """Mean key-fact recall over the (type, recall) pairs of one question type.

    mean = Σ recall_i / n over pairs with type == case_type and a defined recall (answerable
    cases); None when there are none. `list_items` and `multi_part_items` in the summary are
    this for "list" and "multi-part".
    """
    return mean(recall for kind, recall in rows if kind == case_type)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least p% of values ≤ it.

    For sorted values v_1..v_n it is v_⌈p·n/100⌉ (v_1 for p = 0). None for no values.
    """
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, not {p}")
    ordered = sorted(values)
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return ordered[rank - 1]


def mean(values: Iterable[float | None]) -> float | None:
    """Arithmetic mean of the values that are not None; None when there are none."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


# --- calibration --------------------------------------------------------------------------
