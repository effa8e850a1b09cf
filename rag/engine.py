"""QAEngine: wires index, embedder, retriever and answerers; `ask()` is the product.

One engine serves many questions (and threads: the page's queue calls it concurrently). It
opens the index lazily (building the bundled corpus on first use, see `_open_index`). Each ask:
  question → sanitise (rag.question) → standalone (follow-ups, Chinese) → spelling → retrieve
  → a model's draft checked against its passages (rag.answer, rag.cite), or on any model
  failure, or offline, the composed extractive answer (rag.compose) → Answer.
"""

from __future__ import annotations

import copy
import re
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import get_args

from ingest.chunk import Chunk, ChunkParams
from ingest.embed import Embedder, MiniLMEmbedder, set_offline_defaults
from ingest.errors import IndexNotReadyError
from ingest.index import Index, has_held_index, open_index, open_store
from ingest.pipeline import ProgressEvent, ProgressLine, ingest_paths
from ingest.pipeline import delete_document as remove_document
from ingest.store import ChromaStore
from rag import prompts
from rag.answer import REFUSAL_TEXT, Deadline, OpenAIAnswerer
from rag.cite import REFUSAL_PATTERN, CheckedAnswer, assemble, check_citations
from rag.compose import Composer, Composition, Retrieved
from rag.errors import CiteqaError, LLMError, QuestionError
from rag.evidence import Evidence, SentenceRow
from rag.policy import AnswerPolicy
from rag.question import (
    ScopeReference,
    correct_spelling,
    is_chinese,
    is_follow_up,
    previous_topic,
    sanitize_question,
    scope_references,
    swap_topic,
    topic_words,
    well_formed,
    without_scope,
)
from rag.retrieve import HybridRetriever, to_passage
from rag.settings import Settings, load_settings
from rag.structure import OutlineSection
from rag.types import Answer, AnswerMode, DocumentInfo, Passage, RetrievalMode, Turn
from rag.zh_glossary import translate_terms

MAX_TOP_K = 50
_PRONOUN_SUBJECT = ("it", "they", "them", "these", "those", "this", "that")


class IndexView:
    """What the answer layer reads from the open index, in its own terms: sentence rows, word
    statistics, and each document's outline and section passages (the protocols of
    rag.evidence and rag.structure). Corpus word statistics come from the keyword cache, so
    they count BM25's stems, which share the Snowball stemmer with rag.evidence."""

    def __init__(self, index: Index) -> None:
        self._index = index

    # SentenceSource
    def sentence_rows(self, chunk_ids: Sequence[str]) -> Mapping[str, Sequence[SentenceRow]]:
        rows = self._index.sentence_rows(chunk_ids)
        return {
            chunk_id: [
                SentenceRow(chunk_id, int(start), int(end), text, vector)
                for start, end, text, vector in zip(
                    found.starts.tolist(), found.ends.tolist(), found.texts, found.vectors
                )
            ]
            for chunk_id, found in rows.items()
        }

    # TermStatistics
    @property
    def n_chunks(self) -> int:
        return self._index.chunk_count

    def document_frequency(self, stem: str) -> int:
        return self._index.chunk_frequency(stem)

    def has_word(self, word: str) -> bool:
        return self._index.word_frequency(word) > 0

    def word_frequency(self, word: str) -> int:
        return self._index.word_frequency(word)

    # StructureSource
    def outline(self, doc_id: str) -> Sequence[OutlineSection]:
        return self._index.outline(doc_id)

    def section_passages(self, doc_id: str, path: str) -> Sequence[Passage]:
        ids = self._index.section_chunk_ids(doc_id, path)
        chunks = self._index.chunks(ids)
        return [to_passage(chunks[i], 0.0) for i in ids if i in chunks]

    def outline_text(self, doc_ids: Sequence[str]) -> str:
        """Part and section titles of the documents, one per line (for a model's prompt)."""
        lines: list[str] = []
        for doc_id in doc_ids:
            for section in self.outline(doc_id):
                indent = "  " if section.number else ""
                lines.append(f"{indent}{section.path}")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Loaded:
    """What the engine keeps once the index is open (the index follows the store itself)."""

    index: Index
    retriever: HybridRetriever
    view: IndexView


