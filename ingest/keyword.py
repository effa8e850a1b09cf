"""The keyword side of hybrid retrieval: a BM25 index (bm25s) over the stored chunks.

Tokens are lower-cased, English stop words dropped and words Snowball-stemmed (PyStemmer), so
"informatize", "informatization" and "Informatizing" meet. Each chunk is indexed with its
section path in front: headings like "E-commerce action plans" carry the words readers ask with.
The index is derived from the chunks in Chroma and cached on local disk under the manifest's
fingerprint, so a Chroma server needs no extra storage and a stale cache is never read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.chunk import Chunk

_CHUNK_IDS = "chunk_ids.json"


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


class KeywordIndex:
    """BM25 over a fixed list of chunk ids; scores every chunk for a query."""

    def __init__(self, chunk_ids: list[str], bm25: Any) -> None:
        self.chunk_ids = chunk_ids
        self._bm25 = bm25

    @classmethod
    def build(cls, chunks: Sequence[Chunk]) -> KeywordIndex:
        import bm25s

        bm25 = bm25s.BM25()
        bm25.index(tokenize([keyword_text(c) for c in chunks]), show_progress=False)
        return cls([c.chunk_id for c in chunks], bm25)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder))
        (folder / _CHUNK_IDS).write_text(json.dumps(self.chunk_ids), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        import bm25s

        chunk_ids = json.loads((folder / _CHUNK_IDS).read_text(encoding="utf-8"))
        return cls(chunk_ids, bm25s.BM25.load(str(folder)))

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every stemmed token of the indexed texts."""
        return frozenset(w for w in self._bm25.vocab_dict if w)

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """BM25 score of every chunk (aligned with chunk_ids); zeros if no query word is known."""
        tokens = tokenize([query])[0]
        known = [t for t in tokens if t in self._bm25.vocab_dict]  # unknown words score 0
        if not known:
            return np.zeros(len(self.chunk_ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
