"""eval.runner, eval.report and eval.command on real cases of the bundled set, with the real engine."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eval import metrics
from eval.command import add_eval_arguments, run_eval_command
from eval.dataset import Case, bundled_qa_path, load_cases
from eval.report import (
    RESULTS_FORMAT,
    Limits,
    Thresholds,
    check_thresholds,
    compare,
    load_results,
    load_thresholds,
    summary_table,
    worst_first,
    write_report,
)
from eval.runner import (
    CURVE_DEPTH,
    CaseResult,
    EvalRun,
    evaluate,
    knob_values,
    run_sensitivity,
    score_case,
    section_matches,
)
from ingest.embed import MiniLMEmbedder
from rag import (
    Answer,
    AnswerPolicy,
    AnswerSentence,
    Passage,
    QAEngine,
    Settings,
    Turn,
    load_settings,
)
from tests.openai_server import ScriptedChatServer

# One case of each type, one in Chinese, one unanswerable.
SAMPLE_IDS = ("q001", "q004", "q005", "q114", "q122", "q128")
ALL_CASES = load_cases(bundled_qa_path())
SAMPLE = [c for c in ALL_CASES if c.id in SAMPLE_IDS]
UNIT_FIELDS = ("evidence_recall", "hit", "reciprocal_rank", "ndcg", "section_hit", "key_fact_recall",
               "token_f1", "citation_precision", "citation_recall", "citation_section_precision")


@pytest.fixture(scope="module")
def run(engine: QAEngine) -> EvalRun:
    return evaluate(engine, SAMPLE, mode="extractive", retrieval="hybrid", k=5, progress=False)


@pytest.fixture(scope="module")
def keyword_run(engine: QAEngine) -> EvalRun:
    return evaluate(engine, SAMPLE, mode="extractive", retrieval="keyword", k=5, progress=False)


# --- evaluate -----------------------------------------------------------------------------
def test_every_case_gets_one_row_in_order(run: EvalRun) -> None:
    assert [r.id for r in run.results] == list(SAMPLE_IDS)
    assert (run.config.mode, run.config.retrieval, run.config.k) == ("extractive", "hybrid", 5)
    assert run.config.answerer == "extractive" and run.config.n_cases == 6
    assert all(r.error is None and r.latency_ms > 0 for r in run.results)


def test_metrics_are_shares_and_the_recall_curve_never_falls(run: EvalRun) -> None:
    for row in run.results:
        for name in UNIT_FIELDS:
            value = getattr(row, name)
            assert value is None or 0.0 <= value <= 1.0, (row.id, name, value)
        assert row.semantic_similarity is None or -1.0 <= row.semantic_similarity <= 1.0 + 1e-6
        if row.answerable:
            assert len(row.recall_curve) == CURVE_DEPTH
            assert list(row.recall_curve) == sorted(row.recall_curve)
            assert row.n_relevant is not None and row.n_relevant >= 1  # its quotes are in the index
            assert len(row.retrieved_sections) == 5


def test_rows_follow_the_answer(engine: QAEngine, run: EvalRun) -> None:
    for case, row in zip(SAMPLE, run.results):
        answer = engine.ask(case.question, top_k=5, mode="extractive", retrieval="hybrid")
        assert row.answer == answer.answer and row.refused == answer.refused
        assert row.cited_sections == tuple(p.section for p in answer.citations)
        assert (row.citation_precision is None) == (not answer.citations)
        expected_hit = any(metrics.is_relevant(p.text, case.evidence) for p in answer.retrieved[:5])
        if case.answerable:
            assert row.hit == float(expected_hit)
            assert row.key_fact_recall == metrics.key_fact_recall(case.key_facts, answer.answer)


def test_an_unanswerable_case_is_judged_by_its_refusal_only(run: EvalRun) -> None:
    row = next(r for r in run.results if r.id == "q128")
    assert not row.answerable
    assert all(getattr(row, name) is None for name in UNIT_FIELDS)
    assert row.recall_curve == ()
    assert row.passed == row.refused


def test_the_summary_is_the_mean_of_the_rows(run: EvalRun) -> None:
    rows = run.results
    answerable = [r for r in rows if r.answerable]
    summary = run.summary
    assert (summary["n_cases"], summary["n_answerable"], summary["n_unanswerable"]) == (6, 5, 1)
    assert summary["n_passed"] == sum(r.passed for r in rows)
    assert summary["key_fact_recall"] == pytest.approx(metrics.mean(r.key_fact_recall for r in answerable))
    assert summary["evidence_recall_at_5"] == pytest.approx(metrics.mean(r.evidence_recall for r in answerable))
    assert summary["hit_at_5"] == pytest.approx(metrics.mean(r.hit for r in answerable))
    assert summary["refusal_on_unanswerable"] == float(rows[-1].refused)
    assert summary["false_refusal"] == pytest.approx(sum(r.refused for r in answerable) / 5)
    assert summary["latency_p50_ms"] == metrics.percentile([r.latency_ms for r in rows], 50)
    curve = summary["recall_at_k_curve"]
    assert isinstance(curve, dict) and list(curve) == [str(k) for k in range(1, 11)]
    by_type = summary["by_type"]
    assert isinstance(by_type, dict)
    assert sorted(by_type) == ["descriptive", "factoid", "list", "multi-part", "unanswerable"]
    factoid = by_type["factoid"]
    assert isinstance(factoid, dict) and factoid["n"] == 2  # q001 and the Chinese q122
    assert "llm_judge" not in summary
    json.dumps(summary)  # JSON-ready as it is


def test_the_bundled_engine_embedder_scores_semantic_similarity(run: EvalRun, embedder: MiniLMEmbedder) -> None:
    row = run.results[0]
    expected = metrics.semantic_similarity(row.answer, row.reference_answer, embedder.embed_documents)
    assert row.semantic_similarity == pytest.approx(expected, abs=1e-6)


def test_a_bad_k_or_a_judge_without_llm_is_refused(engine: QAEngine) -> None:
    with pytest.raises(ValueError, match="k must be"):
        evaluate(engine, SAMPLE, k=0, progress=False)
    with pytest.raises(ValueError, match="LLM endpoint"):
        evaluate(engine, SAMPLE, judge=True, progress=False)


# --- score_case on hand-made answers ------------------------------------------------------
QUOTE = "the information industry’s added value amounted to a proportion of 7.2 per cent of GDP"
RELEVANT = Passage("c1", "d", "T", "II (1) The situation of progress", "II", "1",
                   f"In 2005, {QUOTE}, making a contribution.", 0, 100)
OTHER = Passage("c2", "d", "T", "IV (8) Build a national information security", "IV", "8",
                "Strengthen information security protection.", 500, 540)
CASE = Case("t1", "What share of GDP?", "7.2 per cent of GDP.", ("7.2 per cent",), (QUOTE,),
            ("II (1)",), "factoid", True, "en")


def fake_embed(texts: Sequence[str]) -> np.ndarray:
    return np.array([[1.0, 0.0]] * len(texts))


def answer_with(text: str, cited: list[Passage], refused: bool = False) -> Answer:
    return Answer("q", "q", text, cited, [OTHER, RELEVANT], refused,
                  [AnswerSentence(text, tuple(range(1, len(cited) + 1)), 0.9, True)] if cited else [])


def score(case: Case, answer: Answer) -> CaseResult:
    return score_case(case, answer, k=5, ranking=[OTHER, RELEVANT], all_passages=[OTHER, RELEVANT],
                      embed=fake_embed)


def test_a_right_answer_citing_its_evidence_passes() -> None:
    row = score(CASE, answer_with("It reached 7.2% of GDP [1].", [RELEVANT]))
    assert row.failures == () and row.passed
    assert (row.hit, row.reciprocal_rank, row.evidence_recall) == (1.0, 0.5, 1.0)
    assert row.ndcg == pytest.approx(1 / np.log2(3))  # one relevant passage, found at rank 2
    assert (row.citation_precision, row.citation_recall, row.key_fact_recall) == (1.0, 1.0, 1.0)
    assert row.recall_curve == (0.0,) + (1.0,) * 9
    assert row.section_hit == 1.0 and row.semantic_similarity == 1.0
    assert row.citation_section_precision == 1.0


def test_each_failure_is_named() -> None:
    wrong = score(CASE, answer_with("Security matters [1].", [OTHER]))
    assert any("1 of 1 cited passages hold no evidence" in f for f in wrong.failures)
    assert wrong.citation_precision == 0.0 and wrong.citation_section_precision == 0.0
    assert any("1 of 1 key facts missing" in f and "7.2 per cent" in f for f in wrong.failures)
    refused = score(CASE, answer_with("The document does not say.", [], refused=True))
    assert refused.failures == ("refused a question the document answers",)
    assert refused.citation_precision is None and refused.citation_recall == 0.0
    unanswerable = dataclasses.replace(CASE, answerable=False, type="unanswerable", evidence=(),
                                       key_facts=(), section=())
    assert score(unanswerable, answer_with("7.2% [1].", [RELEVANT])).failures == (
        "answered a question the document does not answer",
    )
    assert score(unanswerable, answer_with("The document does not say.", [], True)).passed
    missing = dataclasses.replace(CASE, evidence=(QUOTE, "a quote the index does not hold at all"))
    row = score(missing, answer_with("7.2% [1].", [RELEVANT]))
    assert row.failures[0].startswith("QA set: evidence not found in the index")
    assert "1 of 2 evidence quotes not in the top 5" in row.failures[1]


def test_section_ids_match_whole_sections_or_parts() -> None:
    assert section_matches("IV (8) Build a national information security protection system", "IV (8)")
    assert section_matches("V (2) E-commerce action plans", "V")
    assert not section_matches("VII (2) Deepen and perfect structural reform", "V")
    assert not section_matches("IV (1) Moving forward", "IV (10)")
    assert section_matches("Notice", "Notice")


# --- report -------------------------------------------------------------------------------
def test_the_report_is_written_self_contained_and_round_trips(run: EvalRun, tmp_path: Path) -> None:
    files = write_report([run], tmp_path / "out", thresholds=load_thresholds())
    assert files.results_json.is_file() and files.report_md.is_file() and files.report_html.is_file()
    page = files.report_html.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*https?://""", page, re.IGNORECASE)
    assert "<script" not in page.lower()
    assert page.count("src='data:image/png;base64,") == 2  # recall@k curve, metrics by type
    # The item table lists failures first (worst_first), each id linking to its details.
    ordered = worst_first(run.results)
    assert [r.passed for r in ordered] == sorted(r.passed for r in ordered)
    positions = [page.index(f"<td><a href='#item-hybrid-{r.id}'>{r.id}</a></td>") for r in ordered]
    assert positions == sorted(positions)
    assert load_results(files.results_json) == [run]
    data = json.loads(files.results_json.read_text(encoding="utf-8"))
    assert data["format"] == RESULTS_FORMAT and len(data["runs"][0]["results"]) == 6
    markdown = files.report_md.read_text(encoding="utf-8")
    assert "## Quality gate" in markdown and "| evidence_recall_at_5 |" in markdown
    # The sample is tune items only: no holdout column, and its gate says so instead of passing.
    assert "| metric | tune | all | gate tune |" in markdown
    assert "- hybrid, holdout: not run (no items of this split)" in markdown
    assert "## Ablation" not in markdown


