"""Several people at once, through `gradio_client` against the page served on 127.0.0.1.

Each client is its own session (its own conversation state), so answers must come back to the
client that asked, each with its own citations; and a model answer still being generated must
not hold back another person's offline answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client

from ingest.embed import MiniLMEmbedder
from rag import QAEngine, load_settings
from tests.conftest import serve
from tests.openai_server import ScriptedChatServer

# Gradio's queue computes its local per-event timing table with pandas, which warns about
# pandas 3 deprecations on every event: third-party noise, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

# question → (a fact the answer must hold, a section one of its citations must come from)
QUESTIONS = {
    "What share of GDP did the information industry reach in 2005?": ("7.2", "II (1)"),
    "What are the strategic objectives for 2020?": ("2020", "III (2)"),
    "When was the notice on the Strategy issued?": ("19 March 2006", "Notice"),
    "How should the legal system for informatization be built?": ("legal", "VII (5)"),
}
# Bounds on waiting, so a deadlock fails the test instead of hanging it; not speed checks.
RESULT_TIMEOUT_S = 240
MODEL_HOLD_S = 90


def message_text(message: dict[str, object]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def test_the_page_offers_one_public_ask_endpoint(page_url: str) -> None:
    api = Client(page_url, verbose=False).view_api(print_info=False, return_format="dict")
    assert isinstance(api, dict)
    assert list(api["named_endpoints"]) == ["/ask"]
    names = [p["parameter_name"] for p in api["named_endpoints"]["/ask"]["parameters"]]
    # The conversation is the session's own state, not a parameter; `documents` limits the
    # search (default: every document).
    assert names == ["question", "mode", "top_k", "documents"]


def test_four_people_asking_at_once_each_get_their_own_cited_answer(page_url: str) -> None:
    start_together = threading.Barrier(len(QUESTIONS))

    def ask(question: str) -> tuple[object, ...]:
        client = Client(page_url, verbose=False)
        start_together.wait(timeout=RESULT_TIMEOUT_S)
        job = client.submit(question, api_name="/ask")
        return tuple(job.result(timeout=RESULT_TIMEOUT_S))

    with ThreadPoolExecutor(max_workers=len(QUESTIONS)) as pool:
        results = dict(zip(QUESTIONS, pool.map(ask, QUESTIONS)))

    for question, (fact, section) in QUESTIONS.items():
        _, chat, sources, chooser, _ = results[question]
        assert isinstance(chat, list) and len(chat) == 2, question  # each session its own chat
        assert question in message_text(chat[0])
        answer = message_text(chat[1])
        assert fact.lower() in answer.lower(), (question, answer)
        assert 'data-turn="0" data-cite="1"' in answer, answer
        assert isinstance(sources, str) and f"for “{question}”" in sources
        cited = [
            part.split("<", 1)[0] for part in sources.split('<span class="source-section">')[1:]
        ]
        assert any(s.startswith(section) for s in cited), (question, cited)
        assert isinstance(chooser, dict) and chooser["choices"], chooser


@pytest.fixture()
def slow_model_page_url(
    index_dir: Path, embedder: MiniLMEmbedder
) -> Iterator[tuple[str, ScriptedChatServer]]:
    with ScriptedChatServer() as server:
        server.mode = "slow"
        # The model answers when the test stops it, or after MODEL_HOLD_S: long past an
        # offline answer, so with one slot for all answers the offline one would come last.
        server.slow_seconds = MODEL_HOLD_S
        settings = load_settings(
            data_dir=index_dir,
            llm_base_url=server.base_url,
            llm_model="scripted",
            llm_max_retries=0,
            llm_timeout_s=RESULT_TIMEOUT_S,
        )
        engine = QAEngine(settings, embedder=embedder)
        engine.warm_up()
        with serve(engine, settings) as url:
            yield url, server


def test_a_model_answer_still_generating_does_not_hold_back_an_offline_answer(
    slow_model_page_url: tuple[str, ScriptedChatServer],
) -> None:
    url, server = slow_model_page_url
    waiting = Client(url, verbose=False).submit(
        "What are the strategic objectives for 2020?", "generative", 5, api_name="/ask"
    )
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while not server.requests:  # the model now holds that answer
        assert time.monotonic() < deadline, "the model was never asked"
        time.sleep(0.05)

    offline = Client(url, verbose=False).predict(
        "What share of GDP did the information industry reach in 2005?",
        "extractive",
        5,
        api_name="/ask",
    )
    assert "7.2" in message_text(offline[1][-1]) and "cite-1" in message_text(offline[1][-1])
    assert not waiting.done(), "the model's answer was expected to be still on its way"

    server.stop()  # the model never answers: that person gets the offline answer and a notice
    _, chat, _, _, _ = waiting.result(timeout=RESULT_TIMEOUT_S)
    fallback = message_text(chat[-1])
    assert "showing the offline answer instead" in fallback
    assert "cite-1" in fallback
