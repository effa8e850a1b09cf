"""Clean text → the document's own structure: notice, preamble, parts I–VII, sections (1)–(9).

The parser records what the document has and nothing else: the Strategy has no part VI and
no section II (2), and none is invented. One typo is read as what it means: `94)` opening a
heading line is `(4)` typed with the shift key missed ('(' is shift-9).
Every span is a pair of character offsets into the clean text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.clean import cap_title

_PART_HEADING = re.compile(r"^(?P<numeral>[IVXL]+)[,.]\s+(?P<title>\S.*)$")
# '(' and '9' share a key: "94) Network media ..." is section (4).
_SECTION_HEADING = re.compile(r"^[(9](?P<number>\d{1,2})\)\s+(?P<title>\S.*)$")
_CJK = re.compile(r"[\u3400-\u9fff]")

NOTICE = "Notice"
PREAMBLE = "Preamble"
SIGNATURES = "Signatures"


@dataclass(frozen=True)
class Section:
    """A titled span of the document that chunks never cross.

    `part` is a Roman numeral ("IV") or one of "Notice", "Preamble", "Signatures"; `number` is
    "8" for section (8), or "" for a part's introduction. `start` is where the heading begins,
    `body_start` where the text after the heading begins, `end` where the next span begins.
    """

    part: str
    part_title: str
    number: str
    title: str
    start: int
    body_start: int
    end: int

    @property
    def path(self) -> str:
        """Human-readable path, e.g. `IV (8) Build a national information security protection system`."""
        if self.part in (NOTICE, PREAMBLE, SIGNATURES):
            return self.part
        if self.number:
            return f"{self.part} ({self.number}) {self.title}"
        return f"{self.part} {self.part_title}"


def _title(raw: str) -> str:
    # Capped: a heading is copied into every chunk of its section (path and title).
    return cap_title(raw.strip().rstrip(".").strip())


def _lines_with_offsets(text: str) -> list[tuple[int, str]]:
    offset = 0
    lines = []
    for line in text.split("\n"):
        lines.append((offset, line))
        offset += len(line) + 1
    return lines


def parse_sections(text: str, title: str) -> list[Section]:
    """Split clean text into consecutive sections covering the whole text.

    Front matter before the first part heading is the notice (up to the line that repeats
    the document title) and the preamble (after it). Trailing lines written in Chinese
    characters after the last section are the issuing offices' signatures.
    """
    lines = _lines_with_offsets(text)
    headings: list[tuple[int, int, str, str, str]] = []  # start, body_start, part, number, title
    part = ""
    for offset, line in lines:
        if match := _PART_HEADING.match(line):
            part = match["numeral"]
            headings.append((offset, offset + len(line) + 1, part, "", _title(match["title"])))
        elif part and (match := _SECTION_HEADING.match(line)):
            number = match["number"]
            headings.append((offset, offset + len(line) + 1, part, number, _title(match["title"])))

    sections: list[Section] = []
    first_heading = headings[0][0] if headings else len(text)
    sections.extend(_front_matter(text, lines, title, first_heading))

    signature_start = _signature_start(text, lines, headings[-1][1] if headings else len(text))
    part_titles = {h[2]: h[4] for h in headings if not h[3]}
    for index, (start, body_start, part, number, heading_title) in enumerate(headings):
        end = headings[index + 1][0] if index + 1 < len(headings) else signature_start
        sections.append(
            Section(part, part_titles.get(part, ""), number, heading_title, start, body_start, end)
        )
    if signature_start < len(text):
        sections.append(
            Section(SIGNATURES, "", "", SIGNATURES, signature_start, signature_start, len(text))
        )
    return [s for s in sections if text[s.body_start : s.end].strip() or s.number]


def _front_matter(
    text: str, lines: list[tuple[int, str]], title: str, first_heading: int
) -> list[Section]:
    if first_heading == 0:
        return []
    repeat = next(
        (
            offset
            for offset, line in lines[1:]
            if offset < first_heading and title and cap_title(line.strip()) == title
        ),
        None,
    )
    if repeat is None:
        return [Section(PREAMBLE, "", "", PREAMBLE, 0, 0, first_heading)]
    return [
        Section(NOTICE, "", "", NOTICE, 0, 0, repeat),
        Section(PREAMBLE, "", "", PREAMBLE, repeat, repeat, first_heading),
    ]


def _signature_start(text: str, lines: list[tuple[int, str]], after: int) -> int:
    """Offset of the run of Chinese-only lines that ends the text, or len(text)."""
    start = len(text)
    for offset, line in reversed(lines):
        if offset < after:
            break
        stripped = line.strip()
        if not stripped:
            continue
        cjk = len(_CJK.findall(stripped))
        if cjk >= 0.6 * len(stripped.replace(" ", "")):
            start = offset
        else:
            break
    return start
