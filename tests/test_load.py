"""Reading PDF and DOCX files: text, pages, declared headings, sections, one-line errors.

Every file here is a real one, written in the test by fpdf2, pypdf or python-docx, and read
back through `read_document`, the same way `citeqa ingest` reads a user's file.
"""

from __future__ import annotations

import logging
import string
import warnings
from pathlib import Path

import docx
import pypdf
import pytest
from fpdf import FPDF
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from ingest.chunk import ChunkParams, chunk_document
from ingest.clean import clean_text
from ingest.errors import InputFileError
from ingest.load import TITLE_CHARS, Heading, SourceDocument, read_document
from ingest.sections import Section, parse_sections

SCOPE = (
    "The policy covers grants and loans. It does not cover procurement, which has its own "
    "well-established and extensively documented arrangements across several departments."
)
DEFINITIONS = "A grant is money that need not be repaid. A loan must be repaid within five years."
ELIGIBILITY = (
    "Applicants must be registered charities. Awards above ten thousand pounds need approval "
    "by the cabinet."
)
# (bookmark title or None, text on the page, font size, bookmark level); None for page breaks.
POLICY_PAGES: list[list[tuple[str | None, str, int, int]]] = [
    [
        (None, "Funding Policy 2024", 16, 0),
        (None, "This policy sets out how the council funds community projects.", 12, 0),
        ("Chapter 1: Scope", "Chapter 1: Scope", 14, 0),
        (None, SCOPE, 12, 0),
    ],
    [
        # The page spaces the number out and shouts the chapter: matching must tolerate both.
        ("1.1 Definitions", "1.1   Definitions", 13, 1),
        (None, DEFINITIONS, 12, 0),
        ("Chapter 2 - Funding", "CHAPTER 2 - FUNDING", 14, 0),
    ],
    [
        ("2.1 Eligibility", "2.1 Eligibility", 13, 1),
        (None, ELIGIBILITY, 12, 0),
        # A bookmark whose title is not on its page is skipped, not guessed; its child then
        # stands on its own instead of joining Chapter 2.
        ("Annex: Application forms", "Application forms", 13, 0),
        ("Where to get them", "Where to get them", 12, 1),
        (None, "Forms are available from the council offices.", 12, 0),
    ],
]


def write_pdf(path: Path, *, with_outline: bool = True, metadata_title: str = "") -> Path:
    """The three-page policy above, with bookmarks (fpdf2's `start_section`) if asked."""
    pdf = FPDF()
    if metadata_title:
        pdf.set_title(metadata_title)
    for page in POLICY_PAGES:
        pdf.add_page()
        for bookmark, text, size, level in page:
            if bookmark and with_outline:
                pdf.start_section(bookmark, level=level)
            pdf.set_font("Helvetica", "B" if bookmark else "", size)
            pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    pdf.output(str(path))
    return path


@pytest.fixture
def policy_pdf(tmp_path: Path) -> SourceDocument:
    return read_document(write_pdf(tmp_path / "funding-policy.pdf"))


def page_text(document: SourceDocument, page: int) -> str:
    """The clean text of 1-based `page`, without the blank line (or final newline) after it."""
    start = document.page_starts[page - 1]
    pages = len(document.page_starts)
    end = document.page_starts[page] - 2 if page < pages else len(document.text) - 1
    return document.text[start:end]


def test_pdf_text_is_its_pages_cleaned_and_joined_by_a_blank_line(
    policy_pdf: SourceDocument, tmp_path: Path
) -> None:
    assert policy_pdf.kind == "pdf" and policy_pdf.pages == 3
    assert policy_pdf.title == "Funding Policy 2024"
    assert policy_pdf.page_starts[0] == 0
    for start in policy_pdf.page_starts[1:]:
        assert policy_pdf.text[start - 2 : start] == "\n\n"
    # Each page's span holds exactly what pypdf extracts from that page, cleaned.
    reader = pypdf.PdfReader(tmp_path / "funding-policy.pdf")
    for number, page in enumerate(reader.pages, start=1):
        assert page_text(policy_pdf, number) == clean_text(page.extract_text()).text.strip()
    assert policy_pdf.text[policy_pdf.page_starts[1] :].startswith("1.1   Definitions\nA grant")
    assert policy_pdf.text[policy_pdf.page_starts[2] :].startswith("2.1 Eligibility\nApplicants")


