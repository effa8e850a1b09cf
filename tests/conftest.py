"""Shared fixtures: real parts only (the real corpus, embedder, Chroma, HTTP servers).

- `clean_env` (autouse): no CITEQA_*/OPENAI_* variable of the developer's leaks into a test.
- `index_dir`/`settings`/`engine` (session): one index of the bundled Strategy, built once
  with the real MiniLM embedder into embedded Chroma in a temporary folder.
- `chroma_server` (session): a real `chroma run` on a free 127.0.0.1 port, stopped by its pid
  (`running_chroma` starts one for a single test, e.g. to kill it).
- `CountingEmbedder`: the real embedder, counting every text it is given (not a fake).
- `chat_server` (session): the scripted OpenAI-compatible server of tests/openai_server.py;
  tests set its `mode` and `reset()` it.
- `serve(engine, settings)` / `page_url` (per module): the Gradio page on a free port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from ingest.embed import Matrix, MiniLMEmbedder
from rag import QAEngine, Settings, load_settings
from tests.openai_server import ScriptedChatServer

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "data" / "corpus" / "national-informatization-strategy-2006-2020.txt"
# A document small enough to ingest in a second, with the Strategy's kind of structure.
SMALL = """A Small Policy

I, Aims

(1) Water

The plan keeps rivers clean. Factories report their discharges every month.

(2) Air

Cities plant trees along main roads. Coal boilers are replaced by 2030.
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("CITEQA_", "OPENAI_")):
            monkeypatch.delenv(name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder) -> Path:
    """A data dir holding the index of the bundled corpus (built once per test session)."""
    folder = tmp_path_factory.mktemp("index")
    QAEngine(load_settings(data_dir=folder), embedder=embedder).warm_up()
    return folder


@pytest.fixture(scope="session")
def settings(index_dir: Path) -> Settings:
    return load_settings(data_dir=index_dir)


@pytest.fixture(scope="session")
def engine(settings: Settings, embedder: MiniLMEmbedder) -> QAEngine:
    engine = QAEngine(settings, embedder=embedder)
    engine.warm_up()
    return engine


@contextmanager
def running_chroma(folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real `chroma run` on a free loopback port: (URL, process), stopped by its pid after."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    process = subprocess.Popen(
        [chroma, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chroma run exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("chroma run did not start listening within 60 s")
    try:
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real `chroma run` server on a free loopback port."""
    with running_chroma(tmp_path_factory.mktemp("chroma-server")) as (url, _):
        yield url


class CountingEmbedder:
    """The real embedder, counting texts: `texts` passed to embed_documents and
    embed_with_sentences (document texts), `queries` passed to embed_query."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.texts = 0
        self.queries = 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimensions(self) -> int:
        return self.inner.dimensions

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        self.texts += len(texts)
        return self.inner.embed_documents(texts)

    def embed_with_sentences(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Matrix, list[Matrix]]:
        self.texts += len(texts)
        return self.inner.embed_with_sentences(texts, spans)

    def embed_query(self, text: str) -> Matrix:
        self.queries += 1
        return self.inner.embed_query(text)


@pytest.fixture(scope="session")
def chat_server() -> Iterator[ScriptedChatServer]:
    with ScriptedChatServer() as server:
        yield server


@contextmanager
def serve(engine: QAEngine, settings: Settings) -> Iterator[str]:
    """The page for `engine` on a free 127.0.0.1 port, served from a thread; closed after."""
    from urllib.parse import urlsplit

    from ui.app import build_app, launch

    app = build_app(engine, settings)
    url = launch(app, settings, port=free_port(), prevent_thread_lock=True)
    assert urlsplit(url).hostname == "127.0.0.1"
    try:
        yield url
    finally:
        app.close()


@pytest.fixture(scope="module")
def page_url(engine: QAEngine, settings: Settings) -> Iterator[str]:
    with serve(engine, settings) as url:
        yield url


# --- the page's browser --------------------------------------------------------------------
# Debian's chromium (Playwright cannot download browsers here), one per test module.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
