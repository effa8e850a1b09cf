"""Answer → the HTML the chat page shows: answers with clickable [n] markers, sources, document view.

Pure functions over `rag` values, no gradio, so every rendering rule is unit-tested without a
browser. All text from the document, the user or a model is HTML-escaped here; the page's
markup is the only HTML that is not. Chat messages are Markdown, but each is one raw HTML
block (a `<div>` with no blank line inside), so Markdown never rewrites document text
("7.2" or "*" stay as written). The sentence a citation supports is the span the answer-time
citation check recorded (`AnswerSentence.spans`); this module never guesses one.

Click targets carry `data-turn="<answer index>" data-cite="<n>"` and, because the Chatbot's HTML
sanitiser drops data attributes but keeps classes, the same as `class="cite turn-<t> cite-<n>"`;
the page's small JS hook (ui/app.py) turns a click on one into "show passage n of answer t".
Each inline marker also carries its passage's preview (hidden, shown on hover by the hook), and
each answer its own Markdown (hidden, copied by the hook), because the chat gives a message no
events. Relevance is put in words ("strong match") from calibrated scores, never raw fusion
scores. The documents panel, the page header and the Markdown export are rendered here too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rag import Answer, AnswerPolicy, Passage
from rag.types import DocumentInfo
from ui.conversation import Exchange

# Characters of document text shown on each side of a passage in the document view: about
# two paragraphs of this document, enough to see what the passage answers without scrolling
# through a whole Part.
CONTEXT_CHARS = 1500
# Refusals list this many of the closest passages, so the reader can check for themselves.
CLOSEST_SHOWN = 3
# Chooser labels are cut here: the section paths run to 90 characters.
LABEL_CHARS = 70
# A citation's hover preview and its Markdown excerpt show this much text: two or three
# sentences, enough to see whether it says what the answer claims.
PREVIEW_CHARS = 280

Relevance = Literal["strong match", "partial match", "weak match"]
# An answer sentence's `support` (0..1, rag.evidence) at or above this reads as a strong
# match: a quote scores 1.0, and a model's sentence needs most of its words and its meaning
# in the passage to get here. Between the policy's support_threshold (0.58, calibrated:
# the least a cited sentence keeps its citation with) and this, it is a partial match: the
# passage supports the sentence, in other words or only in part.
STRONG_SUPPORT = 0.8
# An uncited closest passage is at most a partial match (the answerer found it does not
# answer). With a best-sentence cosine (MiniLM, question vs the passage's nearest sentence),
# at or above this it is partial: the sentence is about the question's topic. Unrelated
# sentences of a policy document score about 0.1–0.4 against a question.
PARTIAL_COSINE = 0.5

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class PassageChoice:
    """A passage the reader can open in the document view, as the chooser lists it.

    `number` is the citation number ([n] in the answer) when `is_cited`, else the rank of a
    closest passage shown with a refusal. `label` is the chooser's text.
    """

    number: int
    passage: Passage
    is_cited: bool
    label: str


def passage_choices(answer: Answer) -> list[PassageChoice]:
    """The passages of an answer the reader can open: its citations, or for a refusal (or an
    answer citing nothing) the closest retrieved passages. Numbers are 1-based."""
    if answer.citations:
        return [
            PassageChoice(n, p, True, _cut(f"[{n}] {p.section}", LABEL_CHARS) + _page_suffix(p))
            for n, p in enumerate(answer.citations, 1)
        ]
    return [
        PassageChoice(n, p, False, _cut(f"closest {n}: {p.section}", LABEL_CHARS) + _page_suffix(p))
        for n, p in enumerate(answer.retrieved[:CLOSEST_SHOWN], 1)
    ]


def page_label(passage: Passage) -> str:
    """"p. 12" for a passage of a paged document (PDF), "" otherwise."""
    return f"p. {passage.page}" if passage.page is not None else ""


def _page_suffix(passage: Passage) -> str:
    return f" · {page_label(passage)}" if passage.page is not None else ""


# --- relevance in words --------------------------------------------------------------------
def cited_relevance(support: float, threshold: float = AnswerPolicy.support_threshold) -> Relevance:
    """How well a cited passage supports the answer, in words: `support` at or above
    STRONG_SUPPORT is a strong match, at or above the policy's `threshold` a partial one,
    below it (only seen in hand-made answers: the check drops such citations) a weak one."""
    if support >= STRONG_SUPPORT:
        return "strong match"
    return "partial match" if support >= threshold else "weak match"


def closest_relevance(cosine: float | None) -> Relevance:
    """An uncited closest passage in words: a partial match when its best sentence's cosine
    with the question is at least PARTIAL_COSINE, else (or when no cosine is known) weak."""
    return "partial match" if cosine is not None and cosine >= PARTIAL_COSINE else "weak match"


def passage_support(answer: Answer, number: int) -> float:
    """The best `support` among the answer's sentences citing passage `number` (headings,
    which state nothing, are left out); 0.0 when none does."""
    return max(
        (s.support for s in answer.sentences if number in s.citations and s.kind != "heading"),
        default=0.0,
    )


def relevance_of(
    answer: Answer,
    choice: PassageChoice,
    threshold: float = AnswerPolicy.support_threshold,
    *,
    scores_are_cosines: bool = False,
) -> Relevance:
    """The relevance shown for one of `passage_choices(answer)`. `scores_are_cosines`: the
    retrieval scores are best-sentence cosines (dense retrieval), not fused ranks."""
    if choice.is_cited:
        return cited_relevance(passage_support(answer, choice.number), threshold)
    return closest_relevance(choice.passage.score if scores_are_cosines else None)


def describe_answerer(answerer: str) -> str:
    """A reader's name for an `Answer.answerer` / `QAEngine.answerer_name()` value.

    "extractive" → the offline answerer that quotes the document; "generative:<model>" → that
    model. Anything else is shown as it is.
    """
    if answerer == "extractive":
        return "the offline answerer (quotes the document's own sentences)"
    if answerer.startswith("generative:"):
        return f"the model {answerer.removeprefix('generative:')} (writes answers from the passages it cites)"
    return answerer


# --- chat messages -----------------------------------------------------------------------
def render_question(question: str) -> str:
    """The user's message, escaped (a typed "<script>" is shown, never run)."""
    return f'<div class="citeqa-question">{_escape(question)}</div>'


