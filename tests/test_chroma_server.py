"""The same ingest and questions against a real `chroma run` server: one setting switches."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.embed import MiniLMEmbedder
from rag import QAEngine, load_settings
from rag.errors import StoreUnavailableError
from tests.conftest import free_port


def test_ingest_and_ask_through_a_chroma_server(
    chroma_server: str, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    settings = load_settings(chroma_url=chroma_server, data_dir=tmp_path, collection="server_test")
    engine = QAEngine(settings, embedder=embedder)
    engine.warm_up()  # builds the index on the server: nothing is in it yet
    assert not (tmp_path / "chroma").exists()  # no embedded database was made
    answer = engine.ask("What share of GDP did the information industry reach in 2005?")
    assert "7.2 per cent" in answer.answer
    assert answer.citations[0].section.startswith("II (1)")

    # a second client with a fresh local cache folder finds the same index on the server
    again = QAEngine(
        load_settings(chroma_url=chroma_server, data_dir=tmp_path / "other", collection="server_test"),
        embedder=embedder,
    )
    assert [p.chunk_id for p in again.retrieve("digital divide", 3)] == [
        p.chunk_id for p in engine.retrieve("digital divide", 3)
    ]
    store = again.open_store()
    assert store.ready_manifest().documents.keys() == {"national-informatization-strategy-2006-2020"}


def test_unreachable_chroma_server_gives_a_clear_error(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    engine = QAEngine(load_settings(chroma_url=url, data_dir=tmp_path), embedder=embedder)
    with pytest.raises(StoreUnavailableError, match=f"no Chroma server answers at {url}"):
        engine.ask("anything")
