"""Clean text → the structure a document has: declared headings, else numbered parts, else pages.

Structure comes from the best source a document has: the headings its file declares (DOCX
heading styles, PDF bookmarks), else the Strategy's plain-text numbering read from the lines,
else, for a paged file with neither, its pages. The text parser records what the document has
and nothing else: the Strategy has no part VI and no section II (2), and none is invented. One
typo is read as what it means: `94)` opening a heading line is `(4)` typed with the shift key
missed ('(' is shift-9). Every span is a pair of character offsets into the clean text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.clean import cap_title

_PART_HEADING = re.compile(r"^(?P<numeral>[IVXL]+)[,.]\s+(?P<title>\S.*)$")
# '(' and '9' share a key: "94) Network media ..." is section (4).
_SECTION_HEADING = re.compile(r"^[(9](?P<number>\d{1,2})\)\s+(?P<title>\S.*)$")
_CJK = re.compile(r"[\u3400-\u9fff]")

# A declared heading's own label: "Chapter 2", "Annex A", "2.1", "IV.", "(a)", "B.". Only the
# word labels name a part on their own; "2" alone would make a path like "2 › 2.1 Grants".
_WORD_LABEL = r"(?i:chapter|part|section|article|annex|appendix|schedule|title|book|unit)"
_LABEL = re.compile(
    rf"^(?P<label>(?P<word>{_WORD_LABEL}\s+(?:\d[\w.]*|[IVXLC]+|[A-Z])\b\.?)"
    r"|[IVXLC]+\.|\d+(?:\.\d+)*\.?|\(\w{1,4}\)|[A-Z]\.)"
    r"(?:(?:\s*[:.\-–—]\s*|\s+)(?P<rest>\S.*))?$"
)
# A part named by its heading text is cut here, so sub-section paths stay readable.
PART_LABEL_CHARS = 40

NOTICE = "Notice"
PREAMBLE = "Preamble"
SIGNATURES = "Signatures"
PAGE = "Page"
PATH_SEPARATOR = " › "


@dataclass(frozen=True)
class Heading:
    """A heading the file itself declares (a DOCX heading style, a PDF bookmark).

    `start`/`end` are the offsets of the heading's text in the clean text; `level` 1 is the
    top level (a part or chapter), 2 and deeper are sections within it. `title` is the
    heading as the file declares it (a bookmark may differ from the page in case or spacing).
    """

    start: int
    end: int
    level: int
    title: str


@dataclass(frozen=True)
class Section:
    """A titled span of the document that chunks never cross.

    From the text parser: `part` is a Roman numeral ("IV") or one of "Notice", "Preamble",
    "Signatures"; `number` is "8" for section (8), or "" for a part's introduction.
    From declared headings and pages, see `parse_sections`; there `trail` holds the path's
    pieces. `start` is where the heading begins, `body_start` where the text after the heading
    begins, `end` where the next span begins. Within one document (part, number) names one
    section, because chunk ids are built from it.
    """

    part: str
    part_title: str
    number: str
    title: str
    start: int
    body_start: int
    end: int
    trail: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """Human-readable path, e.g. `IV (8) Build a national information security protection system`."""
        if self.trail:
            return PATH_SEPARATOR.join(self.trail)
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


def shorten(text: str, max_chars: int) -> str:
    """`text` on one line, cut at a word boundary to at most `max_chars` with "…" if longer."""
    line = _one_line(text)
    if len(line) <= max_chars:
        return line
    cut = line[: max_chars - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.-–—") + "…"


def parse_sections(
    text: str,
    title: str,
    headings: Sequence[Heading] = (),
    page_starts: Sequence[int] = (),
) -> list[Section]:
    """Split clean text into consecutive sections, from the best structure the document has.

    Call it as `parse_sections(document.text, document.title, document.headings,
    document.page_starts)` with a `SourceDocument`.

    1. `headings` given (the file declares them): one section per heading, plus "Preamble" for
       any text before the first; the sections cover the text end to end, a bare heading
       with no text of its own included. Paths are what a reader would say to point there:
       a level-1 heading's section is the heading itself ("Chapter 2: Funding"); a deeper
       one is its part's short label, the enclosing headings and its own heading, joined by
       " › " ("Chapter 2 › 2.1 Eligibility"). The part label is the heading's word label
       ("Chapter 2", "Annex A") or, without one, the heading cut to 40 characters
       ("Introduction"). `part_title` is the level-1 heading after its label; a deeper
       section's `number` is its own label ("2.1", "a") or, without one, its title cut short,
       and `title` its heading after the label. A repeated name gets " (2)", " (3)", … so
       that (part, number), and so each chunk id, stays unique.
    2. Otherwise the Strategy's plain-text numbering: parts "I, …" and sections "(1) …"
       (see `_sections_from_text`); bare part headings are left out of the sections.
    3. If that finds no part either and `page_starts` is given (a paged file), one section per
       page, "Page 1", "Page 2", …, so a citation still says where a passage is.

    Raises ValueError if `headings` are not in order, overlap or fall outside the text, or if
    `page_starts` do not increase.
    """
    if headings:
        return _sections_from_headings(text, headings)
    sections = _sections_from_text(text, title)
    if page_starts and all(s.part in (NOTICE, PREAMBLE, SIGNATURES) for s in sections):
        return _sections_from_pages(text, page_starts)
    return sections


def _sections_from_headings(text: str, headings: Sequence[Heading]) -> list[Section]:
    previous_end = 0
    for heading in headings:
        if not (previous_end <= heading.start < heading.end <= len(text)) or heading.level < 1:
            raise ValueError(f"headings must be in order, inside the text, not overlap: {heading}")
        previous_end = heading.end
    sections: list[Section] = []
    if headings[0].start > 0:
        sections.append(Section(PREAMBLE, "", "", PREAMBLE, 0, 0, headings[0].start))
    # A heading called "Preamble" must not share the preamble's (part, number).
    parts: set[str] = {PREAMBLE} if sections else set()
    numbers: dict[str, set[str]] = {}  # the numbers taken in each part
    part, part_title = "", ""
    enclosing: list[tuple[int, str]] = []  # (level, name) of the open headings below level 1
    for index, heading in enumerate(headings):
        end = headings[index + 1].start if index + 1 < len(headings) else len(text)
        name = (
            _one_line(heading.title)
            or _one_line(text[heading.start : heading.end])
            or f"Heading {index + 1}"
        )
        match = _LABEL.match(name)
        label = match["label"].rstrip(".") if match else ""
        rest = (match["rest"] or "") if match else ""
        if heading.level == 1:
            word_label = label if match and match["word"] else ""
            part = _unique(word_label or shorten(name, PART_LABEL_CHARS), parts)
            part_title = rest if word_label else name
            enclosing = []
            number, section_title = "", part_title
            trail: tuple[str, ...] = (name,)
        else:
            enclosing = [(level, n) for level, n in enclosing if level < heading.level]
            own = label.strip("()") if label else shorten(name, PART_LABEL_CHARS)
            # "" is taken by the part's own section (its heading and introduction).
            number = _unique(own, numbers.setdefault(part, {""}))
            section_title = rest or name
            trail = (*([part] if part else []), *(n for _, n in enclosing), name)
            enclosing.append((heading.level, name))
        sections.append(
            Section(
                part, part_title, number, section_title, heading.start, heading.end, end, trail
            )
        )
    return sections


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name (2)`, `name (3)`, … if `taken` has it; the result is added to `taken`."""
    candidate, count = name, 1
    while candidate in taken:
        count += 1
        candidate = f"{name} ({count})".strip()
    taken.add(candidate)
    return candidate


def _sections_from_pages(text: str, page_starts: Sequence[int]) -> list[Section]:
    if any(b <= a for a, b in zip(page_starts, page_starts[1:])):
        raise ValueError(f"page starts must increase: {list(page_starts)}")
    sections = []
    for index, start in enumerate(page_starts):
        # Page 1 owns anything before its recorded start, so the pages cover the whole text.
        begin = 0 if index == 0 else min(start, len(text))
        end = page_starts[index + 1] if index + 1 < len(page_starts) else len(text)
        name = f"{PAGE} {index + 1}"
        sections.append(
            Section(PAGE, "", str(index + 1), name, begin, begin, min(end, len(text)), (name,))
        )
    return sections


def _sections_from_text(text: str, title: str) -> list[Section]:
    """The Strategy's structure, read from its lines.

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
    # A part heading with no text of its own before its first section ("IV, The strategic
    # focus …") is not a passage: alone it would outrank the sections it heads.
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