def test_comparison_finds_a_changed_metric_and_a_flipped_item(run: EvalRun, tmp_path: Path) -> None:
    rows = list(run.results)
    flipped = 0 if rows[0].passed else next((i for i, r in enumerate(rows) if r.passed), 0)
    # The earlier run: lower key-fact recall, and one item with the opposite verdict.
    before_rows = list(rows)
    before_rows[flipped] = dataclasses.replace(
        rows[flipped], failures=() if not rows[flipped].passed else ("made up for the test",)
    )
    value = run.summary["key_fact_recall"]
    assert isinstance(value, float)
    previous = dataclasses.replace(
        run, results=tuple(before_rows), summary={**run.summary, "key_fact_recall": value - 0.25}
    )
    comparison = compare(run, previous)
    changed = {c.name: c for c in comparison.changes if c.verdict != "same"}
    assert list(changed) == ["key_fact_recall"]
    assert changed["key_fact_recall"].verdict == "better"
    assert changed["key_fact_recall"].delta == pytest.approx(0.25)
    assert [f.id for f in comparison.flips] == [rows[flipped].id]
    assert comparison.flips[0].now_passed == rows[flipped].passed
    # A lower-is-better metric that went up is worse.
    slower = dataclasses.replace(run, summary={**run.summary, "false_refusal": 0.5})
    worse = {c.name: c.verdict for c in compare(slower, run).changes}
    assert worse["false_refusal"] == "worse"
    files = write_report([run], tmp_path, comparisons=[comparison])
    assert "Compared with" in files.report_md.read_text(encoding="utf-8")
    assert rows[flipped].id in files.report_html.read_text(encoding="utf-8")