def render_draft(text: str) -> str:
    """An answer still being written (raw model text; its markers are not checked yet)."""
    shown = _escape(text) if text.strip() else "Searching the document…"
    return f'<div class="citeqa-draft">{shown}</div>'


def render_error(message: str) -> str:
    """A CiteqaError (or any failure) as one calm chat line, never a traceback."""
    message = message.strip().rstrip(".") or "something went wrong"
    message = message[0].upper() + message[1:]
    return f'<div class="citeqa-error" role="alert">{_escape(message)}.</div>'


def render_answer(
    answer: Answer,
    turn: int,
    threshold: float = AnswerPolicy.support_threshold,
    *,
    rating: int = 0,
) -> str:
    """The chat message for one answer (Markdown that is a single HTML block).

    Citation markers [n] (n ≤ number of citations) become
    `<sup><a class="cite" data-turn="turn" data-cite="n">…[n]</a></sup>`, holding the hidden
    preview of passage n; `turn` is the answer's index in the conversation, so a click opens
    the right answer's passage. Sentences the citation check found unsupported are marked as
    such. A refusal gets its own calm style and lists the closest passages by section.
    Notices follow, then who answered, then the actions: copy (the answer's Markdown,
    `answer_markdown`, hidden beside it) and rate (`rating`: the reader's +1 / -1, 0 for
    none). `threshold` is the policy's support threshold.
    """
    parts: list[str] = []
    if answer.refused:
        parts.append('<div class="citeqa-refusal">')
        parts.append(f'<p class="refusal-text">{_escape(answer.answer)}</p>')
        closest = passage_choices(answer)
        if closest:
            parts.append(
                '<p class="refusal-hint">The closest passages, none of which answers it:</p><ul>'
            )
            for choice in closest:
                parts.append(
                    f"<li>{_link(turn, choice.number, 'closest')}"
                    f"{_escape(choice.passage.section)}</a></li>"
                )
            parts.append("</ul>")
        parts.append("</div>")
    else:
        parts.append(f'<div class="citeqa-answer">{_answer_body(answer, turn, threshold)}</div>')
    for notice in answer.notices:
        parts.append(f'<p class="citeqa-notice" role="note">Note: {_escape(notice)}</p>')
    sources = len(answer.citations)
    count = f" · {sources} source{'s' if sources != 1 else ''}" if sources else ""
    parts.append(
        f'<p class="citeqa-meta">Answered by {_escape(describe_answerer(answer.answerer))}{count}</p>'
    )
    parts.append(_actions(answer_markdown(answer, threshold), turn, rating))
    return '<div class="citeqa-message">' + "".join(parts) + "</div>"


