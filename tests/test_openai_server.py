"""Specifies tests/openai_server.py: the real `openai` client against it over real HTTP.

What each fault mode makes openai 2.54 raise is pinned here, because the answerer's error
handling is written against exactly these types.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from llama_index.core.llms import ChatMessage
from llama_index.llms.openai_like import OpenAILike
from openai.types.chat import ChatCompletionMessageParam

from rag import prompts
from tests.openai_server import (
    BAD_CITATIONS,
    REFUSAL,
    FaultMode,
    ScriptedChatServer,
    first_sentence,
    passages_in,
)

PASSAGE_ONE = (
    "The State shall build a national information network. It shall cover all counties.\n"
    "By 2020 the network reaches every village."
)
PASSAGE_TWO = "Broadband reaches 50% of cities by 2010! Rural areas follow."
ANSWER_OK = (
    "The State shall build a national information network. [1] "
    "Broadband reaches 50% of cities by 2010! [2]"
)


def answer_prompt(*texts: str) -> str:
    """A user prompt built with the real prompt templates of rag/prompts.py."""
    blocks = [
        prompts.PASSAGE.format(number=n, section=f"Part {n} > ({n})", text=text)
        for n, text in enumerate(texts, 1)
    ]
    return prompts.ANSWER_USER.format(
        outline="Part 1\nPart 2", passages="\n\n".join(blocks), question="What is built?"
    )


MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": prompts.ANSWER_SYSTEM},
    {"role": "user", "content": answer_prompt(PASSAGE_ONE, PASSAGE_TWO)},
]


@pytest.fixture(scope="module")
def running_server() -> Iterator[ScriptedChatServer]:
    with ScriptedChatServer() as server:
        yield server


@pytest.fixture
def server(running_server: ScriptedChatServer) -> ScriptedChatServer:
    running_server.reset()
    running_server.slow_seconds = 5.0
    return running_server


@pytest.fixture
def client(server: ScriptedChatServer) -> openai.OpenAI:
    # max_retries=0: a fault must surface at once instead of being retried with back-off.
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0, timeout=10)


def create(client: openai.OpenAI) -> str:
    completion = client.chat.completions.create(model="scripted", messages=MESSAGES)
    return str(completion.choices[0].message.content)


def stream_text(
    client: openai.OpenAI, messages: list[ChatCompletionMessageParam] = MESSAGES
) -> str:
    chunks = client.chat.completions.create(model="scripted", messages=messages, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# --------------------------------------------------------------------------- the rule


def test_passages_are_read_from_numbered_blocks_of_the_real_prompt() -> None:
    passages = passages_in(answer_prompt(PASSAGE_ONE, PASSAGE_TWO))

    assert passages == {1: " ".join(PASSAGE_ONE.split("\n")), 2: PASSAGE_TWO}


def test_first_sentence_ends_at_a_mark_followed_by_space_not_inside_a_number() -> None:
    assert first_sentence("Growth of 2.5 percent. Then more.") == "Growth of 2.5 percent."
    assert first_sentence("No mark at all") == "No mark at all"
    assert first_sentence("网络建设。然后") == "网络建设。"


def test_base_url_is_loopback_ip_with_the_bound_port(server: ScriptedChatServer) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert server.port != 0


def test_models_lists_the_scripted_model(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["scripted"]


def test_ok_answers_first_sentences_of_passages_one_and_two_with_markers(
    client: openai.OpenAI, server: ScriptedChatServer
) -> None:
    completion = client.chat.completions.create(
        model="any-model-name", messages=MESSAGES, max_tokens=200
    )

    assert completion.choices[0].message.content == ANSWER_OK
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "any-model-name"
    assert completion.object == "chat.completion"
    [sent] = server.requests
    assert sent["model"] == "any-model-name"
    assert sent["messages"] == MESSAGES
    assert sent["max_tokens"] == 200
    assert not sent.get("stream")


def test_ok_stream_deltas_concatenate_to_the_non_streamed_answer(
    client: openai.OpenAI, server: ScriptedChatServer
) -> None:
    chunks = list(client.chat.completions.create(model="scripted", messages=MESSAGES, stream=True))

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == ANSWER_OK
    assert len(chunks) > 3  # one chunk per word, not the whole answer at once
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert server.requests[0]["stream"] is True


def test_stream_is_sse_ending_with_done(server: ScriptedChatServer) -> None:
    body = {"model": "scripted", "messages": MESSAGES, "stream": True}
    with httpx.Client(timeout=10) as http:
        with http.stream("POST", f"{server.base_url}/chat/completions", json=body) as response:
            assert response.headers["content-type"] == "text/event-stream"
            raw = response.read().decode()

    events = raw.split("\n\n")
    assert events[-1] == ""  # every event ends with a blank line
    assert events[-2] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events[:-1])
    assert json.loads(events[0][len("data: ") :])["object"] == "chat.completion.chunk"


def test_stream_sends_usage_chunk_when_asked(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="scripted",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(ANSWER_OK.split())


def test_max_tokens_cuts_the_answer_to_that_many_words(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="scripted", messages=MESSAGES, max_tokens=3)

    assert completion.choices[0].message.content == "The State shall"
    assert completion.choices[0].finish_reason == "length"


def test_prompt_without_passages_gets_the_refusal(client: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": answer_prompt()}]

    completion = client.chat.completions.create(model="scripted", messages=messages)

    assert completion.choices[0].message.content == REFUSAL


def test_rewrite_request_returns_last_follow_up_marked_standalone(client: openai.OpenAI) -> None:
    user = prompts.REWRITE_USER.format(
        history="Q: What is built?\nA: A network. [1]", question="And by when?"
    )
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": prompts.REWRITE_SYSTEM},
        {"role": "user", "content": user},
    ]

    assert stream_text(client, messages) == "And by when? (standalone)"


def test_translation_request_returns_the_question_unchanged(client: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": prompts.TRANSLATE_SYSTEM},
        {"role": "user", "content": prompts.TRANSLATE_USER.format(question="信息化的目标是什么？")},
    ]

    completion = client.chat.completions.create(model="scripted", messages=messages)

    assert completion.choices[0].message.content == "信息化的目标是什么？"


def test_llama_index_openai_like_chats_and_streams(server: ScriptedChatServer) -> None:
    llm = OpenAILike(
        model="scripted",
        api_base=server.base_url,
        api_key="test-key",
        is_chat_model=True,
        context_window=4096,
        max_retries=0,
        timeout=10,
    )
    messages = [
        ChatMessage(role="system", content=prompts.ANSWER_SYSTEM),
        ChatMessage(role="user", content=answer_prompt(PASSAGE_ONE, PASSAGE_TWO)),
    ]

    assert llm.chat(messages).message.content == ANSWER_OK
    assert "".join(r.delta or "" for r in llm.stream_chat(messages)) == ANSWER_OK


# --------------------------------------------------------------------------- fault modes


def test_unknown_mode_is_refused(server: ScriptedChatServer) -> None:
    with pytest.raises(ValueError, match="unknown fault mode 'teapot'"):
        server.mode = "teapot"  # type: ignore[assignment]


@pytest.mark.parametrize("is_stream", [False, True])
def test_http_500_raises_internal_server_error(
    client: openai.OpenAI, server: ScriptedChatServer, is_stream: bool
) -> None:
    server.mode = "http_500"

    with pytest.raises(openai.InternalServerError) as caught:
        if is_stream:
            stream_text(client)
        else:
            create(client)

    assert caught.value.status_code == 500
    assert "scripted fault" in caught.value.message


@pytest.mark.parametrize("mode", ["slow", "hang"])
@pytest.mark.parametrize("is_stream", [False, True])
def test_slow_or_hung_answer_past_the_client_timeout_raises_api_timeout_error(
    server: ScriptedChatServer, is_stream: bool, mode: FaultMode
) -> None:
    server.mode = mode
    impatient = openai.OpenAI(
        base_url=server.base_url, api_key="test-key", max_retries=0, timeout=0.5
    )

    with pytest.raises(openai.APITimeoutError) as caught:
        if is_stream:
            stream_text(impatient)
        else:
            create(impatient)

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


def test_slow_answer_within_the_timeout_is_the_ok_answer(
    client: openai.OpenAI, server: ScriptedChatServer
) -> None:
    server.mode, server.slow_seconds = "slow", 0.05

    assert create(client) == ANSWER_OK


def test_cut_stream_raises_remote_protocol_error_after_the_first_words(
    client: openai.OpenAI, server: ScriptedChatServer
) -> None:
    server.mode = "cut_stream"
    received: list[str] = []

    # openai does not wrap errors raised while iterating a stream: the httpx error arrives raw.
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
        for chunk in client.chat.completions.create(
            model="scripted", messages=MESSAGES, stream=True
        ):
            received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "The "


def test_cut_body_without_streaming_raises_api_connection_error(
    client: openai.OpenAI, server: ScriptedChatServer
) -> None:
    server.mode = "cut_stream"

    with pytest.raises(openai.APIConnectionError) as caught:
        create(client)

    assert not isinstance(caught.value, openai.APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)


def test_bad_citations_cites_a_passage_that_does_not_exist(
    client: openai.OpenAI, server: ScriptedChatServer
) -> None:
    server.mode = "bad_citations"

    assert create(client) == BAD_CITATIONS == "Claim one [7]. Claim two [1]."
    assert stream_text(client) == BAD_CITATIONS


def test_no_citations_answers_without_markers(
    client: openai.OpenAI, server: ScriptedChatServer
) -> None:
    server.mode = "no_citations"

    assert create(client) == "The State shall build a national information network."
    assert stream_text(client) == "The State shall build a national information network."


@pytest.mark.parametrize("is_stream", [False, True])
def test_garbage_body_raises_json_decode_error(
    client: openai.OpenAI, server: ScriptedChatServer, is_stream: bool
) -> None:
    server.mode = "garbage"

    # openai 2.54 does not wrap a 200 whose JSON does not parse: json's own error arrives.
    with pytest.raises(json.JSONDecodeError):
        if is_stream:
            stream_text(client)
        else:
            create(client)


def test_mode_back_to_ok_answers_again_on_the_same_server(
    client: openai.OpenAI, server: ScriptedChatServer
) -> None:
    server.mode = "http_500"
    with pytest.raises(openai.InternalServerError):
        create(client)

    server.mode = "ok"

    assert create(client) == ANSWER_OK
    assert len(server.requests) == 2


def test_stopped_server_refuses_connections() -> None:
    server = ScriptedChatServer().start()
    client = openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0, timeout=5)
    assert create(client) == ANSWER_OK

    server.stop()
    server.stop()  # idempotent

    fresh = openai.OpenAI(base_url=client.base_url, api_key="test-key", max_retries=0, timeout=5)
    with pytest.raises(openai.APIConnectionError):
        create(fresh)


@pytest.mark.parametrize("mode", ["bad_citations", "no_citations"])
def test_citation_faults_leave_rewrites_alone(
    client: openai.OpenAI, server: ScriptedChatServer, mode: FaultMode
) -> None:
    server.mode = mode
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": prompts.REWRITE_SYSTEM},
        {"role": "user", "content": prompts.REWRITE_USER.format(history="", question="Why?")},
    ]

    assert stream_text(client, messages) == "Why? (standalone)"
