"""QAEngine: wires store, embedder, retriever and answerers; `ask()` is the product.

One engine serves many questions (and threads: the page's queue calls it concurrently). It
opens the index lazily (`ingest.index.open_index`: manifest, document records and the local
keyword cache, never the corpus), building it from the configured corpus on first use only in
a data folder that never held an index, and checks the store for other processes' changes
before each question (every `refresh_s` seconds at most). Each ask:
  question → sanitise → standalone (follow-ups) → English (Chinese) → retrieve → draft
  (LLM if configured, else extractive; LLM failure → extractive + notice) → check citations.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import unicodedata
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ingest.chunk import ChunkParams
from ingest.embed import Embedder, MiniLMEmbedder, set_offline_defaults
from ingest.errors import IndexNotReadyError, LLMError, QuestionError
from ingest.index import Index, has_held_index, open_index, open_store
from ingest.keyword import stems
from ingest.pipeline import ProgressLine, ingest_paths
from ingest.store import ChromaStore
from rag import prompts
from rag.answer import REFUSAL_TEXT, Draft, ExtractiveAnswerer, OpenAIAnswerer
from rag.cite import REFUSAL_PATTERN, SupportScorer, check_citations
from rag.retrieve import HybridRetriever
from rag.settings import Settings, load_settings
from rag.types import Answer, AnswerMode, Passage, RetrievalMode, Turn
from rag.zh_glossary import translate_terms

# Longer questions are cut: a question is a sentence or two, not a document, and a 100 KB
# paste would otherwise cost seconds of tokenising for nothing.
MAX_QUESTION_CHARS = 1000
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_FOLLOW_UP_START = re.compile(
    r"^\s*(and|also|what about|how about|and what|why|what else|more on|tell me more)\b",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those|there)\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Loaded:
    """What the engine keeps once the index is open (the index follows the store itself)."""

    index: Index
    retriever: HybridRetriever
    extractive: ExtractiveAnswerer
    scorer: SupportScorer


def sanitize_question(question: str) -> tuple[str, list[str]]:
    """Strip control characters and excess space, cap the length; QuestionError if nothing is left."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    notices: list[str] = []
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in question
    )
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if not cleaned:
        raise QuestionError("the question is empty: type a question about the document")
    if len(cleaned) > MAX_QUESTION_CHARS:
        notices.append(
            f"Your question was {len(cleaned):,} characters long; only the first "
            f"{MAX_QUESTION_CHARS:,} were used."
        )
        cleaned = cleaned[:MAX_QUESTION_CHARS]
    return cleaned, notices


def is_chinese(text: str) -> bool:
    """True when Chinese characters outnumber Latin words (a question asked in Chinese)."""
    return len(_CJK.findall(text)) > 2 * len(_LATIN_WORD.findall(text))


def is_follow_up(question: str) -> bool:
    """Offline guess: short, or opens like a follow-up, or leans on a pronoun."""
    words = question.split()
    return bool(_FOLLOW_UP_START.match(question)) or len(words) <= 4 or (
        len(words) <= 10 and bool(_PRONOUN.search(question))
    )


_TOPIC_SWAP = re.compile(
    r"^\W*(?:and\s+)?(?:also\s+)?(?:what|how)\s+about\s+(?:the\s+)?(?P<topic>.+?)\W*$"
    r"|^\W*and\s+(?:for\s+|in\s+)?(?:the\s+)?(?P<topic2>.+?)\W*$",
    re.IGNORECASE,
)


