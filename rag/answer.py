"""Answerers: the `Answerer` role, the offline extractive default and an OpenAI-compatible one.

Both return a `Draft` whose [n] markers index the passages they were given (1-based); the
engine then checks every marker against its passage (`rag.cite`). The extractive answerer
quotes the document's own sentences, so it cannot misstate; it refuses when no sentence is
close enough to the question. The generative one calls any `/v1/chat/completions` endpoint
through the `openai` client, with bounded timeouts and retries; its failures are `LLMError`s
the engine turns into an offline answer plus a notice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ingest.chunk import count_tokens
from ingest.embed import Matrix
from ingest.errors import LLMError
from ingest.keyword import stems
from ingest.sentences import SentenceIndex
from rag import prompts
from rag.types import Passage, Turn

REFUSAL_TEXT = "The document does not say."
# Sentence score = 0.6 · cosine(question, sentence) + 0.4 · share of the question's content
# words found in the sentence. Meaning carries paraphrased questions, shared words carry
# names and numbers MiniLM blurs.
COSINE_WEIGHT = 0.6
# Below this best-sentence score the extractive answerer refuses (CALIBRATE: provisional).
REFUSAL_THRESHOLD = 0.45
# Extra sentences must score this close to the best one: keeps answers on the question.
KEEP_RELATIVE = 0.85
MAX_SENTENCES = 3
# Questions that ask for a date or a quantity favour sentences that hold one: "When was the
# notice issued?" shares no word with "19 March 2006". The bonus is small next to the
# 0..1 score so it only breaks near-ties.
ANSWER_TYPE_BONUS = 0.1
_ASKS_DATE = re.compile(r"\b(when|what (year|date|day)|which year|date)\b", re.IGNORECASE)
_ASKS_NUMBER = re.compile(
    r"\b(how (many|much)|what (share|percentage|proportion|number|figure)|per ?cent|%)", re.IGNORECASE
)
# A year on its own counts, a span of years ("2006-2020", a title) does not.
_HAS_DATE = re.compile(
    r"(?<![-\d])(1[89]\d\d|20\d\d)(?![-\d])|\b(January|February|March|April|May|June|July|August|September"
    r"|October|November|December)\b"
)
_HAS_NUMBER = re.compile(r"\d+(\.\d+)?\s*(%|per ?cent)|\b\d")


@dataclass(frozen=True)
class Draft:
    """An answer before citation checking: markers index the passages given to the answerer."""

    text: str
    refused: bool
    answerer: str
    notices: list[str] = field(default_factory=list)


class Answerer(Protocol):
    """Writes an answer with [n] markers from numbered passages."""

    @property
    def name(self) -> str: ...

    def answer(self, question: str, passages: Sequence[Passage], history: Sequence[Turn]) -> Draft: ...

    def stream(
        self, question: str, passages: Sequence[Passage], history: Sequence[Turn]
    ) -> Iterator[str]: ...


@dataclass(frozen=True)
class ScoredSentence:
    passage_index: int
    start: int
    end: int
    text: str
    score: float


def content_words(text: str) -> set[str]:
    """The stemmed content words of a text (the same tokens BM25 sees)."""
    return set(stems(text))


class ExtractiveAnswerer:
    """Answers with the retrieved sentences that best match the question (offline default)."""

    name = "extractive"

    def __init__(
        self,
        sentences: SentenceIndex,
        embed_query: Callable[[str], Matrix],
        refusal_threshold: float = REFUSAL_THRESHOLD,
    ) -> None:
        self._sentences = sentences
        # The engine passes a cached embed_query, so the question is embedded once per ask.
        self._embed_query = embed_query
        self._refusal_threshold = refusal_threshold
        self._rows_by_chunk: dict[str, list[int]] = {}
        for row, chunk_id in enumerate(sentences.chunk_ids):
            self._rows_by_chunk.setdefault(chunk_id, []).append(row)

    def score_sentences(
        self, question: str, passages: Sequence[Passage], query_vector: Matrix
    ) -> list[ScoredSentence]:
        """Every distinct sentence of the passages, scored against the question, best first."""
        question_words = content_words(question)
        wanted = [has for asks, has in ((_ASKS_DATE, _HAS_DATE), (_ASKS_NUMBER, _HAS_NUMBER)) if asks.search(question)]
        seen: set[tuple[int, int]] = set()
        scored: list[ScoredSentence] = []
        for index, passage in enumerate(passages):
            title_words = content_words(passage.section)
            rows = self._rows_by_chunk.get(passage.chunk_id, [])
            if not rows:
                continue
            cosines = self._sentences.vectors[rows] @ query_vector
            for row, cosine in zip(rows, cosines):
                span = (int(self._sentences.starts[row]), int(self._sentences.ends[row]))
                if span in seen:
                    continue
                seen.add(span)
                text = self._sentences.texts[row]
                overlap = _overlap(question_words, content_words(text), title_words)
                score = COSINE_WEIGHT * float(cosine) + (1 - COSINE_WEIGHT) * overlap
                if any(pattern.search(text) for pattern in wanted):
                    score += ANSWER_TYPE_BONUS
                scored.append(ScoredSentence(index, span[0], span[1], text, score))
        return sorted(scored, key=lambda s: -s.score)

    def answer(self, question: str, passages: Sequence[Passage], history: Sequence[Turn]) -> Draft:
        scored = self.score_sentences(question, passages, self._embed_query(question))
        if not scored or scored[0].score < self._refusal_threshold:
            return Draft(REFUSAL_TEXT, refused=True, answerer=self.name)
        best = scored[0].score
        chosen = [s for s in scored if s.score >= KEEP_RELATIVE * best][:MAX_SENTENCES]
        # A question asking for a date or a number gets the best sentence holding one, even
        # when a sentence without it matched the wording better: from the best sentence's own
        # passage (the date under a notice), or anywhere if it scores above refusal level.
        for asks, has in ((_ASKS_DATE, _HAS_DATE), (_ASKS_NUMBER, _HAS_NUMBER)):
            if asks.search(question) and not any(has.search(c.text) for c in chosen):
                holder = next(
                    (
                        c
                        for c in scored
                        if has.search(c.text)
                        and (c.passage_index == scored[0].passage_index or c.score >= self._refusal_threshold)
                    ),
                    None,
                )
                if holder is not None:
                    chosen.append(holder)
        # Read in document order, as the reader would meet the sentences.
        chosen.sort(key=lambda s: s.start)
        text = " ".join(_with_marker(s.text, s.passage_index + 1) for s in chosen)
        return Draft(text, refused=False, answerer=self.name)

    def stream(
        self, question: str, passages: Sequence[Passage], history: Sequence[Turn]
    ) -> Iterator[str]:
        yield self.answer(question, passages, history).text


def _overlap(question: set[str], sentence: set[str], title: set[str]) -> float:
    """Share of the question's words in the sentence; words found only in the sentence's
    section title count half (a sentence of "Plans for narrowing the digital divide" is about
    the divide even when it says "town and country")."""
    if not question:
        return 0.0
    in_sentence = question & sentence
    in_title_only = (question & title) - in_sentence
    return (len(in_sentence) + 0.5 * len(in_title_only)) / len(question)


def _with_marker(sentence: str, number: int) -> str:
    sentence = sentence.strip()
    if sentence and sentence[-1] in ".!?;:":
        return f"{sentence[:-1]} [{number}]{sentence[-1]}"
    return f"{sentence} [{number}]"


class OpenAIAnswerer:
    """Generates answers through any OpenAI-compatible `/v1/chat/completions` endpoint."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        timeout_s: float,
        max_retries: int,
        context_window: int,
        max_answer_tokens: int,
    ) -> None:
        import openai

        self.model = model
        self._context_window = context_window
        self._max_answer_tokens = max_answer_tokens
        # Local servers (llama.cpp, vLLM, Ollama) ignore the key, but the client requires one.
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "no-key-needed",
            timeout=timeout_s,
            max_retries=max_retries,
        )

    @property
    def name(self) -> str:
        return f"generative:{self.model}"

    def fit_passages(self, question: str, passages: Sequence[Passage]) -> list[str]:
        """Numbered passage blocks that fit the context window, best first."""
        budget = (
            self._context_window
            - self._max_answer_tokens
            - count_tokens(prompts.ANSWER_SYSTEM)
            - count_tokens(prompts.ANSWER_USER.format(passages="", question=question))
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

    def _messages(self, question: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
        blocks = self.fit_passages(question, passages)
        user = prompts.ANSWER_USER.format(passages="\n\n".join(blocks), question=question)
        return [
            {"role": "system", "content": prompts.ANSWER_SYSTEM},
            {"role": "user", "content": user},
        ]

    def complete(self, system: str, user: str, max_tokens: int | None = None) -> str:
        """One non-streamed completion; LLMError on any failure or an empty reply."""
        import openai

        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                max_tokens=max_tokens or self._max_answer_tokens,
                temperature=0,
            )
            content = response.choices[0].message.content if response.choices else None
        except openai.APIError as error:
            raise LLMError(f"the language model endpoint failed: {_describe(error)}") from None
        except Exception as error:  # a garbled body or a dropped connection
            raise LLMError(f"the language model endpoint failed: {type(error).__name__}") from None
        if not content or not content.strip():
            raise LLMError("the language model returned an empty answer")
        return content.strip()

    def answer(self, question: str, passages: Sequence[Passage], history: Sequence[Turn]) -> Draft:
        messages = self._messages(question, passages)
        text = self.complete(messages[0]["content"], messages[1]["content"])
        return Draft(text, refused=False, answerer=self.name)

    def stream(
        self, question: str, passages: Sequence[Passage], history: Sequence[Turn]
    ) -> Iterator[str]:
        """Yield text deltas as they arrive; LLMError if the stream fails or is cut."""
        import openai
        from openai.types.chat import ChatCompletionChunk

        messages = self._messages(question, passages)
        received = False
        try:
            stream = self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=self._max_answer_tokens,
                temperature=0,
                stream=True,
            )
            for event in stream:
                if not isinstance(event, ChatCompletionChunk):
                    continue
                if event.choices and event.choices[0].delta.content:
                    received = True
                    yield event.choices[0].delta.content
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

