"""Generated answers over real HTTP to an OpenAI-compatible server on 127.0.0.1.

The server (tests/openai_server.py) is scripted, not a model: in mode "ok" it answers with the
first sentence of passages [1] and [2], cited. Its other modes are fault injectors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.embed import MiniLMEmbedder
from rag import Answer, QAEngine, Turn, load_settings
from tests.openai_server import ScriptedChatServer

GDP_QUESTION = "What share of GDP did the information industry reach in 2005?"


@pytest.fixture()
def llm_engine(index_dir: Path, embedder: MiniLMEmbedder, chat_server: ScriptedChatServer) -> QAEngine:
    chat_server.mode = "ok"
    chat_server.requests.clear()
    settings = load_settings(
        data_dir=index_dir,
        llm_base_url=chat_server.base_url,
        llm_model="scripted",
        llm_timeout_s=1.5,
        llm_max_retries=0,
        llm_context_window=2048,
        llm_max_answer_tokens=256,
    )
    return QAEngine(settings, embedder=embedder)


def test_generated_answer_cites_the_passages_it_was_given(llm_engine: QAEngine, chat_server: ScriptedChatServer) -> None:
    answer = llm_engine.ask(GDP_QUESTION)
    assert answer.answerer == "generative:scripted"
    assert not answer.refused and answer.citations
    request = chat_server.requests[-1]
    assert request["model"] == "scripted"
    prompt = request["messages"][-1]["content"]
    assert prompt.rstrip().endswith(GDP_QUESTION)
    assert "[1] " + answer.retrieved[0].section in prompt
    # every marker in the answer refers to a cited passage, every sentence is supported
    assert all(s.is_supported for s in answer.sentences)
    assert {n for s in answer.sentences for n in s.citations} == set(range(1, len(answer.citations) + 1))


def test_the_context_is_fitted_to_the_model_window(
    index_dir: Path, embedder: MiniLMEmbedder, chat_server: ScriptedChatServer
) -> None:
    chat_server.mode = "ok"
    engine = QAEngine(
        load_settings(
            data_dir=index_dir, llm_base_url=chat_server.base_url, llm_context_window=1024,
            llm_max_answer_tokens=256, llm_max_retries=0,
        ),
        embedder=embedder,
    )
    engine.ask(GDP_QUESTION, top_k=20)
    prompt = chat_server.requests[-1]["messages"][-1]["content"]
    passages_sent = sum(1 for line in prompt.splitlines() if line[:1] == "[" and "] " in line[:5])
    assert 1 <= passages_sent < 20


def test_streaming_yields_text_then_the_checked_answer(llm_engine: QAEngine) -> None:
    items = list(llm_engine.ask_stream(GDP_QUESTION))
    deltas = [i for i in items if isinstance(i, str)]
    final = items[-1]
    assert isinstance(final, Answer) and len(deltas) >= 2
    assert final.citations and final.answerer == "generative:scripted"


def test_a_marker_pointing_at_no_passage_is_removed(llm_engine: QAEngine, chat_server: ScriptedChatServer) -> None:
    chat_server.mode = "bad_citations"
    answer = llm_engine.ask(GDP_QUESTION)
    assert "[7]" not in answer.answer
    assert all(1 <= n <= len(answer.citations) for s in answer.sentences for n in s.citations)
    # "Claim one" / "Claim two" are supported by no passage: flagged, not cited
    assert not any(s.is_supported for s in answer.sentences if s.text.startswith("Claim"))


def test_an_answer_without_markers_is_re_cited(llm_engine: QAEngine, chat_server: ScriptedChatServer) -> None:
    chat_server.mode = "no_citations"
    answer = llm_engine.ask(GDP_QUESTION)
    assert answer.citations, answer.answer
    assert "[1]" in answer.answer and answer.sentences[0].is_supported


@pytest.mark.parametrize("mode", ["http_500", "slow", "garbage"])
def test_endpoint_failure_falls_back_to_the_offline_answer_with_a_notice(
    llm_engine: QAEngine, chat_server: ScriptedChatServer, mode: str
) -> None:
    chat_server.mode = mode
    answer = llm_engine.ask(GDP_QUESTION)
    assert answer.answerer == "extractive"
    assert "7.2 per cent" in answer.answer
    assert any("offline answer" in n for n in answer.notices)


def test_a_cut_stream_falls_back_to_the_offline_answer(llm_engine: QAEngine, chat_server: ScriptedChatServer) -> None:
    chat_server.mode = "cut_stream"
    final = list(llm_engine.ask_stream(GDP_QUESTION))[-1]
    assert isinstance(final, Answer)
    assert final.answerer == "extractive" and "7.2 per cent" in final.answer
    assert any("offline answer" in n for n in final.notices)


def test_follow_up_is_rewritten_by_the_model(llm_engine: QAEngine, chat_server: ScriptedChatServer) -> None:
    answer = llm_engine.ask(
        "And what about healthcare?",
        history=[Turn("What does the Strategy say about e-government?", "It says ...")],
    )
    assert answer.question == "And what about healthcare? (standalone)"
    assert any("standalone" in r["messages"][0]["content"] for r in chat_server.requests)


def test_chinese_question_is_translated_by_the_model(llm_engine: QAEngine, chat_server: ScriptedChatServer) -> None:
    question = "2005年信息产业增加值占国内生产总值的比重是多少？"
    answer = llm_engine.ask(question)
    assert any("Translate" in r["messages"][0]["content"] for r in chat_server.requests)
    # the scripted server "translates" by echoing, so the standalone question is the original
    assert answer.question == question
    # the model is asked in the reader's language, with the English search question beside it
    prompt = chat_server.requests[-1]["messages"][-1]["content"]
    assert prompt.rstrip().endswith(f"Question: {question}\n(In English: {question})")


def test_extractive_mode_can_still_be_chosen(llm_engine: QAEngine, chat_server: ScriptedChatServer) -> None:
    before = len(chat_server.requests)
    answer = llm_engine.ask(GDP_QUESTION, mode="extractive")
    assert answer.answerer == "extractive" and len(chat_server.requests) == before
