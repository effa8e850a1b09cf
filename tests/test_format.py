"""ui.format: Answer → chat HTML, sources panel, document view; no browser, no gradio.

Hand-built answers pin each rule (markers, refusals, highlights, escaping); answers from the
real engine over the real Strategy check the rules hold on what the page actually shows.
"""

from __future__ import annotations

import html as html_module
import re
from html import escape as html_escape

import pytest

from rag import Answer, AnswerSentence, Passage, QAEngine
from rag.types import DocumentInfo
from ui.conversation import Exchange
from ui.format import (
    PARTIAL_COSINE,
    STRONG_SUPPORT,
    PassageChoice,
    answer_markdown,
    chat_messages,
    citation_preview,
    cited_relevance,
    closest_relevance,
    conversation_markdown,
    describe_answerer,
    exchange_of_message,
    page_label,
    passage_choices,
    render_answer,
    render_document_view,
    render_documents,
    render_draft,
    render_error,
    render_header,
    render_question,
    render_sources,
    supporting_spans,
)

GDP_QUESTION = "What share of GDP did the information industry reach in 2005?"

# A small document with a hostile passage: every rendering must escape it.
DOCUMENT = (
    "Title line\n\n"
    "II (1) Progress\n\n"
    "The industry grew fast. In 2005 it reached 7.2 per cent of GDP. Exports rose too.\n\n"
    "III Tricks\n\n"
    'Never run <script>alert("x")</script> & friends. The end is near.\n\n'
    "IV Later\n\nMore text follows here."
)


def passage_of(snippet: str, section: str, chunk: str) -> Passage:
    start = DOCUMENT.index(snippet)
    return Passage(
        chunk_id=chunk,
        doc="doc",
        doc_title="Test Document",
        section=section,
        part=section.split()[0],
        section_number="",
        text=snippet,
        start=start,
        end=start + len(snippet),
        score=0.5,
    )


PROGRESS = passage_of(
    "The industry grew fast. In 2005 it reached 7.2 per cent of GDP. Exports rose too.",
    "II (1) Progress",
    "doc:II.1:000:aaaa",
)
TRICKS = passage_of(
    'Never run <script>alert("x")</script> & friends. The end is near.',
    "III Tricks <b>bold</b>",
    "doc:III:000:bbbb",
)


def answer_of(
    text: str,
    citations: list[Passage],
    sentences: list[AnswerSentence],
    *,
    refused: bool = False,
    retrieved: list[Passage] | None = None,
    notices: list[str] | None = None,
    answerer: str = "extractive",
) -> Answer:
    return Answer(
        question="q",
        original_question="q",
        answer=text,
        citations=citations,
        retrieved=retrieved if retrieved is not None else list(citations),
        refused=refused,
        sentences=sentences,
        answerer=answerer,
        notices=notices or [],
    )


def span_of(passage: Passage, sentence: str) -> tuple[int, int]:
    start = passage.text.index(sentence)
    return start, start + len(sentence)


QUOTED = answer_of(
    'In 2005 it reached 7.2 per cent of GDP [1]. Never run <script>alert("x")</script> & friends [2].',
    [PROGRESS, TRICKS],
    [
        AnswerSentence(
            "In 2005 it reached 7.2 per cent of GDP.", (1,), 1.0, True,
            spans=(span_of(PROGRESS, "In 2005 it reached 7.2 per cent of GDP."),),
        ),
        AnswerSentence(
            'Never run <script>alert("x")</script> & friends.', (2,), 1.0, True,
            spans=(span_of(TRICKS, 'Never run <script>alert("x")</script> & friends.'),),
        ),
    ],
)


