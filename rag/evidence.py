"""Evidence: the sentences of retrieved passages, how well each answers a question, and how well
a passage supports a claim (the answer-time citation check and the page's highlight use it).

One home for the three things every answer path needs:
  - `content_words`: this module's own word counting (lower-case words, its own stop list,
    Snowball stems), kept apart from BM25's tokenizer so retrieval can change without moving
    answer scores;
  - `Evidence.score_sentences`: question vs each sentence = blend of meaning (MiniLM cosine) and
    IDF-weighted share of the question's words found in the sentence or its section title;
  - `Evidence.support`: claim vs passage → (score, span of the best sentence). A claim that
    quotes the passage (or its heading) verbatim scores 1.0: a quote supports itself.
The weights live in `AnswerPolicy`; sentence rows (offsets and vectors, embedded at ingest)
and corpus word statistics come from the index through the two small protocols below.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from rag.policy import AnswerPolicy
from rag.types import Passage

Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SentenceRow:
    """One sentence of a stored chunk: offsets into the document's clean text, and its vector."""

    chunk_id: str
    start: int
    end: int
    text: str
    vector: Matrix


class SentenceSource(Protocol):
    """Where sentence rows come from (the index): rows of each chunk, in document order."""

    def sentence_rows(self, chunk_ids: Sequence[str]) -> Mapping[str, Sequence[SentenceRow]]: ...


class TermStatistics(Protocol):
    """Corpus word statistics: how many chunks hold a stem, and the words the corpus uses."""

    @property
    def n_chunks(self) -> int: ...

    def document_frequency(self, stem: str) -> int: ...

    def has_word(self, word: str) -> bool: ...


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a retrieved passage scored against the question."""

    passage_index: int
    start: int  # offsets into the document's clean text
    end: int
    text: str
    score: float
    cosine: float
    overlap: float
    vector: Matrix


@dataclass(frozen=True)
class Support:
    """How well a passage supports a claim: `score` in 0..1 and `span`, the supporting
    sentence's (start, end) relative to `Passage.text` (None when nothing supports it)."""

    score: float
    span: tuple[int, int] | None


# A heading line is at most this many words ("(9) Raise citizens’ ability to use information
# technology, forge informatization talent teams." has 14).
HEADING_WORDS = 16


# --- word counting ------------------------------------------------------------------------
_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
# Function words carry no evidence. Deliberately short: content-bearing words such as "plan"
# or "security" must count, and frame words are handled where questions are read.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers him his how i if in into is it its itself
    just me more most my no nor not now of off on once only or other our ours out over own same
    she should so some such than that the their theirs them then there these they this those
    through to too under until up upon very was we were what when where which while who whom why
    will with would you your yours shall may might must per etc""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=16384)
def content_words(text: str) -> frozenset[str]:
    """The stemmed content words of a text (lower case, stop words dropped, Snowball stems).

    Cached: the same sentences are scored for question after question.
    """
    words = [w for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]
    return frozenset(_stemmer().stemWords(words))


