"""The chat page: `build_app(engine, settings)` lays it out, `launch(app, settings)` serves it.

Layout and wiring only: what each event does is a method of `ui.events.PageEvents`, every
piece of HTML comes from `ui.format`. Two tabs: Chat (the conversation beside its sources and
the document view) and Documents (upload, list, delete). The page binds 127.0.0.1 unless told
otherwise, sends nothing to outside hosts (no analytics, no web fonts, no share link) and
answers several people at once through Gradio's queue. The compromise: a Chatbot message
cannot carry events of its own, so clicks on an inline [n], a copy link or a rating go
through a small JS hook that writes into hidden textboxes (or, for copying, straight to the
clipboard), and the hover preview of a [n] is drawn by the same hook. On a narrow screen the
hook also switches the Chat tab between the conversation and its sources (CSS hides the other).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag import CiteqaError, QAEngine, Settings
from ui.format import render_document_view, render_documents, render_header, render_sources
from ui.uploads import UploadLimits, upload_limits

if TYPE_CHECKING:  # gradio is imported when the page is built, after its offline switches
    import gradio as gr

    from rag.types import DocumentInfo
    from ui.events import PageEvents

EXAMPLE_QUESTIONS = (
    "What share of GDP did the information industry reach in 2005?",
    "What are the strategic objectives for 2020?",
    "How does the Strategy plan to narrow the digital divide?",
    # One the document cannot answer, to show what a refusal looks like.
    "Who won the 2008 Olympics?",
)
# The top-k slider's upper end: past 20 passages the offline answerer only gains noise and a
# model's context window fills up.
MAX_TOP_K = 20
# The same name on every event that writes an answer, so the example buttons, the Send button
# and Enter share one pool of `settings.ui_concurrency` slots instead of one each.
ANSWER_CONCURRENCY_ID = "answer"
# Seconds between looks at a background upload while one is being ingested.
POLL_S = 1.0
# Where the browser keeps the conversation (localStorage). Gradio encrypts the value with
# this key in the browser; it is no secret (the page's own script holds it) and is fixed only
# so the conversation also survives a restart of `citeqa ui`, which a random key would lose.
SAVED_KEY = "citeqa-conversation"
SAVED_SECRET = "citeqa-conversation-v1"

# Plain system fonts: the page must not fetch fonts (or anything) from another host.
FONT = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
FONT_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]

CSS = """
.citeqa-header h1 { margin: 0 0 0.2em 0; font-size: 1.6em; }
.citeqa-header p { margin: 0; opacity: 0.85; }
#citeqa-chat .citeqa-message p { margin: 0.35em 0; }
/* Gradio dims answer text to 80% in light mode; with the muted lines inside an answer that
   fell below 4.5:1 contrast. Full strength, and muted lines dim themselves. */
#citeqa-chat .message .prose { opacity: 1; }
.citeqa-answer { line-height: 1.55; }
/* Marker colours chosen for contrast (WCAG AA, 4.5:1) on the answer bubble in each mode:
   the theme's accent blue reached only about 3:1. */