def rewrite_follow_up(question: str, previous: str, embedder: Embedder) -> str:
    """A follow-up made standalone, offline.

    "And what about e-commerce?" after "What does the e-government action plan require?"
    swaps the previous question's word closest in meaning to the new topic (by the bundled
    embedder): "What does the e-commerce action plan require?". A pronoun without its referent
    ("Why is it important?") takes the previous question's topic ("Why is information security
    important?"); an elided subject gets the topic added ("Which comes first? (action plans)").
    """
    topic = swap_topic(question)
    if topic is not None:
        words = previous.split()
        candidates = [
            (i, w.strip("?.,;:!\"“”'")) for i, w in enumerate(words) if topic_words(w.strip("?.,;:!\"“”'"))
        ]
        if candidates:
            vectors = embedder.embed_documents([topic] + [w for _, w in candidates])
            best = int((vectors[1:] @ vectors[0]).argmax())
            index, word = candidates[best]
            words[index] = words[index].replace(word, topic)
            return " ".join(words)
    subject = previous_topic(previous)
    if not subject:
        return question
    for pronoun in _PRONOUN_SUBJECT:
        replaced, count = _replace_word(question, pronoun, subject)
        if count:
            return replaced
    return f"{question.rstrip()} ({subject})"


def _replace_word(text: str, word: str, by: str) -> tuple[str, int]:
    return re.subn(rf"\b{word}\b(?!\s+(?:is|are)\b\s+\w+ing)", by, text, count=1, flags=re.IGNORECASE)


