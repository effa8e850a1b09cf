"""The chat page end to end, in Debian's headless Chromium driven by Playwright.

The page is served by `ui.app.launch` in a thread on a free 127.0.0.1 port, over the session's
real index. Each test reads what a person would see (answer text, citation markers, section
paths, highlighted sentences), records every request the page makes to a host other than
127.0.0.1 (there must be none), and saves a screenshot to artifacts/screenshots/ for a human
to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page

from ingest.embed import MiniLMEmbedder
from rag import QAEngine, load_settings
from tests.conftest import REPO, serve
from tests.openai_server import ScriptedChatServer

# Gradio's queue computes its local per-event timing table with pandas, which warns about
# pandas 3 deprecations on every event: third-party noise, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

SCREENSHOTS = REPO / "artifacts" / "screenshots"
GDP_QUESTION = "What share of GDP did the information industry reach in 2005?"
OBJECTIVES_QUESTION = "What are the strategic objectives for 2020?"
OLYMPICS_QUESTION = "Who won the 2008 Olympics?"
# Generous: the first answer on a cold machine; waiting is not what these tests measure.
WAIT_MS = 90_000


@dataclass
class Visit:
    """One browser tab on the page, with every request it made to another host."""

    page: Page
    outside_requests: list[str] = field(default_factory=list)

    def ask(self, question: str) -> Locator:
        """Type a question, press Enter, and return the finished answer message."""
        finished = self.page.locator("#citeqa-chat .citeqa-message")
        before = finished.count()
        box = self.page.locator("#citeqa-question textarea")
        box.fill(question)
        box.press("Enter")
        answer = finished.nth(before)
        answer.wait_for()
        return answer

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def is_this_machine(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


@pytest.fixture(scope="module")
def model_page_url(
    index_dir: Path, embedder: MiniLMEmbedder, chat_server: ScriptedChatServer
) -> Iterator[str]:
    settings = load_settings(
        data_dir=index_dir,
        llm_base_url=chat_server.base_url,
        llm_model="scripted",
        llm_max_retries=0,
        llm_timeout_s=2,
    )
    engine = QAEngine(settings, embedder=embedder)
    engine.warm_up()
    with serve(engine, settings) as url:
        yield url


def open_page(browser: Browser, url: str) -> Iterator[Visit]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    visit = Visit(page)
    page.on(
        "request",
        lambda request: (
            None if is_this_machine(request.url) else visit.outside_requests.append(request.url)
        ),
    )
    page.goto(url)
    page.locator("#citeqa-question textarea").wait_for()
    try:
        yield visit
    finally:
        context.close()


@pytest.fixture()
def visit(browser: Browser, page_url: str) -> Iterator[Visit]:
    yield from open_page(browser, page_url)


@pytest.fixture()
def model_visit(browser: Browser, model_page_url: str) -> Iterator[Visit]:
    yield from open_page(browser, model_page_url)


def passage_is_scrolled_into_its_box(page: Page) -> bool:
    return bool(
        page.evaluate(
            """() => {
              const passage = document.querySelector('#citeqa-document #doc-passage');
              const box = passage.closest('.doc-text').getBoundingClientRect();
              const top = passage.getBoundingClientRect().top;
              return top >= box.top && top < box.bottom;
            }"""
        )
    )


def test_an_answer_cites_part_ii_and_a_click_shows_the_passage_in_the_document(
    visit: Visit,
) -> None:
    page = visit.page
    document = page.locator("#citeqa-document")
    assert "Choose a citation" in document.inner_text()

    answer = visit.ask(GDP_QUESTION)
    assert "7.2" in answer.inner_text()
    marker = answer.locator("a.cite").first
    assert marker.inner_text() == "[1]"
    assert "offline" in page.locator("#citeqa-answerer").inner_text()

    sources = page.locator("#citeqa-sources")
    assert sources.locator(".source-section").first.inner_text().startswith("II (1)")
    assert "7.2 per cent of GDP" in sources.locator("mark").first.inner_text()

    marker.click()
    passage = document.locator("#doc-passage")
    passage.wait_for()
    assert "7.2 per cent of GDP" in passage.locator("mark").inner_text()
    assert document.locator(".doc-head").inner_text().startswith("[1]")
    # The document view holds text before the passage, and scrolled the passage into view.
    assert document.locator(".doc-text").inner_text().index("7.2 per cent") > 500
    assert passage_is_scrolled_into_its_box(page)
    assert page.locator("#citeqa-chooser input[type=radio]:checked").get_attribute("value") == "1"
    visit.screenshot("01-answer-with-document-view")
    assert visit.outside_requests == []


def test_a_marker_of_an_earlier_answer_opens_that_answers_passage(visit: Visit) -> None:
    page = visit.page
    first = visit.ask(GDP_QUESTION)
    visit.ask(OBJECTIVES_QUESTION)
    sources = page.locator("#citeqa-sources .source-section")
    assert sources.first.inner_text().startswith("III (2)")

    first.locator("a.cite").first.click()
    page.locator("#citeqa-document #doc-passage mark", has_text="7.2 per cent").wait_for()
    assert sources.first.inner_text().startswith("II (1)")
    visit.screenshot("02-earlier-answer-reopened")
    assert visit.outside_requests == []


def test_an_unanswerable_question_is_refused_with_the_closest_passages(visit: Visit) -> None:
    page = visit.page
    page.get_by_role("button", name=OLYMPICS_QUESTION).click()  # the example button asks it
    refusal = page.locator("#citeqa-chat .citeqa-refusal")
    refusal.wait_for()
    assert "does not say" in refusal.inner_text()
    assert page.locator("#citeqa-chat a.cite[role=button] >> xpath=ancestor::sup").count() == 0
    assert "Closest passages (not cited)" in page.locator("#citeqa-sources").inner_text()

    closest = refusal.locator("a.cite").first
    section = closest.inner_text()
    closest.click()
    head = page.locator("#citeqa-document .doc-head")
    head.wait_for()
    assert head.inner_text().startswith("closest passage 1")
    assert section in head.inner_text()
    visit.screenshot("03-refusal")
    assert visit.outside_requests == []


def test_an_empty_question_gets_a_short_message_and_clear_forgets_everything(visit: Visit) -> None:
    page = visit.page
    page.locator("#citeqa-question textarea").press("Enter")
    error = page.locator("#citeqa-chat .citeqa-error")
    error.wait_for()
    assert "The question is empty" in error.inner_text()
    assert "Traceback" not in page.locator("#citeqa-chat").inner_text()

    visit.ask(GDP_QUESTION)
    page.get_by_role("button", name="New chat").click()
    page.locator("#citeqa-sources .citeqa-sources.empty").wait_for()
    assert page.locator("#citeqa-chat .citeqa-message").count() == 0
    # A new conversation starts at answer 0 again: its marker opens its own passage.
    answer = visit.ask(OBJECTIVES_QUESTION)
    answer.locator("a.cite").first.click()
    page.locator("#citeqa-document #doc-passage").wait_for()
    assert "III (2)" in page.locator("#citeqa-document .doc-head").inner_text()
    assert visit.outside_requests == []


def test_with_a_model_the_page_names_it_and_shows_the_notice_when_it_fails(
    model_visit: Visit, chat_server: ScriptedChatServer
) -> None:
    page = model_visit.page
    chat_server.reset()
    assert "the model scripted" in page.locator("#citeqa-answerer").inner_text()
    mode = page.locator("#citeqa-mode")
    assert mode.is_visible()

    answer = model_visit.ask(GDP_QUESTION)
    assert "Answered by the model scripted" in answer.inner_text()
    assert answer.locator("a.cite").count() >= 1
    assert chat_server.requests, "the page asked the model"

    chat_server.mode = "http_500"
    fallback = model_visit.ask(OBJECTIVES_QUESTION)
    text = fallback.inner_text()
    assert re.search(r"Note: the language model endpoint failed.*offline answer instead", text)
    assert "Answered by the offline" in text
    assert fallback.locator("a.cite").count() >= 1
    model_visit.screenshot("04-model-down-notice")

    mode.get_by_label("Offline (quotes the document)").check()
    page.locator("#citeqa-answerer", has_text="offline").wait_for()
    asked = len(chat_server.requests)
    offline = model_visit.ask(GDP_QUESTION)
    assert "Answered by the offline" in offline.inner_text()
    assert "Note:" not in offline.inner_text()  # offline was chosen: no failure to report
    assert len(chat_server.requests) == asked  # and the model was not asked
    chat_server.reset()
    assert model_visit.outside_requests == []
