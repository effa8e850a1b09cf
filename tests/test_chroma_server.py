"""The same ingest and questions against a real `chroma run` server: one setting switches; a
dead, killed or hung server is a one-line StoreUnavailableError, never a hang or a raw
httpx error."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingest.embed import MiniLMEmbedder
from ingest.index import open_index
from ingest.pipeline import ingest_paths, list_documents
from rag import QAEngine, load_settings
from rag.errors import StoreUnavailableError
from tests.conftest import free_port, running_chroma

SMALL = "A Small Policy\n\nThe plan keeps rivers clean. Factories report their discharges every month.\n"


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
    assert [r.doc_id for r in list_documents(again.settings)] == ["national-informatization-strategy-2006-2020"]


def test_unreachable_chroma_server_gives_a_clear_error(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    engine = QAEngine(load_settings(chroma_url=url, data_dir=tmp_path), embedder=embedder)
    with pytest.raises(StoreUnavailableError, match=f"no Chroma server answers at {url}"):
        engine.ask("anything")


class SilentServer:
    """Fault injector: a TCP server that accepts connections and never answers."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(connection)  # read nothing, answer nothing

    def close(self) -> None:
        self._socket.close()
        for connection in self._held:
            connection.close()


@pytest.mark.timeout(60)
def test_a_server_that_accepts_and_never_answers_times_out(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    server = SilentServer()
    try:
        settings = load_settings(chroma_url=server.url, data_dir=tmp_path, chroma_timeout_s=1)
        with pytest.raises(StoreUnavailableError, match=f"{server.url} did not answer within 1 s"):
            QAEngine(settings, embedder=embedder).ask("anything")
    finally:
        server.close()


class HangingProxy:
    """Fault injector: forwards TCP to a real Chroma server until `hang()`; from then on it
    forwards nothing, on open connections too (a server that stops answering mid-session)."""

    def __init__(self, target_url: str) -> None:
        host, port = target_url.removeprefix("http://").split(":")
        self._target = (host, int(port))
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._hanging = threading.Event()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hang(self) -> None:
        self._hanging.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._socket.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if self._hanging.is_set():
                    continue  # swallowed: the peer waits for an answer that never comes
                sink.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self._socket.close()
        for connection in self._open:
            connection.close()


@contextmanager
def proxied(url: str) -> Iterator[HangingProxy]:
    proxy = HangingProxy(url)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.mark.timeout(120)
def test_a_server_that_stops_answering_mid_session_times_out(
    chroma_server: str, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    note = tmp_path / "note.txt"
    note.write_text(SMALL, encoding="utf-8")
    with proxied(chroma_server) as proxy:
        settings = load_settings(
            chroma_url=proxy.url, data_dir=tmp_path / "data", collection="hang_test", chroma_timeout_s=1
        )
        ingest_paths([note], settings, embedder)
        index = open_index(settings, embedder)
        vector = embedder.embed_query("rivers")
        assert index.nearest(vector, 1)
        proxy.hang()
        with pytest.raises(StoreUnavailableError, match="did not answer within 1 s"):
            index.nearest(vector, 1)


@pytest.mark.timeout(180)
def test_a_killed_server_gives_a_one_line_error_not_an_httpx_one(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    note = tmp_path / "note.txt"
    note.write_text(SMALL, encoding="utf-8")
    with running_chroma(tmp_path / "server") as (url, process):
        settings = load_settings(chroma_url=url, data_dir=tmp_path / "data", refresh_s=0)
        ingest_paths([note], settings, embedder)
        engine = QAEngine(settings, embedder=embedder)
        assert not engine.ask("What do factories report?").refused
        process.kill()
        process.wait(timeout=30)
        with pytest.raises(StoreUnavailableError, match=f"no Chroma server answers at {url}") as raised:
            engine.ask("What do factories report?")
        assert "\n" not in str(raised.value)
