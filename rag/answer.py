"""Generated answers: the `Answerer` role and its OpenAI-compatible implementation.

The offline answerer is `rag.compose`; this module is the swappable backend for a model behind
any `/v1/chat/completions` endpoint (OpenAI, Ollama, vLLM, llama.cpp server), called through
the `openai` client. Every call of one answer shares one `Deadline`: translation, follow-up
rewrite and the answer itself together may not take longer, so a hung endpoint costs the
reader at most that long before the offline answer is shown. Streams also have a first-token
timeout. Every failure is an `LLMError`, which the engine turns into the offline answer plus
a notice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ingest.chunk import count_tokens
from rag import prompts
from rag.errors import LLMError
from rag.types import Passage

REFUSAL_TEXT = "The document does not say."
# Below this much time left, a request is not started: it could not finish anyway.
MIN_REQUEST_S = 0.5


@dataclass(frozen=True)
class Deadline:
    """A point in time (monotonic clock) by which an answer must be done."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()


class Answerer(Protocol):
    """A model that writes answers with [n] markers from numbered passages."""

    @property
    def name(self) -> str: ...

    def stream(
        self, question: str, passages: Sequence[Passage], outline: str, deadline: Deadline
    ) -> Iterator[str]: ...

    def complete(
        self, system: str, user: str, deadline: Deadline | None = None, max_tokens: int | None = None
    ) -> str: ...


class OpenAIAnswerer:
    """Generates answers through any OpenAI-compatible `/v1/chat/completions` endpoint."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        timeout_s: float,
        first_token_s: float,
        max_retries: int,
        context_window: int,
        max_answer_tokens: int,
    ) -> None:
        import openai

        self.model = model
        self._timeout_s = timeout_s
        self._first_token_s = first_token_s
        self._max_retries = max_retries
        self._context_window = context_window
        self._max_answer_tokens = max_answer_tokens
        # Local servers (llama.cpp, vLLM, Ollama) ignore the key, but the client requires one.
        # Retries are ours (see _attempts), so each can be bounded by the answer's deadline.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "no-key-needed",
            timeout=timeout_s,
            max_retries=0,
        )

    @property
    def name(self) -> str:
        return f"generative:{self.model}"

    def fit_outline(self, outline: str) -> str:
        """The outline, cut to whole lines within a quarter of the context window: it helps
        with lists and overviews, but passages are what answers are made of."""
        budget = self._context_window // 4
        lines: list[str] = []
        for line in outline.splitlines():
            budget -= count_tokens(line) + 1
            if budget < 0:
                break
            lines.append(line)
        return "\n".join(lines)

    def fit_passages(self, question: str, passages: Sequence[Passage], outline: str) -> list[str]:
        """Numbered passage blocks that fit the context window (after the outline), best first."""
        budget = (
            self._context_window
            - self._max_answer_tokens
            - count_tokens(prompts.ANSWER_SYSTEM)
            - count_tokens(prompts.ANSWER_USER.format(outline=outline, passages="", question=question))
            - 64  # chat template tokens around each message
        )
        blocks: list[str] = []
        for number, passage in enumerate(passages, 1):
            block = prompts.PASSAGE.format(number=number, section=passage.section, text=passage.text)
            cost = count_tokens(block) + 2
            if cost > budget:
                break
            blocks.append(block)
            budget -= cost
        return blocks

    def messages(
        self, question: str, passages: Sequence[Passage], outline: str
    ) -> list[dict[str, str]]:
        outline = self.fit_outline(outline)
        blocks = self.fit_passages(question, passages, outline)
        user = prompts.ANSWER_USER.format(
            outline=outline, passages="\n\n".join(blocks), question=question
        )
        return [
            {"role": "system", "content": prompts.ANSWER_SYSTEM},
            {"role": "user", "content": user},
        ]

    def _client_for(self, deadline: Deadline, first_token: bool = False) -> Any:
        """The client with timeouts bounded by what is left of the deadline."""
        import httpx

        left = deadline.remaining()
        if left < MIN_REQUEST_S:
            raise LLMError("the language model did not answer in time")
        read = min(self._first_token_s if first_token else self._timeout_s, self._timeout_s, left)
        timeout = httpx.Timeout(min(self._timeout_s, left), connect=min(5.0, left), read=read)
        return self._client.with_options(timeout=timeout)

    def _attempts(self, deadline: Deadline) -> Iterator[int]:
        for attempt in range(self._max_retries + 1):
            if deadline.remaining() < MIN_REQUEST_S:
                return
            yield attempt

    def complete(
        self, system: str, user: str, deadline: Deadline | None = None, max_tokens: int | None = None
    ) -> str:
        """One non-streamed completion within `deadline` (default: one request's timeout);
        LLMError on failure or an empty reply."""
        import openai

        deadline = deadline or Deadline.after(self._timeout_s)
        failure = "the language model did not answer in time"
        for _ in self._attempts(deadline):
            try:
                response = self._client_for(deadline).chat.completions.create(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": user},
                    ],
                    max_tokens=max_tokens or self._max_answer_tokens,
                    temperature=0,
                )
                content = response.choices[0].message.content if response.choices else None
            except LLMError:
                raise
            except openai.APITimeoutError:
                failure = "the language model did not answer in time"
                continue
            except openai.APIError as error:
                failure = f"the language model endpoint failed: {_describe(error)}"
                continue
            except Exception as error:  # a garbled body or a dropped connection
                failure = f"the language model endpoint failed: {type(error).__name__}"
                continue
            if not content or not content.strip():
                raise LLMError("the language model returned an empty answer")
            return str(content).strip()
        raise LLMError(failure)

    def stream(
        self, question: str, passages: Sequence[Passage], outline: str, deadline: Deadline
    ) -> Iterator[str]:
        """Yield text deltas as they arrive; LLMError if the stream fails, stalls past the
        first-token timeout, runs past the deadline, or is cut."""
        import openai
        from openai.types.chat import ChatCompletionChunk

        messages = self.messages(question, passages, outline)
        received = False
        try:
            stream = self._client_for(deadline, first_token=True).chat.completions.create(
                model=self.model,
                messages=messages,
                max_tokens=self._max_answer_tokens,
                temperature=0,
                stream=True,
            )
            for event in stream:
                if deadline.remaining() <= 0:
                    raise LLMError("the language model did not finish in time")
                if not isinstance(event, ChatCompletionChunk):
                    continue
                if event.choices and event.choices[0].delta.content:
                    received = True
                    yield event.choices[0].delta.content
        except LLMError:
            raise
        except openai.APITimeoutError:
            raise LLMError("the language model did not answer in time") from None
        except openai.APIError as error:
            raise LLMError(f"the language model endpoint failed: {_describe(error)}") from None
        except Exception as error:  # httpx transport errors when the stream is cut
            raise LLMError(f"the answer stream was cut off: {type(error).__name__}") from None
        if not received:
            raise LLMError("the language model returned an empty answer")


def _describe(error: Exception) -> str:
    status = getattr(error, "status_code", None)
    name = type(error).__name__
    return f"{name} (HTTP {status})" if status else name