class QAEngine:
    """Answers questions over the index described by `settings` (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        policy: AnswerPolicy | None = None,
    ) -> None:
        set_offline_defaults()
        self.settings = settings
        self.policy = policy or AnswerPolicy()
        self.embedder: Embedder = embedder or MiniLMEmbedder()
        self._embed_query = lru_cache(maxsize=1024)(self.embedder.embed_query)
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self.generative: OpenAIAnswerer | None = None
        if settings.llm_configured:
            self.generative = OpenAIAnswerer(
                base_url=settings.llm_base_url,
                api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
                model=settings.llm_model,
                timeout_s=settings.llm_timeout_s,
                first_token_s=settings.llm_first_token_s,
                max_retries=settings.llm_max_retries,
                context_window=settings.llm_context_window,
                max_answer_tokens=settings.llm_max_answer_tokens,
            )

    def with_policy(self, policy: AnswerPolicy) -> QAEngine:
        """An engine answering with `policy` that shares this one's open index and models (for
        sensitivity runs: no second index load)."""
        other = copy.copy(self)
        other.policy = policy
        return other

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
            view=IndexView(index),
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
        self, question: str, history: Sequence[Turn], use_llm: bool, deadline: Deadline | None = None
    ) -> tuple[str, list[str]]:
        """The question to search: follow-ups made standalone, Chinese put into English."""
        notices: list[str] = []
        deadline = deadline or Deadline.after(self.settings.llm_deadline_s)
        if history and is_follow_up(question):
            rewritten = None
            if use_llm and self.generative:
                try:
                    turns = "\n".join(f"Q: {t.question}\nA: {t.answer}" for t in history[-3:])
                    rewritten = self.generative.complete(
                        prompts.REWRITE_SYSTEM,
                        prompts.REWRITE_USER.format(history=turns, question=question),
                        deadline,
                        max_tokens=96,
                    )
                except LLMError:
                    rewritten = None
            if rewritten is None:
                previous = history[-1].question
                if is_chinese(previous):
                    previous = translate_terms(previous) or previous
                asked = translate_terms(question) if is_chinese(question) else question
                rewritten = rewrite_follow_up(asked or question, previous, self.embedder)
            question = rewritten
        if is_chinese(question):
            translated = None
            if use_llm and self.generative:
                try:
                    translated = self.generative.complete(
                        prompts.TRANSLATE_SYSTEM,
                        prompts.TRANSLATE_USER.format(question=question),
                        deadline,
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

    def _search(
        self,
        question: str,
        k: int,
        mode: RetrievalMode,
        scope: Sequence[ScopeReference] = (),
        documents: Collection[str] | None = None,
    ) -> Retrieved:
        loaded = self._load()
        vector = self._embed_query(question)

        def keep(chunk: Chunk) -> bool:
            return any(
                chunk.part == s.part and (not s.section or chunk.section_number == s.section)
                for s in scope
            )

        # The document selection filters inside both rankers (Chroma's where, the keyword
        # cache's document mask); a named part is checked on the chunks that come back.
        search = loaded.retriever.search(
            question, k, mode, query_vector=vector, documents=documents,
            keep=keep if scope else None,
        )
        passages = search.passages
        if scope and not passages:
            # Nothing in the named part matches the words: its opening passages stand in.
            searched = documents if documents is not None else list(loaded.index.documents)
            passages = [
                p
                for doc_id in searched
                for s in scope
                for section in loaded.view.outline(doc_id)
                if section.part == s.part and (not s.section or section.number == s.section)
                for p in loaded.view.section_passages(doc_id, section.path)[:1]
            ][:k]
        return Retrieved(passages, vector, search.dense_top, search.keyword_top)

    def passages(self) -> list[Passage]:
        """Every passage of the index, in document order (read from the store page by page,
        for evaluation; no retrieval)."""
        return [to_passage(c, 0.0) for c in self._load().index.iter_chunks()]

    def retrieve(
        self, question: str, k: int | None = None, mode: RetrievalMode | None = None
    ) -> list[Passage]:
        """The k best passages for a question (default top_k and retrieval mode from settings)."""
        checked_k, _, mode = _checked_arguments(k, None, mode)
        k = checked_k or self.settings.top_k
        cleaned, _ = sanitize_question(question)
        if is_chinese(cleaned):
            cleaned = translate_terms(cleaned) or cleaned
        loaded = self._load()
        mode = mode or self.settings.retrieval_mode
        vector = self._embed_query(cleaned) if mode != "keyword" else None
        return loaded.retriever.retrieve(cleaned, k, mode, vector)

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        mode: AnswerMode | None = None,
        retrieval: RetrievalMode | None = None,
        history: Sequence[Turn] = (),
        documents: Sequence[str] | None = None,
    ) -> Answer:
        """Answer a question with cited passages (see `rag.ask`)."""
        final: Answer | None = None
        for item in self.ask_stream(
            question,
            top_k=top_k,
            mode=mode,
            retrieval=retrieval,
            history=history,
            stream=False,
            documents=documents,
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
        documents: Sequence[str] | None = None,
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is written (str deltas), then the checked `Answer` last.

        The streamed text is the model's raw draft; the final Answer's text is the checked one
        (markers repaired and renumbered), which a page should show once it arrives.
        `documents` limits the search to those doc ids (None: every document).
        Raises QuestionError for an unusable question and ValueError for a bad argument
        (including a doc id the index does not hold); never raises for LLM failures.
        """
        started = time.perf_counter()
        k, mode, retrieval = _checked_arguments(top_k, mode, retrieval)
        text, notices = sanitize_question(question)
        original = well_formed(question)  # shown, stored and sent as JSON: must encode
        use_llm = self._use_generative(mode)
        loaded = self._load()
        searched_documents = self._checked_documents(documents, loaded)
        deadline = Deadline.after(self.settings.llm_deadline_s)
        follow_up = bool(history) and is_follow_up(text)
        standalone, more = self.standalone_question(text, history, use_llm, deadline)
        notices += more
        searched, fixes = correct_spelling(standalone, loaded.view.word_frequency)
        if fixes:
            notices.append(
                "Read " + ", ".join(f"“{written}” as “{read}”" for written, read in fixes) + "."
            )
        k = k or self.settings.top_k
        retrieval_mode: RetrievalMode = retrieval or self.settings.retrieval_mode
        # "What does Part IV say about security?" is asked of Part IV: the search stays in the
        # part the reader named, unless no searched document has such a part.
        scope = scope_references(searched)
        retrieved = self._search(searched, k, retrieval_mode, scope, documents=searched_documents)
        if scope and not retrieved.passages:
            named = ", ".join(f"Part {s.label}" for s in scope)
            retrieved = self._search(searched, k, retrieval_mode, documents=searched_documents)
            if not topic_words(without_scope(searched)):
                # "What does Part VI cover?" asks about nothing but a part the text lacks.
                notices.append(f"No searched document has {named}.")
                refusal = Composition("refuse", 0.0, "overview")
                yield self._from_composition(refusal, searched, original, retrieved, notices, started)
                return
            notices.append(f"No searched document has {named}; the whole text was searched.")

        checked: CheckedAnswer | None = None
        answerer = "extractive"
        if use_llm and self.generative and retrieved.passages:
            # The model is asked in the reader's language (it answers in it); retrieval used
            # the English translation, which is given alongside.
            asked = f"{text}\n(In English: {searched})" if is_chinese(text) else searched
            outline = loaded.view.outline_text(list(dict.fromkeys(p.doc for p in retrieved.passages)))
            pieces: list[str] = []
            try:
                for delta in self.generative.stream(asked, retrieved.passages, outline, deadline):
                    pieces.append(delta)
                    if stream:
                        yield delta
                evidence = self._evidence(loaded)
                checked = check_citations(
                    "".join(pieces), retrieved.passages, evidence, self.policy.support_threshold
                )
                answerer = self.generative.name
            except LLMError as error:
                notices.append(f"{error}; showing the offline answer instead.")
        if checked is not None:
            refused = not checked.citations and bool(REFUSAL_PATTERN.search(checked.text))
            if not checked.citations and not refused:
                notices.append("No sentence of this answer is supported by a retrieved passage.")
            answer = Answer(
                question=searched,
                original_question=original,
                answer=checked.text or REFUSAL_TEXT,
                citations=checked.citations,
                retrieved=retrieved.passages,
                refused=refused,
                sentences=checked.sentences,
                answerer=answerer,
                notices=notices,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
            yield answer
            return
        composition = self._composer(loaded).compose(
            searched,
            retrieved,
            lambda part, scope: self._search(
                part, k, retrieval_mode, scope, documents=searched_documents
            ),
            previous_answer=history[-1].answer if follow_up else "",
        )
        answer = self._from_composition(composition, searched, original, retrieved, notices, started)
        if stream:
            yield answer.answer
        yield answer

    def evidence(self) -> Evidence:
        """The sentence scorer and support check over the open index, under this engine's
        policy (for the citation check, calibration and tests)."""
        return self._evidence(self._load())

    def _evidence(self, loaded: _Loaded) -> Evidence:
        return Evidence(loaded.view, loaded.view, self.embedder.embed_documents, self.policy)

    def _composer(self, loaded: _Loaded) -> Composer:
        return Composer(
            self._evidence(loaded), loaded.view, loaded.view, self._embed_query, self.policy
        )

    def _from_composition(
        self,
        composition: Composition,
        searched: str,
        original: str,
        retrieved: Retrieved,
        notices: list[str],
        started: float,
    ) -> Answer:
        if composition.decision == "refuse":
            return Answer(
                question=searched,
                original_question=original,
                answer=REFUSAL_TEXT,
                citations=[],
                retrieved=retrieved.passages,
                refused=True,
                answerer="extractive",
                notices=notices,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        assembled = assemble(composition.sentences)
        return Answer(
            question=searched,
            original_question=original,
            answer=assembled.text,
            citations=assembled.citations,
            retrieved=retrieved.passages,
            refused=False,
            caveat=composition.decision == "caveat",
            sentences=assembled.sentences,
            answerer="extractive",
            notices=notices,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def answerability(self, question: str, k: int | None = None) -> Composition:
        """The offline answerer's decision and its features for a standalone question (for
        calibration: `citeqa eval --calibrate` fits the model on these features)."""
        text, _ = sanitize_question(question)
        loaded = self._load()
        standalone, _ = self.standalone_question(text, (), use_llm=False)
        searched, _ = correct_spelling(standalone, loaded.view.word_frequency)
        k = k or self.settings.top_k
        retrieved = self._search(searched, k, self.settings.retrieval_mode)
        return self._composer(loaded).compose(
            searched, retrieved, lambda part, scope: self._search(part, k, "hybrid", scope)
        )

    # --- documents (page API) -------------------------------------------------------------
    # What the page calls to list, add and remove documents, so that it never touches the
    # store: ingest.pipeline writes (a document at a time, atomically for readers) and the
    # open index catches up through its generation check.

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document, by title."""
        records = self._load().index.documents.values()
        infos = [
            DocumentInfo(
                doc_id=record.doc_id,
                title=record.title,
                kind=record.kind,
                pages=record.pages or None,
                chunks=record.chunks,
                added_at=record.added_at,
                source=record.source,
            )
            for record in records
        ]
        return sorted(infos, key=lambda info: (info.title.lower(), info.doc_id))

    def add_documents(
        self,
        paths: Sequence[Path],
        on_progress: Callable[[str, int, int], None] | None = None,
    ) -> list[DocumentInfo]:
        """Ingest `paths` (a changed file replaces its earlier version) and return their
        DocumentInfo. `on_progress(stage, done, total)` hears every stage of the ingest
        (read … keyword). Raises InputFileError (one line naming the file) for a file that
        cannot be used or whose document id another file already holds, before anything is
        written."""

        def progress(event: ProgressEvent) -> None:
            if on_progress is not None:
                on_progress(event.stage, event.done, event.total)

        summary = ingest_paths(
            [Path(p) for p in paths], self.settings, self.embedder, progress=progress
        )
        self._caught_up()
        ids = {*summary.added_documents, *summary.replaced_documents, *summary.skipped_documents}
        return [info for info in self.documents() if info.doc_id in ids]

    def delete_document(self, doc_id: str) -> None:
        """Remove a document: its record first (it vanishes for readers), then its chunks,
        sentences and text from Chroma; the keyword cache follows. UnknownDocumentError if the
        index holds no such document; CiteqaError for the last one (an index with no document
        is one that lost its documents: add another document first)."""
        records = self._load().index.documents
        if doc_id in records and len(records) == 1:
            raise CiteqaError(
                f"{records[doc_id].title} is the only document; add another before deleting it"
            )
        remove_document(self.settings, doc_id)
        self._caught_up()

    def _caught_up(self) -> None:
        """After this process changed the store: open the index, or bring it up to date now
        rather than at the next periodic check."""
        if self._loaded is None:
            self._load()
        else:
            self._loaded.index.refresh(force=True)

    def _checked_documents(
        self, documents: Sequence[str] | None, loaded: _Loaded
    ) -> frozenset[str] | None:
        """The doc ids a question may search; None means all (no filter).
        ValueError for an empty selection, a bare string, or ids the index does not hold."""
        if documents is None:
            return None
        if isinstance(documents, str):
            raise ValueError("documents must be a list of document ids, not one string")
        chosen = frozenset(documents)
        if not chosen:
            raise ValueError("documents is empty: choose at least one document to search")
        held = loaded.index.documents.keys()
        unknown = sorted(chosen - held)
        if unknown:
            raise ValueError(f"no such document(s) in the index: {', '.join(unknown)}")
        return None if chosen == held else chosen


def _checked_arguments(
    top_k: object, mode: object, retrieval: object
) -> tuple[int | None, AnswerMode | None, RetrievalMode | None]:
    """The public API's arguments, checked: ValueError naming the allowed values otherwise."""
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)):
        raise ValueError(f"top_k must be a whole number from 1 to {MAX_TOP_K}, not {top_k!r}")
    if isinstance(top_k, int) and not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"top_k must be from 1 to {MAX_TOP_K}, not {top_k}")
    modes = get_args(AnswerMode)
    if mode is not None and mode not in modes:
        raise ValueError(f"mode must be one of {', '.join(modes)}, not {mode!r}")
    retrievals = get_args(RetrievalMode)
    if retrieval is not None and retrieval not in retrievals:
        raise ValueError(f"retrieval must be one of {', '.join(retrievals)}, not {retrieval!r}")
    return top_k, mode, retrieval  # type: ignore[return-value]


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
    documents: Sequence[str] | None = None,
) -> Answer:
    """Answer `question` from the indexed document, with cited passages.

    Args: top_k passages to retrieve (1..50, default CITEQA_TOP_K), mode "auto" | "extractive"
    | "generative", retrieval "hybrid" | "dense" | "keyword", history of earlier turns for
    follow-up questions, documents the doc ids to search (default all; see
    `QAEngine.documents()`). Returns an `Answer`; `refused` is True when the document does not
    say. Raises ValueError for a bad argument, QuestionError for an unusable question,
    IndexNotReadyError / IndexMismatchError / StoreUnavailableError when the index cannot be
    used. LLM failures never raise: the offline answer comes back with a notice.
    """
    return default_engine().ask(
        question, top_k=top_k, mode=mode, retrieval=retrieval, history=history, documents=documents
    )


def ask_stream(
    question: str,
    *,
    top_k: int | None = None,
    mode: AnswerMode | None = None,
    history: Sequence[Turn] = (),
    documents: Sequence[str] | None = None,
) -> Iterator[str | Answer]:
    """Like `ask`, but yields text deltas as they are generated and the `Answer` last."""
    return default_engine().ask_stream(
        question, top_k=top_k, mode=mode, history=history, documents=documents
    )


def retrieve(question: str, k: int = 5, *, mode: RetrievalMode | None = None) -> list[Passage]:
    """The k best passages for `question`, best first (no answer written)."""
    return default_engine().retrieve(question, k, mode)
