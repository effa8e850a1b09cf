"""Real files for the page's document tests, written in the test: a paged PDF (fpdf2), a DOCX
with heading styles (python-docx), Markdown notes, and broken ones. Each states the facts a
test asks about, with the page or heading they stand under."""

from __future__ import annotations

from pathlib import Path

import docx
from fpdf import FPDF

# Filler for a page: enough words that every page starts a new passage (chunks hold at most
# 160 tokens), so a passage's page is the page of the fact in it.
_FILLER = (
    "The harbour board reviews this rule every year and publishes the result on the notice "
    "board at the harbour office, where any berth holder may read it and comment on it. "
)
HARBOUR_PAGES = (
    ("Purpose", "This policy sets out how the municipal harbour of Westhaven is run."),
    ("Mooring rules", "Vessels must moor only at the berth the harbour master assigns."),
    ("Fees", "The mooring fee is 42 euros per night for vessels up to twelve metres."),
    ("Safety", "Every vessel must carry a working fire extinguisher within reach of the helm."),
)
FEE_QUESTION = "What is the mooring fee per night?"
FEE_SENTENCE = "The mooring fee is 42 euros per night for vessels up to twelve metres."
FEE_PAGE = 3


def write_harbour_pdf(path: Path) -> Path:
    """A four-page PDF titled "Westhaven Harbour Policy"; the fee is on page FEE_PAGE."""
    pdf = FPDF()
    pdf.set_title("Westhaven Harbour Policy")
    for heading, fact in HARBOUR_PAGES:
        pdf.add_page()
        pdf.start_section(heading)
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, f"{fact} " + _FILLER * 4, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


LIBRARY_HEADINGS = ("Opening hours", "Borrowing", "Late returns")
LATE_FEE_QUESTION = "What is the late fee for a library book?"
LATE_FEE_SENTENCE = "The late fee is 20 cents per day for each book."


def write_library_docx(path: Path) -> Path:
    """A DOCX titled "Riverside Library Rules" with three Heading 1 sections."""
    document = docx.Document()
    document.add_paragraph("Riverside Library Rules", style="Title")
    facts = {
        "Opening hours": "The library opens at nine and closes at six on weekdays.",
        "Borrowing": "Members may borrow up to eight books for three weeks.",
        "Late returns": f"{LATE_FEE_SENTENCE} Fines above five euros suspend borrowing.",
    }
    for heading in LIBRARY_HEADINGS:
        document.add_heading(heading, level=1)
        document.add_paragraph(facts[heading])
    document.save(str(path))
    return path


def write_notes(path: Path, title: str, fee_sentence: str) -> Path:
    """A short Markdown document with one fee fact, titled by its first line. (Not a "# "
    heading: the text reader keeps the "#" in the title today.)"""
    path.write_text(
        f"{title}\n\nCharges: {fee_sentence} Payment is due on the first of the month.\n\n"
        "Contact: questions go to the office, which answers within two working days.\n",
        encoding="utf-8",
    )
    return path


def write_corrupt_pdf(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without end")
    return path


def write_scanned_pdf(path: Path) -> Path:
    """A PDF whose page is only a picture (a grey box): no text to extract, as a scan."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_fill_color(200, 200, 200)
    pdf.rect(20, 20, 170, 250, style="F")
    pdf.output(str(path))
    return path


def write_encrypted_pdf(path: Path) -> Path:
    """A PDF that opens only with a password."""
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 7, "Confidential harbour accounts.")
    pdf.output(str(path))
    return path
