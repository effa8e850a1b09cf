"""The citeqa error tree (drawn in `rag.errors`, which re-exports it for the public API)."""


class CiteqaError(Exception):
    """Base of every error citeqa raises on purpose; its message is one line for a person."""


class InputFileError(CiteqaError):
    """A corpus file cannot be ingested: missing, empty, binary, not UTF-8 or unsupported."""


class IndexMismatchError(CiteqaError):
    """The stored index was built with another embedding model or chunking."""


class IndexNotReadyError(CiteqaError):
    """The index is missing, empty, or an ingest was interrupted before it finished."""


class StoreUnavailableError(CiteqaError):
    """The Chroma server does not answer."""