def surface_words(text: str) -> list[str]:
    """The lower-case words of a text as written (for spelling checks against the corpus)."""
    return [w for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


# --- scoring -------------------------------------------------------------------------------
class Evidence:
    """Scores sentences against questions and passages against claims (module docstring)."""

    def __init__(
        self,
        rows: SentenceSource,
        terms: TermStatistics,
        embed_texts: Callable[[Sequence[str]], Matrix],
        policy: AnswerPolicy,
    ) -> None:
        self._rows = rows
        self._terms = terms
        self._embed_texts = embed_texts
        self.policy = policy

    # idf = log((N + 1) / (df + 1)) + 1 over chunks: words every passage shares
    # ("informatization", "development") weigh little, names and figures weigh much.
    def idf(self, stem: str) -> float:
        total = self._terms.n_chunks
        return math.log((total + 1) / (self._terms.document_frequency(stem) + 1)) + 1.0

    def weighted_share(self, words: Iterable[str], found: Callable[[str], float]) -> float:
        """IDF-weighted share of `words` for which `found(word)` (0..1) holds."""
        weights = {w: self.idf(w) for w in words}
        total = sum(weights.values())
        if total == 0:
            return 0.0
        return sum(weight * found(word) for word, weight in weights.items()) / total

    def rows_of(self, passages: Sequence[Passage]) -> dict[str, Sequence[SentenceRow]]:
        return dict(self._rows.sentence_rows([p.chunk_id for p in passages]))

    def score_sentences(
        self,
        question: str,
        passages: Sequence[Passage],
        query_vector: Matrix,
        *,
        ignore_words: frozenset[str] = frozenset(),
    ) -> list[ScoredSentence]:
        """Every distinct sentence of the passages scored against the question, best first.

        score = cosine_weight · cosine + (1 − cosine_weight) · overlap, where overlap is the
        IDF-weighted share of the question's content words found in the sentence, or (weighted
        by `title_word_weight`) only in its section title: a sentence under "Plans for narrowing
        the digital divide" is about the divide even when it says "town and country".
        `ignore_words` (stems) are left out of the overlap (e.g. the question's frame words).
        """
        policy = self.policy
        question_words = content_words(question) - ignore_words
        rows_by_chunk = self.rows_of(passages)
        seen: set[tuple[str, int]] = set()
        scored: list[ScoredSentence] = []
        for index, passage in enumerate(passages):
            rows = rows_by_chunk.get(passage.chunk_id, ())
            if not rows:
                continue
            title_words = content_words(passage.section)
            cosines = np.vstack([r.vector for r in rows]) @ query_vector
            for row, cosine in zip(rows, cosines):
                key = (passage.doc, row.start)
                if key in seen:
                    continue  # overlapping chunks share sentences: score each once
                seen.add(key)
                if row.text.strip() == passage.doc_title or is_heading(row, passage):
                    # The title repeated in the text answers nothing; a section's heading is
                    # its label (its words already count as title words), not an answer.
                    continue
                words = content_words(row.text)

                def found(
                    word: str, words: frozenset[str] = words, title: frozenset[str] = title_words
                ) -> float:
                    if word in words:
                        return 1.0
                    return policy.title_word_weight if word in title else 0.0

                overlap = self.weighted_share(question_words, found)
                score = policy.cosine_weight * float(cosine) + (1 - policy.cosine_weight) * overlap
                # The retrievers ranked the passage with all of its words and the section's;
                # a sentence of a higher-ranked passage gets a little of that agreement.
                score += policy.passage_rank_weight / (index + 1)
                scored.append(
                    ScoredSentence(
                        index, row.start, row.end, row.text, score, float(cosine), overlap, row.vector
                    )
                )
        return sorted(scored, key=lambda s: -s.score)

    def support_matrix(
        self, claims: Sequence[str], passages: Sequence[Passage]
    ) -> list[list[Support]]:
        """support[i][j]: how well passage j supports claim i (see `support`)."""
        if not claims or not passages:
            return [[Support(0.0, None) for _ in passages] for _ in claims]
        rows_by_chunk = self.rows_of(passages)
        quoted = [[_quote_span(claim, passage) for passage in passages] for claim in claims]
        needs_vector = [i for i, row in enumerate(quoted) if not any(s is not None for s in row)]
        vectors: dict[int, Matrix] = {}
        if needs_vector:
            embedded = self._embed_texts([claims[i] for i in needs_vector])
            vectors = dict(zip(needs_vector, embedded))
        matrix: list[list[Support]] = []
        for i, claim in enumerate(claims):
            row_support: list[Support] = []
            claim_words = content_words(claim)
            for j, passage in enumerate(passages):
                span = quoted[i][j]
                if span is not None:
                    row_support.append(Support(1.0, span))
                    continue
                vector = vectors.get(i)
                rows = rows_by_chunk.get(passage.chunk_id, ())
                if vector is None or not rows:
                    row_support.append(Support(0.0, None))
                    continue
                row_support.append(self._support_by_sentences(claim_words, vector, passage, rows))
            matrix.append(row_support)
        return matrix

    def support(self, claim: str, passage: Passage) -> Support:
        """How well `passage` supports `claim`.

        A verbatim quote of the passage or its section title scores 1.0 with the quote's span.
        Otherwise support = ½ · max cosine(claim, passage sentence) + ½ · share of the claim's
        content words found in the passage (or its section title); the span is the sentence
        with the best blend of the two. Either half alone is fooled: meaning by a sentence on a
        neighbouring topic, words by a sentence that reuses the vocabulary.
        """
        return self.support_matrix([claim], [passage])[0][0]

    def _support_by_sentences(
        self,
        claim_words: frozenset[str],
        vector: Matrix,
        passage: Passage,
        rows: Sequence[SentenceRow],
    ) -> Support:
        passage_words = content_words(passage.text) | content_words(passage.section)
        recall = len(claim_words & passage_words) / len(claim_words) if claim_words else 0.0
        cosines = np.vstack([r.vector for r in rows]) @ vector
        best = int(np.argmax([
            0.5 * float(c) + 0.5 * _share(claim_words, content_words(r.text))
            for r, c in zip(rows, cosines)
        ]))
        score = 0.5 * max(float(cosines.max()), 0.0) + 0.5 * recall
        row = rows[best]
        span = (row.start - passage.start, row.end - passage.start)
        return Support(score, span if score >= self.policy.support_threshold else None)


def is_heading(row: SentenceRow, passage: Passage) -> bool:
    """Whether a sentence row is the heading line a section's first passage opens with: short,
    at the very start of the passage, and without closing punctuation."""
    text = row.text.strip()
    return (
        row.start == passage.start
        and len(text.split()) <= HEADING_WORDS
        and text[-1:] not in ".!?;:"
    )


_HEADING_PREFIX = re.compile(r"^(?:[IVXL]+[,.]\s+|[(9]?\d{1,2}\)\s+)")


def is_titled_heading(text: str, start: int, passage: Passage) -> bool:
    """Whether the sentence at `start` is its section's heading line, punctuated or not
    ("V, Our country’s strategic plan for informatization development."): it names what
    follows and is scored (its words are the section's), but an answer quotes what follows."""
    if start != passage.start:
        return False
    words = _HEADING_PREFIX.sub("", text.strip()).rstrip(" .").lower()
    title = re.sub(r"^[IVXL]+ (\(\d+\) )?", "", passage.section).rstrip(" .").lower()
    return bool(words) and words == title


def _share(words: frozenset[str], found_in: frozenset[str]) -> float:
    return len(words & found_in) / len(words) if words else 0.0


_LIST_PREFIX = re.compile(r"^\s*(?:\d{1,2}[.)]|[-–•*])\s+")
_SPACE = re.compile(r"\s+")


def _normal(text: str) -> str:
    text = text.replace("’", "'").replace("“", '"').replace("”", '"')
    return _SPACE.sub(" ", text).strip().lower()


def _quote_span(claim: str, passage: Passage) -> tuple[int, int] | None:
    """Where `claim` occurs verbatim in the passage text (span relative to it), or (0, 0) when
    it is the passage's section title; None if it quotes neither. Case, quote marks, spacing,
    a list prefix ("2. ") and the final stop are ignored."""
    wanted = _normal(_LIST_PREFIX.sub("", claim)).rstrip(".;:!?")
    if len(wanted) < 12:
        return None  # too short to be a meaningful quote ("Yes.", "See below.")
    text = passage.text
    # Search the raw text with a pattern that tolerates spacing and quote-mark differences.
    pattern = r"\s+".join(
        re.escape(word).replace("'", "['’]").replace('\\"', '["“”]') for word in wanted.split(" ")
    )
    match = re.search(pattern, text, re.IGNORECASE)
    if match is not None:
        end = match.end()
        if end < len(text) and text[end] in ".;:!?":
            end += 1
        return match.start(), end
    title = passage.section
    for candidate in (title, re.sub(r"^[IVX]+ (\(\d+\) )?", "", title)):
        if _normal(candidate).rstrip(".") == wanted:
            return 0, 0  # the heading above the passage: supported, nothing in the text to mark
    return None
