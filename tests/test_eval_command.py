"""`citeqa eval` options: --split, --sensitivity and --from-feedback, run as the CLI runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eval.command import run_eval_command
from eval.dataset import DatasetError, load_cases
from eval.report import load_results
from rag import AnswerPolicy, Passage, Settings, load_settings
from rag.feedback import FeedbackStore
from tests.test_eval_runner import parse, write_qa

# Two tune items (one unanswerable), a held-out list question and its follow-up, a held-out
# multi-part and a held-out unanswerable one.
SIX_IDS = ("q001", "q128", "h005", "h006", "h036", "h086")


# --- --split ---------------------------------------------------------------------------------
def test_split_runs_only_its_items(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qa = write_qa(tmp_path / "qa.jsonl", SIX_IDS)
    for split, expected in (("tune", ["q001", "q128"]), ("holdout", ["h005", "h006", "h036", "h086"])):
        out = tmp_path / split
        code = run_eval_command(parse(["--qa", str(qa), "--mode", "extractive", "--split", split,
                                       "--out", str(out), "--no-progress"]), settings)
        assert code == 0
        (run,) = load_results(out / "results.json")
        assert [r.id for r in run.results] == expected
        assert list(run.summary["by_split"]) == [split]  # type: ignore[arg-type]
        printed = capsys.readouterr().out
        other = "holdout" if split == "tune" else "tune"
        targets = r"\s+gate target holdout" if split == "holdout" else ""
        assert re.search(rf"^\s+metric\s+{split}\s+all\s+gate {split}{targets}$", printed, re.MULTILINE)
        assert f"{other} not run (no {other} items)" in printed


def test_all_splits_are_printed_side_by_side(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qa = write_qa(tmp_path / "qa.jsonl", SIX_IDS)
    code = run_eval_command(parse(["--qa", str(qa), "--mode", "extractive", "--out",
                                   str(tmp_path / "o"), "--no-progress", "--gate"]), settings)
    printed = capsys.readouterr().out
    assert re.search(
        r"^\s+metric\s+tune\s+holdout\s+all\s+gate tune\s+gate holdout\s+gate target holdout$",
        printed, re.MULTILINE,
    )
    gate = re.search(r"^  gate: tune (passes|fails: .*) \| holdout (passes|fails: .*)$", printed, re.MULTILINE)
    assert gate is not None
    assert code == (0 if gate.group(1) == gate.group(2) == "passes" else 1)
    report = (tmp_path / "o" / "report.md").read_text(encoding="utf-8")
    assert "| metric | tune | holdout | all | gate tune | gate holdout | gate target holdout |" in report


def test_a_split_without_items_is_exit_2(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qa = write_qa(tmp_path / "qa.jsonl", ["q001"])
    assert run_eval_command(parse(["--qa", str(qa), "--split", "holdout"]), settings) == 1
    assert capsys.readouterr().err == "citeqa: error: qa.jsonl has no holdout items\n"


# --- --sensitivity ---------------------------------------------------------------------------
def test_sensitivity_prints_and_writes_a_row_per_knob_with_both_ends(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qa = write_qa(tmp_path / "qa.jsonl", SIX_IDS)
    out = tmp_path / "sens"
    code = run_eval_command(parse(["--qa", str(qa), "--mode", "extractive", "--sensitivity",
                                   "--out", str(out), "--no-progress"]), settings)
    assert code == 0  # no --gate
    printed = capsys.readouterr().out
    knobs = AnswerPolicy.knobs()
    policy = AnswerPolicy()
    table = (out / "sensitivity.md").read_text(encoding="utf-8")
    assert "| knob | base | low | high | Δ false_refusal | Δ refusal_on_unanswerable |" in table
    assert "Δ columns are changes on the holdout items (moved − base), as low end / high end" in table
    for knob in knobs:
        row = re.search(rf"^\| {knob} \| (\S+) \| (\S+) \| (\S+) \|(.*)$", table, re.MULTILINE)
        assert row is not None, knob
        base, low, high = (float(v) for v in row.groups()[:3])
        assert base == getattr(policy, knob) and low < base < high or base == low == 1
        cells = [c.strip() for c in row.group(4).split("|")[:-1]]
        assert len(cells) == 6 + 2  # six metric deltas, the gate at each end
        assert all(re.fullmatch(r"(—|[+-]\d\.\d{3}) / (—|[+-]\d\.\d{3})", c) for c in cells[:6])
        assert all(re.fullmatch(r"passes|fails \((as base|[+−]\w+:\w+(, [+−]\w+:\w+)*)\)", c)
                   for c in cells[6:]), cells[6:]
        assert re.search(rf"^{knob}\s", printed, re.MULTILINE)
    summaries = json.loads((out / "sensitivity.json").read_text(encoding="utf-8"))
    assert [k["knob"] for k in summaries["knobs"]] == knobs
    assert (out / "report.md").is_file() and "sensitivity.md" in printed


def test_sensitivity_takes_one_retrieval_mode(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qa = write_qa(tmp_path / "qa.jsonl", ["q001"])
    args = parse(["--qa", str(qa), "--sensitivity", "--retrieval", "hybrid,dense"])
    assert run_eval_command(args, settings) == 1
    assert "--sensitivity runs one retrieval mode" in capsys.readouterr().err


# --- --from-feedback -------------------------------------------------------------------------
CITED = Passage("doc:II-1:0003:ab12", "doc", "T", "II (1) The situation of progress", "II", "1",
                "In 2005, the information industry’s added value amounted to 7.2 per cent of GDP.",
                0, 80)


def rate(store: FeedbackStore, question: str, rating: int, comment: str = "") -> None:
    store.record(question=question, answer=f"An answer to {question} [1]", citations=[CITED],
                 settings={"top_k": 5}, answerer="extractive", rating=rating, comment=comment)


def test_from_feedback_writes_only_thumbs_down_as_drafts_that_do_not_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    store = FeedbackStore(tmp_path / "data" / "feedback.sqlite3")  # where the page writes
    rate(store, "What share of GDP?", -1, "misses the 16.6% contribution")
    rate(store, "Who issued the notice?", 1)
    rate(store, "信息安全怎么保障？", -1)
    monkeypatch.chdir(tmp_path)
    assert run_eval_command(parse(["--from-feedback"]), settings) == 0
    (drafts,) = (tmp_path / "eval" / "drafts").glob("feedback-*.jsonl")
    assert re.fullmatch(r"feedback-\d{8}-\d{6}\.jsonl", drafts.name)
    assert capsys.readouterr().out.startswith(
        f"wrote 2 draft QA item(s) from thumbs-down feedback to {Path('eval/drafts') / drafts.name};"
    )
    items = [json.loads(line) for line in drafts.read_text(encoding="utf-8").splitlines()]
    assert [i["question"] for i in items] == ["What share of GDP?", "信息安全怎么保障？"]
    first = items[0]
    assert first["draft"] is True and first["split"] == "holdout" and first["type"] == "descriptive"
    assert (first["reference_answer"], first["key_facts"], first["evidence"], first["section"]) == ("", [], [], [])
    assert first["answer_given"] == "An answer to What share of GDP? [1]"
    assert first["comment"] == "misses the 16.6% contribution"
    assert first["citations_given"] == [
        {"section": CITED.section, "chunk_id": CITED.chunk_id, "excerpt": CITED.text}
    ]
    assert first["created_at"].endswith("+00:00") and items[1]["language"] == "zh"
    # A draft is for review: it does not load as a QA set until a person fills it in.
    with pytest.raises(DatasetError, match=r"line 1: field 'reference_answer'"):
        load_cases(drafts)


def test_from_feedback_errors_and_the_empty_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    missing = tmp_path / "none.sqlite3"
    assert run_eval_command(parse(["--from-feedback", "--feedback-db", str(missing)]), settings) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"citeqa: error: no feedback file at {missing}") and err.count("\n") == 1
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"not sqlite at all\n" * 100)
    assert run_eval_command(parse(["--from-feedback", "--feedback-db", str(damaged)]), settings) == 1
    assert "cannot use the feedback database" in capsys.readouterr().err
    liked = tmp_path / "liked.sqlite3"
    rate(FeedbackStore(liked), "Who issued the notice?", 1)
    out = tmp_path / "drafts.jsonl"
    args = parse(["--from-feedback", "--feedback-db", str(liked), "--out", str(out)])
    assert run_eval_command(args, settings) == 0
    assert capsys.readouterr().out == f"no thumbs-down feedback in {liked}; nothing written\n"
    assert not out.exists()
    rate(FeedbackStore(liked), "What share of GDP?", -1)
    assert run_eval_command(args, settings) == 0 and out.is_file()
    assert run_eval_command(args, settings) == 1  # never overwrites an earlier export
    assert "already exists" in capsys.readouterr().err
