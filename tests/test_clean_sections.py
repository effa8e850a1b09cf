"""Cleaning and structure of the real Strategy file."""

from __future__ import annotations

import re

from ingest.clean import clean_text
from ingest.sections import parse_sections
from tests.conftest import CORPUS

RAW = CORPUS.read_text(encoding="utf-8")
DOC = clean_text(RAW)
SECTIONS = parse_sections(DOC.text, DOC.title)
PATHS = [s.path for s in SECTIONS]


def test_blog_tail_is_removed_and_signature_lines_are_kept() -> None:
    for furniture in ("Leave a Reply", "Fill in your details", "Log\u00a0Out", "Connecting to %s",
                      "One thought on", "September 6, 2014", "Posted on Updated on"):
        assert furniture in RAW
        assert furniture.replace("\u00a0", " ") not in DOC.text
    assert DOC.text.rstrip().endswith("国 务 院 办 公 厅")
    assert "中共中央办公厅 国务院办公厅" in DOC.text


def test_cleaning_keeps_the_document_words_verbatim() -> None:
    sentence = "In 2005, the information industry’s added value amounted to a proportion of 7.2 per cent of GDP"
    assert sentence in DOC.text
    assert "\u00a0" not in DOC.text
    assert DOC.title == "2006-2020 National Informatization Development Strategy"


def test_parser_finds_the_parts_and_sections_that_exist_and_no_others() -> None:
    numbered = {(s.part, s.number) for s in SECTIONS if s.number}
    expected = (
        {("II", "1"), ("II", "3"), ("III", "1"), ("III", "2")}
        | {("IV", str(n)) for n in range(1, 10)}
        | {("V", str(n)) for n in range(1, 7)}
        | {("VII", str(n)) for n in range(1, 10)}
    )
    assert numbered == expected
    parts = [s.part for s in SECTIONS]
    assert "VI" not in parts and ("II", "2") not in numbered
    assert parts[0] == "Notice" and parts[1] == "Preamble" and parts[-1] == "Signatures"


def test_typo_heading_94_is_read_as_section_4_of_part_v() -> None:
    v4 = next(s for s in SECTIONS if (s.part, s.number) == ("V", "4"))
    assert v4.path == "V (4) Network media information resource exploitation and use plans"
    assert DOC.text[v4.start : v4.body_start].startswith("94)")


def test_section_paths_carry_titles() -> None:
    assert "IV (8) Build a national information security protection system" in PATHS
    assert "III (2) Strategic objectives" in PATHS
    assert "V Our country’s strategic plan for informatization development" in PATHS
    assert "I The basic trends of global informatization development" in PATHS


def test_notice_header_is_its_own_section() -> None:
    notice = SECTIONS[0]
    body = DOC.text[notice.start : notice.end]
    assert "ZBF No. (2006)11" in body and "19 March 2006" in body
    assert "Informatization is a great trend" not in body


def test_sections_cover_the_text_in_order_leaving_out_only_bare_part_headings() -> None:
    for before, after in zip(SECTIONS, SECTIONS[1:]):
        assert before.start <= before.body_start <= before.end <= after.start
        gap = DOC.text[before.end : after.start].strip()
        # a part with no text of its own before its first section ("II, The basic situation…")
        assert gap == "" or re.fullmatch(r"[IVX]+, [^\n]+", gap), gap
    assert SECTIONS[0].start == 0 and SECTIONS[-1].end == len(DOC.text)


def test_cleaning_a_short_page_without_blog_furniture_changes_nothing_but_whitespace() -> None:
    raw = "Title\r\n\r\n\r\n\r\nFirst paragraph.  \r\nLeave a Reply\r\n"
    # "Leave a Reply" as the last of three lines is in the tail third: it is furniture.
    assert clean_text(raw).text == "Title\n\nFirst paragraph.\n"
    assert clean_text("Leave a Reply\nbody\nmore\nend\n").text.startswith("Leave a Reply")


def test_a_paged_copy_of_the_strategy_keeps_its_parts_instead_of_pages() -> None:
    # The pages are only the fallback for a paged file with no structure of its own.
    page_starts = (0, len(DOC.text) // 3, 2 * len(DOC.text) // 3)
    assert parse_sections(DOC.text, DOC.title, (), page_starts) == SECTIONS
    assert parse_sections(DOC.text, DOC.title, ()) == SECTIONS