@pytest.mark.parametrize(
    ("metadata_title", "title"),
    [
        ("Community Funding Policy", "Community Funding Policy"),
        # Word's export stores the file name, which names nothing: the first line is better.
        ("Microsoft Word - funding_v3.docx", "Funding Policy 2024"),
        ("funding_v3.DOCX", "Funding Policy 2024"),
    ],
)
def test_pdf_title_is_its_metadata_title_unless_that_is_a_file_name(
    tmp_path: Path, metadata_title: str, title: str
) -> None:
    path = write_pdf(tmp_path / "titled.pdf", metadata_title=metadata_title)
    assert read_document(path).title == title


def test_a_sentence_on_page_3_is_on_page_3(policy_pdf: SourceDocument) -> None:
    offset = policy_pdf.text.index("Applicants must be registered charities.")
    assert policy_pdf.page_at(offset) == 3
    assert policy_pdf.page_at(policy_pdf.text.index("A grant is money")) == 2
    assert policy_pdf.page_at(0) == 1


def test_pdf_bookmarks_become_headings_at_their_exact_offsets(policy_pdf: SourceDocument) -> None:
    found = [
        (h.level, h.title, policy_pdf.text[h.start : h.end], policy_pdf.page_at(h.start))
        for h in policy_pdf.headings
    ]
    assert found == [
        (1, "Chapter 1: Scope", "Chapter 1: Scope", 1),
        (2, "1.1 Definitions", "1.1   Definitions", 2),
        (1, "Chapter 2 - Funding", "CHAPTER 2 - FUNDING", 2),
        (2, "2.1 Eligibility", "2.1 Eligibility", 3),
        (1, "Where to get them", "Where to get them", 3),
    ]


def test_pdf_sections_are_named_after_the_bookmarks(policy_pdf: SourceDocument) -> None:
    sections = parse_sections(
        policy_pdf.text, policy_pdf.title, policy_pdf.headings, policy_pdf.page_starts
    )
    assert [s.path for s in sections] == [
        "Preamble",
        "Chapter 1: Scope",
        "Chapter 1 › 1.1 Definitions",
        "Chapter 2 - Funding",
        "Chapter 2 › 2.1 Eligibility",
        "Where to get them",
    ]
    eligibility = sections[-2]
    assert (eligibility.part, eligibility.number, eligibility.title) == (
        "Chapter 2",
        "2.1",
        "Eligibility",
    )
    assert sections[1].part_title == "Scope"
    assert ELIGIBILITY.split(".")[0] in policy_pdf.text[eligibility.body_start : eligibility.end]


def test_pdf_without_outline_is_sectioned_by_page(tmp_path: Path) -> None:
    document = read_document(write_pdf(tmp_path / "plain.pdf", with_outline=False))
    assert document.headings == ()
    sections = parse_sections(
        document.text, document.title, document.headings, document.page_starts
    )
    assert [s.path for s in sections] == ["Page 1", "Page 2", "Page 3"]
    assert [s.start for s in sections] == list(document.page_starts)
    chunks = chunk_document(
        document.text,
        sections,
        document.doc_id,
        document.title,
        ChunkParams(),
        document.page_starts,
        version=document.content_hash,
    )
    assert {c.section_path for c in chunks} == {"Page 1", "Page 2", "Page 3"}
    assert all(c.section_path == f"Page {c.page}" for c in chunks)


def test_pdf_chunks_are_exact_slices_that_know_their_page(policy_pdf: SourceDocument) -> None:
    sections = parse_sections(
        policy_pdf.text, policy_pdf.title, policy_pdf.headings, policy_pdf.page_starts
    )
    chunks = chunk_document(
        policy_pdf.text,
        sections,
        policy_pdf.doc_id,
        policy_pdf.title,
        ChunkParams(max_tokens=16, overlap_tokens=4),
        page_starts=policy_pdf.page_starts,
        version=policy_pdf.content_hash,
    )
    assert len({c.section_path for c in chunks}) < len(chunks)  # some section is cut up
    for chunk in chunks:
        assert chunk.text == policy_pdf.text[chunk.start : chunk.end]
        assert chunk.page is not None and chunk.text in page_text(policy_pdf, chunk.page)
    assert {c.page for c in chunks} == {1, 2, 3}
    assert next(c for c in chunks if "registered charities" in c.text).page == 3
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_pdf_open_to_anyone_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    plain = write_pdf(tmp_path / "plain.pdf")
    writer = pypdf.PdfWriter(clone_from=plain)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    writer.write(tmp_path / "no-copying.pdf")
    assert read_document(tmp_path / "no-copying.pdf").text == read_document(plain).text