def test_several_retrieval_modes_make_an_ablation_table(
    run: EvalRun, keyword_run: EvalRun, tmp_path: Path
) -> None:
    assert [r.id for r in keyword_run.results] == [r.id for r in run.results]
    files = write_report([run, keyword_run], tmp_path)
    markdown = files.report_md.read_text(encoding="utf-8")
    ablation = markdown.split("## Ablation: hybrid vs keyword\n", 1)[1]
    for mode in ("hybrid", "keyword"):
        for scope in ("tune", "all"):  # the sample has no holdout items
            assert re.search(rf"^\| {mode} \| {scope} \| ", ablation, re.MULTILINE), (mode, scope)
    assert load_results(files.results_json) == [run, keyword_run]


def test_thresholds_fail_on_low_high_and_missing_metrics() -> None:
    limits = Limits(minimums={"hit_at_5": 0.9, "key_fact_recall": 0.5}, maximums={"false_refusal": 0.1})
    thresholds = Thresholds(by_split={"holdout": limits})
    passing = {"hit_at_5": 0.95, "key_fact_recall": 0.5, "false_refusal": 0.1}
    assert check_thresholds({"by_split": {"holdout": passing}}, thresholds) == []
    failing = {"hit_at_5": 0.8, "false_refusal": 0.2, "key_fact_recall": None}
    assert check_thresholds({"by_split": {"holdout": failing}}, thresholds) == [
        "holdout: hit_at_5 = 0.800, needs >= 0.9",
        "holdout: key_fact_recall: no value in this run (threshold >= 0.5)",
        "holdout: false_refusal = 0.200, needs <= 0.1",
    ]
    # The top-level ("all") figures are never what a split is gated on.
    assert check_thresholds({**passing, "by_split": {"holdout": failing}}, thresholds) != []