def _actions(markdown: str, turn: int, rating: int) -> str:
    """Copy and rate links under an answer, and the Markdown the copy link copies. That text
    is escaped with its line breaks as character references, so the message stays one HTML
    block and the browser's textContent gives the Markdown back exactly."""
    text = html.escape(markdown, quote=True).replace("\r", "").replace("\n", "&#10;")
    rate = "".join(
        f'<a class="citeqa-rate rate-{kind} turn-{turn}{" chosen" if rating == value else ""}" '
        f'role="button" tabindex="0" title="{title}">{label}</a>'
        for kind, value, label, title in (
            ("up", 1, "Helpful", "This answer was helpful"),
            ("down", -1, "Not helpful", "This answer was wrong or unhelpful"),
        )
    )
    return (
        '<p class="citeqa-actions"><a class="citeqa-copy" role="button" tabindex="0">'
        f"Copy answer and sources</a>{rate}</p>"
        f'<span class="citeqa-md" aria-hidden="true">{text}</span>'
    )


def _answer_body(answer: Answer, turn: int, threshold: float) -> str:
    text = answer.answer
    unsupported = [
        s.text for s in answer.sentences if not s.is_supported and not s.citations and s.text
    ]
    spans: list[tuple[int, int]] = []
    for claim in unsupported:
        at = text.find(claim)
        if at >= 0 and all(at >= e or at + len(claim) <= s for s, e in spans):
            spans.append((at, at + len(claim)))
    out: list[str] = []
    position = 0
    previews = [
        citation_preview(answer, n, threshold) for n in range(1, len(answer.citations) + 1)
    ]
    for start, end in sorted(spans):
        out.append(_with_links(text[position:start], previews, turn))
        out.append(
            '<span class="unsupported" title="No retrieved passage supports this sentence">'
            f"{_escape(text[start:end])}</span>"
        )
        position = end
    out.append(_with_links(text[position:], previews, turn))
    return "".join(out)


def _with_links(text: str, previews: Sequence[str], turn: int) -> str:
    """Escape text and turn each valid [n] marker into a citation link with its preview."""
    out: list[str] = []
    position = 0
    for match in _MARKER.finditer(text):
        numbers = [int(n) for n in match.group(1).split(",")]
        if not all(1 <= n <= len(previews) for n in numbers):
            continue  # not a citation of this answer: leave it as text
        out.append(_escape(text[position : match.start()]))
        out.extend(_cite_link(n, turn, previews[n - 1]) for n in numbers)
        position = match.end()
    out.append(_escape(text[position:]))
    return "".join(out)


def _cite_link(number: int, turn: int, preview: str) -> str:
    # The preview comes first so the marker's visible text stays "[n]" at the link's end.
    return (
        f"<sup>{_link(turn, number, titled=False)}"
        f'<span class="cite-preview">{_escape(preview)}</span>[{number}]</a></sup>'
    )