def rewrite_follow_up(question: str, previous: str, embedder: Embedder) -> str:
    """Offline rewrite of a follow-up into a standalone question.

    "And what about e-commerce?" after "What does the e-government action plan require?"
    swaps the previous question's word closest in meaning to the new topic (by the bundled
    embedder): "What does the e-commerce action plan require?". Any other follow-up is
    searched together with the question it follows.
    """
    match = _TOPIC_SWAP.match(question)
    topic = (match["topic"] or match["topic2"]) if match else None
    words = previous.split()
    candidates = [
        (i, w.strip("?.,;:!\"“”'")) for i, w in enumerate(words) if stems(w.strip("?.,;:!\"“”'"))
    ]
    if not topic or len(topic.split()) > 6 or not candidates:
        return f"{question} {previous}"
    vectors = embedder.embed_documents([topic] + [w for _, w in candidates])
    similarity = vectors[1:] @ vectors[0]
    best = int(similarity.argmax())
    index, word = candidates[best]
    words[index] = words[index].replace(word, topic)
    return " ".join(words)


class QAEngine:
    """Answers questions over the index described by `settings` (see the module docstring)."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        set_offline_defaults()
        self.settings = settings
        self.embedder: Embedder = embedder or MiniLMEmbedder()
        self._embed_query = lru_cache(maxsize=512)(self.embedder.embed_query)
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self.generative: OpenAIAnswerer | None = None
        if settings.llm_configured:
            self.generative = OpenAIAnswerer(
                base_url=settings.llm_base_url,
                api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
                model=settings.llm_model,
                timeout_s=settings.llm_timeout_s,
                max_retries=settings.llm_max_retries,
                context_window=settings.llm_context_window,
                max_answer_tokens=settings.llm_max_answer_tokens,
            )

    # --- index ----------------------------------------------------------------------------
    @property
    def chunk_params(self) -> ChunkParams:
        return ChunkParams(self.settings.chunk_tokens, self.settings.chunk_overlap_tokens)

    def open_store(self) -> ChromaStore:
        """The Chroma store the settings name (for writing tools; answering uses the index)."""
        return open_store(self.settings)

    def _load(self) -> _Loaded:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._open_index()
        loaded = self._loaded
        # Cheap: reads the store's generation at most every refresh_s seconds.
        loaded.index.refresh()
        return loaded

    def _open_index(self) -> _Loaded:
        try:
            index = open_index(self.settings, self.embedder)
        except IndexNotReadyError:
            # Only a data folder that never held an index gets the bundled corpus: anywhere
            # else an empty store means lost documents, which must not be papered over.
            if has_held_index(self.settings.data_dir):
                raise
            print("citeqa: no index yet; building it from the bundled corpus …", file=sys.stderr)
            ingest_paths(self.settings.corpus, self.settings, self.embedder, progress=ProgressLine())
            index = open_index(self.settings, self.embedder)
        return _Loaded(
            index=index,
            retriever=HybridRetriever(index, self.embedder),
            extractive=ExtractiveAnswerer(index, self._embed_query),
            scorer=SupportScorer(self.embedder, index),
        )

    def warm_up(self) -> None:
        """Open the index now (building it if needed) instead of at the first question."""
        self._load()

    def document_text(self, doc_id: str) -> str | None:
        """The clean text of a document, for showing a cited passage in its context."""
        return self._load().index.document_text(doc_id)

    def document_window(self, doc_id: str, start: int, end: int) -> tuple[str, int] | None:
        """The text around a span (±1,500 characters) and the offset it starts at; reads only
        the stored text blocks it needs (None for an unknown document)."""
        return self._load().index.document_window(doc_id, start, end)

    # --- questions ------------------------------------------------------------------------
    def answerer_name(self, mode: AnswerMode | None = None) -> str:
        """Who answers in `mode`: 'extractive' or 'generative:<model>'."""
        return self.generative.name if self._use_generative(mode) and self.generative else "extractive"

    def _use_generative(self, mode: AnswerMode | None) -> bool:
        mode = mode or self.settings.answer_mode
        if mode == "generative" and self.generative is None:
            raise QuestionError(
                "generative answers need an LLM endpoint: set CITEQA_LLM_BASE_URL or OPENAI_API_KEY"
            )
        return mode != "extractive" and self.generative is not None

    def standalone_question(
        self, question: str, history: Sequence[Turn], use_llm: bool
    ) -> tuple[str, list[str]]:
        """The question to search: follow-ups made standalone, Chinese put into English."""
        notices: list[str] = []
        if history and is_follow_up(question):
            if use_llm and self.generative:
                try:
                    turns = "\n".join(f"Q: {t.question}\nA: {t.answer}" for t in history[-3:])
                    question = self.generative.complete(
                        prompts.REWRITE_SYSTEM,
                        prompts.REWRITE_USER.format(history=turns, question=question),
                        max_tokens=96,
                    )
                except LLMError:
                    question = rewrite_follow_up(question, history[-1].question, self.embedder)
            else:
                question = rewrite_follow_up(question, history[-1].question, self.embedder)
        if is_chinese(question):
            translated = None
            if use_llm and self.generative:
                try:
                    translated = self.generative.complete(
                        prompts.TRANSLATE_SYSTEM,
                        prompts.TRANSLATE_USER.format(question=question),
                        max_tokens=128,
                    )
                except LLMError:
                    translated = None
            if translated is None:
                translated = translate_terms(question)
                notices.append(
                    "Offline mode read this Chinese question through a glossary of key terms "
                    f"(searched as: “{translated or '—'}”); the answer quotes the English "
                    "document. Configure an LLM endpoint for translation."
                )
            question = translated or question
        return question, notices

    def evidence_score(self, question: str, k: int | None = None) -> float:
        """The extractive answerer's best-sentence score for a question (0..~1.1): what its
        refusal threshold is compared with. For calibration (`citeqa eval --calibrate`)."""
        cleaned, _ = sanitize_question(question)
        standalone, _ = self.standalone_question(cleaned, (), use_llm=False)
        loaded = self._load()
        vector = self._embed_query(standalone)
        passages = loaded.retriever.retrieve(standalone, k or self.settings.top_k, "hybrid", vector)
        scored = loaded.extractive.score_sentences(standalone, passages, vector)
        return scored[0].score if scored else 0.0

    def support(self, claims: Sequence[str], passages: Sequence[Passage]) -> list[list[float]]:
        """support[i][j]: how well passage j supports claim i (see `rag.cite`). For calibration."""
        return [[float(x) for x in row] for row in self._load().scorer.support_matrix(claims, passages)]

    def retrieve(
        self,
        question: str,
        k: int | None = None,
        mode: RetrievalMode | None = None,
        *,
        documents: Collection[str] | None = None,
    ) -> list[Passage]:
        """The k best passages for a question (default top_k and retrieval mode from settings),
        from all documents or only those whose ids are in `documents`."""
        cleaned, _ = sanitize_question(question)
        if is_chinese(cleaned):
            cleaned = translate_terms(cleaned) or cleaned
        loaded = self._load()
        k = k or self.settings.top_k
        mode = mode or self.settings.retrieval_mode
        vector = self._embed_query(cleaned) if mode != "keyword" else None
        return loaded.retriever.retrieve(cleaned, k, mode, query_vector=vector, documents=documents)

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        mode: AnswerMode | None = None,
        retrieval: RetrievalMode | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Answer a question with cited passages (see `rag.ask`)."""
        final: Answer | None = None
        for item in self.ask_stream(
            question, top_k=top_k, mode=mode, retrieval=retrieval, history=history, stream=False
        ):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def ask_stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        mode: AnswerMode | None = None,
        retrieval: RetrievalMode | None = None,
        history: Sequence[Turn] = (),
        stream: bool = True,
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is written (str deltas), then the checked `Answer` last.

        The streamed text is the model's raw draft; the final Answer's text is the checked one
        (markers repaired and renumbered), which a page should show once it arrives.
        Raises QuestionError for an empty question; never raises for LLM failures.
        """
        started = time.perf_counter()
        original = question
        question, notices = sanitize_question(question)
        use_llm = self._use_generative(mode)
        loaded = self._load()
        standalone, more = self.standalone_question(question, history, use_llm)
        notices += more
        k = top_k or self.settings.top_k
        retrieval_mode = retrieval or self.settings.retrieval_mode
        vector = self._embed_query(standalone) if retrieval_mode != "keyword" else None
        retrieved = loaded.retriever.retrieve(standalone, k, retrieval_mode, query_vector=vector)

        draft: Draft | None = None
        # The model is asked in the reader's language (it answers in it); retrieval used the
        # English translation, which is given alongside.
        asked = f"{question}\n(In English: {standalone})" if is_chinese(question) else standalone
        if use_llm and self.generative and retrieved:
            pieces: list[str] = []
            try:
                if stream:
                    for delta in self.generative.stream(asked, retrieved, history):
                        pieces.append(delta)
                        yield delta
                    draft = Draft("".join(pieces), refused=False, answerer=self.generative.name)
                else:
                    draft = self.generative.answer(asked, retrieved, history)
            except LLMError as error:
                notices.append(f"{error}; showing the offline answer instead.")
        if draft is None:
            draft = loaded.extractive.answer(standalone, retrieved, history)
            if stream:
                yield draft.text

        yield self._finish(
            original, standalone, draft, retrieved, notices, loaded, started
        )

    def _finish(
        self,
        original: str,
        standalone: str,
        draft: Draft,
        retrieved: list[Passage],
        notices: list[str],
        loaded: _Loaded,
        started: float,
    ) -> Answer:
        if draft.refused:
            return Answer(
                question=standalone,
                original_question=original,
                answer=draft.text,
                citations=[],
                retrieved=retrieved,
                refused=True,
                answerer=draft.answerer,
                notices=notices,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        checked = check_citations(draft.text, retrieved, loaded.scorer)
        refused = not checked.citations and bool(REFUSAL_PATTERN.search(checked.text))
        text = checked.text or REFUSAL_TEXT
        if not checked.citations and not refused:
            notices.append("No sentence of this answer is supported by a retrieved passage.")
        return Answer(
            question=standalone,
            original_question=original,
            answer=text,
            citations=checked.citations,
            retrieved=retrieved,
            refused=refused,
            sentences=checked.sentences,
            answerer=draft.answerer,
            notices=notices,
            latency_ms=(time.perf_counter() - started) * 1000,
        )


@lru_cache(maxsize=1)
def default_engine() -> QAEngine:
    """The engine `rag.ask` uses: settings from the environment, built once per process."""
    return QAEngine(load_settings())


def ask(
    question: str,
    *,
    top_k: int | None = None,
    mode: AnswerMode | None = None,
    retrieval: RetrievalMode | None = None,
    history: Sequence[Turn] = (),
) -> Answer:
    """Answer `question` from the indexed document, with cited passages.

    Args: top_k passages to retrieve (default CITEQA_TOP_K), mode "auto" | "extractive" |
    "generative", retrieval "hybrid" | "dense" | "keyword", history of earlier turns for
    follow-up questions. Returns an `Answer`; `refused` is True when the document does not
    say. Raises QuestionError for an empty question, IndexNotReadyError /
    IndexMismatchError / StoreUnavailableError when the index cannot be used. LLM failures
    never raise: the offline answer comes back with a notice.
    """
    return default_engine().ask(
        question, top_k=top_k, mode=mode, retrieval=retrieval, history=history
    )


def ask_stream(
    question: str,
    *,
    top_k: int | None = None,
    mode: AnswerMode | None = None,
    history: Sequence[Turn] = (),
) -> Iterator[str | Answer]:
    """Like `ask`, but yields text deltas as they are generated and the `Answer` last."""
    return default_engine().ask_stream(question, top_k=top_k, mode=mode, history=history)


def retrieve(question: str, k: int = 5, *, mode: RetrievalMode | None = None) -> list[Passage]:
    """The k best passages for `question`, best first (no answer written)."""
    return default_engine().retrieve(question, k, mode)