def test_the_bundled_thresholds_gate_both_splits() -> None:
    thresholds = load_thresholds()
    assert list(thresholds.by_split) == ["holdout", "tune"]
    holdout, tune = thresholds.by_split["holdout"], thresholds.by_split["tune"]
    # Issue 8's held-out bar is kept, as reported targets, exactly.
    issue = {
        "refusal_on_unanswerable": 0.80, "key_fact_recall": 0.75, "list_items": 0.75,
        "multi_part_items": 0.60, "citation_precision": 0.93, "evidence_recall_at_5": 0.93,
    }
    assert dict(holdout.targets) == {**issue, "false_refusal": 0.10}
    # The gate floors every targeted metric (no target goes unguarded) and meets the cap.
    assert set(holdout.minimums) == set(issue)
    assert all(0 < holdout.minimums[n] <= issue[n] for n in issue)
    assert dict(holdout.maximums) == {"false_refusal": 0.10}
    # tune keeps the floors the whole set had before the split; citation precision was
    # lowered in its own commits (lists and overviews cite several passages; then 40 tune
    # items of those shapes were added, measured 0.677 on their own; then one sensitivity
    # step of section_relative measured 0.825).
    assert tune.minimums["evidence_recall_at_5"] >= 0.90
    assert tune.minimums["citation_precision"] >= 0.82
    assert tune.minimums["refusal_on_unanswerable"] >= 0.75
    assert tune.minimums["key_fact_recall"] >= 0.75
    assert tune.minimums["hit_at_5"] >= 0.95
    assert tune.maximums["false_refusal"] <= 0.10


