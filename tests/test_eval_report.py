"""eval.runner.summarize per split, eval.report's gate and its rendering, on hand-made rows.

No engine here: every figure below is computed by hand from the rows in `ROWS`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from eval.report import (
    QUESTION_PREVIEW_CHARS,
    TYPE_PLOT_METRICS,
    Limits,
    ReportError,
    Thresholds,
    check_thresholds,
    compare,
    gate_line,
    load_thresholds,
    missed_targets,
    render_html,
    render_markdown,
    sensitivity_rows,
    summary_table,
    write_report,
)
from eval.runner import (
    CaseResult,
    EvalConfig,
    EvalRun,
    JSONValue,
    KnobResult,
    Sensitivity,
    summarize,
)


def made_row(
    id: str,
    split: str,
    type: str = "factoid",
    *,
    recall: float | None = None,
    refused: bool = False,
    caveat: bool = False,
    style: tuple[str, ...] = (),
    failures: tuple[str, ...] = (),
    question: str = "",
) -> CaseResult:
    """A scored row: answerable unless type is "unanswerable"; retrieval and citations perfect."""
    answerable = type != "unanswerable"
    perfect = 1.0 if answerable else None
    return CaseResult(
        id=id, question=question or f"What does item {id} ask?", type=type, language="en",
        answerable=answerable, expected_sections=("II (1)",) if answerable else (),
        reference_answer="A reference.", answer="An answer [1].", refused=refused,
        answerer="extractive", cited_sections=(), retrieved_sections=(), latency_ms=10.0,
        split=split, style=style, caveat=caveat,  # type: ignore[arg-type]
        evidence_recall=perfect, hit=perfect, citation_precision=perfect,
        key_fact_recall=recall, failures=failures,
    )


ROWS = (
    # tune: two answerable (one hedged with a caveat), one refused and one caveated unanswerable
    made_row("t1", "tune", "factoid", recall=1.0, style=("plain",)),
    made_row("t2", "tune", "list", recall=0.5, caveat=True),
    made_row("t3", "tune", "unanswerable", refused=True),
    made_row("t4", "tune", "unanswerable", caveat=True),
    # holdout: a list, two multi-part (one refused), a descriptive with a caveat, and an
    # unanswerable question answered outright
    made_row("h1", "holdout", "list", recall=1.0, style=("list", "vague")),
    made_row("h2", "holdout", "multi-part", recall=0.5, style=("vague",)),
    made_row("h3", "holdout", "multi-part", recall=0.0, refused=True),
    made_row("h4", "holdout", "unanswerable", failures=("answered a question the document does not answer",)),
    made_row("h5", "holdout", "descriptive", recall=1.0, caveat=True),
)


def scope(summary: dict[str, JSONValue], name: str) -> dict[str, JSONValue]:
    by_split = summary["by_split"]
    assert isinstance(by_split, dict)
    value = by_split[name]
    assert isinstance(value, dict)
    return value


@pytest.fixture()
def summary() -> dict[str, JSONValue]:
    return summarize(ROWS, 5)


# --- summarize --------------------------------------------------------------------------------
def test_each_split_has_the_full_metric_set_computed_on_its_rows_only(summary: dict[str, JSONValue]) -> None:
    tune, holdout = scope(summary, "tune"), scope(summary, "holdout")
    assert set(tune) == set(holdout) == set(summary) - {"by_split"}
    assert (tune["n_cases"], tune["n_answerable"], tune["n_unanswerable"]) == (4, 2, 2)
    assert (holdout["n_cases"], holdout["n_answerable"], holdout["n_unanswerable"]) == (5, 4, 1)
    assert tune["key_fact_recall"] == pytest.approx((1.0 + 0.5) / 2)
    assert holdout["key_fact_recall"] == pytest.approx((1.0 + 0.5 + 0.0 + 1.0) / 4)
    assert summary["key_fact_recall"] == pytest.approx(4.0 / 6)
    assert (tune["n_passed"], holdout["n_passed"], summary["n_passed"]) == (4, 4, 8)


def test_a_caveat_counts_as_saying_not_stated_on_unanswerable_items_only(summary: dict[str, JSONValue]) -> None:
    tune, holdout = scope(summary, "tune"), scope(summary, "holdout")
    # refusal_on_unanswerable: refused or caveated / unanswerable.
    assert tune["refusal_on_unanswerable"] == 1.0  # t3 refused, t4 caveated
    assert holdout["refusal_on_unanswerable"] == 0.0  # h4 answered
    assert summary["refusal_on_unanswerable"] == pytest.approx(2 / 3)
    # false_refusal: outright refusals of answerable items; t2's and h5's caveats do not count.
    assert tune["false_refusal"] == 0.0
    assert holdout["false_refusal"] == pytest.approx(1 / 4)  # h3
    assert summary["false_refusal"] == pytest.approx(1 / 6)
    assert (tune["caveat_rate_answerable"], tune["caveat_rate_unanswerable"]) == (0.5, 0.5)
    assert (holdout["caveat_rate_answerable"], holdout["caveat_rate_unanswerable"]) == (0.25, 0.0)
    assert summary["caveat_rate_answerable"] == pytest.approx(2 / 6)
    assert summary["caveat_rate_unanswerable"] == pytest.approx(1 / 3)


def test_list_and_multi_part_items_are_the_key_fact_recall_of_their_type(summary: dict[str, JSONValue]) -> None:
    tune, holdout = scope(summary, "tune"), scope(summary, "holdout")
    assert (tune["list_items"], tune["multi_part_items"]) == (0.5, None)
    assert (holdout["list_items"], holdout["multi_part_items"]) == (1.0, 0.25)
    assert (summary["list_items"], summary["multi_part_items"]) == (0.75, 0.25)


def test_by_style_counts_an_item_under_each_of_its_tags(summary: dict[str, JSONValue]) -> None:
    by_style = summary["by_style"]
    assert isinstance(by_style, dict)
    assert {name: group["n"] for name, group in by_style.items() if isinstance(group, dict)} == {
        "(none)": 6, "list": 1, "plain": 1, "vague": 2,
    }
    vague = by_style["vague"]
    assert isinstance(vague, dict) and vague["key_fact_recall"] == 0.75
    assert {"by_type", "by_language", "by_style"} <= set(scope(summary, "holdout"))


def test_a_run_of_one_split_has_no_other_split() -> None:
    summary = summarize([r for r in ROWS if r.split == "tune"], 5)
    assert list(summary["by_split"]) == ["tune"]  # type: ignore[arg-type]


# --- the gate ---------------------------------------------------------------------------------
# Issue 8's held-out bar as gate floors (the bundled file reports them as targets instead).
ISSUE_FLOORS = Thresholds(by_split={
    "tune": Limits(
        {"evidence_recall_at_5": 0.90, "citation_precision": 0.88, "refusal_on_unanswerable": 0.75,
         "key_fact_recall": 0.75, "hit_at_5": 0.95},
        {"false_refusal": 0.10},
    ),
    "holdout": Limits(
        {"refusal_on_unanswerable": 0.80, "key_fact_recall": 0.75, "list_items": 0.75,
         "multi_part_items": 0.60, "citation_precision": 0.93, "evidence_recall_at_5": 0.93},
        {"false_refusal": 0.10},
    ),
})


def test_the_gate_names_every_failing_metric_of_every_split(summary: dict[str, JSONValue]) -> None:
    thresholds = ISSUE_FLOORS
    # tune: key-fact recall 0.75, refusal 1.0, no false refusal, retrieval perfect: it passes.
    # holdout: four of its seven limits fail, and all four are named.
    assert check_thresholds(summary, thresholds) == [
        "holdout: refusal_on_unanswerable = 0.000, needs >= 0.8",
        "holdout: key_fact_recall = 0.625, needs >= 0.75",
        "holdout: multi_part_items = 0.250, needs >= 0.6",
        "holdout: false_refusal = 0.250, needs <= 0.1",
    ]
    line = gate_line(summary, thresholds)
    assert line.startswith("tune passes | holdout fails: refusal_on_unanswerable = 0.000")
    for name in ("refusal_on_unanswerable", "key_fact_recall", "multi_part_items", "false_refusal"):
        assert name in line
    # Both splits failing: both named, each with its own metrics.
    strict = Thresholds(by_split={
        "tune": Limits({"list_items": 0.9}, {}),
        "holdout": Limits({"list_items": 0.9, "pass_rate": 0.9}, {}),
    })
    assert check_thresholds(summary, strict) == [
        "tune: list_items = 0.500, needs >= 0.9",
        "holdout: pass_rate = 0.800, needs >= 0.9",
    ]


def test_a_split_without_items_is_not_run_and_no_split_at_all_fails() -> None:
    thresholds = load_thresholds()
    tune_only = summarize([r for r in ROWS if r.split == "tune"], 5)
    assert check_thresholds(tune_only, thresholds) == []
    assert gate_line(tune_only, thresholds) == "tune passes | holdout not run (no holdout items)"
    assert check_thresholds(summarize([], 5), thresholds) == ["no tune or holdout items in this run"]


def test_thresholds_in_the_old_flat_form_are_refused(tmp_path: Path) -> None:
    old = tmp_path / "thresholds.toml"
    old.write_text("[min]\nhit_at_5 = 0.9\n", encoding="utf-8")
    with pytest.raises(ReportError, match=r"unexpected entry 'min' \(use \[tune.min\]"):
        load_thresholds(old)
    bad = tmp_path / "bad.toml"
    bad.write_text("[holdout.min]\nhit_at_5 = 'high'\n", encoding="utf-8")
    with pytest.raises(ReportError, match="holdout.min.hit_at_5 must be a number"):
        load_thresholds(bad)


# --- the report ------------------------------------------------------------------------------
def made_run(rows: tuple[CaseResult, ...] = ROWS, retrieval: str = "hybrid") -> EvalRun:
    config = EvalConfig(mode="extractive", retrieval=retrieval, k=5, answerer="extractive",  # type: ignore[arg-type]
                        n_cases=len(rows), started_at="2026-03-01T12:00:00+00:00")
    return EvalRun(config, rows, summarize(rows, 5))


LONG_QUESTION = ("Which of the strategic priorities named for the period up to 2020 concern the "
                 "rural areas, and what does each of them require of local governments?")


def test_failing_rows_show_their_question_and_link_to_their_details(tmp_path: Path) -> None:
    rows = tuple(dataclasses.replace(r, question=LONG_QUESTION) if r.id == "h4" else r for r in ROWS)
    files = write_report([made_run(rows)], tmp_path, thresholds=load_thresholds())
    markdown = files.report_md.read_text(encoding="utf-8")
    cut = LONG_QUESTION[: QUESTION_PREVIEW_CHARS - 1] + "…"
    row = next(line for line in markdown.splitlines() if line.startswith("| [h4]"))
    assert row.startswith("| [h4](#item-hybrid-h4) | holdout | unanswerable | FAIL | " + cut + " |")
    # The anchor is further down, with the whole question.
    details = markdown.index('<a id="item-hybrid-h4"></a>')
    assert details > markdown.index(row) and LONG_QUESTION in markdown[details:]
    page = files.report_html.read_text(encoding="utf-8")
    link = page.index("<a href='#item-hybrid-h4'>h4</a>")
    assert html_cell(cut) in page[link:link + 400]
    assert page.index("<details id='item-hybrid-h4' open>") > link
    # Failures come first in the item table: h4 (the only failing row) leads it.
    items = markdown.split("## Items: hybrid retrieval (failures first)", 1)[1]
    assert re.findall(r"^\| \[(\w+)\]", items, re.MULTILINE)[0] == "h4"


def html_cell(text: str) -> str:
    import html

    return f"<td>{html.escape(text)}</td>"


def test_an_ablation_gates_each_run_and_never_claims_a_pass_over_a_failing_run() -> None:
    passing = tuple(r for r in ROWS if r.split == "tune")
    runs = [made_run(passing, "hybrid"), made_run(ROWS, "keyword")]
    thresholds = load_thresholds()
    markdown = render_markdown(runs, thresholds=thresholds)
    gate = markdown.split("## Quality gate", 1)[1].split("\n## ", 1)[0]
    assert "Each run is gated on its own" in gate
    assert "- hybrid, tune: passes" in gate and "- hybrid, holdout: not run" in gate
    assert "- keyword, tune: passes" in gate
    assert "- keyword, holdout: **fails**: refusal_on_unanswerable = 0.000" in gate
    assert "## Ablation: hybrid vs keyword" in markdown
    page = render_html(runs, thresholds=thresholds)
    assert "Quality gate: <span class='bad'>fails on at least one run</span>" in page
    assert "Quality gate: <span class='ok'>" not in page
    # Headings are distinct: one summary, type and style table per run.
    headings = re.findall(r"^#+ .*$", markdown, re.MULTILINE)
    assert len(headings) == len(set(headings))


def test_a_comparison_has_its_own_heading_and_gates_the_earlier_run_too() -> None:
    before = made_run(tuple(r for r in ROWS if r.split == "tune"))
    now = made_run()
    comparison = compare(now, before)
    markdown = render_markdown([now], [comparison], load_thresholds())
    section = markdown.split("## Compared with hybrid, 2026-03-01T12:00:00+00:00 (hybrid now)", 1)[1]
    assert section.lstrip().startswith(
        "Gate before: tune passes | holdout not run (no holdout items). Now: tune passes | holdout fails:"
    )
    # Changes are listed per split: tune is unchanged, "all" moved.
    assert not [c for c in comparison.changes if c.scope == "tune" and c.verdict != "same"]
    assert any(c.scope == "all" and c.name == "false_refusal" and c.verdict == "worse"
               for c in comparison.changes)


def test_the_printed_summary_shows_the_splits_side_by_side_with_the_gate() -> None:
    table = summary_table(made_run(), ISSUE_FLOORS)
    lines = table.splitlines()
    assert re.match(r"^\s+metric\s+tune\s+holdout\s+all\s+gate tune\s+gate holdout$", lines[1])
    list_line = next(line for line in lines if line.strip().startswith("list_items"))
    assert re.match(r"^\s+list_items\s+0\.500\s+1\.000\s+0\.750\s+≥ 0\.75 ✓$", list_line)
    assert lines[-1].startswith("  gate: tune passes | holdout fails:")


def test_targets_are_shown_met_or_not_but_do_not_fail_the_gate(summary: dict[str, JSONValue]) -> None:
    thresholds = Thresholds(by_split={
        "holdout": Limits({"list_items": 0.5}, {}, {"list_items": 0.9, "false_refusal": 0.1}),
    })
    assert check_thresholds(summary, thresholds) == []  # the floor holds; the targets never fail
    assert missed_targets(summary, thresholds) == [
        "holdout: false_refusal = 0.250, target <= 0.1",
    ]
    table = summary_table(made_run(), thresholds)
    assert "gate target holdout" in table.splitlines()[1]
    assert "targets not yet reached (reported, not gated): holdout: false_refusal" in table


def test_the_type_chart_shows_the_pass_rate() -> None:
    assert TYPE_PLOT_METRICS[0] == "pass_rate"


def test_a_sensitivity_row_shows_holdout_deltas_and_how_the_gate_moved() -> None:
    base = made_run()
    # At the low end h3 is answered in full instead of refused; the high end changes nothing.
    fixed = tuple(
        dataclasses.replace(r, refused=False, key_fact_recall=1.0) if r.id == "h3" else r for r in ROWS
    )
    knob = KnobResult("cosine_weight", 0.6, 0.54, 0.66, low=summarize(fixed, 5), high=base.summary)
    header, rows = sensitivity_rows(Sensitivity(base, (knob,)), ISSUE_FLOORS)
    assert header[:5] == ["knob", "base", "low", "high", "Δ false_refusal"]
    assert rows == [[
        "cosine_weight", "0.6", "0.54", "0.66",
        "-0.250 / +0.000",  # false_refusal 1/4 → 0
        "+0.000 / +0.000",  # refusal_on_unanswerable
        "+0.250 / +0.000",  # key_fact_recall 0.625 → 0.875
        "+0.000 / +0.000",  # list_items
        "+0.500 / +0.000",  # multi_part_items 0.25 → 0.75
        "+0.000 / +0.000",  # citation_precision
        "fails (−holdout:false_refusal, −holdout:key_fact_recall, −holdout:multi_part_items)",
        "fails (as base)",
    ]]
