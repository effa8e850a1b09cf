"""An LLM endpoint that accepts a request and never answers (the scripted server's "hang" mode,
over real HTTP on 127.0.0.1): the offline answer arrives with a notice, for an English question
and for a Chinese one, whose translation request and answer share one deadline.

No wall-clock assertion: pytest-timeout, far above the deadline, is the guard against a hang,
and the requests the server received show the deadline at work (after the translation used it
up, no answer request is sent at all).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.embed import MiniLMEmbedder
from rag import QAEngine, load_settings
from tests.openai_server import ScriptedChatServer

DEADLINE_S = 3.0
ENGLISH = "What share of GDP did the information industry reach in 2005?"
CHINESE = "信息产业增加值占GDP的比重是多少？"
TIMED_OUT = "the language model did not answer in time; showing the offline answer instead."


@pytest.fixture()
def hung(chat_server: ScriptedChatServer) -> Iterator[ScriptedChatServer]:
    chat_server.reset()
    chat_server.mode = "hang"
    yield chat_server
    chat_server.reset()


@pytest.fixture()
def engine(index_dir: Path, embedder: MiniLMEmbedder, chat_server: ScriptedChatServer) -> QAEngine:
    settings = load_settings(
        data_dir=index_dir,
        llm_base_url=chat_server.base_url,
        llm_model="scripted",
        llm_deadline_s=DEADLINE_S,
        llm_first_token_s=2.0,
        llm_timeout_s=30.0,  # longer than the deadline: the deadline is what must bound the wait
        llm_max_retries=1,  # a retry must not start once the deadline is spent
    )
    return QAEngine(settings, embedder=embedder)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("question", [ENGLISH, CHINESE], ids=["english", "chinese"])
def test_a_hung_endpoint_gives_the_offline_answer_with_a_notice(
    engine: QAEngine, hung: ScriptedChatServer, question: str
) -> None:
    answer = engine.ask(question)
    offline = engine.ask(question, mode="extractive")
    assert answer.answerer == "extractive"
    assert (answer.answer, answer.citations) == (offline.answer, offline.citations)
    assert "7.2 per cent of GDP" in answer.answer and answer.citations[0].section.startswith("II (1)")
    assert TIMED_OUT in answer.notices
    asked = [("Translate" in r["messages"][0]["content"], bool(r.get("stream"))) for r in hung.requests]
    if question == CHINESE:
        # the translation waited out the deadline; neither its retry nor the answer was sent
        assert asked == [(True, False)]
        assert any("glossary of key terms" in n for n in answer.notices)
    else:
        assert asked == [(False, True)]  # the stream's first-token timeout ended the wait


@pytest.mark.timeout(60)
def test_the_page_stream_of_a_hung_endpoint_ends_with_the_offline_answer(
    engine: QAEngine, hung: ScriptedChatServer
) -> None:
    *drafts, final = list(engine.ask_stream(ENGLISH))
    assert drafts == [final.answer]  # type: ignore[union-attr]
    assert final.answerer == "extractive" and TIMED_OUT in final.notices  # type: ignore[union-attr]
