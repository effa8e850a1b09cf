"""Errors citeqa raises on purpose; anything else is a bug.

    CiteqaError                  base: the CLI prints its message on one line, exit code 1
    ├── InputFileError           a corpus file is missing, empty, binary, not UTF-8, unsupported
    ├── IndexMismatchError       the index was built with another embedder or chunking: --rebuild
    ├── IndexNotReadyError       the index is missing, empty or was left half-written
    ├── StoreUnavailableError    the Chroma server at CITEQA_CHROMA_URL does not answer
    ├── QuestionError            the question is empty or unusable          (defined here)
    └── LLMError                 the OpenAI-compatible endpoint failed      (defined here)

The index errors live in `ingest.errors` (ingest may not import rag) and are re-exported here,
so callers of the public API write `from rag.errors import CiteqaError`. Question and model
errors belong to answering, so they are defined here.
"""

from ingest.errors import (
    CiteqaError,
    IndexMismatchError,
    IndexNotReadyError,
    InputFileError,
    StoreUnavailableError,
)


class QuestionError(CiteqaError, ValueError):
    """The question cannot be answered as given (empty, not text, only control characters)."""


class LLMError(CiteqaError):
    """The OpenAI-compatible endpoint failed or answered with something unusable."""


__all__ = [
    "CiteqaError",
    "IndexMismatchError",
    "IndexNotReadyError",
    "InputFileError",
    "LLMError",
    "QuestionError",
    "StoreUnavailableError",
]
