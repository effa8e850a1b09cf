"""The chat page in real headless Chromium, fed a question holding a lone surrogate (a broken
paste: JavaScript strings may hold one, JSON carries it as "\\ud800", Python decodes it into a
str no UTF-8 encoder takes). The page answers it, and the next, normal question in the same
tab is answered too; no request leaves 127.0.0.1.

The question is put into the textbox by script, since no keyboard types a lone surrogate.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.test_ui_browser import GDP_QUESTION, OBJECTIVES_QUESTION, Visit, open_page

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")


@pytest.fixture()
def visit(browser: Browser, page_url: str) -> Iterator[Visit]:
    yield from open_page(browser, page_url)


def ask_broken_question(visit: Visit) -> None:
    """Put the GDP question with a lone surrogate into the textbox by script, and send it. The
    string is a JavaScript literal made in the page, so nothing on the way can mend it."""
    visit.page.evaluate(
        """() => {
             const box = document.querySelector('#citeqa-question textarea');
             box.value = 'What share of GDP \\ud800 did the information industry reach in 2005?';
             box.dispatchEvent(new Event('input', { bubbles: true }));
           }"""
    )
    visit.page.locator("#citeqa-question textarea").press("Enter")


@pytest.mark.timeout(300)
def test_a_lone_surrogate_is_answered_and_the_next_question_too(visit: Visit) -> None:
    page = visit.page
    messages = page.locator("#citeqa-chat .citeqa-message")
    errors = page.locator("#citeqa-chat .citeqa-error")
    assert page.evaluate("() => '\\ud800'.length === 1 && !'\\ud800'.isWellFormed()")
    ask_broken_question(visit)
    (messages.or_(errors)).first.wait_for()
    assert errors.count() == 0, errors.first.inner_text()
    assert "7.2" in messages.first.inner_text()
    shown = page.locator("#citeqa-chat .citeqa-question").first.inner_text()
    assert shown == "What share of GDP \ufffd did the information industry reach in 2005?"
    assert "Traceback" not in page.locator("#citeqa-chat").inner_text()

    second = visit.ask(OBJECTIVES_QUESTION)
    assert second.locator("a.cite").count() >= 1
    assert "III (2)" in page.locator("#citeqa-sources .source-section").first.inner_text()
    third = visit.ask(GDP_QUESTION)
    assert "7.2" in third.inner_text()
    visit.screenshot("faults-lone-surrogate")
    assert visit.outside_requests == []
