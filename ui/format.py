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
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag import Answer, Passage

# Characters of document text shown on each side of a passage in the document view: about
# two paragraphs of this document, enough to see what the passage answers without scrolling
# through a whole Part.
CONTEXT_CHARS = 1500
# Refusals list this many of the closest passages, so the reader can check for themselves.
CLOSEST_SHOWN = 3
# Chooser labels are cut here: the section paths run to 90 characters.
LABEL_CHARS = 70

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
            PassageChoice(n, p, True, _cut(f"[{n}] {p.section}", LABEL_CHARS))
            for n, p in enumerate(answer.citations, 1)
        ]
    return [
        PassageChoice(n, p, False, _cut(f"closest {n}: {p.section}", LABEL_CHARS))
        for n, p in enumerate(answer.retrieved[:CLOSEST_SHOWN], 1)
    ]


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


def render_answer(answer: Answer, turn: int) -> str:
    """The chat message for one answer (Markdown that is a single HTML block).

    Citation markers [n] (n ≤ number of citations) become
    `<sup><a class="cite" data-turn="turn" data-cite="n">[n]</a></sup>`; `turn` is the answer's
    index in the conversation, so a click opens the right answer's passage. Sentences the
    citation check found unsupported are marked as such. A refusal gets its own calm style
    and lists the closest passages by section. Notices follow, then who answered.
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
        parts.append(f'<div class="citeqa-answer">{_answer_body(answer, turn)}</div>')
    for notice in answer.notices:
        parts.append(f'<p class="citeqa-notice" role="note">Note: {_escape(notice)}</p>')
    sources = len(answer.citations)
    count = f" · {sources} source{'s' if sources != 1 else ''}" if sources else ""
    parts.append(
        f'<p class="citeqa-meta">Answered by {_escape(describe_answerer(answer.answerer))}{count}</p>'
    )
    return '<div class="citeqa-message">' + "".join(parts) + "</div>"


def _answer_body(answer: Answer, turn: int) -> str:
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
    for start, end in sorted(spans):
        out.append(_with_links(text[position:start], len(answer.citations), turn))
        out.append(
            '<span class="unsupported" title="No retrieved passage supports this sentence">'
            f"{_escape(text[start:end])}</span>"
        )
        position = end
    out.append(_with_links(text[position:], len(answer.citations), turn))
    return "".join(out)


def _with_links(text: str, citations: int, turn: int) -> str:
    """Escape text and turn each valid [n] marker into a citation link."""
    out: list[str] = []
    position = 0
    for match in _MARKER.finditer(text):
        numbers = [int(n) for n in match.group(1).split(",")]
        if not all(1 <= n <= citations for n in numbers):
            continue  # not a citation of this answer: leave it as text
        out.append(_escape(text[position : match.start()]))
        out.extend(_cite_link(n, turn) for n in numbers)
        position = match.end()
    out.append(_escape(text[position:]))
    return "".join(out)


def _cite_link(number: int, turn: int) -> str:
    return f"<sup>{_link(turn, number)}[{number}]</a></sup>"


def _link(turn: int, number: int, kind: str = "") -> str:
    """The opening <a> of a click target for passage `number` of answer `turn`."""
    classes = f"cite turn-{turn} cite-{number}" + (f" {kind}" if kind else "")
    return (
        f'<a class="{classes}" data-turn="{turn}" data-cite="{number}" role="button" '
        f'tabindex="0" title="Show passage {number} in the document">'
    )


# --- sources panel -----------------------------------------------------------------------
def render_sources(answer: Answer | None, turn: int) -> str:
    """The sources panel for one answer: the question it answers, then per cited passage its
    number, section path and text with the supporting sentence(s) in `<mark>`. A refusal lists the closest passages instead
    (unmarked: they support nothing). None → the empty panel's hint."""
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
        parts.append(
            f'<div class="source" id="source-{turn}-{choice.number}">'
            f'<div class="source-head"><span class="source-number">{number}</span> '
            f'<span class="source-section">{_escape(passage.section)}</span></div>'
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
        f'<span class="doc-where">{_escape(passage.doc_title)} · characters '
        f"{passage.start:,}–{passage.end:,} of {len(document):,}</span></div>"
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
