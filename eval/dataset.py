"""The QA set on disk (JSON Lines) → validated, frozen `Case` values; every error names its line.

Loading checks each case's shape and its internal consistency (a case that claims an answer
must quote evidence for it, a follow-up must name an earlier item). Fields the schema does not
know are kept on the Case (`extra`) and named in one warning per file, so a QA file written for
a newer citeqa still loads; the known fields stay strictly typed. Whether the quotes really
are in the document, and whether each key fact is in the reference answer and in a quote, is a
separate check, `check_against_document`, because it needs the clean text and reports every
problem at once instead of stopping at the first. Section ids are checked for their form here;
whether they name a section that exists is left to the test that parses the document.
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from rag.errors import CiteqaError

CaseType = Literal["factoid", "list", "descriptive", "multi-part", "unanswerable"]
Language = Literal["en", "zh"]
# "tune": the only items a tuned constant, threshold or calibration may read. "holdout": written
# before tuning, never looked at while tuning; what the quality gate and the reports judge.
Split = Literal["tune", "holdout"]

# "Notice", "Preamble", "Signatures", a part alone ("V" = the part's introduction), or a part
# with a section number ("IV (8)"). The form only: the document has no "VI", but that is the
# document's business, checked against parse_sections() in tests/test_dataset.py.
_SECTION_ID = re.compile(r"^(Notice|Preamble|Signatures|[IVXL]+( \(\d{1,2}\))?)$")


class DatasetError(CiteqaError):
    """The QA file cannot be read or a line breaks the format; the message names file and line."""


class UnknownFieldWarning(UserWarning):
    """A QA file has fields the schema does not know; they are kept on `Case.extra`, unused."""


@dataclass(frozen=True)
class Case:
    """One hand-written question with what a correct answer must contain and where it comes from.

    `evidence` holds verbatim quotes from the clean document text, `key_facts` the short strings
    a correct answer must contain, `section` the short ids ("IV (8)", "V") of the sections the
    evidence lies in. An unanswerable case has `answerable=False`, type "unanswerable" and no
    evidence, key facts or sections: the right answer is a refusal.
    """

    id: str
    question: str
    reference_answer: str
    key_facts: tuple[str, ...]
    evidence: tuple[str, ...]
    section: tuple[str, ...]
    type: CaseType
    answerable: bool
    language: str = "en"
    split: Split = "holdout"
    style: tuple[str, ...] = ()
    follows: str | None = None
    extra: Mapping[str, object] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )


class _CaseLine(BaseModel):
    """The schema of one line; strict, so `"true"` is not a bool and `7` is not a string.

    Unknown fields are allowed (and end up in `model_extra`); the caller warns about them.
    """

    model_config = ConfigDict(extra="allow", strict=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    reference_answer: str = Field(min_length=1)
    key_facts: list[str]
    evidence: list[str]
    section: list[str]
    type: CaseType
    answerable: bool
    language: Language = "en"
    split: Split = "holdout"
    style: list[str] = []
    follows: str | None = None


def bundled_qa_path() -> Path:
    """The QA set shipped with citeqa: `eval/qa.jsonl` next to this module."""
    return Path(__file__).with_name("qa.jsonl")


def load_cases(path: Path) -> list[Case]:
    """Read a JSON Lines QA file into Cases, in file order.

    Blank lines are skipped. Raises DatasetError, with a one-line message such as
    "qa.jsonl line 7: missing field 'question'", when the file cannot be read as UTF-8, is
    empty, or a line is not a JSON object, misses a field, has a value of the wrong type,
    repeats an id or a field, contradicts itself (an answerable case without evidence or
    section, an unanswerable one with them, a multi-part case with fewer than two sections),
    or follows an id that is not an earlier case in the file. Fields the schema does not know
    are kept in `Case.extra` and named in one UnknownFieldWarning for the whole file.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path.name}: cannot read the QA file: {error}") from error
    cases: list[Case] = []
    first_line_of: dict[str, int] = {}
    line_of_case: list[int] = []
    unknown: dict[str, int] = {}  # unknown field -> first line it appears on, in file order
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        case = _parse_line(line, where)
        if case.id in first_line_of:
            raise DatasetError(
                f"{where}: duplicate id {case.id!r} (first used on line {first_line_of[case.id]})"
            )
        first_line_of[case.id] = number
        line_of_case.append(number)
        for name in case.extra:
            unknown.setdefault(name, number)
        cases.append(case)
    if not cases:
        raise DatasetError(f"{path.name}: the QA file holds no cases")
    for case, number in zip(cases, line_of_case):
        if case.follows is None:
            continue
        earlier = first_line_of.get(case.follows)
        if earlier is None or earlier >= number:
            where = f"{path.name} line {number}"
            place = "is not in the file" if earlier is None else f"is on line {earlier}"
            raise DatasetError(
                f"{where}: case {case.id!r} follows {case.follows!r}, which {place}; "
                "a follow-up must come after the item it follows"
            )
    if unknown:
        names = ", ".join(f"{name!r} (first on line {first})" for name, first in unknown.items())
        warnings.warn(
            f"{path.name}: unknown field(s) {names}; kept but not used by citeqa",
            UnknownFieldWarning,
            stacklevel=2,
        )
    return cases