def write_encrypted_pdf(path: Path) -> None:
    writer = pypdf.PdfWriter(clone_from=write_pdf(path.with_name("clear.pdf")))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    writer.write(path)


def write_scanned_pdf(path: Path) -> None:
    """A page that is only an image, as a scanner makes it."""
    pdf = FPDF()
    pdf.add_page()
    pdf.image(Image.new("L", (200, 280), color=200), x=10, y=10, w=190)
    pdf.add_page()  # and a blank one
    pdf.output(str(path))


def write_truncated_pdf(path: Path) -> None:
    data = write_pdf(path.with_name("whole.pdf")).read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("locked.pdf", write_encrypted_pdf, "is encrypted; decrypt it first, e.g. `qpdf --decrypt"),
        (
            "scan.pdf",
            write_scanned_pdf,
            "has no extractable text (a scanned image?); run OCR first",
        ),
        ("cut.pdf", write_truncated_pdf, "is not a readable PDF ("),
        (
            "notes.pdf",
            lambda p: p.write_text("meeting notes, not a PDF\n"),
            "is not a readable PDF (",
        ),
        ("empty.pdf", lambda p: p.write_bytes(b""), "is not a readable PDF ("),
        ("notes.docx", lambda p: p.write_text("meeting notes\n"), "is not a readable DOCX ("),
        (
            "archive.docx",
            lambda p: p.write_bytes(b"PK\x05\x06" + b"\0" * 18),
            "is not a readable DOCX (",
        ),
    ],
)
def test_unusable_pdf_and_docx_files_get_one_line_errors_naming_them(
    tmp_path: Path, name: str, make: object, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / name
    assert callable(make)
    make(path)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InputFileError) as raised:
        read_document(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


def test_pypdf_repairs_a_damaged_file_without_a_word_on_the_console(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = bytearray(write_pdf(tmp_path / "good.pdf").read_bytes())
    pointer = data.rindex(b"startxref") + len(b"startxref\n")
    data[pointer : pointer + 4] = b"9999"  # a wrong xref offset: pypdf logs and rebuilds it
    (tmp_path / "damaged.pdf").write_bytes(bytes(data))
    caplog.set_level(logging.DEBUG)
    level = logging.getLogger("pypdf").level
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        document = read_document(tmp_path / "damaged.pdf")
    assert document.text == read_document(tmp_path / "good.pdf").text
    assert caught == [] and caplog.records == []
    assert logging.getLogger("pypdf").level == level


def write_docx(path: Path, *, with_title: bool = True) -> Path:
    document = docx.Document()
    if with_title:
        document.add_paragraph("Housing Allocation Policy", style="Title")
    document.add_paragraph("This policy explains who can get a council home.")
    document.add_heading("Part 1: Eligibility", level=1)
    document.add_paragraph("Applicants must have lived in the borough for two years.")
    document.add_heading("1.1 Priority bands", level=2)
    table = document.add_table(rows=3, cols=2)
    for row, cells in zip(
        table.rows, [("Band", "Who"), ("A", "Homeless families"), ("B", "Overcrowded homes")]
    ):
        for cell, value in zip(row.cells, cells):
            cell.text = value
    document.add_paragraph("Bands are reviewed every year.")
    document.add_heading("Part 2: Appeals", level=1)
    document.add_heading("Timescales", level=2)
    document.add_paragraph("An appeal must be made within 21 days of the decision.")
    document.save(str(path))
    return path


def test_docx_headings_give_the_structure_and_tables_keep_their_rows(tmp_path: Path) -> None:
    document = read_document(write_docx(tmp_path / "housing.docx"))
    assert document.kind == "docx" and document.page_starts == () and document.pages is None
    assert document.title == "Housing Allocation Policy"
    assert [(h.level, h.title, document.text[h.start : h.end]) for h in document.headings] == [
        (1, "Part 1: Eligibility", "Part 1: Eligibility"),
        (2, "1.1 Priority bands", "1.1 Priority bands"),
        (1, "Part 2: Appeals", "Part 2: Appeals"),
        (2, "Timescales", "Timescales"),
    ]
    assert "Band | Who\nA | Homeless families\nB | Overcrowded homes" in document.text
    assert document.text.index("Overcrowded") < document.text.index("Bands are reviewed")
    sections = parse_sections(
        document.text, document.title, document.headings, document.page_starts
    )
    assert [s.path for s in sections] == [
        "Preamble",
        "Part 1: Eligibility",
        "Part 1 › 1.1 Priority bands",
        "Part 2: Appeals",
        "Part 2 › Timescales",
    ]
    bands = sections[2]
    assert "Homeless families" in document.text[bands.body_start : bands.end]
    assert "who can get a council home" in document.text[: sections[1].start]


def test_docx_without_a_title_paragraph_is_titled_by_its_first_heading(tmp_path: Path) -> None:
    document = read_document(write_docx(tmp_path / "housing.docx", with_title=False))
    assert document.title == "Part 1: Eligibility"


def test_titles_are_capped_even_for_a_huge_one_line_text_file(tmp_path: Path) -> None:
    words = "the council shall publish its funding decisions promptly "
    path = tmp_path / "one-line.txt"
    path.write_text(words * 27_000, encoding="utf-8")  # about 1.5 MB on one line
    document = read_document(path)
    assert len(document.text) > 1_500_000
    assert len(document.title) <= TITLE_CHARS and document.title.endswith("…")
    assert document.text.startswith(document.title[:-1])
    assert document.title[:-1].endswith(
        ("council", "shall", "publish", "its", "funding", "decisions", "promptly", "the")
    )


def test_unsupported_type_message_lists_pdf_and_docx(tmp_path: Path) -> None:
    path = tmp_path / "budget.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(InputFileError, match=r"unsupported file type \.xlsx; .*\.pdf, \.docx"):
        read_document(path)


def test_repeated_heading_names_still_give_unique_sections_and_chunk_ids() -> None:
    text = "Annex A\nPurpose\nNot applicable.\nScope\nNot applicable.\nPurpose\nNot applicable.\n"
    headings = [
        Heading(text.index(name, at), text.index(name, at) + len(name), level, name)
        for name, level, at in [
            ("Annex A", 1, 0),
            ("Purpose", 2, 0),
            ("Scope", 2, 0),
            ("Purpose", 2, 40),
        ]
    ]
    sections = parse_sections(text, "Annex A", headings)
    assert [s.path for s in sections] == [
        "Annex A",
        "Annex A › Purpose",
        "Annex A › Scope",
        "Annex A › Purpose",
    ]
    assert len({(s.part, s.number) for s in sections}) == len(sections)
    chunks = chunk_document(text, sections, "annex", "Annex A", ChunkParams(), version="v1")
    # the bare "Annex A" heading is a chunk of its own: headings are text a reader quotes
    assert len(chunks) == 4 and len({c.chunk_id for c in chunks}) == 4


def test_out_of_order_headings_are_refused() -> None:
    with pytest.raises(ValueError, match="in order"):
        parse_sections("One\nTwo\n", "One", [Heading(4, 7, 1, "Two"), Heading(0, 3, 1, "One")])


@st.composite
def text_and_headings(draw: st.DrawFn) -> tuple[str, list[Heading]]:
    text = draw(st.text(alphabet=string.ascii_letters + " .\n()1IV", min_size=1, max_size=300))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=20)))
    pairs = [(a, b) for a, b in zip(cuts[::2], cuts[1::2])]
    headings = [
        Heading(a, b, draw(st.integers(1, 4)), draw(st.text(string.printable, max_size=60)))
        for a, b in pairs
    ]
    return text, headings


