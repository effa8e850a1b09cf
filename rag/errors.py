"""Errors citeqa raises on purpose; anything else is a bug.

    CiteqaError                  base: the CLI prints its message on one line, exit code 1
    ├── InputFileError           a corpus file is missing, empty, binary, not UTF-8, unsupported,
    │                            or its document id is already taken by another file
    ├── UnknownDocumentError     `citeqa delete` names no stored document
    ├── IndexMismatchError       the index was built another way (embedder, chunking): --rebuild
    ├── IndexNotReadyError       the index is missing or empty, or lost the documents it held
    ├── StoreUnavailableError    the Chroma server does not answer within the timeout
    ├── StoreDamagedError        the embedded Chroma database is damaged: --rebuild moves it aside
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
    StoreDamagedError,
    StoreUnavailableError,
    UnknownDocumentError,
)

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