# --- the command --------------------------------------------------------------------------
def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="citeqa eval")
    add_eval_arguments(parser)
    return parser.parse_args(argv)


def write_qa(path: Path, case_ids: Sequence[str]) -> Path:
    lines = [line for line in bundled_qa_path().read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line)["id"] in case_ids]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_malformed_qa_line_is_one_line_and_exit_2(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qa = write_qa(tmp_path / "qa.jsonl", ["q001"])
    with qa.open("a", encoding="utf-8") as file:
        file.write('{"id": "q2", "question": "Missing the rest?"}\n')
    assert run_eval_command(parse(["--qa", str(qa), "--out", str(tmp_path / "o")]), settings) == 1
    err = capsys.readouterr().err
    assert err.startswith("citeqa: error: qa.jsonl line 2:") and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_judge_without_an_llm_is_exit_2(settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qa = write_qa(tmp_path / "qa.jsonl", ["q001"])
    assert run_eval_command(parse(["--qa", str(qa), "--judge"]), settings) == 1
    assert "--judge needs an LLM endpoint" in capsys.readouterr().err


def test_bad_options_are_argparse_errors() -> None:
    with pytest.raises(SystemExit):
        parse(["--retrieval", "hybrid,bm25"])
    with pytest.raises(SystemExit):
        parse(["--k", "0"])
    assert parse(["--retrieval", "hybrid, dense,hybrid"]).retrieval == ["hybrid", "dense"]


def test_the_command_writes_an_ablation_compares_and_gates(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qa = write_qa(tmp_path / "qa.jsonl", ["q001", "q004", "q128"])
    first = tmp_path / "first"
    code = run_eval_command(
        parse(["--qa", str(qa), "--mode", "extractive", "--retrieval", "hybrid,keyword",
               "--out", str(first), "--gate", "--no-progress"]),
        settings,
    )
    runs = load_results(first / "results.json")
    assert [r.config.retrieval for r in runs] == ["hybrid", "keyword"]
    failures = check_thresholds(runs[0].summary, load_thresholds())
    assert code == (1 if failures else 0)
    out = capsys.readouterr().out
    assert summary_table(runs[0], load_thresholds()) in out
    assert re.search(r"^retrieval\s+split\s+evidence_recall@5", out, re.MULTILINE)  # the ablation
    assert ("gate (hybrid, the run --gate reads): passes" in out) == (not failures)

    second = tmp_path / "second"
    code = run_eval_command(
        parse(["--qa", str(qa), "--mode", "extractive", "--retrieval", "hybrid", "--out", str(second),
               "--compare", str(first / "results.json"), "--json", "--no-progress"]),
        settings,
    )
    assert code == 0  # no --gate: the thresholds are reported, not enforced
    printed = json.loads(capsys.readouterr().out)
    assert printed["gate_failures"] == failures and printed["out"] == str(second)
    assert "## Compared with hybrid" in (second / "report.md").read_text(encoding="utf-8")


def test_an_unreadable_comparison_file_is_exit_2(settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qa = write_qa(tmp_path / "qa.jsonl", ["q001"])
    bogus = tmp_path / "results.json"
    bogus.write_text('{"format": "something else"}', encoding="utf-8")
    assert run_eval_command(parse(["--qa", str(qa), "--compare", str(bogus)]), settings) == 1
    assert "is not a citeqa results.json" in capsys.readouterr().err


def test_calibrate_fits_on_tune_items_only_and_writes_the_model(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from eval.calibrate import training_rows
    from eval.command import print_calibration

    cases = load_cases(bundled_qa_path())
    rows = training_rows(cases, {})
    holdout_questions = {c.question for c in cases if c.split == "holdout"}
    assert rows and not any(r.question in holdout_questions for r in rows)
    out = tmp_path / "answerability.json"
    engine = QAEngine(settings)
    assert print_calibration(engine, cases, 5, out=out) == 0
    printed = capsys.readouterr().out
    assert "Cross-validated curve" in printed and "false refusal" in printed
    from rag.answerability import load_model

    model = load_model(out)
    assert "tune split only" in model.provenance
    assert model.caveat_threshold <= model.answer_threshold


# --- the optional LLM judge, against the scripted OpenAI-compatible server ----------------
@pytest.fixture()
def judged_engine(index_dir: Path, embedder: MiniLMEmbedder) -> Iterator[tuple[QAEngine, ScriptedChatServer]]:
    with ScriptedChatServer() as server:
        settings = load_settings(data_dir=index_dir, llm_base_url=server.base_url, llm_model="scripted",
                                 llm_timeout_s=2.0, llm_max_retries=0)
        yield QAEngine(settings, embedder=embedder), server


def test_the_judge_is_marked_and_changes_no_verdict(
    judged_engine: tuple[QAEngine, ScriptedChatServer], run: EvalRun
) -> None:
    engine, server = judged_engine
    cases = SAMPLE[:2]
    judged = evaluate(engine, cases, mode="extractive", judge=True, progress=False)
    asked = [m["content"] for r in server.requests for m in r["messages"] if m["role"] == "system"]
    assert any("SUPPORTED" in text for text in asked) and any("CORRECT" in text for text in asked)
    for row, plain in zip(judged.results, run.results):
        assert row.llm_judge is not None
        # The scripted server answers with passage text, not a verdict: recorded, not raised.
        assert row.llm_judge.correctness is None and row.llm_judge.errors
        assert (row.failures, row.key_fact_recall) == (plain.failures, plain.key_fact_recall)
    summary = judged.summary["llm_judge"]
    assert isinstance(summary, dict) and summary["correctness"] is None and summary["n_judged"] == 2
    server.mode = "http_500"
    failing = evaluate(engine, cases[:1], mode="extractive", judge=True, progress=False)
    judge = failing.results[0].llm_judge
    assert judge is not None and judge.correctness is None
    assert any(e.startswith("correctness:") for e in judge.errors)


# --- follow-ups, through a recording subclass of the real engine ---------------------------
class RecordingEngine(QAEngine):
    """The real engine, remembering every ask: (question, history, knob values, answer).

    `with_policy` copies the engine shallowly, so copies append to the same `asked` list and
    count into the same `stores_opened` box (how often the index was opened).
    """

    def __init__(self, settings: Settings, embedder: MiniLMEmbedder) -> None:
        super().__init__(settings, embedder=embedder)
        self.asked: list[tuple[str, tuple[Turn, ...], tuple[float, ...], Answer]] = []
        self.stores_opened = [0]

    def ask(self, question: str, **options: Any) -> Answer:  # type: ignore[override]
        answer = super().ask(question, **options)
        knobs = tuple(getattr(self.policy, k) for k in AnswerPolicy.knobs())
        self.asked.append((question, tuple(options.get("history", ())), knobs, answer))
        return answer

    def _open_index(self) -> Any:
        self.stores_opened[0] += 1
        return super()._open_index()


CASES_BY_ID = {c.id: c for c in ALL_CASES}
# h006 ("which of those comes first?") follows h005 in the bundled set.
EARLIER, FOLLOW_UP = CASES_BY_ID["h005"], CASES_BY_ID["h006"]


@pytest.fixture(scope="module")
def recording(settings: Settings, embedder: MiniLMEmbedder) -> RecordingEngine:
    return RecordingEngine(settings, embedder)


def test_a_follow_up_is_asked_with_the_answer_citeqa_gave_the_earlier_item(
    recording: RecordingEngine,
) -> None:
    recording.asked.clear()
    run = evaluate(recording, [EARLIER, FOLLOW_UP], progress=False)
    assert [(q, h) for q, h, _, _ in recording.asked][0] == (EARLIER.question, ())
    question, history, _, answer = recording.asked[1]
    assert question == FOLLOW_UP.question
    assert history == (Turn(EARLIER.question, run.results[0].answer),)
    # The engine searched the follow-up made standalone, and the row says what it searched.
    assert answer.question != FOLLOW_UP.question
    row = run.results[1]
    assert (row.follows, row.asked_as, row.split, row.style) == (
        "h005", answer.question, "holdout", FOLLOW_UP.style
    )


def test_an_earlier_item_outside_the_run_is_asked_first_and_not_scored(
    recording: RecordingEngine,
) -> None:
    recording.asked.clear()
    run = evaluate(recording, [FOLLOW_UP], all_cases=ALL_CASES, progress=False)
    assert [r.id for r in run.results] == ["h006"] and run.summary["n_cases"] == 1
    assert [q for q, _, _, _ in recording.asked] == [EARLIER.question, FOLLOW_UP.question]
    earlier_answer = recording.asked[0][3]
    assert recording.asked[1][1] == (Turn(EARLIER.question, earlier_answer.answer),)
    with pytest.raises(ValueError, match="follows 'h005', which is neither among the cases"):
        evaluate(recording, [FOLLOW_UP], progress=False)


def test_an_item_is_asked_once_even_when_its_follow_up_comes_first(
    recording: RecordingEngine,
) -> None:
    recording.asked.clear()
    run = evaluate(recording, [FOLLOW_UP, EARLIER], progress=False)
    assert [r.id for r in run.results] == ["h006", "h005"]
    assert [q for q, _, _, _ in recording.asked] == [EARLIER.question, FOLLOW_UP.question]
    assert run.results[1].answer == recording.asked[0][3].answer


# --- sensitivity ----------------------------------------------------------------------------
# One item of each split keeps 27 runs quick; tests/test_eval_command.py runs six through the CLI.
TWO_IDS = ("q001", "h086")
TWO = [CASES_BY_ID[i] for i in TWO_IDS]


def test_knob_values_move_floats_ten_percent_and_integers_by_one_never_below_one() -> None:
    policy = dataclasses.replace(AnswerPolicy(), cosine_weight=0.6, fact_sentences=1, max_list_items=12)
    assert knob_values(policy, "cosine_weight") == (0.54, 0.66)
    assert knob_values(policy, "fact_sentences") == (1, 2)
    assert knob_values(policy, "max_list_items") == (11, 13)
    with pytest.raises(TypeError, match="not a number"):
        knob_values(policy, "answerability")


def test_sensitivity_moves_every_knob_both_ways_on_one_open_index(
    settings: Settings, embedder: MiniLMEmbedder
) -> None:
    engine = RecordingEngine(settings, embedder)
    result = run_sensitivity(engine, TWO, progress=False, all_cases=ALL_CASES)
    knobs = AnswerPolicy.knobs()
    base = AnswerPolicy()
    assert [r.knob for r in result.knobs] == knobs
    assert [r.id for r in result.base.results] == list(TWO_IDS)
    for moved in result.knobs:
        assert (moved.base_value, (moved.low_value, moved.high_value)) == (
            getattr(base, moved.knob), knob_values(base, moved.knob)
        )
        for summary in (moved.low, moved.high):
            assert summary["n_cases"] == 2
            by_split = summary["by_split"]
            assert isinstance(by_split, dict) and sorted(by_split) == ["holdout", "tune"]
    # Each run asked every case with its own policy: the base and each knob at each end.
    base_values = tuple(getattr(base, k) for k in knobs)
    seen = {values for _, _, values, _ in engine.asked}
    assert base_values in seen and len(seen) == 1 + 2 * len(knobs)
    assert len(engine.asked) == (1 + 2 * len(knobs)) * len(TWO)
    assert engine.stores_opened == [1]  # one index load for all 27 runs


def test_a_caveat_answers_an_answerable_case_and_warns_on_an_unanswerable_one() -> None:
    hedged = dataclasses.replace(answer_with("It reached 7.2% of GDP [1].", [RELEVANT]), caveat=True)
    row = score(CASE, hedged)
    assert row.passed and row.caveat and not row.refused  # not a refusal: the facts are given
    unanswerable = dataclasses.replace(CASE, answerable=False, type="unanswerable", evidence=(),
                                       key_facts=(), section=())
    assert score(unanswerable, hedged).passed
    assert not score(unanswerable, answer_with("It reached 7.2% of GDP [1].", [RELEVANT])).passed