def check_against_document(cases: Iterable[Case], clean_text: str) -> list[str]:
    """Problems between the cases and the document's clean text; an empty list means none.

    Reports, one line each and prefixed with the case id: an evidence quote that is not in
    `clean_text` verbatim, a key fact missing from the reference answer, and a key fact found
    in no evidence quote (both case-insensitive: an extractive answer that quotes the evidence
    must be able to contain every key fact). Section ids are not checked here.
    """
    problems: list[str] = []
    for case in cases:
        for quote in case.evidence:
            if quote not in clean_text:
                problems.append(f"{case.id}: evidence not found verbatim: {_shorten(quote)!r}")
        answer = case.reference_answer.casefold()
        quotes = [quote.casefold() for quote in case.evidence]
        for fact in case.key_facts:
            if fact.casefold() not in answer:
                problems.append(f"{case.id}: key fact {fact!r} is not in the reference answer")
            if not any(fact.casefold() in quote for quote in quotes):
                problems.append(f"{case.id}: key fact {fact!r} is in no evidence quote")
    return problems


def _parse_line(line: str, where: str) -> Case:
    try:
        raw = json.loads(line, object_pairs_hook=_reject_repeated_keys)
    except json.JSONDecodeError as error:
        raise DatasetError(f"{where}: invalid JSON: {error.msg} (column {error.colno})") from None
    except ValueError as error:  # from _reject_repeated_keys
        raise DatasetError(f"{where}: {error}") from None
    if not isinstance(raw, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    try:
        parsed = _CaseLine.model_validate(raw)
    except ValidationError as error:
        raise DatasetError(f"{where}: {_describe(error.errors()[0])}") from None
    if problem := _contradiction(parsed):
        raise DatasetError(f"{where}: case {parsed.id!r} {problem}")
    return Case(
        id=parsed.id,
        question=parsed.question,
        reference_answer=parsed.reference_answer,
        key_facts=tuple(parsed.key_facts),
        evidence=tuple(parsed.evidence),
        section=tuple(parsed.section),
        type=parsed.type,
        answerable=parsed.answerable,
        language=parsed.language,
        split=parsed.split,
        style=tuple(parsed.style),
        follows=parsed.follows,
        extra=MappingProxyType(dict(parsed.model_extra or {})),
    )


def _reject_repeated_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json.loads keeps the last of two equal keys silently; in a hand-edited file that hides a
    # mistake (two "section" fields, one of them stale).
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"field {key!r} appears twice")
        seen[key] = value
    return seen


def _describe(error: ErrorDetails) -> str:
    """One pydantic error → a short phrase naming the field ("key_facts[2]")."""
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
    field = field.lstrip(".")
    if error["type"] == "missing":
        return f"missing field {field!r}"
    return f"field {field!r}: {error['msg']} (got {error['input']!r})"


def _contradiction(case: _CaseLine) -> str | None:
    """What makes a well-typed case self-contradictory, or None."""
    if case.answerable != (case.type != "unanswerable"):
        return f"has type {case.type!r} but answerable={case.answerable}"
    if case.answerable:
        if not case.evidence:
            return "is answerable but has no evidence"
        if not case.section:
            return "is answerable but names no section"
        if not case.key_facts:
            return "is answerable but has no key facts"
    elif case.evidence or case.key_facts or case.section:
        return "is unanswerable but has evidence, key facts or sections"
    if case.type == "multi-part" and len(set(case.section)) < 2:
        return "is multi-part but names fewer than two sections"
    if any(not text.strip() for text in (*case.evidence, *case.key_facts)):
        return "has an empty evidence quote or key fact"
    if any(not tag.strip() for tag in case.style):
        return "has an empty style tag"
    if case.follows is not None and case.follows == case.id:
        return "follows itself"
    for section in case.section:
        if not _SECTION_ID.match(section):
            return f"has a malformed section id {section!r} (expected e.g. 'IV (8)', 'V', 'Notice')"
    return None


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
