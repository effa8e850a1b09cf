"""The values citeqa's public API returns: frozen, plain, JSON-ready (no llama-index types).

`Answer` is what `rag.ask()` returns; `Passage` is one retrieved chunk of the document;
`AnswerSentence` is one sentence of the answer with the citations it carries and how well
the cited passages support it (the answer-time citation check, see `rag.cite`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

AnswerMode = Literal["auto", "extractive", "generative"]
RetrievalMode = Literal["hybrid", "dense", "keyword"]
SentenceKind = Literal["claim", "item", "heading"]


@dataclass(frozen=True)
class Passage:
    """One chunk of a document, as retrieved.

    `start`/`end` are character offsets into the cleaned document text, so
    `clean_text[start:end] == text`. `score` is the retrieval score (higher is better; its
    scale depends on the retrieval mode). `duplicate_of` names the chunk this one repeats.
    `page` is the 1-based page the passage starts on, for paged formats (PDF); else None.
    `also_in` names (by doc id, sorted) the other documents that hold a near-identical passage
    (word-set Jaccard >= 0.8, so a copy with a figure changed counts: read those documents
    where figures matter); it names only documents the question searched, and the best-ranked
    copy is the one returned. `also_in_titles[i]` is the title of `also_in[i]`.
    """

    chunk_id: str
    doc: str
    doc_title: str
    section: str
    part: str
    section_number: str
    text: str
    start: int
    end: int
    score: float = 0.0
    duplicate_of: str | None = None
    page: int | None = None
    also_in: tuple[str, ...] = ()
    also_in_titles: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AnswerSentence:
    """One sentence of an answer.

    `citations` are 1-based numbers into `Answer.citations`. `spans[i]` is where, in the text
    of citation `citations[i]`, the supporting sentence is: `(start, end)` offsets into
    `Passage.text`, `(0, 0)` when the support is the passage's section heading. `support` is
    the support score of the best cited passage (0..1, see `rag.evidence`; 1.0 for a quote);
    `is_supported` is whether it passes the calibrated threshold. Unsupported sentences keep
    their text but carry no citation. `kind` is "claim", "item" (a numbered list item) or
    "heading" (a framing line such as "On Part IV:", which states nothing to cite).
    """

    text: str
    citations: tuple[int, ...]
    support: float
    is_supported: bool
    spans: tuple[tuple[int, int], ...] = ()
    kind: SentenceKind = "claim"

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Answer:
    """What `rag.ask()` returns.

    `answer` carries inline markers [1], [2] that index `citations` (1-based). `retrieved` is
    everything retrieved, best first. `refused` is True when the answer is that the document
    does not say. `caveat` is True for the middle outcome: "The document does not say this
    directly; the closest it comes is … [1]" (an answer, hedged; never also `refused`). `answerer` names who wrote it ("extractive" or "generative:<model>");
    `notices` are short messages for the reader (e.g. the LLM failed and the offline answer is
    shown instead). `question` is the standalone question actually searched (after follow-up
    rewriting and translation), `original_question` what the user typed.
    """

    question: str
    original_question: str
    answer: str
    citations: list[Passage]
    retrieved: list[Passage]
    refused: bool
    sentences: list[AnswerSentence] = field(default_factory=list)
    caveat: bool = False
    answerer: str = "extractive"
    notices: list[str] = field(default_factory=list)
    latency_ms: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Turn:
    """One earlier exchange in a conversation, for follow-up questions."""

    question: str
    answer: str


DocumentStatus = Literal["ready", "ingesting", "failed"]


@dataclass(frozen=True)
class DocumentInfo:
    """One document as the page lists it (`QAEngine.documents()`).

    `kind` is the file type ("txt", "md", "html", "pdf", "docx"); `pages` the number of pages
    for paged formats (PDF), else None; `chunks` how many passages it was cut into;
    `added_at` when it was added (ISO 8601 UTC, "" when the index does not know); `source`
    the file name it was read from. `status` is "ready" for an indexed document; the page
    also lists files still "ingesting" or that "failed", with `error` the one-line reason.
    """

    doc_id: str
    title: str
    kind: str
    pages: int | None
    chunks: int
    added_at: str = ""
    source: str = ""
    status: DocumentStatus = "ready"
    error: str = ""

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)
