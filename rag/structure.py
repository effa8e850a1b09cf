"""The document's own structure as answer material: its outline, and the lists it contains.

Policy documents say what their parts are: "IV, The strategic focus …" has nine numbered
sections, Part V "give[s] priority to … the following strategic action plans", III (1) lists
principles after "are:", II (3) counts problems "first, … second, …", II (1) sets out items
behind dashes. A question asking for a list ("What are the action plans?") or a count ("How
many…?") is answered by finding such a list and enumerating its items, each cited, instead of
quoting the one sentence that introduces it.

Pure functions over passages, sentences and the outline; `rag.compose` picks the list that
best matches the question. The compromise: item boundaries come from punctuation and the
document's numbering, so an inline list whose items themselves contain commas is cut at
those commas.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ingest.cache import StoredSection
from rag.types import Passage

# One section of a document's outline, as its chunks record it ("V (2) E-commerce action
# plans": part "V", number "2"; number "" for a part's introduction). The index keeps these.
OutlineSection = StoredSection


class StructureSource(Protocol):
    """What the index tells about a document's structure."""

    def outline(self, doc_id: str) -> Sequence[OutlineSection]: ...

    def section_passages(self, doc_id: str, path: str) -> Sequence[Passage]: ...


ListKind = Literal["sections", "inline", "ordinal", "block", "dashes", "leads"]
# A sentence this short that opens a paragraph is a run-in heading ("Move community
# informatization forward."): it names what the paragraph is about.
RUN_IN_WORDS = 12


@dataclass(frozen=True)
class ListItem:
    """One item of a list: its text as the answer shows it, the passage it is cited to, and
    its (start, end) offsets in that passage's document (the heading's offsets for a section,
    where `start == end` marks "the heading above the passage")."""

    text: str
    passage: Passage
    start: int
    end: int


@dataclass(frozen=True)
class DocumentList:
    """A list the document contains. `label` is what the list is of, in the document's words
    (a part's heading, or the lead-in before "are:"); `anchor` is the passage holding the
    lead-in (cited by a count sentence)."""

    kind: ListKind
    label: str
    items: tuple[ListItem, ...]
    anchor: Passage
    title: str = ""  # what an answer calls the list (a part's heading); the label if empty
    # The document's own words that open the list ("The strategic objectives … until 2020
    # are"), as (start, end) offsets in the document; (0, 0) when it has none.
    lead_in: tuple[int, int] = (0, 0)