def marked(html: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", html)


def visible(html: str) -> str:
    """The message without the hidden text its copy link copies."""
    return re.sub(r'<span class="citeqa-md"[^>]*>.*?</span>', "", html)


def copied(html: str) -> str:
    """What the copy link of a message copies: the hidden Markdown, as the browser reads it."""
    found = re.search(r'<span class="citeqa-md"[^>]*>(.*?)</span>', html)
    assert found is not None
    return html_module.unescape(found.group(1))


# --- chat messages -------------------------------------------------------------------------
def test_markers_become_citation_links_carrying_turn_and_number() -> None:
    html = visible(render_answer(QUOTED, turn=3))
    links = re.findall(
        r'<sup><a class="cite turn-3 cite-(\d)" data-turn="3" data-cite="(\d)"', html
    )
    assert links == [("1", "1"), ("2", "2")]
    assert ">[1]</a></sup>" in html and ">[2]</a></sup>" in html
    assert "[1]." not in html  # the marker text was replaced, not duplicated


def test_answer_text_from_the_document_is_escaped() -> None:
    html = render_answer(QUOTED, turn=0)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends" in html


def test_a_marker_naming_no_citation_stays_plain_text() -> None:
    answer = answer_of(
        "Reached 7.2 per cent [1]. See also [7].",
        [PROGRESS],
        [AnswerSentence("Reached 7.2 per cent.", (1,), 0.9, True)],
    )
    html = render_answer(answer, turn=0)
    assert html.count('class="cite ') == 1
    assert "See also [7]." in html


def test_unsupported_sentences_are_flagged_and_carry_no_link() -> None:
    answer = answer_of(
        "In 2005 it reached 7.2 per cent of GDP [1]. The moon is made of cheese.",
        [PROGRESS],
        [
            AnswerSentence("In 2005 it reached 7.2 per cent of GDP.", (1,), 1.0, True),
            AnswerSentence("The moon is made of cheese.", (), 0.1, False),
        ],
        answerer="generative:scripted",
    )
    html = render_answer(answer, turn=0)
    flagged = re.findall(r'<span class="unsupported"[^>]*>(.*?)</span>', html)
    assert flagged == ["The moon is made of cheese."]
    assert "Answered by the model scripted" in html


def test_refusal_is_a_calm_refusal_listing_the_closest_passages() -> None:
    answer = answer_of(
        "The document does not say.", [], [], refused=True, retrieved=[TRICKS, PROGRESS]
    )
    html = render_answer(answer, turn=1)
    assert 'class="citeqa-refusal"' in html and 'class="citeqa-answer"' not in html
    assert "The document does not say." in html
    assert "closest passages" in html
    sections = re.findall(r'data-turn="1" data-cite="(\d)"[^>]*>(.*?)</a>', html)
    assert sections == [("1", "III Tricks &lt;b&gt;bold&lt;/b&gt;"), ("2", "II (1) Progress")]
    assert "<sup>" not in html  # nothing is cited


def test_notices_and_the_answerer_are_shown() -> None:
    answer = answer_of(
        "In 2005 it reached 7.2 per cent of GDP [1].",
        [PROGRESS],
        [AnswerSentence("In 2005 it reached 7.2 per cent of GDP.", (1,), 1.0, True)],
        notices=[
            "the language model endpoint failed: InternalServerError (HTTP 500); showing the offline answer instead."
        ],
    )
    html = render_answer(answer, turn=0)
    assert re.search(r'class="citeqa-notice"[^>]*>Note: the language model endpoint failed', html)
    assert (
        "Answered by the offline answerer (quotes the document&#x27;s own sentences) · 1 source"
        in html
    )


def test_chat_messages_are_one_html_block_markdown_cannot_rewrite() -> None:
    # A blank line would end the HTML block and let Markdown loose on the document's text.
    for html in (render_answer(QUOTED, 0), render_sources(QUOTED, 0), render_draft("a\n\nb")):
        assert "\n" not in html


def test_question_draft_and_error_are_escaped() -> None:
    assert (
        render_question("<script>x</script>")
        == '<div class="citeqa-question">&lt;script&gt;x&lt;/script&gt;</div>'
    )
    assert "&lt;b&gt;" in render_draft("<b>partial")
    assert "Searching the document" in render_draft("")
    error = render_error("the question is empty: type a question about the document")
    assert ">The question is empty: type a question about the document.</div>" in error
    assert "&lt;img" in render_error("<img src=x onerror=alert(1)>")


def test_answerer_names_read_as_what_they_are() -> None:
    assert describe_answerer("extractive").startswith("the offline answerer")
    assert describe_answerer("generative:gpt-4o-mini").startswith("the model gpt-4o-mini ")
    assert describe_answerer("other") == "other"


# --- sources panel -------------------------------------------------------------------------
def test_sources_panel_lists_each_citation_with_its_section_and_marks_the_quoted_sentence() -> None:
    html = render_sources(QUOTED, turn=0)
    heads = re.findall(
        r'<span class="source-number">(.*?)</span> <span class="source-section">(.*?)</span>', html
    )
    assert heads == [("[1]", "II (1) Progress"), ("[2]", "III Tricks &lt;b&gt;bold&lt;/b&gt;")]
    assert marked(html) == [
        "In 2005 it reached 7.2 per cent of GDP.",
        "Never run &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends.",
    ]
    assert "The industry grew fast. <mark>" in html  # the rest of the passage is there, unmarked
    assert "<script>" not in html


def test_a_source_held_by_other_documents_names_them_under_its_own() -> None:
    shared = Passage(**{**PROGRESS.to_dict(), "also_in": ("b", "c"),  # type: ignore[arg-type]
                        "also_in_titles": ("Report <B>", "Report C")})
    answer = answer_of("x [1].", [shared], [AnswerSentence("x.", (1,), 1.0, True, spans=((0, 0),))])
    html = render_sources(answer, 0)
    assert ('<div class="source-doc">Test Document</div>'
            '<div class="source-also">also in: Report &lt;B&gt;, Report C</div>') in html
    assert "source-also" not in render_sources(QUOTED, 0)  # nothing shown for a lone passage


def test_sources_panel_names_the_question_it_belongs_to() -> None:
    answer = answer_of("x", [], [], refused=True, retrieved=[PROGRESS])
    answer = Answer(**{**answer.__dict__, "original_question": "Why <b>this</b>?"})
    assert "for “Why &lt;b&gt;this&lt;/b&gt;?”" in render_sources(answer, 0)


def test_the_span_the_citation_check_recorded_is_what_is_marked() -> None:
    # A model's paraphrase: the check recorded which passage sentence supports it; the page
    # marks exactly that, and guesses nothing of its own.
    sentence = "In 2005 it reached 7.2 per cent of GDP."
    answer = answer_of(
        "By 2005 the industry reached 7.2 per cent of GDP [1].",
        [PROGRESS],
        [AnswerSentence("By 2005 the industry reached 7.2 per cent of GDP.", (1,), 0.8, True,
                        spans=(span_of(PROGRESS, sentence),))],
        answerer="generative:m",
    )
    assert marked(render_sources(answer, 0)) == [sentence]


def test_a_sentence_supported_by_the_heading_or_without_a_span_marks_nothing() -> None:
    answer = answer_of(
        "Progress [1]. Something else [1].",
        [PROGRESS],
        [
            AnswerSentence("Progress", (1,), 1.0, True, spans=((0, 0),), kind="item"),
            AnswerSentence("Something else.", (1,), 0.6, True),
        ],
    )
    assert supporting_spans(answer, 1) == []
    assert marked(render_sources(answer, 0)) == []


def test_only_spans_of_sentences_citing_a_passage_are_marked_in_it() -> None:
    grew, rose = "The industry grew fast.", "Exports rose too."
    answer = answer_of(
        "The industry grew fast [1]. Exports rose too [1][2].",
        [PROGRESS, TRICKS],
        [
            AnswerSentence(grew, (1,), 1.0, True, spans=(span_of(PROGRESS, grew),)),
            AnswerSentence(rose, (1, 2), 1.0, True, spans=(span_of(PROGRESS, rose), (0, 0))),
        ],
    )
    assert [PROGRESS.text[s:e] for s, e in supporting_spans(answer, 1)] == [grew, rose]
    assert supporting_spans(answer, 2) == []
    with pytest.raises(IndexError):
        supporting_spans(answer, 3)


def test_sources_of_a_refusal_are_the_closest_passages_unmarked() -> None:
    answer = answer_of(
        "The document does not say.", [], [], refused=True, retrieved=[PROGRESS, TRICKS]
    )
    html = render_sources(answer, 0)
    assert "Closest passages (not cited)" in html
    assert marked(html) == []
    assert [c.label for c in passage_choices(answer)] == [
        "closest 1: II (1) Progress",
        "closest 2: III Tricks <b>bold</b>",
    ]


def test_empty_sources_panel_and_document_view_explain_themselves() -> None:
    assert "appear here" in render_sources(None, -1)
    assert "Choose a citation" in render_document_view(None, None)


# --- document view -------------------------------------------------------------------------
def test_document_view_shows_the_passage_in_place_with_an_anchor_and_marks() -> None:
    choice = passage_choices(QUOTED)[0]
    html = render_document_view(DOCUMENT, choice, supporting_spans(QUOTED, 1), context_chars=60)
    passage = re.search(
        r'<span class="doc-passage" id="doc-passage" data-chunk="doc:II.1:000:aaaa">(.*?)</span>',
        html,
    )
    assert passage is not None
    assert passage.group(1) == (
        "The industry grew fast. <mark>In 2005 it reached 7.2 per cent of GDP.</mark> Exports rose too."
    )
    before, after = html[: passage.start()], html[passage.end() :]
    assert "II (1) Progress<br><br>" in before  # the heading above it, as context
    assert "III Tricks" in after and "&lt;script&gt;" in after  # the text after, escaped
    assert "<script>" not in html
    assert f"characters {PROGRESS.start:,}–{PROGRESS.end:,} of {len(DOCUMENT):,}" in html


def test_document_view_context_is_cut_with_ellipses_far_from_the_ends() -> None:
    long_document = (
        "a" * 50 + "\n" + "x" * 5000 + " Target sentence here. " + "y" * 5000 + "\n" + "b" * 50
    )
    start = long_document.index("Target")
    passage = Passage("c", "d", "T", "S", "S", "", "Target sentence here.", start, start + 21)
    html = render_document_view(
        long_document, PassageChoice(1, passage, True, "[1] S"), context_chars=100
    )
    text = re.search(r'<div class="doc-text">(.*)</div></div>', html)
    assert text is not None
    # exactly 100 characters each side: 99 x's and a space, a space and 99 y's
    assert text.group(1).startswith("… " + "x" * 99 + ' <span class="doc-passage"')
    assert text.group(1).endswith("</span> " + "y" * 99 + " …")
    assert "a" * 50 not in html and "b" * 50 not in html


def test_document_view_refuses_a_passage_that_is_not_at_its_offsets() -> None:
    moved = Passage(**{**PROGRESS.to_dict(), "start": PROGRESS.start + 1, "end": PROGRESS.end + 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not the document's text"):
        render_document_view(DOCUMENT, PassageChoice(1, moved, True, "[1]"))


# --- answers from the real engine ----------------------------------------------------------
def test_real_gdp_answer_renders_a_marker_and_a_part_ii_source_with_the_7_2_sentence_marked(
    engine: QAEngine,
) -> None:
    answer = engine.ask(GDP_QUESTION)
    chat = render_answer(answer, turn=0)
    assert "7.2 per cent of GDP" in chat
    assert 'data-turn="0" data-cite="1"' in chat
    sources = render_sources(answer, turn=0)
    first_section = re.search(r'<span class="source-section">(.*?)</span>', sources)
    assert first_section is not None and first_section.group(1).startswith("II (1)")
    marks = marked(sources)
    assert any("7.2 per cent of GDP" in m and "16.6%" in m for m in marks), marks


LIST_COUNT = re.compile(r" the following \d+ \(\w+\):$")


def test_real_answers_mark_a_sentence_in_every_cited_passage(engine: QAEngine) -> None:
    # The offline answerer quotes the document: every cited passage has its quote marked, and
    # the marked text is the quoted sentence (bullets and line breaks aside).
    for question in (
        "What are the strategic objectives for 2020?",
        "How does the Strategy plan to narrow the digital divide?",
        "When was the notice on the Strategy issued?",
    ):
        answer = engine.ask(question)
        assert answer.citations, question
        for number, passage in enumerate(answer.citations, 1):
            marked_texts = [" ".join(passage.text[a:b].split()) for a, b in supporting_spans(answer, number)]
            assert marked_texts, (question, number)
            for sentence in answer.sentences:
                if number in sentence.citations:
                    # A list's quoted lead-in carries the count citeqa adds ("… are the following
                    # 9 (nine):"); everything before that addition is the marked quote.
                    quoted = LIST_COUNT.sub("", sentence.text).rstrip(".")
                    assert any(quoted in m for m in marked_texts), (question, number, sentence.text)


def test_real_document_view_shows_each_cited_passage_in_its_document(engine: QAEngine) -> None:
    answer = engine.ask("What are the strategic objectives for 2020?")
    for choice in passage_choices(answer):
        document = engine.document_text(choice.passage.doc)
        assert document is not None
        html = render_document_view(document, choice, supporting_spans(answer, choice.number))
        assert f'data-chunk="{choice.passage.chunk_id}"' in html
        assert choice.passage.section in html
        shown = re.sub(r"</?mark>", "", html)
        first_line = choice.passage.text.split("\n")[0]
        assert html_escape(first_line) in shown  # the passage's own words, in order
        assert marked(html), choice.label


def test_real_refusal_lists_the_nearest_retrieved_sections(engine: QAEngine) -> None:
    answer = engine.ask("Who won the 2008 Olympics?")
    assert answer.refused
    html = render_answer(answer, turn=0)
    assert "does not say" in html and 'class="citeqa-refusal"' in html
    listed = re.findall(r'class="cite turn-0 cite-\d closest"[^>]*>(.*?)</a>', html)
    assert listed == [p.section for p in answer.retrieved[:3]]


# --- pages, relevance, previews ------------------------------------------------------------
ON_PAGE_12 = Passage(**{**PROGRESS.to_dict(), "page": 12})  # type: ignore[arg-type]
PAGED = answer_of(
    "In 2005 it reached 7.2 per cent of GDP [1].",
    [ON_PAGE_12],
    [AnswerSentence("In 2005 it reached 7.2 per cent of GDP.", (1,), 1.0, True,
                    spans=(span_of(PROGRESS, "In 2005 it reached 7.2 per cent of GDP."),))],
)


def test_a_paged_passage_is_cited_as_p_n_everywhere_the_page_names_it() -> None:
    assert page_label(ON_PAGE_12) == "p. 12" and page_label(PROGRESS) == ""
    assert '<span class="source-page">p. 12</span>' in render_sources(PAGED, 0)
    assert passage_choices(PAGED)[0].label == "[1] II (1) Progress · p. 12"
    assert "Test Document · II (1) Progress · p. 12 (strong match):" in citation_preview(PAGED, 1)
    view = render_document_view(DOCUMENT, passage_choices(PAGED)[0])
    assert "Test Document · p. 12 · characters" in view
    assert "- **[1]** Test Document · II (1) Progress · p. 12 (strong match)" in answer_markdown(PAGED)
    assert "source-page" not in render_sources(QUOTED, 0)  # an unpaged passage names no page


@pytest.mark.parametrize(
    ("support", "expected"),
    [(1.0, "strong match"), (STRONG_SUPPORT, "strong match"), (0.79, "partial match"),
     (0.58, "partial match"), (0.57, "weak match"), (0.0, "weak match")],
)
def test_cited_relevance_in_words_follows_support_and_the_policy_threshold(
    support: float, expected: str
) -> None:
    assert cited_relevance(support, threshold=0.58) == expected


def test_an_uncited_closest_passage_is_at_most_a_partial_match() -> None:
    assert closest_relevance(None) == "weak match"  # fused ranks are no evidence of meaning
    assert closest_relevance(PARTIAL_COSINE) == "partial match"
    assert closest_relevance(0.99) == "partial match"
    assert closest_relevance(0.3) == "weak match"


def test_sources_say_relevance_in_words_never_raw_scores() -> None:
    paraphrase = answer_of(
        "By 2005 it reached 7.2 per cent [1].",
        [PROGRESS],
        [AnswerSentence("By 2005 it reached 7.2 per cent.", (1,), 0.66, True)],
        answerer="generative:m",
    )
    html = render_sources(paraphrase, 0)
    assert '<span class="relevance partial">partial match</span>' in html
    assert "0.66" not in html and "0.5" not in html  # neither support nor the retrieval score
    refusal = answer_of("The document does not say.", [], [], refused=True, retrieved=[PROGRESS])
    assert '<span class="relevance weak">weak match</span>' in render_sources(refusal, 0)
    dense = render_sources(refusal, 0, scores_are_cosines=True)  # PROGRESS.score is 0.5
    assert '<span class="relevance partial">partial match</span>' in dense


def test_each_marker_carries_a_hidden_preview_of_the_sentence_it_cites() -> None:
    html = render_answer(QUOTED, turn=0)
    previews = re.findall(r'<span class="cite-preview">(.*?)</span>\[(\d)\]</a>', html)
    assert [n for _, n in previews] == ["1", "2"]
    assert previews[0][0] == (
        "Test Document · II (1) Progress (strong match): In 2005 it reached 7.2 per cent of GDP."
    )
    assert "&lt;script&gt;" in previews[1][0] and "<script>" not in html


def test_the_copy_link_copies_the_answer_with_its_numbered_sources_as_markdown() -> None:
    html = render_answer(QUOTED, turn=0)
    assert "\n" not in html  # still one HTML block: the line breaks are character references
    assert copied(html) == answer_markdown(QUOTED)
    assert answer_markdown(QUOTED) == (
        'In 2005 it reached 7.2 per cent of GDP [1]. Never run <script>alert("x")</script> & '
        "friends [2].\n\nSources:\n\n"
        "- **[1]** Test Document · II (1) Progress (strong match)\n"
        "  > In 2005 it reached 7.2 per cent of GDP.\n\n"
        "- **[2]** Test Document · III Tricks <b>bold</b> (strong match)\n"
        '  > Never run <script>alert("x")</script> & friends.\n'
    )


def test_rating_links_carry_the_answers_turn_and_show_the_rating_given() -> None:
    html = render_answer(QUOTED, turn=4, rating=-1)
    links = re.findall(r'<a class="citeqa-rate rate-(up|down) turn-4( chosen)?"', html)
    assert links == [("up", ""), ("down", " chosen")]


# --- the conversation as chat messages and Markdown ----------------------------------------
CONVERSATION = [
    Exchange("What share of GDP?", QUOTED),
    Exchange("", None, "The question is empty"),
    Exchange("And exports?", PAGED, rating=1),
]


def test_chat_messages_render_each_exchange_and_map_back_to_it() -> None:
    messages = chat_messages(CONVERSATION)
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant", "user", "assistant"]
    assert "The question is empty." in messages[2]["content"]
    assert 'turn-2 cite-1"' in messages[4]["content"]  # the third exchange's markers say turn 2
    assert [exchange_of_message(CONVERSATION, i) for i in range(6)] == [None, 0, 1, None, 2, None]


def test_the_conversation_exports_as_markdown_with_numbered_sources() -> None:
    text = conversation_markdown(CONVERSATION, "Test Document")
    assert text.startswith("# citeqa conversation: Test Document\n\n## What share of GDP?\n\n")
    assert "## (empty question)\n\n_The question is empty_" in text
    assert "## And exports?\n\nIn 2005 it reached 7.2 per cent of GDP [1]." in text
    assert text.count("Sources:") == 2


# --- documents panel and header ------------------------------------------------------------
def document_info(title: str, **fields: object) -> DocumentInfo:
    values: dict[str, object] = {
        "doc_id": title.lower(), "title": title, "kind": "pdf", "pages": 3, "chunks": 7,
        "added_at": "2026-11-30T14:02:09+00:00", "source": f"{title.lower()}.pdf",
    }
    return DocumentInfo(**{**values, **fields})  # type: ignore[arg-type]


def test_documents_table_lists_type_pages_passages_time_and_status() -> None:
    rows = [
        document_info("Harbour"),
        document_info("<b>x</b>", status="failed", error="x.pdf: is not a readable PDF (EOF)",
                      pages=None, chunks=0),
        document_info("Notes", kind="md", pages=None, status="ingesting", error="reading the file"),
    ]
    html = render_documents(rows)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr class.*?</tr>", html)]
    assert cells[0] == [
        'Harbour<div class="doc-source">harbour.pdf</div>', "PDF", "3", "7", "2026-11-30 14:02 UTC",
        '<span class="doc-status ready">ready</span>',
    ]
    assert "&lt;b&gt;x&lt;/b&gt;" in cells[1][0] and "<b>x" not in html
    assert cells[1][5].endswith('<div class="doc-detail">x.pdf: is not a readable PDF (EOF)</div>')
    assert cells[2][1:5] == ["Markdown", "—", "—", "2026-11-30 14:02 UTC"]
    assert "adding…" in cells[2][5] and "reading the file" in cells[2][5]
    assert "No documents yet" in render_documents([])


def test_header_names_the_one_document_or_counts_them_and_says_when_one_is_being_added() -> None:
    one = render_header([document_info("Harbour <Policy>")])
    assert "<h1>citeqa · Harbour &lt;Policy&gt;</h1>" in one
    two = render_header([document_info("A"), document_info("B")])
    assert "<h1>citeqa · 2 documents</h1>" in two and "Search in" in two
    adding = render_header(
        [document_info("A")], [document_info("New", status="ingesting", error="queued")]
    )
    assert "Adding New (queued)… you can keep asking meanwhile." in adding
