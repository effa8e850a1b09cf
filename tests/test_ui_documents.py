"""The page's documents panel and chat tools end to end, in headless Chromium (Playwright).

The page is served over a copy of the session's index (these tests add and delete documents),
on a free 127.0.0.1 port. Every file is real and written in the test (fpdf2, python-docx);
uploads go through the page's own file input. Each test reads what a person would see,
records every request to a host other than 127.0.0.1 (there must be none) and saves
screenshots to artifacts/screenshots/ for a human to look at.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from ingest.embed import MiniLMEmbedder
from rag import QAEngine, Settings, load_settings
from rag.feedback import FEEDBACK_FILENAME, FeedbackStore
from tests.conftest import REPO, serve
from tests.openai_server import ScriptedChatServer
from tests.test_ui_browser import (
    GDP_QUESTION,
    WAIT_MS,
    Visit,
    is_this_machine,
)
from tests.ui_files import (
    FEE_PAGE,
    FEE_QUESTION,
    FEE_SENTENCE,
    LATE_FEE_QUESTION,
    write_corrupt_pdf,
    write_harbour_pdf,
    write_library_docx,
)
from ui.app import SAVED_KEY
from ui.uploads import uploads_dir

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

STRATEGY = "2006-2020 National Informatization Development Strategy"
HARBOUR = "Westhaven Harbour Policy"
# WCAG AA for body text.
MIN_CONTRAST = 4.5
MOBILE = {"width": 390, "height": 844}

# Contrast of an element's text against what is painted behind it: its own background and its
# ancestors' composited up to the first opaque one (WCAG 2 relative luminance).
CONTRAST_JS = """
(element) => {
  const rgba = (text) => { const v = text.match(/[\\d.]+/g).map(Number); return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; };
  const layers = [];
  for (let node = element; node; node = node.parentElement) {
    const colour = rgba(getComputedStyle(node).backgroundColor);
    if (colour[3] > 0) layers.push(colour);
    if (colour[3] >= 1) break;
  }
  let behind = [255, 255, 255];
  for (const [r, g, b, a] of layers.reverse()) {
    behind = [r * a + behind[0] * (1 - a), g * a + behind[1] * (1 - a), b * a + behind[2] * (1 - a)];
  }
  let [r, g, b, a] = rgba(getComputedStyle(element).color);
  for (let node = element; node; node = node.parentElement) a *= Number(getComputedStyle(node).opacity);
  const text = [r * a + behind[0] * (1 - a), g * a + behind[1] * (1 - a), b * a + behind[2] * (1 - a)];
  const luminance = (c) => {
    const [R, G, B] = c.map((x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  const [light, dark] = [luminance(text), luminance(behind)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}
"""


@pytest.fixture(scope="module")
def data_dir(index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's index: these tests change which documents it holds."""
    folder = tmp_path_factory.mktemp("page-documents") / "data"
    shutil.copytree(index_dir, folder)
    return folder


@pytest.fixture(scope="module")
def page_settings(data_dir: Path) -> Settings:
    return load_settings(data_dir=data_dir)


@pytest.fixture(scope="module")
def page_engine(page_settings: Settings, embedder: MiniLMEmbedder) -> QAEngine:
    engine = QAEngine(page_settings, embedder=embedder)
    engine.warm_up()
    return engine


@pytest.fixture(scope="module")
def url(page_engine: QAEngine, page_settings: Settings) -> Iterator[str]:
    with serve(page_engine, page_settings) as served:
        yield served



def visit_page(browser: Browser, url: str, **context: object) -> Iterator[Visit]:
    """A fresh tab (its own localStorage) on the page; `context` as Playwright's new_context."""
    options: dict[str, object] = {"viewport": {"width": 1400, "height": 1000}, **context}
    browser_context = browser.new_context(**options)  # type: ignore[arg-type]
    page = browser_context.new_page()
    page.set_default_timeout(WAIT_MS)
    visit = Visit(page)
    page.on(
        "request",
        lambda request: None
        if is_this_machine(request.url)
        else visit.outside_requests.append(request.url),
    )
    page.goto(url)
    page.locator("#citeqa-question textarea").wait_for()
    try:
        yield visit
    finally:
        browser_context.close()


@pytest.fixture()
def visit(browser: Browser, url: str) -> Iterator[Visit]:
    yield from visit_page(browser, url)


def upload(page: Page, *files: Path | dict[str, object]) -> None:
    """Drop files on the Documents tab's upload box (through its file input)."""
    page.get_by_role("tab", name="Documents").click()
    page.locator("#citeqa-upload input[type=file]").set_input_files(list(files))  # type: ignore[arg-type]


def document_row(page: Page, title: str, status: str = "ready") -> str:
    row = page.locator(f"#citeqa-documents tr.doc-row.{status}", has_text=title)
    row.wait_for()
    return row.inner_text()


def ensure_harbour(engine: QAEngine, tmp_path: Path) -> None:
    """The harbour PDF in the index (uploaded by the first test; added directly otherwise)."""
    if "harbour" not in {d.doc_id for d in engine.documents()}:
        engine.add_documents([write_harbour_pdf(tmp_path / "harbour.pdf")])


def test_a_pdf_uploaded_on_the_page_is_cited_with_its_page_and_highlighted(
    visit: Visit, page_engine: QAEngine, data_dir: Path, tmp_path: Path
) -> None:
    page = visit.page
    pdf = write_harbour_pdf(tmp_path / "harbour.pdf")
    upload(page, pdf)
    adding = page.locator("#citeqa-documents tr.doc-row.ingesting", has_text="harbour.pdf")
    adding.wait_for()  # the table says it is being added, and the chat stays usable meanwhile
    assert "adding…" in adding.inner_text()
    page.get_by_role("tab", name="Chat").click()
    visit.ask(GDP_QUESTION)
    page.get_by_role("tab", name="Documents").click()
    row = document_row(page, HARBOUR)
    assert re.search(r"PDF\s+4\s+\d+\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+ready", row), row
    assert (uploads_dir(data_dir) / "harbour.pdf").is_file()
    assert page.locator("#citeqa-header h1").inner_text() == "citeqa · 2 documents"
    visit.screenshot("10-documents-panel")

    page.get_by_role("tab", name="Chat").click()
    answer = visit.ask(FEE_QUESTION)
    assert "42 euros" in answer.inner_text()
    sources = page.locator("#citeqa-sources .source").first
    assert sources.locator(".source-page").inner_text() == f"p. {FEE_PAGE}"
    assert sources.locator(".source-doc").inner_text() == HARBOUR
    assert sources.locator(".relevance").inner_text() == "strong match"

    marker = answer.locator("a.cite").first
    marker.hover()
    preview = page.locator("#citeqa-preview")
    preview.wait_for(state="visible")
    assert f"{HARBOUR} · " in preview.inner_text() and f"p. {FEE_PAGE}" in preview.inner_text()
    marker.click()
    document = page.locator("#citeqa-document")
    document.locator("#doc-passage").wait_for()
    assert f"{HARBOUR} · p. {FEE_PAGE} · characters" in document.locator(".doc-where").inner_text()
    assert FEE_SENTENCE in " ".join(document.locator("mark").first.inner_text().split())
    visit.screenshot("11-pdf-citation-with-page")
    assert visit.outside_requests == []


def test_docx_headings_become_the_section_paths_cited(visit: Visit, tmp_path: Path) -> None:
    page = visit.page
    upload(page, write_library_docx(tmp_path / "library.docx"))
    document_row(page, "Riverside Library Rules")
    page.get_by_role("tab", name="Chat").click()
    visit.ask(LATE_FEE_QUESTION)
    section = page.locator("#citeqa-sources .source .source-section").first
    assert section.inner_text() == "Late returns"
    assert visit.outside_requests == []


def test_a_question_searching_one_of_two_documents_cites_only_that_one(
    visit: Visit, page_engine: QAEngine, tmp_path: Path
) -> None:
    ensure_harbour(page_engine, tmp_path)
    page = visit.page
    page.reload()
    choices = page.locator("#citeqa-selection")
    choices.get_by_label(STRATEGY).uncheck()
    for label in choices.locator("label").all():
        if label.inner_text() not in (HARBOUR, STRATEGY):
            label.locator("input").uncheck()  # other documents earlier tests may have added
    visit.ask(GDP_QUESTION)  # the Strategy answers this; only the harbour policy is searched
    docs = page.locator("#citeqa-sources .source-doc").all_inner_texts()
    assert docs and set(docs) == {HARBOUR}, docs

    choices.get_by_label(STRATEGY).check()
    choices.get_by_label(HARBOUR).uncheck()
    visit.ask(FEE_QUESTION)
    docs = page.locator("#citeqa-sources .source-doc").all_inner_texts()
    assert docs and set(docs) == {STRATEGY}, docs

    choices.get_by_label(STRATEGY).uncheck()
    page.locator("#citeqa-question textarea").fill(FEE_QUESTION)
    page.locator("#citeqa-question textarea").press("Enter")
    page.locator("#citeqa-chat .citeqa-error", has_text="no document is selected").wait_for()
    assert visit.outside_requests == []


def test_a_deleted_document_is_never_retrieved_again(
    visit: Visit, page_engine: QAEngine, data_dir: Path, tmp_path: Path
) -> None:
    ensure_harbour(page_engine, tmp_path)
    page = visit.page
    page.get_by_role("tab", name="Documents").click()
    document_row(page, HARBOUR)
    chooser = page.locator("#citeqa-delete-choice")
    chooser.locator("input").click()
    page.get_by_role("option", name=HARBOUR).click()
    page.get_by_role("button", name="Delete…").click()
    confirm = page.locator("#citeqa-confirm")
    assert f"Delete {HARBOUR} and its" in confirm.inner_text()
    confirm.get_by_role("button", name="Delete", exact=True).click()
    page.locator("#citeqa-upload-messages", has_text=f"Deleted {HARBOUR}.").wait_for()
    assert HARBOUR not in page.locator("#citeqa-documents").inner_text()
    assert not (uploads_dir(data_dir) / "harbour.pdf").exists()

    page.get_by_role("tab", name="Chat").click()
    visit.ask(FEE_QUESTION)
    assert HARBOUR not in page.locator("#citeqa-sources").inner_text()
    for mode in ("hybrid", "dense", "keyword"):
        answer = page_engine.ask(FEE_QUESTION, retrieval=mode, top_k=20)  # type: ignore[arg-type]
        assert all(p.doc != "harbour" for p in answer.retrieved), mode
    assert visit.outside_requests == []


def test_bad_uploads_get_one_clear_line_and_change_nothing(
    visit: Visit, page_engine: QAEngine, data_dir: Path, tmp_path: Path
) -> None:
    page = visit.page
    before = (page_engine.documents(), len(page_engine.passages()))
    outside = sorted(p for p in data_dir.parent.rglob("*") if not p.is_relative_to(data_dir))

    upload(page, write_corrupt_pdf(tmp_path / "corrupt.pdf"))
    row = document_row(page, "corrupt.pdf", status="failed")
    assert "not added" in row and "corrupt.pdf: is not a readable PDF (" in row

    traversal = {"name": "../../x.pdf", "mimeType": "application/pdf",
                 "buffer": write_corrupt_pdf(tmp_path / "broken.pdf").read_bytes()}
    upload(page, traversal)
    row = document_row(page, "x.pdf", status="failed")
    assert "x.pdf: is not a readable PDF (" in row and "../" not in row

    big = tmp_path / "big.pdf"
    with big.open("wb") as file:
        file.truncate(51 * 1024 * 1024)  # over the 50 MB default limit
    upload(page, big)
    toast = page.locator(".toast-body", has_text="big.pdf")
    toast.wait_for()
    assert "exceed the maximum allowed size of 50.0 Mb" in toast.inner_text()
    visit.screenshot("15-bad-uploads")

    page.wait_for_timeout(500)
    assert (page_engine.documents(), len(page_engine.passages())) == before
    assert sorted(p for p in data_dir.parent.rglob("*") if not p.is_relative_to(data_dir)) == outside
    uploads = uploads_dir(data_dir)
    assert not list((uploads / ".incoming").iterdir())
    assert not (uploads / "x.pdf").exists() and not (uploads / "big.pdf").exists()
    # Wherever "../../x.pdf" could have led from the folders an upload passes through.
    for folder in (data_dir, data_dir.parent, data_dir.parent.parent, Path(tempfile.gettempdir()), REPO, REPO.parent):
        assert not (folder / "x.pdf").exists(), folder
    assert visit.outside_requests == []


# --- the conversation ----------------------------------------------------------------------
def test_a_reload_keeps_the_conversation_until_a_new_chat(visit: Visit) -> None:
    page = visit.page
    saved = f"localStorage.getItem({json.dumps(SAVED_KEY)})"
    visit.ask(GDP_QUESTION)
    page.wait_for_function(f"{saved} !== null")  # saved just after the answer arrives
    page.reload()
    restored = page.locator("#citeqa-chat .citeqa-message")
    restored.first.wait_for()
    assert "7.2 per cent of GDP" in restored.first.inner_text()
    assert GDP_QUESTION in page.locator("#citeqa-chat").inner_text()
    restored.first.locator("a.cite").first.click()  # its markers still open their passages
    page.locator("#citeqa-document #doc-passage mark", has_text="7.2 per cent").wait_for()

    before = page.evaluate(saved)
    page.get_by_role("button", name="New chat").click()
    page.locator("#citeqa-sources .citeqa-sources.empty").wait_for()
    page.wait_for_function(f"{saved} !== {json.dumps(before)}")
    page.reload()
    page.locator("#citeqa-question textarea").wait_for()
    page.wait_for_timeout(1000)  # time for a restored conversation to show, if there were one
    assert page.locator("#citeqa-chat .citeqa-message").count() == 0
    assert visit.outside_requests == []


def test_copy_and_both_exports_hold_the_answer_with_its_numbered_sources(
    browser: Browser, url: str
) -> None:
    for visit in visit_page(browser, url, permissions=["clipboard-read", "clipboard-write"]):
        page = visit.page
        visit.ask(GDP_QUESTION)
        page.get_by_role("button", name="Copy answer and sources").click()
        page.get_by_role("button", name="Copied").wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert "7.2 per cent of GDP" in copied and "[1]" in copied
        assert f"- **[1]** {STRATEGY} · II (1)" in copied

        with page.expect_download() as markdown:
            page.get_by_role("button", name="Export Markdown").click()
        text = Path(markdown.value.path()).read_text(encoding="utf-8")
        # titled after the page's documents (which earlier tests may have added to)
        assert re.match(rf"# citeqa conversation: .+\n\n## {re.escape(GDP_QUESTION)}\n\n", text)
        assert "Sources:" in text and "7.2 per cent of GDP" in text
        with page.expect_download() as exported:
            page.get_by_role("button", name="Export JSON").click()
        data = json.loads(Path(exported.value.path()).read_text(encoding="utf-8"))
        (exchange,) = data["exchanges"]
        assert exchange["question"] == GDP_QUESTION
        assert exchange["answer"]["citations"][0]["section"].startswith("II (1)")
        assert visit.outside_requests == []


def test_regenerate_replaces_the_last_answer(visit: Visit) -> None:
    page = visit.page
    visit.ask(GDP_QUESTION).locator("a.cite").first.click()
    page.locator("#citeqa-document #doc-passage").wait_for()
    page.get_by_role("button", name="Regenerate last answer").click()
    # The new answer resets the document view, as every answer does.
    page.locator("#citeqa-document .citeqa-document.empty").wait_for()
    page.get_by_role("button", name="Ask").wait_for()
    assert page.locator("#citeqa-chat .citeqa-message").count() == 1
    assert page.locator("#citeqa-chat").inner_text().count(GDP_QUESTION) == 1
    assert visit.outside_requests == []


def test_a_thumbs_down_with_a_comment_is_stored_and_becomes_an_eval_draft(
    visit: Visit, data_dir: Path, tmp_path: Path
) -> None:
    page = visit.page
    answer = visit.ask(GDP_QUESTION)
    answer.get_by_role("button", name="Not helpful").click()
    form = page.locator("#citeqa-feedback")
    form.wait_for()
    assert "Not helpful" in form.inner_text()
    form.locator("textarea").fill("It should also give the 2010 target.")
    form.get_by_role("button", name="Send rating").click()
    page.locator("#citeqa-feedback-note", has_text="your rating was saved").wait_for()
    page.locator("#citeqa-chat a.citeqa-rate.rate-down.chosen").wait_for()

    (stored,) = [f for f in FeedbackStore(data_dir / FEEDBACK_FILENAME).list(rating=-1)
                 if f.comment == "It should also give the 2010 target."]
    assert stored.question == GDP_QUESTION and "7.2 per cent" in stored.answer
    assert stored.citations[0].section.startswith("II (1)")
    assert stored.settings["mode"] == "extractive" and stored.settings["documents"] == "all"

    drafts = tmp_path / "drafts.jsonl"
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CITEQA_", "OPENAI_"))}
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli", "eval", "--from-feedback", "--out", str(drafts)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
        env={**environment, "CITEQA_DATA_DIR": str(data_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert f"to {drafts}" in result.stdout
    items = [json.loads(line) for line in drafts.read_text(encoding="utf-8").splitlines()]
    assert any(i["question"] == GDP_QUESTION and i["comment"] == stored.comment for i in items)
    assert visit.outside_requests == []


# --- dark mode and a phone -----------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_the_highlighted_sentence_and_markers_stay_readable_in_dark_and_light_mode(
    browser: Browser, url: str, scheme: str
) -> None:
    for visit in visit_page(browser, url, color_scheme=scheme):
        page = visit.page
        assert ("dark" in page.evaluate("document.body.className")) == (scheme == "dark")
        answer = visit.ask(GDP_QUESTION)
        answer.locator("a.cite").first.click()
        page.locator("#citeqa-document #doc-passage mark").wait_for()
        checked = {
            "sources mark": "#citeqa-sources mark",
            "document mark": "#citeqa-document mark",
            "relevance": "#citeqa-sources .relevance",
            "passage text": "#citeqa-document .doc-passage",
            "answer text": "#citeqa-chat .citeqa-answer",
            "citation marker": "#citeqa-chat a.cite",
            "who answered": "#citeqa-chat .citeqa-meta",
        }
        ratios = {
            name: round(page.locator(selector).first.evaluate(CONTRAST_JS), 2)
            for name, selector in checked.items()
        }
        assert min(ratios.values()) >= MIN_CONTRAST, ratios
        visit.screenshot(f"12-{scheme}-mode")
        assert visit.outside_requests == []


def test_on_a_phone_the_answer_and_its_sources_are_a_tap_apart(browser: Browser, url: str) -> None:
    for visit in visit_page(browser, url, viewport=MOBILE, is_mobile=True, has_touch=True):
        page = visit.page
        answer = visit.ask(GDP_QUESTION)
        assert page.locator("#citeqa-side").is_hidden()  # the sources wait behind their tab
        answer.scroll_into_view_if_needed()
        visit.screenshot("13-mobile-answer")
        answer.locator("a.cite").first.click()
        sources = page.locator("#citeqa-sources .source").first
        sources.wait_for()
        assert page.locator("#citeqa-main").is_hidden()
        # The sources start within the first screen of the page: no long scroll to reach them.
        top = page.evaluate("el => el.getBoundingClientRect().top + window.scrollY", sources.element_handle())
        assert top < MOBILE["height"], top
        assert "7.2 per cent of GDP" in page.locator("#citeqa-sources mark").first.inner_text()
        # Nothing is cut off: the page is no wider than the phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= MOBILE["width"]
        page.evaluate("window.scrollTo(0, 0)")
        visit.screenshot("14-mobile-sources")
        page.get_by_role("tab", name="Conversation").click()
        assert page.locator("#citeqa-chat .citeqa-message").first.is_visible()
        assert visit.outside_requests == []


# --- stopping a model's answer -------------------------------------------------------------
@pytest.fixture()
def slow_model_url(index_dir: Path, embedder: MiniLMEmbedder) -> Iterator[tuple[str, ScriptedChatServer]]:
    with ScriptedChatServer() as server:
        server.mode = "slow"
        server.slow_seconds = 120  # the model never answers in time: only Stop ends the wait
        settings = load_settings(
            data_dir=index_dir,
            llm_base_url=server.base_url,
            llm_model="scripted",
            llm_max_retries=0,
            llm_timeout_s=120,
            llm_first_token_s=120,
            llm_deadline_s=120,
        )
        engine = QAEngine(settings, embedder=embedder)
        engine.warm_up()
        with serve(engine, settings) as served:
            yield served, server


def test_stop_ends_an_answer_still_being_written(
    browser: Browser, slow_model_url: tuple[str, ScriptedChatServer]
) -> None:
    url, server = slow_model_url
    for visit in visit_page(browser, url):
        page = visit.page
        box = page.locator("#citeqa-question textarea")
        box.fill(GDP_QUESTION)
        box.press("Enter")
        stop = page.get_by_role("button", name="Stop")
        stop.wait_for()
        page.locator("#citeqa-chat .citeqa-draft").wait_for()
        deadline = time.monotonic() + WAIT_MS / 1000
        while not server.requests:  # the model now holds the answer
            assert time.monotonic() < deadline, "the model was never asked"
            time.sleep(0.05)
        stop.click()
        page.locator("#citeqa-chat .citeqa-error", has_text="Stopped before the answer was finished").wait_for()
        page.get_by_role("button", name="Ask").wait_for()
        assert stop.is_hidden()
        assert visit.outside_requests == []