def _link(turn: int, number: int, kind: str = "", *, titled: bool = True) -> str:
    """The opening <a> of a click target for passage `number` of answer `turn`; an inline
    marker (not `titled`) has its preview instead of a title tooltip."""
    classes = f"cite turn-{turn} cite-{number}" + (f" {kind}" if kind else "")
    title = f' title="Show passage {number} in the document"' if titled else ""
    return (
        f'<a class="{classes}" data-turn="{turn}" data-cite="{number}" role="button" '
        f'tabindex="0"{title}>'
    )


def citation_preview(
    answer: Answer, number: int, threshold: float = AnswerPolicy.support_threshold
) -> str:
    """Plain text shown when the reader hovers over marker [number]: where the passage is
    (document, section, page), how well it supports the answer, and the supporting
    sentence(s), or the passage's opening when none is marked; at most PREVIEW_CHARS."""
    passage = answer.citations[number - 1]
    where = " · ".join(
        part for part in (passage.doc_title, passage.section, page_label(passage)) if part
    )
    relevance = cited_relevance(passage_support(answer, number), threshold)
    return f"{where} ({relevance}): {_excerpt(passage, supporting_spans(answer, number))}"


def _excerpt(passage: Passage, spans: Sequence[tuple[int, int]]) -> str:
    """The supporting sentences of a passage (joined by " … "), or its opening; one line."""
    pieces = [passage.text[s:e] for s, e in spans] or [passage.text]
    return _cut(" … ".join(" ".join(p.split()) for p in pieces), PREVIEW_CHARS)


# --- sources panel -----------------------------------------------------------------------
def render_sources(
    answer: Answer | None,
    turn: int,
    threshold: float = AnswerPolicy.support_threshold,
    *,
    scores_are_cosines: bool = False,
) -> str:
    """The sources panel for one answer: the question it answers, then per cited passage its
    number, section path, page (PDF), relevance in words, document title, the other documents
    holding it ("also in: …"), and text with the supporting sentence(s) in `<mark>`. A refusal lists the closest passages instead
    (unmarked: they support nothing). None → the empty panel's hint. `threshold` and
    `scores_are_cosines` are as for `relevance_of`."""
    if answer is None:
        return (
            '<div class="citeqa-sources empty"><p>The passages an answer cites appear here, '
            "with the sentences that support it highlighted.</p></div>"
        )
    choices = passage_choices(answer)
    title = "Sources" if answer.citations else "Closest passages (not cited)"
    # Named, because a click on an older answer's [n] brings that answer's sources back.
    parts = [
        f'<div class="citeqa-sources"><h3>{title}</h3>'
        f'<p class="sources-for">for “{_escape(answer.original_question)}”</p>'
    ]
    if not choices:
        parts.append("<p>Nothing was retrieved for this question.</p>")
    for choice in choices:
        passage = choice.passage
        spans = supporting_spans(answer, choice.number) if choice.is_cited else []
        number = f"[{choice.number}]" if choice.is_cited else f"{choice.number}."
        relevance = relevance_of(answer, choice, threshold, scores_are_cosines=scores_are_cosines)
        page = f' <span class="source-page">{page_label(passage)}</span>' if passage.page else ""
        titles = ", ".join(passage.also_in_titles)
        also = f'<div class="source-also">also in: {_escape(titles)}</div>' if passage.also_in else ""
        parts.append(
            f'<div class="source" id="source-{turn}-{choice.number}">'
            f'<div class="source-head"><span class="source-number">{number}</span> '
            f'<span class="source-section">{_escape(passage.section)}</span>{page} '
            f'<span class="relevance {relevance.split()[0]}">{relevance}</span></div>'
            f'<div class="source-doc">{_escape(passage.doc_title)}</div>{also}'
            f'<div class="source-text">{_highlight(passage.text, spans)}</div>'
            f"{_link(turn, choice.number, 'source-open')}Show in the document ›</a></div>"
        )
    parts.append("</div>")
    return "".join(parts)