_ORDINALS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
)
_ORDINAL = re.compile(r"\b(" + "|".join(_ORDINALS) + r")(ly)?\s*[,:]\s*", re.IGNORECASE)
# The colon's trailing spaces only, not a line break: "are:" ending a line leads a block of
# paragraphs, "are: a, b and c" an inline list.
_LEAD_IN = re.compile(
    r"\b(are|is|include|includes|including|follows|following|as)[ \t]*:[ \t]*", re.IGNORECASE
)
_POINTS_FORWARD = re.compile(r"\b(following|as follows)\b|:\s*$", re.IGNORECASE)
_DASH = re.compile(r"^\s*[–—-]\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


def section_lists(outline: Sequence[OutlineSection], passages_of: StructureSource) -> list[DocumentList]:
    """Parts whose numbered sections are the items ("IV, The strategic focus …" → its nine
    sections), each item cited to the first passage of its section."""
    lists: list[DocumentList] = []
    parts: dict[str, list[OutlineSection]] = {}
    for section in outline:
        parts.setdefault(section.part, []).append(section)
    for part, sections in parts.items():
        children = [s for s in sections if s.number]
        if len(children) < 2:
            continue
        items = [
            item
            for child in children
            if (item := _heading_item(_clean_title(child.title), child.title, child, passages_of))
        ]
        intro = next((s for s in sections if not s.number), None)
        intro_passages = passages_of.section_passages(intro.doc_id, intro.path) if intro else ()
        anchor = intro_passages[0] if intro_passages else items[0].passage if items else None
        if anchor is None or len(items) < 3:  # two sections are a part, not a list
            continue
        title = f"Part {part}, “{children[0].part_title}”"
        label = f"{part}, {children[0].part_title}"
        lead_in = next(
            (
                sentence
                for passage in intro_passages[:1]
                for sentence in _SENTENCE_END.split(passage.text)
                if _POINTS_FORWARD.search(sentence)
            ),
            "",
        )
        if lead_in:
            # "…give priority to … the following strategic action plans": the intro says what
            # the sections are, often in the words a reader asks with.
            label = f"{label}. {lead_in.strip()}"
        lists.append(DocumentList("sections", label, tuple(items), anchor, title))
    return lists


def document_parts(outline: Sequence[OutlineSection], passages_of: StructureSource) -> list[ListItem]:
    """The document's numbered parts in order ("Part IV: The strategic focus …"), each cited
    to where it begins; [] for a document with fewer than two (the Notice, Preamble and
    Signatures are not numbered parts)."""
    first_of_part: dict[str, OutlineSection] = {}
    for section in outline:
        if is_numbered_part(section.part) and section.part not in first_of_part:
            first_of_part[section.part] = section
    items = [
        item
        for part, section in first_of_part.items()
        if (item := _heading_item(f"Part {part}: {_clean_title(section.part_title)}", section.part_title, section, passages_of))
    ]
    return items if len(items) >= 2 else []


def is_numbered_part(part: str) -> bool:
    """"IV" is a numbered part; "Notice", "Preamble" and "Signatures" are not."""
    return _PART_NUMERAL.fullmatch(part) is not None


_PART_NUMERAL = re.compile(r"[IVXL]+")


def _heading_item(
    text: str, title: str, section: OutlineSection, passages_of: StructureSource
) -> ListItem | None:
    """An item naming `section`, cited to its first passage: chunks begin with their
    section's heading line, so the item quotes that line when it carries `title`, else points
    at the heading above the passage (start == end). None for a section without passages."""
    passages = passages_of.section_passages(section.doc_id, section.path)
    if not passages:
        return None
    first = passages[0]
    heading = first.text.split("\n", 1)[0]
    end = first.start + len(heading) if title[:20] in heading else first.start
    return ListItem(text, first, first.start, end)


def passage_lists(passage: Passage, section_passages: Sequence[Passage] = ()) -> list[DocumentList]:
    """Lists written inside a passage: ordinal clauses ("… as: first, …. Second, …"), items
    after a lead-in ("…are: a, b and c"), a lead-in ending in ":" followed by paragraphs (taken
    from `section_passages`, the passages of the same section in order), and dashed
    paragraphs. Each label starts with the section's title, which often names the list
    ("Problems that require attention …")."""
    found: list[DocumentList] = []
    text = passage.text
    heading = _section_title(passage.section)
    first = next((m for m in _ORDINAL.finditer(text) if m.group(1).lower() == "first"), None)
    if first is not None:
        items = _ordinal_items(passage, section_passages, first.start())
        if len(items) >= 2:
            opening = text[_sentence_start(text, first.start()) : first.start()].strip(" :,")
            found.append(DocumentList("ordinal", f"{heading}: {opening}", tuple(items), passage))
    for lead in _LEAD_IN.finditer(text):
        if first is not None and lead.end() >= first.start() - 2:
            continue  # the lead-in of the ordinal list above
        sentence_start = _sentence_start(text, lead.start())
        label = f"{heading}: " + text[sentence_start : lead.start() + len(lead.group(1))].strip()
        rest_start = lead.end()
        sentence_end = _sentence_end(text, rest_start)
        if rest_start >= len(text) or text[rest_start] == "\n":
            block = _block_items(passage, section_passages, rest_start)
            if len(block) >= 2:
                lead_span = (passage.start + sentence_start, passage.start + lead.start() + len(lead.group(1)))
                found.append(DocumentList("block", label, tuple(block), passage, lead_in=lead_span))
            continue
        items = _inline_items(passage, rest_start, sentence_end)
        lead_span = (passage.start + sentence_start, passage.start + lead.start() + len(lead.group(1)))
        if len(items) >= 3:
            found.append(DocumentList("inline", label, tuple(items), passage, lead_in=lead_span))
    dashes = _dash_items(passage)
    if len(dashes) >= 2:
        found.append(DocumentList("dashes", heading, tuple(dashes), passage))
    return found


def section_leads(section: Sequence[Passage]) -> DocumentList | None:
    """A section whose paragraphs mostly open with a run-in heading lists its topics: IV (4)
    "Promote social informatization" is education and research, healthcare, employment and
    social security, community. The items are the paragraphs' first sentences; None when
    fewer than three paragraphs, or fewer than three in four open with a short sentence."""
    if not section:
        return None
    first = section[0]
    heading = first.text.split("\n", 1)[0]
    # A repeated paragraph (IV (3) holds two near-copies) is one topic, listed once.
    items: list[ListItem] = []
    for item in _block_items(first, section, len(heading)):
        if all(item.text != kept.text for kept in items):
            items.append(item)
    short = [item for item in items if len(item.text.split()) <= RUN_IN_WORDS]
    if len(items) < 3 or 4 * len(short) < 3 * len(items):
        return None
    return DocumentList("leads", _section_title(first.section), tuple(items), first, title=first.section)


def _section_title(path: str) -> str:
    """ "II (3) Problems that require …" → "Problems that require …"; "Notice" stays."""
    return re.sub(r"^[IVXL]+\s+(\(\d+\)\s+)?", "", path)


def _clean_title(title: str) -> str:
    return title.strip().rstrip(".").strip()


def _sentence_start(text: str, position: int) -> int:
    starts = [m.end() for m in _SENTENCE_END.finditer(text, 0, position)]
    paragraph = text.rfind("\n", 0, position) + 1
    return max([0, paragraph, *starts])


def _sentence_end(text: str, position: int) -> int:
    """Offset just after the sentence containing `position` ends (its stop included)."""
    match = re.search(r"[.!?](?=\s|$)|\n", text[position:])
    return position + match.end() if match else len(text)


def _inline_items(passage: Passage, start: int, end: int) -> list[ListItem]:
    """"a, b, c and d." → items a, b, c, d (split at commas/semicolons and a final "and")."""
    body = passage.text[start:end]
    items: list[ListItem] = []
    position = 0
    pieces = re.split(r"(;\s+|,\s+(?:and\s+)?|\s+and\s+(?=[^,;]+[.!?]?$))", body)
    if len(pieces) >= 3 and pieces[-2].strip() == "and" and (
        len(pieces[-3].split()) < 2 or len(pieces[-1].strip(" .!?").split()) < 2
    ):
        # "…, security and reliability.": an "and" between single words joins one item's
        # two words, not the list's last two items.
        pieces[-3:] = ["".join(pieces[-3:])]
    for index in range(0, len(pieces), 2):
        raw = pieces[index]
        item = raw.strip().rstrip(".!?;:").strip()
        if len(item.split()) >= 2:
            offset = passage.start + start + position + (len(raw) - len(raw.lstrip()))
            items.append(ListItem(item, passage, offset, offset + len(item)))
        position += len(raw) + (len(pieces[index + 1]) if index + 1 < len(pieces) else 0)
    return items


def _ordinal_items(
    passage: Passage, section_passages: Sequence[Passage], start: int
) -> list[ListItem]:
    """Clauses opened by "first, … second, …" up to the end of their sentence, across the
    passages of the section (a long enumeration spans chunks)."""
    items: list[ListItem] = []
    seen: set[int] = set()
    expected = 0
    for source in [passage, *[p for p in section_passages if p.start > passage.start]]:
        text = source.text
        begin = start if source is passage else 0
        for match in _ORDINAL.finditer(text, begin):
            word = match.group(1).lower()
            if expected >= len(_ORDINALS) or word != _ORDINALS[expected]:
                continue
            item_end = _sentence_end(text, match.end())
            item = text[match.end() : item_end].strip().rstrip(".!?;")
            absolute = source.start + match.end()
            if item and absolute not in seen:
                seen.add(absolute)
                items.append(ListItem(item[:1].upper() + item[1:], source, absolute, absolute + len(item)))
                expected += 1
    return items


def _block_items(
    passage: Passage, section_passages: Sequence[Passage], start: int
) -> list[ListItem]:
    """The paragraphs after a lead-in ending in ":", each item its first sentence, up to the
    end of the section."""
    items: list[ListItem] = []
    seen: set[int] = set()
    lead_at = passage.start + start
    for source in [passage, *[p for p in section_passages if p.end > passage.end]]:
        text = source.text
        for match in re.finditer(r"(?:^|\n\s*\n)(?P<para>\S[^\n]*)", text):
            absolute = source.start + match.start("para")
            if absolute <= lead_at or absolute in seen:
                continue
            if match.start("para") == 0 and not _starts_paragraph(absolute, section_passages):
                continue  # an overlapping chunk begins mid-paragraph
            seen.add(absolute)
            paragraph = match["para"]
            first = _SENTENCE_END.split(paragraph, maxsplit=1)[0].strip()
            items.append(ListItem(first.rstrip("."), source, absolute, absolute + len(first)))
    return items


def _starts_paragraph(offset: int, passages: Sequence[Passage]) -> bool:
    """Whether document offset `offset` begins a paragraph, judged from a passage that holds
    the text just before it (a line break there); True when none does (a section's start)."""
    for passage in passages:
        if passage.start < offset <= passage.end:
            return passage.text[offset - passage.start - 1] == "\n"
    before = [p.end for p in passages if p.end < offset]
    # Chunks end and begin on sentences: one space between them is the same paragraph, a
    # longer gap ("\n\n") a new one.
    return not before or offset - max(before) > 1


def _dash_items(passage: Passage) -> list[ListItem]:
    items: list[ListItem] = []
    text = passage.text
    for match in re.finditer(r"(?:^|\n)(?P<line>[–—-]\s+[^\n]+)", text):
        line = _DASH.sub("", match["line"])
        first = _SENTENCE_END.split(line, maxsplit=1)[0].strip()
        at = passage.start + match.start("line") + (len(match["line"]) - len(match["line"].lstrip("–—- ")))
        items.append(ListItem(first.rstrip("."), passage, at, at + len(first)))
    return items