def assert_consecutive_cover(text: str, sections: list[Section]) -> None:
    assert sections and sections[0].start == 0 and sections[-1].end == len(text)
    for before, after in zip(sections, sections[1:]):
        assert before.end == after.start
    for section in sections:
        assert section.start <= section.body_start <= section.end
        assert section.path and "\n" not in section.path


@given(text_and_headings())
def test_sections_from_any_valid_headings_cover_the_text_consecutively(
    case: tuple[str, list[Heading]],
) -> None:
    text, headings = case
    sections = parse_sections(text, "Title", headings)
    if not headings:
        return  # the text parser's own properties are tested on the Strategy
    assert_consecutive_cover(text, sections)
    assert [s.start for s in sections if s.trail] == [h.start for h in headings]
    assert len({(s.part, s.number) for s in sections}) == len(sections)


@given(
    st.text(alphabet=string.ascii_lowercase + " .\n", min_size=1, max_size=200),
    st.sets(st.integers(1, 199), max_size=8),
)
def test_page_sections_cover_the_text_consecutively(text: str, starts: set[int]) -> None:
    page_starts = [0, *sorted(s for s in starts if s < len(text))]
    sections = parse_sections(text, "", (), page_starts)
    assert_consecutive_cover(text, sections)
    assert [s.path for s in sections] == [f"Page {n}" for n in range(1, len(page_starts) + 1)]
