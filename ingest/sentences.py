"""Per-sentence vectors of every stored chunk, for the offline answerer and citation checks.

Embedding sentences at question time would cost ~7 ms each on 2 cores; embedding them once
at ingest makes picking answer sentences a matrix product. Cached on local disk under the
manifest's fingerprint, like the keyword index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.chunk import Chunk, split_sentences
from ingest.embed import Embedder, Matrix

_FILE = "sentences.npz"


@dataclass(frozen=True)
class SentenceIndex:
    """Sentence i is chunk_ids[i], text[starts[i]:ends[i]] of its document; vectors[i] its vector.

    `starts`/`ends` are offsets into the clean document text, like the chunks'.
    """

    chunk_ids: list[str]
    starts: np.ndarray
    ends: np.ndarray
    texts: list[str]
    vectors: Matrix

    @classmethod
    def build(cls, chunks: Sequence[Chunk], embedder: Embedder) -> SentenceIndex:
        chunk_ids: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        texts: list[str] = []
        for chunk in chunks:
            for start, end in split_sentences(chunk.text):
                chunk_ids.append(chunk.chunk_id)
                starts.append(chunk.start + start)
                ends.append(chunk.start + end)
                texts.append(chunk.text[start:end])
        vectors = embedder.embed_documents(texts)
        return cls(chunk_ids, np.array(starts), np.array(ends), texts, vectors)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(
            folder / _FILE,
            chunk_ids=np.array(self.chunk_ids),
            starts=self.starts,
            ends=self.ends,
            texts=np.array(self.texts),
            vectors=self.vectors,
        )

    @classmethod
    def load(cls, folder: Path) -> SentenceIndex:
        data = np.load(folder / _FILE)
        return cls(
            [str(x) for x in data["chunk_ids"]],
            data["starts"],
            data["ends"],
            [str(x) for x in data["texts"]],
            data["vectors"].astype(np.float32),
        )

    @staticmethod
    def exists(folder: Path) -> bool:
        return (folder / _FILE).exists()