def supporting_spans(answer: Answer, number: int) -> list[tuple[int, int]]:
    """Where, in citation `number`'s passage text, the answer's sentences citing it are.

    Read from each sentence's `spans` (the answer-time check found them; nothing here guesses):
    offsets relative to `Passage.text`, sorted and merged; a span of (0, 0) — support by the
    passage's heading — marks nothing. Raises IndexError if `number` is not a citation.
    """
    if not 1 <= number <= len(answer.citations):
        raise IndexError(f"answer has {len(answer.citations)} citations, not [{number}]")
    spans: list[tuple[int, int]] = []
    for sentence in answer.sentences:
        for cited, span in zip(sentence.citations, sentence.spans):
            if cited == number and span[1] > span[0]:
                spans.append(span)
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


# --- document view -----------------------------------------------------------------------
def render_document_view(
    document: str | None,
    choice: PassageChoice | None,
    spans: Sequence[tuple[int, int]] = (),
    *,
    context_chars: int = CONTEXT_CHARS,
) -> str:
    """The chosen passage inside its surrounding document text.

    Shows about `context_chars` of text on either side (whole lines), the passage in
    `<span class="doc-passage" id="doc-passage">` (the anchor the page scrolls to) and
    `spans` (passage-relative, e.g. from `supporting_spans`) in `<mark>`. `document` is the
    clean text the passage's offsets index. None for either → a hint to choose a citation.
    Raises ValueError when the passage is not the document's text at its offsets.
    """
    if choice is None or document is None:
        return (
            '<div class="citeqa-document empty"><p>Choose a citation (or click a [n] in an '
            "answer) to read the passage where it stands in the document.</p></div>"
        )
    passage = choice.passage
    if document[passage.start : passage.end] != passage.text:
        raise ValueError(
            f"passage {passage.chunk_id} is not the document's text at {passage.start}-{passage.end}"
        )
    low, high = _context_window(document, passage.start, passage.end, context_chars)
    number = f"[{choice.number}]" if choice.is_cited else f"closest passage {choice.number}"
    return (
        '<div class="citeqa-document">'
        f'<div class="doc-head"><span class="source-number">{number}</span> '
        f'<span class="source-section">{_escape(passage.section)}</span>'
        f'<span class="doc-where">{_escape(passage.doc_title)}{_page_suffix(passage)} · '
        f"characters {passage.start:,}–{passage.end:,} of {len(document):,}</span></div>"
        '<div class="doc-text">'
        + ("… " if low > 0 else "")
        + _escape(document[low : passage.start])
        + f'<span class="doc-passage" id="doc-passage" data-chunk="{_escape(passage.chunk_id)}">'
        + _highlight(passage.text, spans)
        + "</span>"
        + _escape(document[passage.end : high])
        + (" …" if high < len(document) else "")
        + "</div></div>"
    )


def _context_window(document: str, start: int, end: int, context_chars: int) -> tuple[int, int]:
    """[low, high) around [start, end): context_chars each side, widened to whole lines when
    the line's rest is at most half as long again (else cut inside it, so one huge paragraph
    cannot swallow the view)."""
    slack = context_chars // 2
    low = max(0, start - context_chars)
    if low > 0:
        line_start = document.rfind("\n", 0, low) + 1
        if low - line_start <= slack:
            low = line_start
    high = min(len(document), end + context_chars)
    if high < len(document):
        line_end = document.find("\n", high)
        line_end = len(document) if line_end < 0 else line_end
        if line_end - high <= slack:
            high = line_end
    return low, high


