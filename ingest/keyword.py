"""The keyword side of hybrid retrieval: a BM25 index (bm25s) over the stored chunks.

Tokens are lower-cased, English stop words dropped and words Snowball-stemmed (PyStemmer), so
"informatize", "informatization" and "Informatizing" meet. Each chunk is indexed with its
section path in front: headings like "E-commerce action plans" carry the words readers ask with.
The index is derived from the chunks in Chroma and cached on local disk by `ingest.cache`, so a
Chroma server needs no extra storage and every replica can rebuild it without embedding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.chunk import Chunk

_CHUNK_IDS = "chunk_ids.json"
_DOC_IDS = "doc_ids.json"
_CHUNK_DOCS = "chunk_docs.npy"


# Lower-case words as written, counted for spelling checks against the corpus.
SURFACE_WORD = re.compile(r"[a-z]+")
# bm25s's default token pattern: words of two or more letters or digits.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


# English function words plus the words questions are built from ("what", "does", "should",
# "according"): bm25s's own list has 33 words and keeps "what" and "does", which then count
# as question words a passage must share. A stemmed copy is matched after stemming.
STOPWORDS = frozenset(
    """a about above according after again against all also am an and any are as at be because
    been before being below between both but by can could did do does doing done down during each
    few for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just may me might more most must my myself no nor not now of off on once
    only or other our ours ourselves out over own per same say says said shall she should so some
    such than that the their theirs them themselves then there these they this those through to too
    under until up upon very was we were what when where which while who whom whose why will with
    within would you your yours yourself yourselves""".split()
)


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    return STOPWORDS | frozenset(_stemmer().stemWords(list(STOPWORDS)))


def keyword_text(chunk: Chunk) -> str:
    """What BM25 indexes for a chunk: its section path, then its text."""
    return f"{chunk.section_path}\n{chunk.text}"


@lru_cache(maxsize=8192)
def stems(text: str) -> tuple[str, ...]:
    """Lower-cased, stop-word-free, Snowball-stemmed tokens of text (cached: answer sentences
    are scored again and again)."""
    stop = _stopwords()
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stop]
    return tuple(w for w in _stemmer().stemWords(words) if w not in stop)


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Stemmed, stop-word-free tokens of each text."""
    return [list(stems(text)) for text in texts]


@dataclass(frozen=True)
class TermStatistics:
    """Counts over the indexed text that answer scoring needs, kept with the keyword index.

    `sentences` is the number of distinct sentence texts and `sentence_frequency[stem]` how
    many of them hold the stem (the answerer's sentence-level IDF); `vocabulary` is every stem
    of the indexed chunk texts and section paths; `chunks` the number of chunks indexed.
    """

    sentences: int
    sentence_frequency: Mapping[str, int]
    vocabulary: frozenset[str]
    chunks: int
    # Chunks whose BM25 stems (section path + text) include the stem.
    chunk_frequency: Mapping[str, int]
    # How often each lower-case word ([a-z]+) occurs in the chunk texts (for spelling checks).
    word_counts: Mapping[str, int]


