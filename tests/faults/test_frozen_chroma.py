"""A Chroma server frozen with SIGSTOP (alive, its socket accepting, answering nothing): a question
fails within the Chroma timeout with a one-line StoreUnavailableError, through the engine and
through `citeqa ask` (exit 1), and works again once the server gets SIGCONT.

The server is a real `chroma run` this test starts; only its pid is stopped and continued.
pytest-timeout guards against a hang; nothing measures time.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import Popen

import pytest

from ingest.embed import MiniLMEmbedder
from ingest.pipeline import ingest_paths
from rag import QAEngine, load_settings
from rag.errors import StoreUnavailableError
from tests.conftest import running_chroma
from tests.faults.citeqa_process import answer_of, clean_environment, error_line, run_citeqa
from tests.faults.corpus import FACTS, HARBOUR

TIMEOUT_S = 2
QUESTION = FACTS[2].question  # the harbour's opening hours


@contextmanager
def frozen(process: Popen[bytes]) -> Iterator[None]:
    """SIGSTOP the process for the block; SIGCONT after, whatever happens."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


@pytest.mark.timeout(240)
def test_a_frozen_server_is_a_one_line_error_within_the_timeout_and_then_recovers(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    note = tmp_path / "harbour-rules.txt"
    note.write_text(HARBOUR, encoding="utf-8")
    with running_chroma(tmp_path / "server") as (url, process):
        settings = load_settings(
            chroma_url=url, data_dir=tmp_path / "data", chroma_timeout_s=TIMEOUT_S, refresh_s=0
        )
        ingest_paths([note], settings, embedder)
        engine = QAEngine(settings, embedder=embedder)
        before = engine.ask(QUESTION)
        assert FACTS[2].says in before.answer
        environment = clean_environment(
            CITEQA_CHROMA_URL=url,
            CITEQA_CHROMA_TIMEOUT_S=str(TIMEOUT_S),
            CITEQA_DATA_DIR=str(tmp_path / "cli-data"),
        )
        answered = answer_of(run_citeqa(["ask", "--json", QUESTION], environment))

        with frozen(process):
            with pytest.raises(StoreUnavailableError) as raised:
                engine.ask(QUESTION)
            message = str(raised.value)
            assert message == (
                f"the Chroma server at {url} did not answer within {TIMEOUT_S} s (ReadTimeout); "
                "check it, or raise CITEQA_CHROMA_TIMEOUT_S"
            )
            line = error_line(run_citeqa(["ask", QUESTION], environment))
            assert line == (
                f"citeqa: error: the Chroma server at {url} did not answer within {TIMEOUT_S} s; "
                "check it, or raise CITEQA_CHROMA_TIMEOUT_S"
            )

        after = engine.ask(QUESTION)  # the same engine, its connections timed out before
        assert (after.answer, after.citations) == (before.answer, before.citations)
        assert answer_of(run_citeqa(["ask", "--json", QUESTION], environment)) == answered
