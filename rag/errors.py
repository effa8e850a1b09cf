"""Errors citeqa raises on purpose; anything else is a bug.

    CiteqaError                  base: the CLI prints its message on one line, exit code 1
    ├── InputFileError           a corpus file is missing, empty, binary, not UTF-8, unsupported
    ├── IndexMismatchError       the index was built with another embedder or chunking: --rebuild
    ├── IndexNotReadyError       the index is missing, empty or was left half-written
    ├── StoreUnavailableError    the Chroma server at CITEQA_CHROMA_URL does not answer
    ├── QuestionError            the question is empty or unusable
    └── LLMError                 the OpenAI-compatible endpoint failed (answers fall back offline)

The classes live in `ingest.errors` (ingest may not import rag); this module re-exports them
so callers of the public API write `from rag.errors import CiteqaError`.
"""

from ingest.errors import (
    CiteqaError,
    IndexMismatchError,
    IndexNotReadyError,
    InputFileError,
    LLMError,
    QuestionError,
    StoreUnavailableError,
)

__all__ = [
    "CiteqaError",
    "IndexMismatchError",
    "IndexNotReadyError",
    "InputFileError",
    "LLMError",
    "QuestionError",
    "StoreUnavailableError",
]
