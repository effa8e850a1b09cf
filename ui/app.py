"""The chat page: `build_app(engine, settings)` lays it out, `launch(app, settings)` serves it.

Layout only: every answer comes from `QAEngine.ask_stream`, every piece of HTML from
`ui.format`. The page binds 127.0.0.1 unless told otherwise, sends nothing to outside hosts
(no analytics, no web fonts, no share link) and answers several people at once through
Gradio's queue. The compromise: clicking an inline [n] in the chat goes through a tiny JS hook
that writes "turn:n" into a hidden textbox, because a Chatbot message cannot carry events of
its own.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from rag import Answer, CiteqaError, QAEngine, Settings, Turn
from ui.format import (
    PassageChoice,
    describe_answerer,
    passage_choices,
    render_answer,
    render_document_view,
    render_draft,
    render_error,
    render_question,
    render_sources,
    supporting_spans,
)

if TYPE_CHECKING:  # gradio is imported when the page is built, after its offline switches
    import gradio as gr

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

ChatMessage = dict[str, object]
ModeChoice = Literal["extractive", "generative"]

# Plain system fonts: the page must not fetch fonts (or anything) from another host.
FONT = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"]
FONT_MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]

CSS = """
#citeqa-chat .citeqa-message p { margin: 0.35em 0; }
.citeqa-answer { line-height: 1.55; }
a.cite { cursor: pointer; text-decoration: none; font-weight: 600;
         color: var(--color-accent); padding: 0 1px; border-radius: 3px; }
a.cite:hover, a.cite:focus { background: var(--color-accent-soft); outline: none; }
a.cite.closest { font-weight: normal; }
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
.source-text { font-size: 0.9em; margin: 0.35em 0; line-height: 1.5; }
.source-open { font-size: 0.85em; }
.citeqa-sources.empty, .citeqa-document.empty { opacity: 0.7; font-size: 0.9em; }
.citeqa-document .doc-head { margin-bottom: 0.4em; }
.citeqa-document .doc-where { display: block; font-size: 0.8em; opacity: 0.7; }
.citeqa-document .doc-text { max-height: 380px; overflow-y: auto; font-size: 0.9em;
                             line-height: 1.55; border: 1px solid var(--border-color-primary);
                             border-radius: 6px; padding: 0.6em 0.8em; }
