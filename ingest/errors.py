"""The citeqa error tree (drawn in `rag.errors`, which re-exports it for the public API)."""


class CiteqaError(Exception):
    """Base of every error citeqa raises on purpose; its message is one line for a person."""


class InputFileError(CiteqaError):
    """A corpus file cannot be ingested: missing, empty, binary, not UTF-8, unsupported, or its
    document id is taken by another file."""


class UnknownDocumentError(CiteqaError):
    """A document id names no document of the index (`citeqa delete`)."""


class IndexMismatchError(CiteqaError):
    """The stored index was built with another embedding model, chunking or sentence vectors."""


class IndexNotReadyError(CiteqaError):
    """The index is missing or empty, or held documents before and lost them."""


class StoreUnavailableError(CiteqaError):
    """The Chroma server does not answer (in time), or the embedded database is locked."""


class StoreDamagedError(CiteqaError):
    """The embedded Chroma database cannot be opened or read: `citeqa ingest --rebuild`."""