a.cite { cursor: pointer; text-decoration: none; font-weight: 600;
         color: #1d4ed8; padding: 0 1px; border-radius: 3px; }
.dark a.cite { color: #93c5fd; }
/* A faint tint, not the theme's accent-soft: that made the marker unreadable in dark mode. */
a.cite:hover, a.cite:focus { background: rgba(29,78,216,0.1); outline: none; }
.dark a.cite:hover, .dark a.cite:focus { background: rgba(147,197,253,0.15); }
a.cite.closest { font-weight: normal; }
/* Carried inside each message for the JS hook; never shown where they are. */
.cite-preview, .citeqa-md { display: none !important; }
#citeqa-preview { position: fixed; z-index: 1000; max-width: min(420px, 92vw);
                  padding: 0.5em 0.7em; border-radius: 6px; font-size: 0.85em;
                  line-height: 1.45; pointer-events: none;
                  background: var(--background-fill-primary); color: var(--body-text-color);
                  border: 1px solid var(--border-color-primary);
                  box-shadow: 0 4px 14px rgba(0,0,0,0.18); }
.citeqa-actions { font-size: 0.82em; }
.citeqa-actions a { cursor: pointer; margin-right: 1em; text-decoration: none; opacity: 0.8;
                    white-space: nowrap; display: inline-block; }
.citeqa-actions a:hover, .citeqa-actions a:focus { opacity: 1; text-decoration: underline; }
.citeqa-actions a.chosen { opacity: 1; font-weight: 700; }
/* Thumbs drawn by CSS in the text colour (Feather icons, MIT): an emoji needs a colour-emoji
   font many Linux desktops lack, and the chat's sanitiser breaks inline SVG. */
.citeqa-rate::before { content: ""; display: inline-block; width: 14px; height: 14px;
                       margin-right: 0.25em; vertical-align: -2px; background: currentColor;
                       -webkit-mask: var(--thumb) no-repeat center / contain;
                       mask: var(--thumb) no-repeat center / contain; }
.citeqa-rate.rate-up { --thumb: url("data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' stroke='black' stroke-width='2' stroke-linecap='round' stroke-linejoin='round'><path d='M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3'/></svg>"); }
.citeqa-rate.rate-down { --thumb: url("data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' stroke='black' stroke-width='2' stroke-linecap='round' stroke-linejoin='round'><path d='M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3zm7-13h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17'/></svg>"); }
.citeqa-refusal { border-left: 4px solid #8aa4c8; background: rgba(138,164,200,0.12);
                  padding: 0.5em 0.9em; border-radius: 4px; }
.citeqa-refusal .refusal-text { font-weight: 600; }
.citeqa-refusal .refusal-hint { font-size: 0.92em; opacity: 0.85; }
.citeqa-refusal ul { margin: 0.2em 0 0.2em 1.2em; }
.citeqa-notice { font-size: 0.9em; border-left: 3px solid #d9a441; padding-left: 0.6em; }
.citeqa-meta { font-size: 0.8em; opacity: 0.7; }
.citeqa-examples-label p { margin: 0; font-size: 0.85em; opacity: 0.75; }
.citeqa-draft { opacity: 0.75; font-style: italic; }
.citeqa-error { border-left: 4px solid #c46b6b; padding-left: 0.6em; }
.unsupported { text-decoration: underline dotted #c46b6b; }
/* Both panels scroll inside themselves, so the document view stays on screen below the
   sources however many passages an answer cites. */
.citeqa-sources { max-height: 380px; overflow-y: auto; padding-right: 0.3em; }
.citeqa-sources h3 { margin: 0; font-size: 1em; }
.citeqa-sources .sources-for { margin: 0 0 0.5em 0; font-size: 0.85em; opacity: 0.75; }
.citeqa-sources .source { border: 1px solid var(--border-color-primary); border-radius: 6px;
                          padding: 0.5em 0.7em; margin-bottom: 0.6em; }
.source-number { font-weight: 700; margin-right: 0.3em; }
.source-section { font-weight: 600; }
.source-page { font-size: 0.85em; font-weight: 600; white-space: nowrap; }
.source-doc { font-size: 0.8em; opacity: 0.75; }
.source-text { font-size: 0.9em; margin: 0.35em 0; line-height: 1.5; }
.source-open { font-size: 0.85em; }
/* Relevance badges: dark text on light fills in light mode, light on dark in dark mode. */
.relevance { font-size: 0.75em; padding: 0 0.45em; border-radius: 8px; white-space: nowrap; }
.relevance.strong { background: #d7f0dc; color: #14532d; }
.relevance.partial { background: #fbeccb; color: #6b4500; }
.relevance.weak { background: #e7e7ea; color: #3f3f46; }
.dark .relevance.strong { background: #14532d; color: #dcfce7; }
.dark .relevance.partial { background: #6b4500; color: #fef3c7; }
.dark .relevance.weak { background: #3f3f46; color: #f4f4f5; }
.citeqa-sources.empty, .citeqa-document.empty { opacity: 0.7; font-size: 0.9em; }
.citeqa-document .doc-head { margin-bottom: 0.4em; }
.citeqa-document .doc-where { display: block; font-size: 0.8em; opacity: 0.7; }
.citeqa-document .doc-text { max-height: 380px; overflow-y: auto; font-size: 0.9em;
                             line-height: 1.55; border: 1px solid var(--border-color-primary);
                             border-radius: 6px; padding: 0.6em 0.8em; }
.doc-passage { background: rgba(138,164,200,0.18); border-radius: 3px; }
/* The highlighted sentence sets its own text colour: inheriting the dark theme's light text
   on a light yellow fill was unreadable. */
mark { background: #ffe58a; color: #1f2328; padding: 0 1px; }
.dark mark { background: #6b5300; color: #fff8dc; }
.citeqa-ingesting { font-size: 0.9em; padding: 0.3em 0.6em; border-radius: 4px;
                    background: rgba(138,164,200,0.15); }
.citeqa-upload-errors p { margin: 0.2em 0; border-left: 4px solid #c46b6b; padding-left: 0.6em; }
.citeqa-upload-note p { margin: 0.2em 0; opacity: 0.85; }
.citeqa-documents table { width: 100%; border-collapse: collapse; font-size: 0.9em; }
.citeqa-documents th, .citeqa-documents td { text-align: left; padding: 0.35em 0.5em;
                                             border-bottom: 1px solid var(--border-color-primary);
                                             border-left: none; border-right: none;
                                             vertical-align: top; }
.citeqa-documents .doc-source, .citeqa-documents .doc-detail { font-size: 0.85em; opacity: 0.8; }
.doc-status.failed { color: #b42318; font-weight: 600; }
.dark .doc-status.failed { color: #fda29b; }
.doc-status.ingesting { font-style: italic; }
/* Narrow screens: the Chat tab shows the conversation or its sources, switched by the bar
   (and by a click on a [n]), so neither sits a long scroll below the other. */
#citeqa-mobile-nav { display: none; }
@media (max-width: 720px) {
  #citeqa-mobile-nav { display: block; position: sticky; top: 0; z-index: 20;
                       background: var(--background-fill-primary); }
  #citeqa-mobile-nav .citeqa-panes { display: flex; gap: 0.4em; }
  #citeqa-mobile-nav button { flex: 1; padding: 0.45em; border-radius: 6px; transition: none;
                              border: 1px solid var(--border-color-primary);
                              background: var(--background-fill-secondary);
                              color: var(--body-text-color); font-weight: 600; opacity: 1; }
  #citeqa-mobile-nav button[aria-pressed="true"] { background: #1d4ed8; color: #ffffff;
                                                   border-color: #1d4ed8; }
  /* Gradio scopes rules inside @media to its container, so the switch is an attribute
     on the chat row, not on <body>. */
  #citeqa-chat-row:not([data-pane="sources"]) #citeqa-side { display: none !important; }
  #citeqa-chat-row[data-pane="sources"] #citeqa-main { display: none !important; }
  #citeqa-chat { height: 58vh !important; }
  .citeqa-documents table { font-size: 0.8em; }
}
"""

MOBILE_NAV = (
    '<div class="citeqa-panes" role="tablist">'
    '<button class="citeqa-pane pane-chat" role="tab" aria-pressed="true">Conversation</button>'
    '<button class="citeqa-pane pane-sources" role="tab" aria-pressed="false">Sources</button>'
    "</div>"
)

# Runs once when the page loads. A click (or Enter) on any <a class="cite"> — the
# inline [n] markers, the refusal's closest passages, the sources' "Show in the document" —
# writes "turn:n:nonce" into a hidden textbox (the nonce makes a second click on the same
# marker a change too); a rating link writes "turn:±1:nonce" into another; the copy link puts
# the answer's Markdown on the clipboard. Hovering or focusing an inline [n] shows its
# preview. Whenever a new passage appears in the document view, it is scrolled to the upper
# third of its box, and the box onto the screen.
JS = """
() => {
  // The chat's sanitiser drops data-* attributes, so the numbers are read from the classes.
  const number = (link, prefix) => {
    const name = [...link.classList].find((c) => c.startsWith(prefix) && /\\d$/.test(c));
    return name ? name.slice(prefix.length) : null;
  };
  const send = (id, value) => {
    const box = document.querySelector(`#${id} textarea, #${id} input`);
    if (!box) return;
    box.value = `${value}:${Date.now()}`;
    box.dispatchEvent(new Event('input', { bubbles: true }));
  };
  const setPane = (pane) => {
    const row = document.querySelector('#citeqa-chat-row');
    if (row) row.dataset.pane = pane;
    document.querySelectorAll('#citeqa-mobile-nav button').forEach((button) => {
      button.setAttribute('aria-pressed', String(button.classList.contains(`pane-${pane}`)));
    });
  };
  const copy = async (link) => {
    const source = link.closest('.citeqa-message')?.querySelector('.citeqa-md');
    if (!source) return;
    const text = source.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {  // no clipboard API (plain http on another host): the old way
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    const label = link.textContent;
    link.textContent = 'Copied';
    setTimeout(() => { link.textContent = label; }, 1500);
  };
  const handle = (event) => {
    const target = event.target.closest &&
      event.target.closest('a.cite, a.citeqa-copy, a.citeqa-rate, button.citeqa-pane');
    if (!target) return;
    if (event.type === 'keydown' && event.key !== 'Enter' && event.key !== ' ') return;
    event.preventDefault();
    if (target.matches('a.cite')) {
      const turn = number(target, 'turn-'), cite = number(target, 'cite-');
      if (turn === null || cite === null) return;
      send('citeqa-cite-request', `${turn}:${cite}`);
      setPane('sources');
    } else if (target.matches('a.citeqa-copy')) {
      copy(target);
    } else if (target.matches('a.citeqa-rate')) {
      const turn = number(target, 'turn-');
      if (turn !== null) send('citeqa-rate-request', `${turn}:${target.classList.contains('rate-up') ? 1 : -1}`);
    } else {
      setPane(target.classList.contains('pane-sources') ? 'sources' : 'chat');
    }
  };
  document.addEventListener('click', handle);
  document.addEventListener('keydown', handle);

  const tip = document.createElement('div');
  tip.id = 'citeqa-preview';
  tip.setAttribute('role', 'tooltip');
  tip.hidden = true;
  document.body.appendChild(tip);
  const show = (event) => {
    const link = event.target.closest && event.target.closest('a.cite');
    const preview = link && link.querySelector('.cite-preview');
    if (!preview) return;
    tip.textContent = preview.textContent;
    tip.hidden = false;
    const at = link.getBoundingClientRect();
    const width = tip.offsetWidth, height = tip.offsetHeight;
    const left = Math.max(8, Math.min(at.left, window.innerWidth - width - 8));
    const below = at.bottom + 6 + height < window.innerHeight;
    tip.style.left = `${left}px`;
    tip.style.top = `${below ? at.bottom + 6 : Math.max(8, at.top - height - 6)}px`;
  };
  const hide = (event) => {
    if (event.target.closest && event.target.closest('a.cite')) tip.hidden = true;
  };
  document.addEventListener('mouseover', show);
  document.addEventListener('focusin', show);
  document.addEventListener('mouseout', hide);
  document.addEventListener('focusout', hide);
  setPane('chat');

  new MutationObserver(() => {
    const passage = document.querySelector('#citeqa-document #doc-passage:not([data-shown])');
    if (!passage) return;
    passage.setAttribute('data-shown', '1');
    const box = passage.closest('.doc-text');
    if (!box) return;
    box.scrollTop = passage.offsetTop - box.offsetTop - box.clientHeight / 3;
    box.scrollIntoView({ block: 'nearest' });  // and the view itself onto the screen
  }).observe(document.body, { childList: true, subtree: true });
}
"""


@dataclass
class _State:
    """Per-session values the events read and write (none of them shown)."""

    conversation: gr.State  # list[Exchange]
    shown: gr.State  # the turn whose sources are shown
    pending: gr.State  # the question being answered, for Stop (None when idle)
    rating: gr.State  # (turn, ±1) waiting for its comment
    known_docs: gr.State  # the doc ids "Search in" was last built from
    saved: gr.BrowserState  # the conversation in the browser's localStorage
    timer: gr.Timer  # ticks while uploads are being ingested
    cite_request: gr.Textbox  # "turn:n:nonce", written by the JS hook
    rate_request: gr.Textbox  # "turn:±1:nonce", written by the JS hook


@dataclass
class _Chat:
    """The Chat tab: the conversation beside its sources and the document view."""

    label: gr.Markdown
    mode: gr.Radio
    selection: gr.CheckboxGroup
    chat: gr.Chatbot
    question: gr.Textbox
    send: gr.Button
    stop: gr.Button
    examples: gr.Column
    example_buttons: list[gr.Button]
    regenerate: gr.Button
    new_chat: gr.Button
    export_md: gr.DownloadButton
    export_json: gr.DownloadButton
    feedback: gr.Column
    feedback_prompt: gr.Markdown
    comment: gr.Textbox
    send_rating: gr.Button
    cancel_rating: gr.Button
    feedback_note: gr.HTML
    top_k: gr.Slider
    sources: gr.HTML
    chooser: gr.Radio
    document: gr.HTML


@dataclass
class _Documents:
    """The Documents tab: upload, the table, delete."""

    tab: gr.Tab
    upload: gr.File
    messages: gr.HTML
    table: gr.HTML
    to_delete: gr.Dropdown
    delete: gr.Button
    confirm_row: gr.Row
    confirm_text: gr.Markdown
    confirm: gr.Button
    keep: gr.Button


def build_app(
    engine: QAEngine, settings: Settings, *, limits: UploadLimits | None = None
) -> gr.Blocks:
    """The chat page for `engine`, as a `gr.Blocks`.

    The engine should be warmed up (`engine.warm_up()`), or the first question builds the
    index. `settings` gives the default top_k, answer_mode and data folder (uploads, ratings);
    `limits` overrides the upload limits from settings (tests). Serve it with `launch`.
    """
    _set_offline_defaults()
    import gradio as gr

    from ui.documents import IngestJobs
    from ui.events import PageEvents

    limits = limits or upload_limits(settings)
    export_dir = Path(tempfile.mkdtemp(prefix="citeqa-export-"))
    events = PageEvents(engine, settings, IngestJobs(engine), limits, export_dir)
    documents = engine.documents()
    # delete_cache: Gradio keeps a copy of every export and upload; drop them after a day.
    app = gr.Blocks(title="citeqa", analytics_enabled=False, delete_cache=(3600, 86400))
    with app:
        header = gr.HTML(render_header(documents), elem_id="citeqa-header")
        state = _State(
            conversation=gr.State([]),
            shown=gr.State(-1),
            pending=gr.State(None),
            rating=gr.State(None),
            known_docs=gr.State([d.doc_id for d in documents]),
            saved=gr.BrowserState(None, storage_key=SAVED_KEY, secret=SAVED_SECRET),
            timer=gr.Timer(POLL_S, active=False),
            cite_request=gr.Textbox(visible="hidden", elem_id="citeqa-cite-request"),
            rate_request=gr.Textbox(visible="hidden", elem_id="citeqa-rate-request"),
        )
        with gr.Tabs(elem_id="citeqa-tabs"):
            chat = _chat_tab(events, settings, documents)
            docs = _documents_tab(limits, documents)
        _wire_chat(app, events, settings, state, chat)
        _wire_documents(app, events, state, header, chat, docs)
    return app


def _chat_tab(events: PageEvents, settings: Settings, documents: list[DocumentInfo]) -> _Chat:
    import gradio as gr

    from ui.events import STRATEGY_DOC_ID

    engine = events.engine
    model = engine.answerer_name("generative").removeprefix("generative:") if events.has_model else ""
    default_mode = "generative" if model and settings.answer_mode != "extractive" else "extractive"
    with gr.Tab("Chat", id="chat"):
        gr.HTML(MOBILE_NAV, elem_id="citeqa-mobile-nav")
        with gr.Row(equal_height=False, elem_id="citeqa-chat-row"):
            with gr.Column(scale=3, elem_id="citeqa-main"):
                label = gr.Markdown(events.answerer_label(default_mode), elem_id="citeqa-answerer")
                mode = gr.Radio(
                    choices=[
                        ("Offline (quotes the document)", "extractive"),
                        (f"Model ({model})" if model else "Model", "generative"),
                    ],
                    value=default_mode,
                    label="Who answers",
                    visible=bool(model),
                    elem_id="citeqa-mode",
                )
                selection = gr.CheckboxGroup(
                    choices=[(d.title, d.doc_id) for d in documents],
                    value=[d.doc_id for d in documents],
                    label="Search in",
                    visible=len(documents) > 1,
                    elem_id="citeqa-selection",
                )
                chat = gr.Chatbot(
                    label="Conversation",
                    show_label=False,  # the floating label covered long answers' first line
                    elem_id="citeqa-chat",
                    height=460,
                    feedback_options=None,  # ratings are links in each answer (a comment too)
                    # The built-in copy copies a message's HTML source; each answer has its own
                    # copy link instead. Share posts to Hugging Face.
                    buttons=[],
                    placeholder="Ask about the documents: their goals, figures, plans or measures.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        label="Question",
                        placeholder="Type a question and press Enter",
                        show_label=False,
                        scale=5,
                        max_lines=4,
                        elem_id="citeqa-question",
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80)
                    stop = gr.Button(
                        "Stop", variant="stop", scale=1, min_width=80, visible=False,
                        elem_id="citeqa-stop",
                    )
                has_examples = STRATEGY_DOC_ID in {d.doc_id for d in documents}
                with gr.Column(visible=has_examples) as examples:
                    gr.Markdown("Or try one of these:", elem_classes="citeqa-examples-label")
                    with gr.Row():
                        example_buttons = [
                            gr.Button(text, size="sm", variant="secondary", elem_classes="citeqa-example")
                            for text in EXAMPLE_QUESTIONS
                        ]
                with gr.Row(elem_id="citeqa-chat-actions"):
                    regenerate = gr.Button("Regenerate last answer", size="sm")
                    new_chat = gr.Button("New chat", size="sm", variant="stop")
                    export_md = gr.DownloadButton(
                        "Export Markdown", size="sm", interactive=False, elem_id="citeqa-export-md"
                    )
                    export_json = gr.DownloadButton(
                        "Export JSON", size="sm", interactive=False, elem_id="citeqa-export-json"
                    )
                with gr.Column(visible=False, variant="panel", elem_id="citeqa-feedback") as feedback:
                    feedback_prompt = gr.Markdown()
                    comment = gr.Textbox(label="Comment (optional)", lines=2, elem_id="citeqa-comment")
                    with gr.Row():
                        send_rating = gr.Button("Send rating", variant="primary", size="sm")
                        cancel_rating = gr.Button("Cancel", size="sm")
                feedback_note = gr.HTML("", elem_id="citeqa-feedback-note")
                with gr.Accordion("Advanced", open=False):
                    top_k = gr.Slider(
                        minimum=1,
                        maximum=MAX_TOP_K,
                        step=1,
                        value=min(settings.top_k, MAX_TOP_K),
                        label="Passages retrieved per question (top-k)",
                    )
            with gr.Column(scale=2, elem_id="citeqa-side"):
                sources = gr.HTML(render_sources(None, -1), elem_id="citeqa-sources")
                chooser = gr.Radio(
                    choices=[], label="Open a passage in the document", visible=False,
                    elem_id="citeqa-chooser",
                )
                document = gr.HTML(render_document_view(None, None), elem_id="citeqa-document")
    return _Chat(
        label, mode, selection, chat, question, send, stop, examples, example_buttons, regenerate,
        new_chat, export_md, export_json, feedback, feedback_prompt, comment, send_rating,
        cancel_rating, feedback_note, top_k, sources, chooser, document,
    )


def _documents_tab(limits: UploadLimits, documents: list[DocumentInfo]) -> _Documents:
    import gradio as gr

    with gr.Tab("Documents", id="documents", elem_id="citeqa-documents-tab") as tab:
        upload = gr.File(
            label="Add documents: drop files here or click to choose (several at once)",
            file_count="multiple",
            file_types=list(limits.types),
            elem_id="citeqa-upload",
        )
        gr.Markdown(
            f"Accepted: {', '.join(limits.types)}, up to {limits.max_mb:g} MB each. Files are "
            "read and indexed in the background: the chat stays usable meanwhile.",
            elem_classes="citeqa-examples-label",
        )
        messages = gr.HTML("", elem_id="citeqa-upload-messages")
        table = gr.HTML(render_documents(documents), elem_id="citeqa-documents")
        with gr.Row():
            to_delete = gr.Dropdown(
                choices=[(d.title, d.doc_id) for d in documents],
                value=None,
                label="Delete a document",
                elem_id="citeqa-delete-choice",
                scale=3,
            )
            delete = gr.Button("Delete…", variant="stop", scale=1, min_width=100)
        with gr.Row(visible=False, elem_id="citeqa-confirm") as confirm_row:
            confirm_text = gr.Markdown()
            confirm = gr.Button("Delete", variant="stop", min_width=90)
            keep = gr.Button("Keep it", min_width=90)
    return _Documents(
        tab, upload, messages, table, to_delete, delete, confirm_row, confirm_text, confirm, keep
    )


def _wire_chat(
    app: gr.Blocks, events: PageEvents, settings: Settings, state: _State, chat: _Chat
) -> None:
    """Asking, stopping, regenerating, citations, ratings and the saved conversation."""
    import gradio as gr

    answer_outputs = [
        chat.question, chat.chat, state.conversation, state.shown, chat.sources, chat.chooser,
        chat.document, state.pending,
    ]
    buttons = [chat.send, chat.stop, chat.regenerate]
    persisted = [state.saved, chat.export_md, chat.export_json]

    def then_save(dependency: Any) -> None:
        """After `dependency`, keep the conversation in the browser and refresh the exports."""
        dependency.then(
            events.persist, inputs=state.conversation, outputs=persisted, api_visibility="private"
        )

    def while_answering(
        triggers: Sequence[Any], fn: Callable[..., Any], inputs: list[Any], api_name: str | None
    ) -> Any:
        """Ask → Stop while `fn` writes an answer, then back; then the conversation is saved."""
        started = gr.on(
            triggers, events.answering, outputs=buttons, queue=False, api_visibility="private"
        )
        answered = started.then(
            fn,
            inputs,
            answer_outputs,
            api_name=api_name,
            api_visibility="public" if api_name else "private",
            concurrency_limit=settings.ui_concurrency,
            concurrency_id=ANSWER_CONCURRENCY_ID,
        )
        then_save(answered.then(events.answered, outputs=buttons, api_visibility="private"))
        return answered

    options = [state.conversation, chat.mode, chat.top_k, chat.selection]
    writers = [
        while_answering(
            [chat.question.submit, chat.send.click], events.ask, [chat.question, *options], "ask"
        ),
        # A button's value is its text, so the same handler asks the example question.
        *(while_answering([b.click], events.ask, [b, *options], None) for b in chat.example_buttons),
        while_answering([chat.regenerate.click, chat.chat.retry], events.regenerate, options, None),
    ]
    then_save(
        chat.stop.click(
            events.stop,
            inputs=[state.conversation, state.pending],
            outputs=[chat.chat, state.conversation, state.pending, *buttons],
            cancels=writers,
            queue=False,
            api_visibility="private",
        )
    )
    # The button and the chat's own trash icon both start a new conversation.
    then_save(
        gr.on(
            [chat.new_chat.click, chat.chat.clear],
            events.new_chat,
            outputs=[*answer_outputs, chat.feedback],
            api_visibility="private",
        )
    )
    # The conversation the browser kept comes back on load (a reload keeps the chat).
    app.load(
        events.restore,
        inputs=state.saved,
        outputs=[
            chat.chat, state.conversation, state.shown, chat.sources, chat.chooser, chat.document,
            chat.export_md, chat.export_json,
        ],
        api_visibility="private",
    )
    state.cite_request.change(
        events.open_requested,
        inputs=[state.cite_request, state.conversation],
        outputs=[state.shown, chat.sources, chat.chooser, chat.document],
        show_progress="hidden",
        api_visibility="private",
    )
    chat.chooser.input(
        events.choose,
        inputs=[chat.chooser, state.conversation, state.shown],
        outputs=chat.document,
        show_progress="hidden",
        api_visibility="private",
    )
    chat.mode.change(
        events.answerer_label, inputs=chat.mode, outputs=chat.label, api_visibility="private"
    )
    state.rate_request.change(
        events.start_rating,
        inputs=[state.rate_request, state.conversation],
        outputs=[chat.feedback, chat.feedback_prompt, chat.comment, state.rating, chat.feedback_note],
        show_progress="hidden",
        api_visibility="private",
    )
    then_save(
        gr.on(
            [chat.send_rating.click, chat.comment.submit],
            events.send_rating,
            inputs=[state.conversation, state.rating, chat.comment],
            outputs=[chat.feedback, chat.feedback_note, state.conversation, chat.chat, state.rating],
            api_visibility="private",
        )
    )
    chat.cancel_rating.click(
        events.cancel_rating, outputs=[chat.feedback, state.rating], api_visibility="private"
    )


def _wire_documents(
    app: gr.Blocks, events: PageEvents, state: _State, header: gr.HTML, chat: _Chat,
    docs: _Documents,
) -> None:
    """Listing (on load, on opening the tab, while uploads are ingested), upload, delete."""
    import gradio as gr

    document_outputs = [
        header, docs.table, chat.selection, state.known_docs, chat.examples, docs.to_delete,
        state.timer,
    ]
    gr.on(
        [app.load, docs.tab.select, state.timer.tick],
        events.documents,
        inputs=[chat.selection, state.known_docs],
        outputs=document_outputs,
        show_progress="hidden",
        api_visibility="private",
    )
    docs.upload.upload(
        events.add_files,
        inputs=[docs.upload, chat.selection, state.known_docs],
        outputs=[docs.upload, docs.messages, *document_outputs],
        api_visibility="private",
    )
    docs.delete.click(
        events.ask_delete,
        inputs=docs.to_delete,
        outputs=[docs.confirm_row, docs.confirm_text, docs.messages],
        api_visibility="private",
    )
    docs.confirm.click(
        events.delete,
        inputs=[docs.to_delete, chat.selection, state.known_docs],
        outputs=[docs.confirm_row, docs.messages, *document_outputs],
        api_visibility="private",
    )
    docs.keep.click(
        lambda: gr.update(visible=False), outputs=docs.confirm_row, api_visibility="private"
    )


def _set_offline_defaults() -> None:
    """Gradio's switches for its analytics and hub look-ups (reads them at call time)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, "localhost")."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_address(host: str, port: int) -> None:
    """Raise CiteqaError (one line) unless the page could listen on host:port: a host that
    is not an address of this machine, or a port another program holds. Checked before the
    index is opened, so a typo costs nothing; `launch` may still fail if the port is taken
    in between."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError, OverflowError):
        raise CiteqaError(f"cannot serve on {host}: not a host name or address") from None
    with socket.socket(family, kind, proto) as probe:
        # As the web server does: a port whose last connection is closing is free to use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CiteqaError(
                    f"port {port} on {host} is already in use; choose another with --port"
                ) from None
            if error.errno == errno.EADDRNOTAVAIL:
                raise CiteqaError(f"cannot serve on {host}: not an address of this machine") from None
            raise CiteqaError(f"cannot serve on {host}:{port}: {error.strerror}") from None


def launch(
    app: gr.Blocks,
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    prevent_thread_lock: bool = False,
    limits: UploadLimits | None = None,
) -> str:
    """Serve the page from `build_app` and return its URL.

    Binds `host` or settings.ui_host (127.0.0.1) on `port` or settings.ui_port, warns on
    stderr when the address is reachable from other machines, asks for a login when
    settings.auth ("user:password") is set, and answers settings.ui_concurrency questions at
    once. Uploads over the upload limit (`limits`, default from settings: pass what
    `build_app` got) are refused before they are stored.
    Blocks until interrupted unless `prevent_thread_lock`. Raises CiteqaError for an auth
    setting without a colon, or when host:port cannot be served (taken, not this machine).
    """
    _set_offline_defaults()
    import gradio as gr

    host = host or settings.ui_host
    port = settings.ui_port if port is None else port
    auth: tuple[str, str] | None = None
    if settings.auth is not None:
        user, colon, password = settings.auth.get_secret_value().partition(":")
        if not colon or not user or not password:
            raise CiteqaError("CITEQA_AUTH must be user:password")
        auth = (user, password)
    if not is_loopback(host):
        login = "a login is required" if auth else "no login is set (CITEQA_AUTH=user:password)"
        print(
            f"citeqa: warning: binding {host}:{port} makes the page reachable from other "
            f"machines, and {login}. Use 127.0.0.1 to keep it on this machine.",
            file=sys.stderr,
        )
    app.queue(default_concurrency_limit=settings.ui_concurrency)
    try:
        _, local_url, _ = app.launch(
            server_name=host,
            server_port=port,
            share=False,
            auth=auth,
            auth_message="citeqa: log in to ask questions" if auth else None,
            prevent_thread_lock=prevent_thread_lock,
            inbrowser=False,
            show_error=False,
            ssr_mode=False,  # server-side rendering needs Node and adds a second server
            mcp_server=False,
            pwa=False,
            footer_links=[],  # the page is for readers; the API is documented in the README
            theme=gr.themes.Base(font=FONT, font_mono=FONT_MONO),
            css=CSS,
            js=JS,
            quiet=True,
            max_file_size=(limits or upload_limits(settings)).max_bytes,
        )
    except OSError as error:  # gradio: "Cannot find empty port in range: 7860-7860. …"
        raise CiteqaError(f"cannot serve on {host}:{port}: {str(error).split('. ')[0]}") from None
    return str(local_url)
