"""The bundled QA set checked against the real Strategy, and the loader's errors on bad files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from eval.dataset import (
    Case,
    DatasetError,
    UnknownFieldWarning,
    bundled_qa_path,
    check_against_document,
    load_cases,
)
from ingest.clean import clean_text
from ingest.sections import Section, parse_sections
from tests.conftest import CORPUS

DOC = clean_text(CORPUS.read_text(encoding="utf-8"))
SECTIONS = parse_sections(DOC.text, DOC.title)
CASES = load_cases(bundled_qa_path())

# Every span of the document a reader can ask about, by the short id the QA set uses.
# Part II has no section (2), there is no part VI, and parts II-IV have no introduction text.
REQUIRED_SECTION_IDS = (
    ["Notice", "Preamble", "I", "II (1)", "II (3)", "III (1)", "III (2)"]
    + [f"IV ({n})" for n in range(1, 10)]
    + ["V"]
    + [f"V ({n})" for n in range(1, 7)]
    + ["VII"]
    + [f"VII ({n})" for n in range(1, 10)]
)


def short_id(section: Section) -> str:
    """The QA set's id for a parsed section: "IV (8)", "V" (the part's introduction), "Notice"."""
    return f"{section.part} ({section.number})" if section.number else section.part


SPANS = {short_id(s): s for s in SECTIONS}


def owners_of(quote: str) -> set[str]:
    """Ids of the sections in which some occurrence of the quote starts."""
    owners: set[str] = set()
    start = DOC.text.find(quote)
    while start != -1:
        owners |= {key for key, s in SPANS.items() if s.start <= start < s.end}
        start = DOC.text.find(quote, start + 1)
    return owners


# --- the bundled set against the document --------------------------------------------------
def test_bundled_set_loads_with_unique_ids_and_enough_cases() -> None:
    ids = [case.id for case in CASES]
    assert len(CASES) >= 60
    assert len(set(ids)) == len(ids)
    assert all(isinstance(case, Case) for case in CASES)


def test_every_quote_and_key_fact_checks_out_against_the_clean_text() -> None:
    assert check_against_document(CASES, DOC.text) == []


def test_evidence_quotes_are_clauses_of_8_to_40_words_or_whole_header_lines() -> None:
    # Header lines such as "ZBF No. (2006)11" and "19 March 2006" are shorter than any clause.
    whole_lines = {line.strip() for line in DOC.text.splitlines()}
    bad = [
        (case.id, quote)
        for case in CASES
        for quote in case.evidence
        if not 8 <= len(quote.split()) <= 40 and quote not in whole_lines
    ]
    assert bad == []


def test_key_facts_are_short() -> None:
    bad = [(c.id, f) for c in CASES for f in c.key_facts if not 1 <= len(f.split()) <= 6]
    assert bad == []


def test_every_section_id_names_a_real_section_and_holds_its_evidence() -> None:
    unknown = [(c.id, s) for c in CASES for s in c.section if s not in SPANS]
    assert unknown == []
    misplaced = [
        (case.id, quote[:40])
        for case in CASES
        for quote in case.evidence
        if not owners_of(quote) & set(case.section)
    ]
    assert misplaced == []


def test_multi_part_cases_quote_each_of_their_sections() -> None:
    multi = [case for case in CASES if case.type == "multi-part"]
    assert multi
    for case in multi:
        quoted = set().union(*(owners_of(quote) for quote in case.evidence))
        assert set(case.section) <= quoted, case.id


def test_every_part_and_section_of_the_document_is_covered() -> None:
    covered = Counter(s for case in CASES for s in case.section)
    assert [s for s in REQUIRED_SECTION_IDS if covered[s] == 0] == []
    assert set(REQUIRED_SECTION_IDS) <= set(SPANS)
    # The dense sections get more than a token question.
    assert covered["II (1)"] >= 5
    assert covered["III (2)"] >= 4


def test_the_mix_of_types_languages_and_refusals() -> None:
    types = Counter(case.type for case in CASES)
    assert set(types) == {"factoid", "list", "descriptive", "multi-part", "unanswerable"}
    assert types["unanswerable"] >= 8
    assert sum(case.language == "zh" for case in CASES) >= 3
    for case in CASES:
        if case.language == "zh":
            assert any("\u4e00" <= ch <= "\u9fff" for ch in case.question), case.id
        else:
            assert case.question.isascii(), case.id


def test_unanswerable_cases_are_refusals_without_evidence() -> None:
    for case in CASES:
        if not case.answerable:
            assert case.type == "unanswerable"
            assert (case.evidence, case.key_facts, case.section) == ((), (), ())
            assert case.reference_answer.startswith("The document does not say"), case.id


# --- splits, styles and follow-ups in the bundled set ---------------------------------------
HOLDOUT = [case for case in CASES if case.split == "holdout"]
# How the held-out questions are asked, counted over the answerable ones.
LEAST_ANSWERABLE_STYLES = {
    "misspelled": 6,
    "british": 5,
    "paraphrase": 10,
    "vague": 5,
    "chinese": 6,
    "list": 15,
    "count": 3,
}


def test_the_bundled_file_states_the_split_on_every_line() -> None:
    # The loader defaults a missing split to "holdout"; the bundled file must not rely on that.
    raw = [
        json.loads(text)
        for text in bundled_qa_path().read_text(encoding="utf-8").splitlines()
        if text.strip()
    ]
    assert [record["id"] for record in raw if "split" not in record] == []
    assert {record["split"] for record in raw} == {"tune", "holdout"}


def test_the_held_out_items_were_written_apart_and_tagged() -> None:
    assert len(HOLDOUT) >= 95
    assert all(case.id.startswith("h") for case in HOLDOUT)
    assert [case.id for case in HOLDOUT if not case.style] == []
    # The original 141 items are the tuning split.
    assert all(case.split == "tune" for case in CASES if case.id.startswith("q"))
    types = Counter(case.type for case in HOLDOUT)
    assert set(types) == {"factoid", "list", "descriptive", "multi-part", "unanswerable"}
    assert types["unanswerable"] >= 15
    styles = Counter(tag for case in HOLDOUT if case.answerable for tag in case.style)
    assert {tag: styles[tag] for tag in LEAST_ANSWERABLE_STYLES} == {
        tag: max(styles[tag], least) for tag, least in LEAST_ANSWERABLE_STYLES.items()
    }


def test_bundled_follow_ups_point_back_to_an_earlier_standalone_item() -> None:
    position = {case.id: index for index, case in enumerate(CASES)}
    follow_ups = [case for case in CASES if case.follows is not None]
    assert len(follow_ups) >= 5
    for case in follow_ups:
        earlier = position[str(case.follows)]
        assert earlier < position[case.id], case.id
        assert CASES[earlier].follows is None, case.id
        assert "follow-up" in case.style, case.id
    # Tagging a case "follow-up" without saying what it follows would lose the history.
    assert [c.id for c in CASES if "follow-up" in c.style and c.follows is None] == []


def test_known_facts_are_bundled_exactly() -> None:
    by_question = {case.question: case for case in CASES}
    gdp = by_question["What share of GDP did the information industry's added value reach in 2005?"]
    assert gdp.key_facts == ("7.2 per cent",)
    assert gdp.section == ("II (1)",)
    number = by_question["What is the document number of the notice that issued the Strategy?"]
    assert number.key_facts == ("ZBF No. (2006)11",)


def test_check_against_document_reports_each_problem_with_the_case_id() -> None:
    case = Case(
        id="x1",
        question="What share of GDP?",
        reference_answer="It was 7.2 per cent.",
        key_facts=("7.2 per cent", "16.6%", "telephone"),
        evidence=(
            "making a contribution to economic growth of 16.6%.",
            "not in the document at all",
        ),
        section=("II (1)",),
        type="factoid",
        answerable=True,
    )
    assert check_against_document([case], DOC.text) == [
        "x1: evidence not found verbatim: 'not in the document at all'",
        "x1: key fact '7.2 per cent' is in no evidence quote",
        "x1: key fact '16.6%' is not in the reference answer",
        "x1: key fact 'telephone' is not in the reference answer",
        "x1: key fact 'telephone' is in no evidence quote",
    ]


# --- malformed files ---------------------------------------------------------------------
GOOD: dict[str, Any] = {
    "id": "t1",
    "question": "What share of GDP did the information industry reach in 2005?",
    "reference_answer": "7.2 per cent of GDP.",
    "key_facts": ["7.2 per cent"],
    "evidence": [
        "the information industry’s added value amounted to a proportion of 7.2 per cent of GDP"
    ],
    "section": ["II (1)"],
    "type": "factoid",
    "answerable": True,
    "language": "en",
}


def write_lines(folder: Path, *lines: str) -> Path:
    path = folder / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def line(**changes: Any) -> str:
    return json.dumps({**GOOD, **changes}, ensure_ascii=False)


def load_error(path: Path) -> str:
    with pytest.raises(DatasetError) as raised:
        load_cases(path)
    return str(raised.value)


def test_a_good_file_with_blank_lines_loads_into_frozen_cases(tmp_path: Path) -> None:
    path = write_lines(tmp_path, line(), "", "   ", line(id="t2", language="zh"))
    cases = load_cases(path)
    assert [case.id for case in cases] == ["t1", "t2"]
    assert cases[0].evidence == tuple(GOOD["evidence"])
    assert cases[1].language == "zh"
    with pytest.raises(AttributeError):
        cases[0].id = "changed"  # type: ignore[misc]


def test_language_defaults_to_english(tmp_path: Path) -> None:
    record = dict(GOOD)
    del record["language"]
    assert load_cases(write_lines(tmp_path, json.dumps(record)))[0].language == "en"


def test_split_style_and_follows_have_defaults(tmp_path: Path) -> None:
    # A user's own QA file without splits is held out: never used for tuning.
    case = load_cases(write_lines(tmp_path, line()))[0]
    assert (case.split, case.style, case.follows) == ("holdout", (), None)
    assert dict(case.extra) == {}


def test_split_style_and_follows_are_read(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        line(split="tune"),
        line(id="t2", style=["follow-up", "vague"], follows="t1"),
    )
    first, second = load_cases(path)
    assert first.split == "tune"
    assert second.split == "holdout"
    assert second.style == ("follow-up", "vague")
    assert second.follows == "t1"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"split": "train"}, "qa.jsonl line 1: field 'split': Input should be 'tune' or 'holdout'"),
        ({"style": "vague"}, "qa.jsonl line 1: field 'style': Input should be a valid list"),
        ({"style": ["ok", 3]}, "qa.jsonl line 1: field 'style[1]': Input should be a valid string"),
        ({"follows": 1}, "qa.jsonl line 1: field 'follows': Input should be a valid string"),
        ({"style": [" "]}, "qa.jsonl line 1: case 't1' has an empty style tag"),
        ({"follows": "t1"}, "qa.jsonl line 1: case 't1' follows itself"),
    ],
)
def test_new_fields_are_strictly_typed(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    assert load_error(write_lines(tmp_path, line(**changes))).startswith(expected)


def test_follows_must_name_an_earlier_item(tmp_path: Path) -> None:
    later = write_lines(tmp_path, line(id="a", follows="b"), line(id="b"))
    assert load_error(later) == (
        "qa.jsonl line 1: case 'a' follows 'b', which is on line 2; "
        "a follow-up must come after the item it follows"
    )
    missing = write_lines(tmp_path, line(id="a"), "", line(id="b", follows="zz"))
    assert load_error(missing) == (
        "qa.jsonl line 3: case 'b' follows 'zz', which is not in the file; "
        "a follow-up must come after the item it follows"
    )
    # A chain is allowed: c follows b, which follows a.
    chain = write_lines(
        tmp_path, line(id="a"), line(id="b", follows="a"), line(id="c", follows="b")
    )
    assert [case.follows for case in load_cases(chain)] == [None, "a", "b"]


def test_invalid_json_names_its_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path, line(id="a"), line(id="b"), '{"id": "c", "question": ')
    assert load_error(path).startswith("qa.jsonl line 3: invalid JSON")


def test_missing_field_is_named(tmp_path: Path) -> None:
    record = dict(GOOD)
    del record["question"]
    path = write_lines(tmp_path, line(id="a"), "", json.dumps(record))
    assert load_error(path) == "qa.jsonl line 3: missing field 'question'"


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path, line(id="q7"), line(id="q8"), line(id="q7"))
    assert load_error(path) == "qa.jsonl line 3: duplicate id 'q7' (first used on line 1)"


def test_unknown_type_value_is_rejected(tmp_path: Path) -> None:
    message = load_error(write_lines(tmp_path, line(type="yes-no")))
    assert message.startswith("qa.jsonl line 1: field 'type': Input should be 'factoid'")
    assert "'yes-no'" in message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"key_facts": "7.2 per cent"},
            "qa.jsonl line 1: field 'key_facts': Input should be a valid list",
        ),
        (
            {"evidence": ["ok quote", 7]},
            "qa.jsonl line 1: field 'evidence[1]': Input should be a valid string",
        ),
        (
            {"answerable": "true"},
            "qa.jsonl line 1: field 'answerable': Input should be a valid boolean",
        ),
        ({"language": "fr"}, "qa.jsonl line 1: field 'language': Input should be 'en' or 'zh'"),
        ({"id": ""}, "qa.jsonl line 1: field 'id': String should have at least 1 character"),
    ],
)
def test_wrong_value_types_name_the_field(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    assert load_error(write_lines(tmp_path, line(**changes))).startswith(expected)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"evidence": []}, "case 't1' is answerable but has no evidence"),
        ({"section": []}, "case 't1' is answerable but names no section"),
        ({"answerable": False}, "case 't1' has type 'factoid' but answerable=False"),
        (
            {"type": "unanswerable", "answerable": False},
            "case 't1' is unanswerable but has evidence",
        ),
        ({"type": "multi-part"}, "case 't1' is multi-part but names fewer than two sections"),
        ({"section": ["IV(8)"]}, "case 't1' has a malformed section id 'IV(8)'"),
    ],
)
def test_self_contradicting_cases_are_rejected(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    assert load_error(write_lines(tmp_path, line(), line(id="t2"), line(**changes))).startswith(
        f"qa.jsonl line 3: {expected}"
    )


def test_unknown_fields_load_with_one_warning_per_file(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path,
        line(questoin="typo"),
        line(id="t2", notes={"by": "me"}),
        line(id="t3", questoin="again", notes=None),
    )
    with pytest.warns(UnknownFieldWarning) as caught:
        cases = load_cases(path)
    assert len(caught) == 1
    assert str(caught[0].message) == (
        "qa.jsonl: unknown field(s) 'questoin' (first on line 1), 'notes' (first on line 2); "
        "kept but not used by citeqa"
    )
    assert [dict(case.extra) for case in cases] == [
        {"questoin": "typo"},
        {"notes": {"by": "me"}},
        {"questoin": "again", "notes": None},
    ]
    # Extra fields take no part in equality, and they are read-only.
    plain = tmp_path / "plain"
    plain.mkdir()
    assert cases[0] == load_cases(write_lines(plain, line()))[0]
    with pytest.raises(TypeError):
        cases[0].extra["questoin"] = "changed"  # type: ignore[index]


def test_a_known_field_with_a_bad_value_still_fails_next_to_unknown_ones(tmp_path: Path) -> None:
    path = write_lines(tmp_path, line(extra_note="x", answerable="yes"))
    assert load_error(path).startswith(
        "qa.jsonl line 1: field 'answerable': Input should be a valid boolean"
    )


def test_repeated_fields_are_rejected(tmp_path: Path) -> None:
    repeated = line()[:-1] + ', "id": "t9"}'
    assert (
        load_error(write_lines(tmp_path, repeated)) == "qa.jsonl line 1: field 'id' appears twice"
    )


def test_a_line_that_is_not_an_object_is_rejected(tmp_path: Path) -> None:
    assert load_error(write_lines(tmp_path, "[1, 2]")) == (
        "qa.jsonl line 1: expected a JSON object, got list"
    )


def test_unreadable_or_empty_files_are_dataset_errors(tmp_path: Path) -> None:
    assert load_error(tmp_path / "qa.jsonl").startswith("qa.jsonl: cannot read the QA file")
    (tmp_path / "qa.jsonl").write_bytes(b"\xff\xfe\x00")
    assert load_error(tmp_path / "qa.jsonl").startswith("qa.jsonl: cannot read the QA file")
    assert load_error(write_lines(tmp_path, "", "")) == "qa.jsonl: the QA file holds no cases"


def test_bundled_path_is_next_to_the_module() -> None:
    assert bundled_qa_path().name == "qa.jsonl"
    assert bundled_qa_path().parent.name == "eval"
    assert bundled_qa_path().is_file()
