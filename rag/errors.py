"""Errors citeqa raises on purpose; anything else is a bug.

    CiteqaError                  base: the CLI prints its message on one line, exit code 1
    ├── InputFileError           a corpus file is missing, empty, binary, not UTF-8, unsupported,
    │                            or its document id is already taken by another file
    ├── UnknownDocumentError     `citeqa delete` names no stored document
    ├── IndexMismatchError       the index was built another way (embedder, chunking): --rebuild
    ├── IndexNotReadyError       the index is missing or empty, or lost the documents it held
    ├── StoreUnavailableError    the Chroma server does not answer within the timeout
    ├── StoreDamagedError        the embedded Chroma database is damaged: --rebuild moves it aside
    ├── QuestionError            the question is empty or unusable             (defined here)
    └── LLMError                 the OpenAI-compatible endpoint failed         (defined here)

The index errors live in `ingest.errors` (ingest may not import rag) and are re-exported here,
so callers of the public API write `from rag.errors import CiteqaError`. Question and model
errors belong to answering, so they are defined here.
"""

from ingest.errors import (
    CiteqaError,
    IndexMismatchError,
    IndexNotReadyError,
    InputFileError,
    StoreDamagedError,
    StoreUnavailableError,
    UnknownDocumentError,
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
    "StoreDamagedError",
    "StoreUnavailableError",
    "UnknownDocumentError",
]
