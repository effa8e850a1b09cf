"""Hybrid retrieval: BM25 and dense (MiniLM via Chroma) rankings fused by reciprocal rank.

Reciprocal rank fusion (Cormack et al. 2009; k = 3 here, see RRF_K) needs no score
calibration between BM25's unbounded scores and cosines, which is why it is the default; the eval harness's ablation
(`citeqa eval --retrieval hybrid,dense,keyword`) measures it against each side alone. Both
rankings come from `ingest.index.Index` (dense: a Chroma query on the sentence vectors; keyword:
the local BM25 cache), and only the chunks that make the list are fetched.

Results are diverse. Within a document, repeated paragraphs (chunks marked `duplicate_of`) are
collapsed onto one passage. Across documents, a passage's near-duplicates (word-set Jaccard
>= NEAR_DUPLICATE_JACCARD, ingest.dedup) collapse onto the best-ranked copy, which names the
other documents in `Passage.also_in`, and the freed places go to the next distinct passages
(the rankers are asked deeper when the candidates run out: 60 copies of one document need it).
Cost per question, for each passage kept: one look-up in the local key table, then the texts of
the chunks sharing a key with it (at most MAX_NEAR_DUPLICATES; cached by Index.chunks) and one
exact Jaccard each. A corpus without near-duplicates pays a few microseconds. The compromise:
words include numbers, so a copy with one figure changed ("by 2010" for "by 2020") collapses
onto the best-ranked copy and its figure is not shown; `also_in` says where to look.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from ingest.chunk import Chunk
from ingest.dedup import NEAR_DUPLICATE_JACCARD, jaccard, word_set
from ingest.embed import Embedder, Matrix
from ingest.index import Index
from rag.types import Passage, RetrievalMode

# The RRF constant. Cormack's 60 damps the head of each list so that agreement wins; our two
# rankers are complementary (BM25 finds the document's own words, the sentence vectors find
# paraphrases), so each one's top hits should reach the 5 passages. Measured on tune (k = 5,
# evidence recall, extended tune split): 0 → 0.869, 1 → 0.875, 2-3 → 0.876, 5 → 0.870,
# 8 → 0.855, 10-60 → 0.845-0.849; a plateau from 1 to 5, 3 in its middle.
RRF_K = 3
# Each ranker contributes this many candidates per requested passage (min 20): enough for
# fusion to find agreement, few enough that Chroma's query stays ~1 ms.
CANDIDATES_PER_RESULT = 4
MIN_CANDIDATES = 20
# Weight of each ranker in the fusion (keyword, dense). Measured with `citeqa eval` on the QA
# set (k=5), dense weight 1.0 / 0.5 / 0.3 / 0.0 (keyword only): evidence recall 0.949 / 0.948 /
# 0.948 / 0.959, MRR 0.826 / 0.868 / 0.880 / 0.888, but items passing 0.773 / 0.759 / 0.759 /
# 0.766 and section hit 0.976 / 0.976 / 0.976 / 0.969. Equal weights answer best; keyword alone
# ranks evidence best on this set, whose questions often reuse the document's own words.
FUSION_WEIGHTS = (1.0, 1.0)
# A search limited to part of the document looks this many times deeper for its k passages.
SCOPED_DEPTH = 4
# How many of each ranker's ids a Search reports (the answerability feature reads the top 5).
TOP_IDS = 5
# Other documents checked for a copy of a kept passage (one chunk each, the one sharing most
# keys): a passage held by more documents than this names only these in `also_in`, and copies
# past it are still collapsed when the ranking reaches them (each new passage is checked
# against every passage kept). Checking one costs its text (fetched, then cached) and ~20 µs.
MAX_NEAR_DUPLICATES = 100
# When collapsing near-duplicates left fewer than k passages, the rankers look deeper: as deep
# as k passages with as many copies each as the passages kept have, times this margin (copies
# are not ranked one after another), and at least twice as deep. One deeper pass is the usual
# case; with 60 copies of a document the 5th distinct passage sits near rank 300, and stepping
# 20 → 80 → 320 cost three dense queries where this costs one or two (a query costs ~16 µs per
# rank asked for).
DEEPER_MARGIN = 1.5
# Ranked chunks fetched from the store at a time while collapsing.
_FETCH_WINDOW = 32


@dataclass(frozen=True)
class Search:
    """A retrieval: the passages, and the ids each ranker put first."""

    passages: list[Passage]
    dense_top: tuple[str, ...] = ()
    keyword_top: tuple[str, ...] = ()


def to_passage(chunk: Chunk, score: float, also_in: Mapping[str, str] | None = None) -> Passage:
    """Our public Passage for a stored chunk; `also_in` maps the doc ids of other documents
    holding a near-identical passage to their titles."""
    others = sorted((also_in or {}).items())
    return Passage(
        chunk_id=chunk.chunk_id,
        doc=chunk.doc_id,
        doc_title=chunk.doc_title,
        section=chunk.section_path,
        part=chunk.part,
        section_number=chunk.section_number,
        text=chunk.text,
        start=chunk.start,
        end=chunk.end,
        score=score,
        duplicate_of=chunk.duplicate_of,
        page=chunk.page,
        also_in=tuple(doc for doc, _ in others),
        also_in_titles=tuple(title for _, title in others),
    )


@dataclass
class _Checked:
    """What one search has learnt about chunks, kept across its deeper passes."""

    word_sets: dict[str, frozenset[str]] = field(default_factory=dict)
    # For each passage kept: its copies in other documents, with their (doc id, title).
    copies: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)

    def words(self, chunk: Chunk) -> frozenset[str]:
        found = self.word_sets.get(chunk.chunk_id)
        if found is None:
            found = self.word_sets[chunk.chunk_id] = word_set(chunk.text)
        return found


@dataclass
class _Kept:
    """A passage kept while collapsing, and the other documents found to hold it."""

    chunk: Chunk
    score: float
    words: frozenset[str]
    also_in: dict[str, str] = field(default_factory=dict)


class HybridRetriever:
    """Ranks stored chunks for a question by BM25, dense similarity, or both fused.

    `across_documents=False` keeps near-duplicates of other documents as passages of their own
    (the behaviour before they were collapsed; bench/diversity.py compares the two)."""

    def __init__(self, index: Index, embedder: Embedder, *, across_documents: bool = True) -> None:
        self._index = index
        self._embedder = embedder
        self._across_documents = across_documents

    def dense_ranking(
        self, query_vector: Matrix, n: int, documents: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """Chunks by their best sentence's cosine with the question. Measured on the QA set
        (k = 5, evidence recall): dense alone 0.843 → 0.868 on tune and 0.540 → 0.655 on
        holdout against the chunk vectors; fused with BM25 0.946 → 0.946 and 0.697 → 0.746.
        A 160-token chunk's mean vector blurs the one sentence that answers a paraphrase."""
        return self._index.nearest_sentences(query_vector, n, documents)

    def keyword_ranking(
        self, question: str, n: int, documents: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        return self._index.keyword_top(question, n, documents)

    def retrieve(
        self,
        question: str,
        k: int,
        mode: RetrievalMode = "hybrid",
        query_vector: Matrix | None = None,
        documents: Collection[str] | None = None,
    ) -> list[Passage]:
        """The k best passages for question, best first, repeats and near-duplicates across
        documents collapsed (see the module docstring).

        `query_vector` may be passed when the caller already embedded the question;
        `documents` limits both rankings, and the documents `also_in` names, to these document
        ids (None: all).
        """
        return self.search(question, k, mode, query_vector, documents).passages

    def search(
        self,
        question: str,
        k: int,
        mode: RetrievalMode = "hybrid",
        query_vector: Matrix | None = None,
        documents: Collection[str] | None = None,
        keep: Callable[[Chunk], bool] | None = None,
    ) -> Search:
        """`retrieve`, plus each ranker's top ids (for the answerability decision); `keep`
        limits the passages to chunks it accepts (a part the question names), searching
        deeper so k can still be found."""
        depth = max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * k) * (SCOPED_DEPTH if keep else 1)
        vector = None
        checked = _Checked()  # kept across deeper passes: nothing is looked up twice
        if mode in ("hybrid", "dense"):
            vector = self._embedder.embed_query(question) if query_vector is None else query_vector
        while True:
            n = min(depth, self._index.chunk_count)
            rankings: list[list[tuple[str, float]]] = []
            dense: list[tuple[str, float]] = []
            keyword: list[tuple[str, float]] = []
            if vector is not None:
                dense = self.dense_ranking(vector, n, documents)
                rankings.append(dense)
            if mode in ("hybrid", "keyword"):
                keyword = self.keyword_ranking(question, n, documents)
                rankings.append(keyword)
            if len(rankings) == 1:
                ranked = rankings[0]
            else:
                fused: dict[str, float] = {}
                for weight, ranking in zip(FUSION_WEIGHTS[::-1], rankings):
                    for rank, (chunk_id, _) in enumerate(ranking):
                        fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (RRF_K + rank + 1)
                ranked = sorted(fused.items(), key=lambda item: -item[1])
            passages, collapsed = self._collapse(ranked, k, keep, documents, checked)
            # Deeper only when near-duplicates took places and a ranker may hold more.
            exhausted = n >= self._index.chunk_count or all(len(r) < n for r in rankings)
            if len(passages) >= k or not collapsed or exhausted:
                break
            copies = [len(checked.copies.get(p.chunk_id, ())) for p in passages]
            per_passage = 1 + sum(copies) / max(1, len(copies))
            depth = max(2 * depth, math.ceil(k * per_passage * DEEPER_MARGIN))
        return Search(
            passages,
            tuple(i for i, _ in dense[:TOP_IDS]),
            tuple(i for i, _ in keyword[:TOP_IDS]),
        )

    def _collapse(
        self,
        ranked: list[tuple[str, float]],
        k: int,
        keep: Callable[[Chunk], bool] | None,
        documents: Collection[str] | None,
        checked: _Checked,
    ) -> tuple[list[Passage], int]:
        """The first k distinct passages of `ranked`, and how many chunks were dropped as
        near-duplicates of another document's passage."""
        kept: list[_Kept] = []
        seen: set[str] = set()  # canonical ids of repeats within a document
        absorbed: set[str] = set()  # chunks known to be near-duplicates of a kept passage
        collapsed = 0
        for first in range(0, len(ranked), _FETCH_WINDOW):
            window = ranked[first : first + _FETCH_WINDOW]
            chunks = self._index.chunks([i for i, _ in window if i not in absorbed])
            for chunk_id, score in window:
                if chunk_id in absorbed:
                    collapsed += 1
                    continue
                chunk = chunks.get(chunk_id)
                if chunk is None or (keep is not None and not keep(chunk)):
                    continue
                canonical = chunk.duplicate_of or chunk.chunk_id
                if canonical in seen:
                    continue
                if self._across_documents:
                    words = checked.words(chunk)
                    # Exact, against every passage kept (k at most): copies the key look-up
                    # missed or left out (MAX_NEAR_DUPLICATES) still collapse here.
                    holder = next(
                        (
                            p for p in kept
                            if p.chunk.doc_id != chunk.doc_id
                            and jaccard(p.words, words) >= NEAR_DUPLICATE_JACCARD
                        ),
                        None,
                    )
                    if holder is not None:
                        holder.also_in.setdefault(chunk.doc_id, chunk.doc_title)
                        collapsed += 1
                        continue
                else:
                    words = frozenset()
                seen.add(canonical)
                passage = _Kept(chunk, score, words)
                if self._across_documents:
                    if chunk_id not in checked.copies:
                        checked.copies[chunk_id] = self._near_duplicates(passage, documents, checked)
                    copies = checked.copies[chunk_id]
                    absorbed.update(copies)
                    for doc_id, title in copies.values():
                        passage.also_in.setdefault(doc_id, title)
                kept.append(passage)
                if len(kept) == k:
                    break
            if len(kept) == k:
                break
        return [to_passage(p.chunk, p.score, p.also_in) for p in kept], collapsed

    def _near_duplicates(
        self, passage: _Kept, documents: Collection[str] | None, checked: _Checked
    ) -> dict[str, tuple[str, str]]:
        """The chunks of other documents (of `documents` only) whose text is a near-duplicate
        of the passage's, with their (doc id, title)."""
        candidates = self._index.near_duplicate_candidates(
            passage.chunk.chunk_id, documents, limit=MAX_NEAR_DUPLICATES
        )
        return {
            chunk_id: (chunk.doc_id, chunk.doc_title)
            for chunk_id, chunk in self._index.chunks(candidates).items()
            if jaccard(passage.words, checked.words(chunk)) >= NEAR_DUPLICATE_JACCARD
        }