class KeywordIndex:
    """BM25 over a fixed list of chunk ids, with the document of each chunk for filtering.

    Memory per chunk: bm25s keeps one float32 score and one int32 stem id per distinct stem
    of the chunk, plus the chunk id string and a 4-byte document number: 644 bytes per chunk
    for the Strategy (52 distinct stems a chunk), 169 for a repetitive 1.5 MB text (measured,
    bench/ingest.py prints the second). Ranking scores every chunk (O(chunks), ~50 µs per
    1,000) and selects the top n with np.partition.
    """

    def __init__(
        self, chunk_ids: list[str], chunk_docs: npt.NDArray[np.int32], doc_ids: list[str], bm25: Any
    ) -> None:
        self.chunk_ids = chunk_ids
        self.chunk_docs = chunk_docs
        self.doc_ids = doc_ids
        self._bm25 = bm25

    @classmethod
    def build(
        cls, chunk_ids: list[str], tokens: Sequence[list[str]], chunk_docs: Sequence[int], doc_ids: list[str]
    ) -> KeywordIndex:
        """Index pre-tokenised chunks (`tokenize([keyword_text(chunk)])[0]` for each)."""
        import bm25s

        bm25 = bm25s.BM25()
        if chunk_ids:
            bm25.index(list(tokens), show_progress=False)
        return cls(chunk_ids, np.asarray(chunk_docs, dtype=np.int32), doc_ids, bm25)

    def save(self, folder: Path) -> list[str]:
        """Write the index into folder; returns the names of the files written."""
        folder.mkdir(parents=True, exist_ok=True)
        before = {p.name for p in folder.iterdir()}
        if self.chunk_ids:
            self._bm25.save(str(folder), show_progress=False)
        (folder / _CHUNK_IDS).write_text(json.dumps(self.chunk_ids), encoding="utf-8")
        (folder / _DOC_IDS).write_text(json.dumps(self.doc_ids), encoding="utf-8")
        np.save(folder / _CHUNK_DOCS, self.chunk_docs, allow_pickle=False)
        return sorted({p.name for p in folder.iterdir()} - before)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        """Read an index saved by `save`; ValueError if its parts do not fit together."""
        import bm25s

        chunk_ids = json.loads((folder / _CHUNK_IDS).read_text(encoding="utf-8"))
        doc_ids = json.loads((folder / _DOC_IDS).read_text(encoding="utf-8"))
        chunk_docs = np.load(folder / _CHUNK_DOCS, allow_pickle=False).astype(np.int32)
        bm25 = bm25s.BM25.load(str(folder)) if chunk_ids else bm25s.BM25()
        indexed = int(bm25.scores["num_docs"]) if chunk_ids else 0
        if not (
            isinstance(chunk_ids, list)
            and isinstance(doc_ids, list)
            and len(chunk_ids) == len(chunk_docs) == indexed
            and (not len(chunk_docs) or 0 <= int(chunk_docs.min()) <= int(chunk_docs.max()) < len(doc_ids))
        ):
            raise ValueError("the keyword index files do not fit together")
        return cls(chunk_ids, chunk_docs, doc_ids, bm25)

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every stemmed token of the indexed texts."""
        return frozenset(w for w in (getattr(self._bm25, "vocab_dict", None) or {}) if w)

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """BM25 score of every chunk (aligned with chunk_ids); zeros if no query word is known."""
        tokens = tokenize([query])[0]
        known = [t for t in tokens if t in (getattr(self._bm25, "vocab_dict", None) or {})]  # unknown words score 0
        if not known:
            return np.zeros(len(self.chunk_ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def top(
        self, query: str, n: int, documents: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """The n best-scoring chunks (score > 0), best first, optionally only of `documents`.

        Selection is O(chunks) with np.partition, not a sort of every score; ties are broken
        by index order, exactly as a stable full sort would.
        """
        if n <= 0 or not self.chunk_ids:
            return []
        scores = self.scores(query)
        if documents is not None:
            wanted = [i for i, d in enumerate(self.doc_ids) if d in documents]
            scores = np.where(np.isin(self.chunk_docs, wanted), scores, 0.0).astype(np.float32)
        # Only chunks sharing a query stem score above 0: select among those (np.partition
        # over a mostly-zero array is slow: many ties).
        positive = np.flatnonzero(scores > 0)
        n = min(n, len(positive))
        if n == 0:
            return []
        values = scores[positive]
        chosen = positive
        if n < len(values):
            kth = values[np.argpartition(values, len(values) - n)[len(values) - n]]
            above = positive[values > kth]
            chosen = np.concatenate([above, positive[values == kth][: n - len(above)]])
        order = chosen[np.lexsort((chosen, -scores[chosen]))]
        return [(self.chunk_ids[i], float(scores[i])) for i in order]
