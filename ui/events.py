"""What each event of the chat page does: `PageEvents`, one small method per event.

`ui.app.build_app` lays the page out and wires each event to a method here; the outputs of
every method are listed, in order, in its docstring, and app.py names the same lists. The
methods hold no page state of their own: a conversation lives in the session's gr.State (and
the browser's localStorage), documents in the engine, uploads in `IngestJobs`. HTML comes
from `ui.format`, records from `ui.conversation`. Imported by `build_app` only, after
gradio's offline switches are set.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import gradio as gr

from rag import Answer, CiteqaError, QAEngine, Settings
from rag.feedback import FEEDBACK_FILENAME, FeedbackStore, JSONValue
from rag.question import well_formed
from rag.types import DocumentInfo
from ui.conversation import (
    Exchange,
    conversation_json,
    from_saved,
    history,
    rating_settings,
    to_saved,
)
from ui.documents import (
    JOB_PREFIX,
    IngestJobs,
    documents_to_search,
    selection_after_change,
)
from ui.format import (
    PassageChoice,
    chat_messages,
    conversation_markdown,
    describe_answerer,
    documents_title,
    passage_choices,
    render_document_gone,
    render_document_view,
    render_documents,
    render_draft,
    render_header,
    render_messages,
    render_question,
    render_sources,
    supporting_spans,
)
from ui.uploads import UploadError, UploadLimits, remove_upload, stage_upload, uploaded_at

ModeChoice = Literal["extractive", "generative"]
Outputs = tuple[object, ...]
STOPPED = "Stopped before the answer was finished"
# The id of the bundled Strategy (ingest.load.doc_id_for): its example questions are shown
# only while it is in the index.
STRATEGY_DOC_ID = "national-informatization-strategy-2006-2020"


class PageEvents:
    """The page's event handlers over one engine (see the module docstring)."""

    def __init__(
        self,
        engine: QAEngine,
        settings: Settings,
        jobs: IngestJobs,
        limits: UploadLimits,
        export_dir: Path,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.jobs = jobs
        self.limits = limits
        self.export_dir = export_dir
        self.has_model = engine.generative is not None
        self.threshold = engine.policy.support_threshold
        # Only dense retrieval scores passages by best-sentence cosine; fused ranks mean nothing.
        self.scores_are_cosines = settings.retrieval_mode == "dense"
        self.feedback = FeedbackStore(settings.data_dir / FEEDBACK_FILENAME)

    # --- asking ---------------------------------------------------------------------------
    def mode(self, mode: str) -> ModeChoice:
        return "generative" if mode == "generative" and self.has_model else "extractive"

    def answerer_label(self, mode: str) -> str:
        return f"**Answering with** {describe_answerer(self.engine.answerer_name(self.mode(mode)))}"

    def ask(
        self,
        question: str,
        conversation: list[Exchange] | None,
        mode: str,
        top_k: float,
        documents: list[str] | None,
    ) -> Iterator[Outputs]:
        """Answer a question. Outputs: question box, chat, conversation, shown turn, sources,
        chooser, document view, the question being answered (None when done)."""
        # A lone surrogate (a broken paste) would make every later output of this session
        # fail to serialise: the page would hang on this question and the next.
        question = well_formed(question or "")
        yield from self._answer(question, list(conversation or []), mode, top_k, documents)

    def regenerate(
        self,
        conversation: list[Exchange] | None,
        mode: str,
        top_k: float,
        documents: list[str] | None,
    ) -> Iterator[Outputs]:
        """Ask the last question again, replacing its answer. Outputs as `ask`."""
        exchanges = list(conversation or [])
        if not exchanges:
            skip = gr.skip()
            yield skip, skip, skip, skip, skip, skip, skip, None
            return
        yield from self._answer(exchanges[-1].question, exchanges[:-1], mode, top_k, documents)

    def _answer(
        self,
        question: str,
        exchanges: list[Exchange],
        mode: str,
        top_k: float,
        documents: list[str] | None,
    ) -> Iterator[Outputs]:
        skip = gr.skip()
        turn = len(exchanges)
        shown = chat_messages(exchanges, self.threshold)
        if question.strip():
            shown.append({"role": "user", "content": render_question(question)})
        yield "", [*shown, _draft("")], skip, skip, skip, skip, skip, question
        asked_with: dict[str, JSONValue] = {"mode": self.mode(mode), "top_k": int(top_k)}
        answer: Answer | None = None
        draft = ""
        try:
            searched = documents_to_search(documents, [d.doc_id for d in self.engine.documents()])
            asked_with["documents"] = list(searched) if searched is not None else "all"
            for item in self.engine.ask_stream(
                question,
                top_k=int(top_k),
                mode=self.mode(mode),
                history=history(exchanges),
                documents=searched,
            ):
                if isinstance(item, Answer):
                    answer = item
                else:
                    draft += item
                    yield skip, [*shown, _draft(draft)], skip, skip, skip, skip, skip, skip
        except (CiteqaError, ValueError) as error:  # QuestionError is a ValueError too
            message = str(error)
        except Exception:  # a bug: the log gets the traceback, the reader one calm line
            traceback.print_exc()
            message = "Something went wrong while answering; the server log has the details"
        if answer is None:
            exchanges.append(Exchange(question, None, message, asked_with))
            yield skip, chat_messages(exchanges, self.threshold), exchanges, skip, skip, skip, skip, None
            return
        exchanges.append(Exchange(question, answer, asked_with=asked_with))
        yield (
            skip,
            chat_messages(exchanges, self.threshold),
            exchanges,
            turn,
            self._sources(answer, turn),
            self._chooser(answer, None),
            render_document_view(None, None),
            None,
        )

    def answering(self) -> Outputs:
        """While an answer is written: Ask hides, Stop shows. Outputs: ask, stop, regenerate."""
        return gr.update(visible=False), gr.update(visible=True), gr.update(interactive=False)

    def answered(self) -> Outputs:
        """When no answer is being written. Outputs: ask, stop, regenerate."""
        return gr.update(visible=True), gr.update(visible=False), gr.update(interactive=True)

    def stop(self, conversation: list[Exchange] | None, pending: str | None) -> Outputs:
        """The reader stopped the answer being written. Outputs: chat, conversation, the
        question being answered, ask, stop, regenerate."""
        exchanges = list(conversation or [])
        if pending is not None:  # else the answer had already arrived: nothing to note
            exchanges.append(Exchange(pending, None, STOPPED))
        return (chat_messages(exchanges, self.threshold), exchanges, None, *self.answered())

    def new_chat(self) -> Outputs:
        """Forget the conversation. Outputs: question box, chat, conversation, shown turn,
        sources, chooser, document view, the question being answered, feedback form."""
        return (
            "",
            [],
            [],
            -1,
            render_sources(None, -1),
            self._chooser(None, None),
            render_document_view(None, None),
            None,
            gr.update(visible=False),
        )

    # --- the conversation kept in the browser and exported -------------------------------
    def persist(self, conversation: list[Exchange] | None, request: gr.Request) -> Outputs:
        """Save the conversation in the browser and refresh the export buttons. Outputs:
        saved conversation, Markdown export, JSON export."""
        exchanges = list(conversation or [])
        return (to_saved(exchanges), *self._exports(exchanges, request.session_hash))

    def restore(self, saved: object, request: gr.Request) -> Outputs:
        """The conversation the browser kept, shown again after a reload. Outputs: chat,
        conversation, shown turn, sources, chooser, document view, Markdown export, JSON
        export."""
        exchanges = from_saved(saved)
        last = next(
            ((t, e.answer) for t, e in reversed(list(enumerate(exchanges))) if e.answer), None
        )
        turn, answer = last if last is not None else (-1, None)
        return (
            chat_messages(exchanges, self.threshold),
            exchanges,
            turn,
            self._sources(answer, turn),
            self._chooser(answer, None),
            render_document_view(None, None),
            *self._exports(exchanges, request.session_hash),
        )

    def _exports(self, exchanges: Sequence[Exchange], session: str | None) -> tuple[object, object]:
        if not exchanges:
            return gr.update(value=None, interactive=False), gr.update(value=None, interactive=False)
        title = documents_title(self.engine.documents())
        markdown = conversation_markdown(exchanges, title, self.threshold)
        # One folder per browser tab, rewritten on each change: the files never outgrow the
        # number of tabs, and a download never picks up another tab's conversation.
        key = session or hashlib.sha256(markdown.encode("utf-8")).hexdigest()
        folder = self.export_dir / hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        md_path = folder / "citeqa-conversation.md"
        json_path = folder / "citeqa-conversation.json"
        md_path.write_text(markdown, encoding="utf-8")
        json_path.write_text(conversation_json(exchanges, title), encoding="utf-8")
        return (
            gr.update(value=str(md_path), interactive=True),
            gr.update(value=str(json_path), interactive=True),
        )

    # --- citations and the document view -------------------------------------------------
    def open_requested(self, request: str, conversation: list[Exchange] | None) -> Outputs:
        """A click on a [n] anywhere: "turn:n:nonce" → that answer's sources and passage n.
        Outputs: shown turn, sources, chooser, document view."""
        skip = gr.skip()
        try:
            turn_text, number_text, *_ = request.split(":")
            turn, number = int(turn_text), int(number_text)
        except ValueError:
            return skip, skip, skip, skip
        answer = _answer_at(conversation, turn)
        if answer is None:  # a marker left from a cleared conversation
            return skip, skip, skip, skip
        return (
            turn,
            self._sources(answer, turn),
            self._chooser(answer, number),
            self._document_view(answer, number),
        )

    def choose(self, choice: str | None, conversation: list[Exchange] | None, shown: int) -> str:
        """A passage picked in the chooser. Output: document view."""
        return self._document_view(_answer_at(conversation, shown), int(choice) if choice else None)

    def _sources(self, answer: Answer | None, turn: int) -> str:
        return render_sources(
            answer, turn, self.threshold, scores_are_cosines=self.scores_are_cosines
        )

    def _chooser(self, answer: Answer | None, selected: int | None) -> object:
        choices = passage_choices(answer) if answer is not None else []
        return gr.update(
            choices=[(c.label, str(c.number)) for c in choices],
            value=str(selected) if selected is not None else None,
            visible=bool(choices),
        )

    def _document_view(self, answer: Answer | None, number: int | None) -> str:
        choice = _choice(answer, number)
        if answer is None or choice is None:
            return render_document_view(None, None)
        spans = supporting_spans(answer, choice.number) if choice.is_cited else []
        document = self.engine.document_text(choice.passage.doc)
        try:
            if document is not None:
                return render_document_view(document, choice, spans)
        except ValueError:  # the document changed since: its offsets no longer hold
            pass
        return render_document_gone(choice)

    # --- ratings ---------------------------------------------------------------------------
    def start_rating(self, request: str, conversation: list[Exchange] | None) -> Outputs:
        """A click on 👍 / 👎 under an answer: "turn:rating:nonce" → the comment form.
        Outputs: feedback form, its prompt, comment box, pending rating, feedback note."""
        skip = gr.skip()
        try:
            turn_text, rating_text, *_ = request.split(":")
            turn, rating = int(turn_text), int(rating_text)
        except ValueError:
            return skip, skip, skip, skip, skip
        exchanges = conversation or []
        if _answer_at(exchanges, turn) is None or rating not in (1, -1):
            return skip, skip, skip, skip, skip
        verdict = "Helpful" if rating == 1 else "Not helpful"
        prompt = (
            f"**{verdict}**: your rating of the answer to “{_plain(exchanges[turn].question)}”. "
            "Add a comment if you like (what was wrong or missing?), then send it."
        )
        return gr.update(visible=True), prompt, "", (turn, rating), ""

    def send_rating(
        self,
        conversation: list[Exchange] | None,
        pending: tuple[int, int] | list[int] | None,
        comment: str,
    ) -> Outputs:
        """Store the pending rating with its comment. Outputs: feedback form, feedback note,
        conversation, chat, pending rating."""
        exchanges = list(conversation or [])
        skip = gr.skip()
        if not pending:
            return gr.update(visible=False), "", skip, skip, None
        turn, rating = int(pending[0]), int(pending[1])
        exchange = exchanges[turn] if 0 <= turn < len(exchanges) else None
        if exchange is None or exchange.answer is None:
            return gr.update(visible=False), "", skip, skip, None
        answer = exchange.answer
        try:
            self.feedback.record(
                question=answer.original_question,
                answer=answer.answer,
                citations=answer.citations,
                settings=rating_settings(self.settings, exchange),
                answerer=answer.answerer,
                rating=rating,
                comment=well_formed(comment or "").strip(),
            )
        except CiteqaError as error:
            return skip, render_messages([str(error)]), skip, skip, skip
        exchanges[turn] = Exchange(
            exchange.question, answer, exchange.message, exchange.asked_with, rating
        )
        note = render_messages(["Thank you: your rating was saved."], is_error=False)
        return gr.update(visible=False), note, exchanges, chat_messages(exchanges, self.threshold), None

    def cancel_rating(self) -> Outputs:
        """Close the comment form without rating. Outputs: feedback form, pending rating."""
        return gr.update(visible=False), None

    # --- documents -------------------------------------------------------------------------
    def documents(self, selected: list[str] | None, known: list[str] | None) -> Outputs:
        """The documents as every part of the page shows them. Outputs: header (with the line
        on uploads being added), documents table, "Search in" choices, known doc ids, examples
        box, delete chooser, poll timer."""
        ready = [
            d if d.added_at else replace(d, added_at=uploaded_at(self.settings.data_dir, d.source))
            for d in self.engine.documents()
        ]
        pending = self.jobs.rows()
        ids = [d.doc_id for d in ready]
        chosen = selection_after_change(known or [], selected or [], ids)
        return (
            render_header(ready, pending),
            render_documents([*pending, *ready]),
            gr.update(
                choices=[(d.title, d.doc_id) for d in ready], value=chosen, visible=len(ready) > 1
            ),
            ids,
            gr.update(visible=STRATEGY_DOC_ID in ids),
            gr.update(choices=_deletable(pending, ready), value=None),
            gr.Timer(active=self.jobs.is_busy()),
        )

    def add_files(
        self, files: list[str] | None, selected: list[str] | None, known: list[str] | None
    ) -> Outputs:
        """Files dropped or picked: check each, queue the good ones for ingest. Outputs:
        upload box (emptied), upload messages, then those of `documents`."""
        refused: list[str] = []
        staged = []
        for received in files or []:
            path = Path(received)
            try:
                staged.append(stage_upload(path, path.name, self.settings.data_dir, self.limits))
            except UploadError as error:
                refused.append(str(error))
        self.jobs.submit(staged)  # each shows in the table as "adding…" until it is in
        return (None, render_messages(refused), *self.documents(selected, known))

    def ask_delete(self, doc_id: str | None) -> Outputs:
        """"Delete…" pressed: ask to confirm (a failed upload's line goes at once). Outputs:
        confirmation row, its text, upload messages."""
        skip = gr.skip()
        if not doc_id:
            return skip, skip, render_messages(["Choose a document to delete first."])
        if doc_id.startswith(JOB_PREFIX):
            self.jobs.dismiss(doc_id)
            return gr.update(visible=False), "", render_messages(["Removed."], is_error=False)
        info = next((d for d in self.engine.documents() if d.doc_id == doc_id), None)
        if info is None:
            return gr.update(visible=False), "", render_messages(["That document is gone already."])
        text = (
            f"Delete **{_plain(info.title)}** and its {info.chunks} passages? Questions will no "
            "longer find it, and its uploaded file is removed from the data folder."
        )
        return gr.update(visible=True), text, ""

    def delete(self, doc_id: str | None, selected: list[str] | None, known: list[str] | None) -> Outputs:
        """Deletion confirmed. Outputs: confirmation row, upload messages, then those of
        `documents`."""
        info = next((d for d in self.engine.documents() if d.doc_id == doc_id), None)
        message = render_messages(["That document is gone already."])
        if info is not None:
            try:
                self.engine.delete_document(info.doc_id)
                remove_upload(self.settings.data_dir, info.source)
                message = render_messages([f"Deleted {info.title}."], is_error=False)
            except (CiteqaError, ValueError) as error:
                message = render_messages([str(error)])
        return (gr.update(visible=False), message, *self.documents(selected, known))


def _draft(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": render_draft(text)}


def _answer_at(conversation: Sequence[Exchange] | None, turn: int) -> Answer | None:
    exchanges = conversation or []
    return exchanges[turn].answer if 0 <= turn < len(exchanges) else None


def _choice(answer: Answer | None, number: int | None) -> PassageChoice | None:
    if answer is None or number is None:
        return None
    return next((c for c in passage_choices(answer) if c.number == number), None)


def _deletable(pending: Sequence[DocumentInfo], ready: Sequence[DocumentInfo]) -> list[tuple[str, str]]:
    failed = [(f"{d.title} (not added)", d.doc_id) for d in pending if d.status == "failed"]
    return [(d.title, d.doc_id) for d in ready] + failed


def _plain(text: str) -> str:
    """Text for a Markdown line: one line, and no character Markdown would act on."""
    return "".join(f"\\{c}" if c in "\\`*_{}[]<>()#+-.!|" else c for c in " ".join(text.split()))

