"""Citations: numbering them, and checking a written answer's [n] markers against passages.

Two ways in, one result (`CheckedAnswer`: text with markers [1]…[n] numbered in order of
first use, the cited passages, and one `AnswerSentence` per sentence with its supporting
spans):
  - `assemble` takes the offline answerer's composed sentences, which quote their passages
    (support 1.0 by construction) and lays them out as prose or as a numbered list;
  - `check_citations` takes free text from a model: markers naming no passage are dropped; a
    sentence its cited passage does not support (`rag.evidence` support below the policy's
    threshold) is re-cited to the passage that does, or left uncited and flagged.
This module owns the one marker pattern and the one answer-sentence splitter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.compose import ComposedSentence
from rag.evidence import Evidence
from rag.types import AnswerSentence, Passage, SentenceKind

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
REFUSAL_PATTERN = re.compile(
    r"\b(does not (say|state|mention|specify|address|answer|contain)|doesn't (say|mention)"
    r"|not (stated|mentioned|specified) in the document|no information)\b",
    re.IGNORECASE,
)
# A sentence ends at . ! ? (or a Chinese stop) with its trailing markers, or at a line break
# (list items and headings are lines of their own).
_SENTENCE_END = re.compile(r"[.!?。！？](?:\s*\[\d+(?:\s*,\s*\d+)*\])*(?=\s+|$)|\n+")
_LIST_NUMBER_ONLY = re.compile(r"^\d{1,2}[.)]$")
_LIST_NUMBER = re.compile(r"^\s*(?:\d{1,2}[.)]|[-–•*])\s+")


@dataclass(frozen=True)
class CheckedAnswer:
    """An answer whose markers are numbered 1..n in order of use and checked."""

    text: str
    citations: list[Passage]
    sentences: list[AnswerSentence]


def split_answer(text: str) -> list[str]:
    """Answer text → sentences, each keeping its trailing markers; every line is its own unit."""
    pieces: list[str] = []
    position = 0
    for match in _SENTENCE_END.finditer(text):
        piece = text[position : match.end()].strip()
        if _LIST_NUMBER_ONLY.match(piece) and "\n" not in match.group(0):
            continue  # "2." opening a list item is not a sentence
        if piece:
            pieces.append(piece)
        position = match.end()
    tail = text[position:].strip()
    if tail:
        pieces.append(tail)
    return pieces


def markers_in(sentence: str) -> list[int]:
    """The citation numbers a sentence carries, in order, without repeats."""
    numbers: list[int] = []
    for group in MARKER.findall(sentence):
        for number in group.split(","):
            value = int(number)
            if value not in numbers:
                numbers.append(value)
    return numbers


def strip_markers(sentence: str) -> str:
    """The sentence without its [n] markers (and without the space they leave before a stop)."""
    return re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", sentence)).strip()


def _attach(claim: str, marker: str) -> str:
    """Put the markers before the sentence's final punctuation: 'GDP [1].'"""
    if not marker:
        return claim
    if claim and claim[-1] in ".!?;:。！？":
        return f"{claim[:-1].rstrip()} {marker}{claim[-1]}"
    return f"{claim} {marker}"


class _Numbering:
    """Citation numbers in order of first use, one per distinct passage."""

    def __init__(self) -> None:
        self.passages: list[Passage] = []
        self._number: dict[str, int] = {}

    def number(self, passage: Passage) -> int:
        if passage.chunk_id not in self._number:
            self.passages.append(passage)
            self._number[passage.chunk_id] = len(self.passages)
        return self._number[passage.chunk_id]


def assemble(sentences: Sequence[ComposedSentence]) -> CheckedAnswer:
    """Lay composed sentences out: claims as prose, items as a numbered list, headings on a
    line of their own; number the citations in order of first use."""
    numbering = _Numbering()
    text = ""
    item_number = 0
    previous: ComposedSentence | None = None
    checked: list[AnswerSentence] = []
    for sentence in sentences:
        numbers = tuple(numbering.number(p) for p in sentence.cites)
        rendered = _attach(sentence.text, "".join(f"[{n}]" for n in numbers))
        if sentence.item:
            item_number += 1
            separator = "\n" if text else ""
            rendered = f"{item_number}. {rendered}"
        elif sentence.heading:
            item_number = 0
            follows_lead = previous is not None and previous.heading and previous.text.endswith(":")
            separator = ("\n" if follows_lead else "\n\n") if text else ""
        else:
            after_line = previous is not None and (previous.item or previous.heading)
            separator = ("\n" if after_line else " ") if text else ""
        text += separator + rendered
        kind: SentenceKind = "item" if sentence.item else "heading" if sentence.heading else "claim"
        checked.append(
            AnswerSentence(
                text=sentence.text,
                citations=numbers,
                support=1.0 if numbers or sentence.heading else 0.0,
                is_supported=bool(numbers) or sentence.heading,
                spans=sentence.spans,
                kind=kind,
            )
        )
        previous = sentence
    return CheckedAnswer(text, numbering.passages, checked)


def check_citations(
    text: str, retrieved: Sequence[Passage], evidence: Evidence, threshold: float
) -> CheckedAnswer:
    """Verify, repair and renumber the [n] markers of a model's `text` (n indexes `retrieved`,
    1-based); see the module docstring. Sentence layout (lines, list numbers) is kept."""
    lines = text.split("\n")
    units: list[tuple[int, str]] = []  # (line index, sentence)
    for index, line_text in enumerate(lines):
        for sentence in split_answer(line_text):
            units.append((index, sentence))
    claims = [strip_markers(_LIST_NUMBER.sub("", s)) for _, s in units]
    support = evidence.support_matrix(claims, retrieved)
    numbering = _Numbering()
    rendered_lines: list[list[str]] = [[] for _ in lines]
    checked: list[AnswerSentence] = []
    for (line, sentence), claim, row in zip(units, claims, support):
        prefix_match = _LIST_NUMBER.match(sentence)
        prefix = prefix_match.group(0) if prefix_match else ""
        marked = markers_in(sentence)
        cited = [n - 1 for n in marked if 1 <= n <= len(retrieved)]
        if not marked and REFUSAL_PATTERN.search(claim):
            rendered_lines[line].append(prefix + claim)
            checked.append(AnswerSentence(claim, (), 0.0, True))
            continue
        kept = [j for j in cited if row[j].score >= threshold]
        if not kept and retrieved:
            best = max(range(len(retrieved)), key=lambda j: row[j].score)
            if row[best].score >= threshold:
                kept = [best]  # re-cite to the retrieved passage that supports the sentence
        score = max((row[j].score for j in kept), default=max((s.score for s in row), default=0.0))
        numbers = tuple(numbering.number(retrieved[j]) for j in kept)
        spans = tuple(row[j].span or (0, 0) for j in kept)
        rendered_lines[line].append(prefix + _attach(claim, "".join(f"[{n}]" for n in numbers)))
        checked.append(
            AnswerSentence(
                claim,
                numbers,
                round(score, 3),
                bool(kept),
                spans=spans,
                kind="item" if prefix else "claim",
            )
        )
    out = "\n".join(" ".join(parts) for parts in rendered_lines).strip()
    return CheckedAnswer(re.sub(r"\n{3,}", "\n\n", out), numbering.passages, checked)
