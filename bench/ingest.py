"""Ingest cost of the bundled Strategy: time per stage, chunks, index size on disk, RSS.

    .venv/bin/python bench/ingest.py

Builds a fresh index in a temporary folder (embedded Chroma), then ingests again to show the
unchanged-file fast path. Prints a table.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, rss_mb  # noqa: E402
from ingest.chunk import ChunkParams  # noqa: E402
from ingest.embed import MiniLMEmbedder  # noqa: E402
from ingest.load import read_document  # noqa: E402
from ingest.pipeline import build_index, chunk_source  # noqa: E402
from ingest.store import ChunkStore, open_client  # noqa: E402
from rag.settings import BUNDLED_CORPUS  # noqa: E402


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    params = ChunkParams()
    embedder = MiniLMEmbedder()
    started = time.perf_counter()
    document = read_document(BUNDLED_CORPUS)
    chunks, sections = chunk_source(document, params)
    chunk_s = time.perf_counter() - started
    started = time.perf_counter()
    embedder.embed_documents([c.text for c in chunks])
    embed_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        store = ChunkStore(open_client(folder, None), "citeqa")
        first = build_index([BUNDLED_CORPUS], store, embedder, params, folder)
        again = build_index([BUNDLED_CORPUS], store, embedder, params, folder)
        rows = [
            ["document (clean text), KB", len(document.text) / 1000],
            ["sections / chunks", f"{sections} / {len(chunks)}"],
            ["mean / max chunk tokens", f"{sum(c.n_tokens for c in chunks) / len(chunks):.0f} / {max(c.n_tokens for c in chunks)}"],
            ["clean + parse + chunk, s", chunk_s],
            ["embed the chunks alone, s", embed_s],
            ["full ingest (store + BM25 + sentence vectors), s", first.seconds],
            ["re-ingest, unchanged file, s", again.seconds],
            ["index on disk: Chroma, MB", folder_mb(folder / "chroma")],
            ["index on disk: derived caches, MB", folder_mb(folder / "derived")],
            ["peak RSS, MB", rss_mb()],
        ]
    print_table(["ingest of the bundled Strategy", "value"], rows)


if __name__ == "__main__":
    main()