.doc-passage { background: rgba(138,164,200,0.18); border-radius: 3px; }
mark { background: #ffe58a; color: inherit; padding: 0 1px; }
"""

# Runs once when the page loads. A click (or Enter) on any <a class="cite"> — the
# inline [n] markers, the refusal's closest passages, the sources' "Show in the document" —
# writes "turn:n:nonce" into the hidden textbox; the nonce makes a second click on the same
# marker a change too. Whenever a new passage appears in the document view, it is scrolled
# to the upper third of its box, and the box onto the screen.
JS = """
() => {
  // The chat's sanitiser drops data-* attributes, so the numbers are read from the classes.
  const number = (link, prefix) => {
    const name = [...link.classList].find((c) => c.startsWith(prefix));
    return name ? name.slice(prefix.length) : null;
  };
  const request = (link) => {
    const box = document.querySelector('#citeqa-cite-request textarea, #citeqa-cite-request input');
    const turn = number(link, 'turn-'), cite = number(link, 'cite-');
    if (!box || turn === null || cite === null) return;
    box.value = `${turn}:${cite}:${Date.now()}`;
    box.dispatchEvent(new Event('input', { bubbles: true }));
  };
  const handle = (event) => {
    const link = event.target.closest && event.target.closest('a.cite');
    if (!link) return;
    if (event.type === 'keydown' && event.key !== 'Enter' && event.key !== ' ') return;
    event.preventDefault();
    request(link);
  };
  document.addEventListener('click', handle);
  document.addEventListener('keydown', handle);
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


def build_app(engine: QAEngine, settings: Settings) -> gr.Blocks:
    """The chat page for `engine`, as a `gr.Blocks`.

    The engine should be warmed up (`engine.warm_up()`), or the first question builds the
    index. `settings` gives the default top_k and answer_mode. Serve it with `launch`.
    """
    _set_offline_defaults()
    import gradio as gr

    has_model = engine.generative is not None
    default_mode: ModeChoice = (
        "generative" if has_model and settings.answer_mode != "extractive" else "extractive"
    )

    def answerer_label(mode: str) -> str:
        return f"**Answering with** {describe_answerer(engine.answerer_name(_mode(mode)))}"

    def _mode(mode: str) -> ModeChoice:
        return "generative" if mode == "generative" and has_model else "extractive"

    def chooser_update(answer: Answer | None, selected: int | None) -> object:
        choices = passage_choices(answer) if answer is not None else []
        return gr.update(
            choices=[(c.label, str(c.number)) for c in choices],
            value=str(selected) if selected is not None else None,
            visible=bool(choices),
        )

    def document_view(answer: Answer | None, number: int | None) -> str:
        choice = _choice(answer, number)
        if answer is None or choice is None:
            return render_document_view(None, None)
        spans = supporting_spans(answer, choice.number) if choice.is_cited else []
        return render_document_view(engine.document_text(choice.passage.doc), choice, spans)

    def ask(
        question: str,
        chat: list[ChatMessage] | None,
        answers: list[Answer] | None,
        mode: str,
        top_k: float,
    ) -> Iterator[tuple[object, ...]]:
        chat = list(chat or [])
        answers = list(answers or [])
        turn = len(answers)
        if question and question.strip():
            chat.append({"role": "user", "content": render_question(question)})
        chat.append({"role": "assistant", "content": render_draft("")})
        skip = gr.skip()
        yield "", chat, skip, skip, skip, skip, skip
        history = [Turn(a.original_question, a.answer) for a in answers]
        answer: Answer | None = None
        draft = ""
        try:
            for item in engine.ask_stream(
                question or "", top_k=int(top_k), mode=_mode(mode), history=history
            ):
                if isinstance(item, Answer):
                    answer = item
                else:
                    draft += item
                    chat[-1] = {"role": "assistant", "content": render_draft(draft)}
                    yield skip, chat, skip, skip, skip, skip, skip
        except CiteqaError as error:
            chat[-1] = {"role": "assistant", "content": render_error(str(error))}
            yield skip, chat, skip, skip, skip, skip, skip
            return
        except Exception:  # a bug: the log gets the traceback, the reader one calm line
            traceback.print_exc()
            chat[-1] = {
                "role": "assistant",
                "content": render_error(
                    "Something went wrong while answering; the server log has the details"
                ),
            }
            yield skip, chat, skip, skip, skip, skip, skip
            return
        assert answer is not None, "ask_stream ends with an Answer"
        chat[-1] = {"role": "assistant", "content": render_answer(answer, turn)}
        answers.append(answer)
        yield (
            skip,
            chat,
            answers,
            turn,
            render_sources(answer, turn),
            chooser_update(answer, None),
            render_document_view(None, None),
        )

    def open_requested(request: str, answers: list[Answer] | None) -> tuple[object, ...]:
        """A click on a [n] anywhere: "turn:n:nonce" → that answer's sources and passage n."""
        try:
            turn_text, number_text, *_ = request.split(":")
            turn, number = int(turn_text), int(number_text)
        except ValueError:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        answers = answers or []
        if not 0 <= turn < len(answers):  # a marker left from a cleared conversation
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        answer = answers[turn]
        return (
            turn,
            render_sources(answer, turn),
            chooser_update(answer, number),
            document_view(answer, number),
        )

    def choose(choice: str | None, answers: list[Answer] | None, shown: int) -> str:
        answers = answers or []
        answer = answers[shown] if 0 <= shown < len(answers) else None
        return document_view(answer, int(choice) if choice else None)

    def clear() -> tuple[object, ...]:
        return (
            [],
            [],
            -1,
            render_sources(None, -1),
            chooser_update(None, None),
            render_document_view(None, None),
            "",
        )

    app = gr.Blocks(title="citeqa", analytics_enabled=False)
    with app:
        gr.Markdown(
            "# citeqa · 2006–2020 National Informatization Development Strategy\n"
            "Ask a question about the Strategy. Every answer cites numbered passages of the "
            "document: click a **[n]** to read that passage where it stands."
        )
        answers_state = gr.State([])
        shown_state = gr.State(-1)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                label = gr.Markdown(answerer_label(default_mode), elem_id="citeqa-answerer")
                mode = gr.Radio(
                    choices=[
                        ("Offline (quotes the document)", "extractive"),
                        (
                            f"Model ({engine.answerer_name('generative').removeprefix('generative:')})"
                            if has_model
                            else "Model",
                            "generative",
                        ),
                    ],
                    value=default_mode,
                    label="Who answers",
                    visible=has_model,
                    elem_id="citeqa-mode",
                )
                chat = gr.Chatbot(
                    label="Conversation",
                    show_label=False,  # the floating label covered the first line of long answers
                    elem_id="citeqa-chat",
                    height=460,
                    feedback_options=None,
                    # Copying would copy the message's HTML source, not its text; share posts
                    # to Hugging Face. Neither belongs on an offline page.
                    buttons=[],
                    placeholder="Ask about the Strategy's goals, figures, plans or measures.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        label="Question",  # also the parameter's name in the /ask API
                        placeholder="Type a question and press Enter",
                        show_label=False,
                        scale=5,
                        max_lines=4,
                        elem_id="citeqa-question",
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80)
                gr.Markdown("Or try one of these:", elem_classes="citeqa-examples-label")
                with gr.Row():
                    example_buttons = [
                        gr.Button(
                            text, size="sm", variant="secondary", elem_classes="citeqa-example"
                        )
                        for text in EXAMPLE_QUESTIONS
                    ]
                with gr.Row():
                    clear_button = gr.Button("Clear conversation", size="sm", variant="stop")
                with gr.Accordion("Advanced", open=False):
                    top_k = gr.Slider(
                        minimum=1,
                        maximum=MAX_TOP_K,
                        step=1,
                        value=min(settings.top_k, MAX_TOP_K),
                        label="Passages retrieved per question (top-k)",
                    )
            with gr.Column(scale=2):
                sources = gr.HTML(
                    render_sources(None, -1), elem_id="citeqa-sources", js_on_load=None
                )
                chooser = gr.Radio(
                    choices=[],
                    label="Open a passage in the document",
                    visible=False,
                    elem_id="citeqa-chooser",
                )
                document = gr.HTML(
                    render_document_view(None, None), elem_id="citeqa-document", js_on_load=None
                )
        cite_request = gr.Textbox(visible="hidden", elem_id="citeqa-cite-request")

        outputs = [question, chat, answers_state, shown_state, sources, chooser, document]
        gr.on(
            triggers=[question.submit, send.click],
            fn=ask,
            inputs=[question, chat, answers_state, mode, top_k],
            outputs=outputs,
            api_name="ask",
            concurrency_limit=settings.ui_concurrency,
            concurrency_id=ANSWER_CONCURRENCY_ID,
        )
        for button in example_buttons:
            # A button's value is its text, so the same handler asks the example question.
            button.click(
                ask,
                inputs=[button, chat, answers_state, mode, top_k],
                outputs=outputs,
                api_visibility="private",
                concurrency_limit=settings.ui_concurrency,
                concurrency_id=ANSWER_CONCURRENCY_ID,
            )
        cite_request.change(
            open_requested,
            inputs=[cite_request, answers_state],
            outputs=[shown_state, sources, chooser, document],
            api_visibility="private",
            show_progress="hidden",
        )
        chooser.input(
            choose,
            inputs=[chooser, answers_state, shown_state],
            outputs=document,
            api_visibility="private",
            show_progress="hidden",
        )
        mode.change(answerer_label, inputs=mode, outputs=label, api_visibility="private")
        # The button and the chat's own trash icon both forget the whole conversation.
        gr.on(
            triggers=[clear_button.click, chat.clear],
            fn=clear,
            outputs=[chat, answers_state, shown_state, sources, chooser, document, question],
            api_visibility="private",
        )
    return app


def _set_offline_defaults() -> None:
    """Gradio's switches for its analytics and hub look-ups (reads them at call time)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def _choice(answer: Answer | None, number: int | None) -> PassageChoice | None:
    if answer is None or number is None:
        return None
    return next((c for c in passage_choices(answer) if c.number == number), None)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, "localhost")."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def launch(
    app: gr.Blocks,
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    prevent_thread_lock: bool = False,
) -> str:
    """Serve the page from `build_app` and return its URL.

    Binds `host` or settings.ui_host (127.0.0.1) on `port` or settings.ui_port, warns on
    stderr when the address is reachable from other machines, asks for a login when
    settings.auth ("user:password") is set, and answers settings.ui_concurrency questions at
    once. Blocks until interrupted unless `prevent_thread_lock`. Raises CiteqaError for an
    auth setting without a colon; OSError if the port is taken.
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
    )
    return str(local_url)