# --- Markdown (copy and export) -----------------------------------------------------------
def answer_markdown(answer: Answer, threshold: float = AnswerPolicy.support_threshold) -> str:
    """One answer as Markdown: its text with the [n] markers, its notices, then its numbered
    sources (document · section · page, relevance, the supporting sentences), or for a
    refusal the closest passages. What "Copy answer and sources" copies."""
    lines = [answer.answer.strip()]
    lines += [f"_Note: {notice}_" for notice in answer.notices]
    choices = passage_choices(answer)
    if choices:
        lines.append("Sources:" if answer.citations else "Closest passages (none answers it):")
    for choice in choices:
        passage = choice.passage
        spans = supporting_spans(answer, choice.number) if choice.is_cited else []
        where = " · ".join(p for p in (passage.doc_title, passage.section, page_label(passage)) if p)
        number = f"[{choice.number}]" if choice.is_cited else f"{choice.number}."
        relevance = relevance_of(answer, choice, threshold)
        lines.append(f"- **{number}** {where} ({relevance})\n  > {_excerpt(passage, spans)}")
    return "\n\n".join(lines) + "\n"


def conversation_markdown(
    exchanges: Sequence[Exchange], title: str, threshold: float = AnswerPolicy.support_threshold
) -> str:
    """The whole conversation as Markdown: each question as a heading, then its answer with
    its numbered sources (`answer_markdown`) or the message shown instead."""
    parts = [f"# citeqa conversation: {title}"]
    for exchange in exchanges:
        parts.append(f"## {exchange.question.strip() or '(empty question)'}")
        if exchange.answer is not None:
            parts.append(answer_markdown(exchange.answer, threshold).rstrip())
        else:
            parts.append(f"_{exchange.message}_")
    return "\n\n".join(parts) + "\n"


# --- the conversation as chat messages -----------------------------------------------------
def chat_messages(
    exchanges: Sequence[Exchange], threshold: float = AnswerPolicy.support_threshold
) -> list[dict[str, str]]:
    """The Chatbot's messages for a conversation: per exchange the question (unless it was
    empty) and the answer, or the message shown instead of one."""
    messages: list[dict[str, str]] = []
    for turn, exchange in enumerate(exchanges):
        if exchange.question.strip():
            messages.append({"role": "user", "content": render_question(exchange.question)})
        content = (
            render_answer(exchange.answer, turn, threshold, rating=exchange.rating)
            if exchange.answer is not None
            else render_error(exchange.message)
        )
        messages.append({"role": "assistant", "content": content})
    return messages


def exchange_of_message(exchanges: Sequence[Exchange], index: int) -> int | None:
    """Which exchange the `chat_messages` message at `index` answers; None for a question or
    an index past the end."""
    position = 0
    for turn, exchange in enumerate(exchanges):
        position += 1 if exchange.question.strip() else 0
        if position == index:
            return turn
        position += 1
    return None


# --- documents panel and page header -------------------------------------------------------
_KIND_NAMES = {"pdf": "PDF", "docx": "Word", "md": "Markdown", "html": "HTML", "txt": "Text"}


