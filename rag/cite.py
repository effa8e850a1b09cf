"""Citation checking at answer time: every answer sentence against the passage(s) it cites.

Whoever wrote the answer (the extractive answerer or an LLM), each sentence's [n] markers are
checked: markers naming no passage are dropped; a sentence whose cited passage does not
support it is re-cited to the retrieved passage that does, or left uncited and flagged as
unsupported. Support blends meaning and wording, since either alone is fooled:
    support = 0.5 · max cosine(sentence, sentences of the passage)   (bundled MiniLM)
            + 0.5 · share of the sentence's content words (stemmed) found in the passage
Citations are then renumbered in order of first use, so `Answer.citations` holds exactly the
passages the text refers to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.embed import Embedder
from ingest.index import SentenceRows, SentenceSource
from ingest.keyword import stems
from rag.types import AnswerSentence, Passage

# Support a sentence needs from its passage. `citeqa eval --calibrate` scores the QA set's
# reference-answer sentences against their evidence passage (median 0.83, p10 0.63) and against
# the best passage of another section (median 0.34, p90 0.58). At 0.58 about 95% of grounded
# sentences keep their citation and about 90% of other-section citations are dropped; the
# tool's stricter point (at most 10% grounded lost) is 0.62.
SUPPORT_THRESHOLD = 0.58
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
REFUSAL_PATTERN = re.compile(
    r"\b(does not (say|state|mention|specify|address|answer|contain)|doesn't (say|mention)"
    r"|not (stated|mentioned|specified) in the document|no information)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CheckedAnswer:
    """An answer whose markers were checked, renumbered and scored."""

    text: str
    citations: list[Passage]
    sentences: list[AnswerSentence]


def split_answer(text: str) -> list[str]:
    """Split answer text into sentences, keeping each sentence's trailing markers with it."""
    pieces: list[str] = []
    position = 0
    for match in re.finditer(r"[.!?。！？](?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s+|$)", text):
        pieces.append(text[position : match.end()].strip())
        position = match.end()
    tail = text[position:].strip()
    if tail:
        pieces.append(tail)
    return [p for p in pieces if p]


def markers_in(sentence: str) -> list[int]:
    """The citation numbers a sentence carries, in order, without repeats."""
    numbers: list[int] = []
    for group in _MARKER.findall(sentence):
        for number in group.split(","):
            value = int(number)
            if value not in numbers:
                numbers.append(value)
    return numbers


def strip_markers(sentence: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", sentence)).strip()


class SupportScorer:
    """Scores how well a passage supports a sentence (see the module docstring)."""

    def __init__(self, embedder: Embedder, sentences: SentenceSource) -> None:
        self._embedder = embedder
        self._sentences = sentences

    def claim_vectors(
        self, claims: Sequence[str], rows: Mapping[str, SentenceRows] | None = None
    ) -> np.ndarray:
        """Vectors of the claims; a claim quoting a sentence of `rows` (the passages' sentences)
        reuses its stored vector, the others are embedded."""
        stored: dict[str, np.ndarray] = {}
        for sentence_rows in (rows or {}).values():
            for text, vector in zip(sentence_rows.texts, sentence_rows.vectors):
                stored.setdefault(text.strip(), vector)
        found = [stored.get(c.strip()) for c in claims]
        missing = [c for c, vector in zip(claims, found) if vector is None]
        fresh = iter(list(self._embedder.embed_documents(missing)) if missing else [])
        return np.vstack([vector if vector is not None else next(fresh) for vector in found])

    def support_matrix(self, claims: Sequence[str], passages: Sequence[Passage]) -> np.ndarray:
        """support[i, j] of claim i by passage j."""
        if not claims or not passages:
            return np.zeros((len(claims), len(passages)))
        rows = self._sentences.sentence_rows([p.chunk_id for p in passages])
        vectors = self.claim_vectors(claims, rows)
        claim_words = [set(stems(c)) for c in claims]
        matrix = np.zeros((len(claims), len(passages)))
        for j, passage in enumerate(passages):
            passage_rows = rows.get(passage.chunk_id)
            cosine = (
                (vectors @ passage_rows.vectors.T).max(axis=1)
                if passage_rows is not None
                else vectors @ self._embedder.embed_query(passage.text)
            )
            passage_words = set(stems(passage.text))
            for i, words in enumerate(claim_words):
                overlap = len(words & passage_words) / len(words) if words else 0.0
                matrix[i, j] = 0.5 * max(float(cosine[i]), 0.0) + 0.5 * overlap
        return matrix


def check_citations(
    text: str,
    retrieved: Sequence[Passage],
    scorer: SupportScorer,
    threshold: float = SUPPORT_THRESHOLD,
) -> CheckedAnswer:
    """Verify, repair and renumber the [n] markers of `text` (n indexes `retrieved`, 1-based)."""
    sentences = split_answer(text)
    claims = [strip_markers(s) for s in sentences]
    support = scorer.support_matrix(claims, retrieved)
    order: list[int] = []  # retrieved indices, in order of first citation
    checked: list[tuple[str, list[int], float, bool]] = []
    for i, (sentence, claim) in enumerate(zip(sentences, claims)):
        cited = [n - 1 for n in markers_in(sentence) if 1 <= n <= len(retrieved)]
        if not cited and not markers_in(sentence) and REFUSAL_PATTERN.search(claim):
            checked.append((claim, [], 0.0, True))  # "the document does not say": no claim
            continue
        kept = [j for j in cited if support[i, j] >= threshold]
        if not kept and len(retrieved):
            best = int(np.argmax(support[i]))
            if support[i, best] >= threshold:
                kept = [best]  # re-cite to the retrieved passage that supports the sentence
        score = max((float(support[i, j]) for j in kept), default=float(support[i].max(initial=0.0)))
        checked.append((claim, kept, score, bool(kept)))
        for j in kept:
            if j not in order:
                order.append(j)
    number_of = {j: n for n, j in enumerate(order, 1)}
    parts: list[str] = []
    answer_sentences: list[AnswerSentence] = []
    for claim, kept, score, is_supported in checked:
        numbers = tuple(sorted(number_of[j] for j in kept))
        marker = "".join(f"[{n}]" for n in numbers)
        parts.append(_attach(claim, marker))
        answer_sentences.append(AnswerSentence(claim, numbers, round(score, 3), is_supported))
    return CheckedAnswer(" ".join(parts), [retrieved[j] for j in order], answer_sentences)


def _attach(claim: str, marker: str) -> str:
    """Put the markers before the sentence's final punctuation: 'GDP [1].'"""
    if not marker:
        return claim
    if claim and claim[-1] in ".!?。！？":
        return f"{claim[:-1]} {marker}{claim[-1]}"
    return f"{claim} {marker}"