def render_documents(rows: Sequence[DocumentInfo]) -> str:
    """The documents panel's table: title (and file name), type, pages, passages, when added
    and status; a failed upload shows its one-line reason, an ingesting one its stage."""
    if not rows:
        return '<div class="citeqa-documents empty"><p>No documents yet: add one above.</p></div>'
    head = "".join(
        f"<th>{name}</th>" for name in ("Document", "Type", "Pages", "Passages", "Added", "Status")
    )
    body = "".join(_document_row(row) for row in rows)
    return (
        '<div class="citeqa-documents"><table><thead><tr>'
        f"{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _document_row(row: DocumentInfo) -> str:
    status = {"ready": "ready", "ingesting": "adding…", "failed": "not added"}[row.status]
    detail = f'<div class="doc-detail">{_escape(row.error)}</div>' if row.error else ""
    source = (
        f'<div class="doc-source">{_escape(row.source)}</div>'
        if row.source and row.source != row.title
        else ""
    )
    cells = (
        f'<td class="doc-title">{_escape(row.title)}{source}</td>',
        f"<td>{_KIND_NAMES.get(row.kind, _escape(row.kind.upper()))}</td>",
        f"<td>{row.pages if row.pages is not None else '—'}</td>",
        f"<td>{row.chunks if row.status == 'ready' else '—'}</td>",
        f"<td>{_when(row.added_at)}</td>",
        f'<td><span class="doc-status {row.status}">{status}</span>{detail}</td>',
    )
    return f'<tr class="doc-row {row.status}" id="doc-{_escape(row.doc_id)}">{"".join(cells)}</tr>'


def _when(iso: str) -> str:
    """"2026-11-30 14:02 UTC" from an ISO 8601 time; "—" when unknown or unreadable."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return "—"
    return moment.strftime("%Y-%m-%d %H:%M") + (" UTC" if moment.utcoffset() is not None else "")


def documents_title(documents: Sequence[DocumentInfo]) -> str:
    """What the page is about: the one document's title, or "N documents"."""
    ready = [d for d in documents if d.status == "ready"]
    if len(ready) == 1:
        return ready[0].title
    return f"{len(ready)} documents" if ready else "no documents yet"


def render_header(
    documents: Sequence[DocumentInfo], pending: Sequence[DocumentInfo] = ()
) -> str:
    """The page's heading, named after its documents, how to use it, and a line while
    uploads (`pending`) are being added."""
    ready = [d for d in documents if d.status == "ready"]
    if len(ready) == 1:
        about = f"Ask a question about {_escape(ready[0].title)}."
    elif ready:
        about = f"Ask a question about your {len(ready)} documents; choose which under “Search in”."
    else:
        about = "Add a document under “Documents” to ask about it."
    return (
        f'<div class="citeqa-header"><h1>citeqa · {_escape(documents_title(documents))}</h1>'
        f"<p>{about} Every answer cites numbered passages: hover over a <b>[n]</b> for a "
        "preview, click it to read the passage where it stands.</p>"
        f"{render_ingest_status(pending)}</div>"
    )


def render_document_gone(choice: PassageChoice) -> str:
    """The document view when a passage's document is no longer in the index (deleted, or
    changed since the answer was given): the passage itself is still in the sources panel."""
    return (
        '<div class="citeqa-document empty"><p>“'
        f"{_escape(choice.passage.doc_title)}” is no longer in the index in the form this "
        "answer cited; the passage itself is still shown under Sources.</p></div>"
    )


def render_ingest_status(rows: Sequence[DocumentInfo]) -> str:
    """One line while uploads are being added (the chat stays usable), else ""."""
    busy = [r for r in rows if r.status == "ingesting"]
    if not busy:
        return ""
    names = ", ".join(_escape(r.title) for r in busy)
    return (
        f'<div class="citeqa-ingesting" role="status">Adding {names} ({_escape(busy[0].error)})'
        "… you can keep asking meanwhile.</div>"
    )


def render_messages(messages: Sequence[str], *, is_error: bool = True) -> str:
    """Short lines under the upload area: refused uploads (as alerts) or confirmations."""
    if not messages:
        return ""
    kind = 'citeqa-upload-errors" role="alert' if is_error else 'citeqa-upload-note" role="status'
    return f'<div class="{kind}">' + "".join(f"<p>{_escape(m)}</p>" for m in messages) + "</div>"


# --- helpers -----------------------------------------------------------------------------
def _highlight(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """Escape text with each (start, end) span wrapped in <mark>."""
    out: list[str] = []
    position = 0
    for start, end in _merge([(max(0, s), min(len(text), e)) for s, e in spans if s < e]):
        out.append(_escape(text[position:start]))
        out.append(f"<mark>{_escape(text[start:end])}</mark>")
        position = end
    out.append(_escape(text[position:]))
    return "".join(out)


def _escape(text: str) -> str:
    """HTML-escape, and keep line breaks as <br> so no raw newline ends a Markdown HTML block."""
    return html.escape(text, quote=True).replace("\r", "").replace("\n", "<br>")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
