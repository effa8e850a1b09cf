"""The quality gate: the whole bundled QA set, offline extractive answers, hybrid retrieval, k=5,
must clear every threshold in eval/thresholds.toml on both splits, tune and holdout (the same
check as `citeqa eval --gate`). The failure message names every failing metric of each split."""

from __future__ import annotations

from eval.dataset import bundled_qa_path, load_cases
from eval.report import check_thresholds, gate_line, load_thresholds, summary_table, worst_first
from eval.runner import evaluate, split_summary
from rag import QAEngine

# How many of the worst items of each split the failure message shows, with their reasons.
WORST_SHOWN = 8


def test_the_bundled_qa_set_clears_the_thresholds_on_both_splits(engine: QAEngine) -> None:
    cases = load_cases(bundled_qa_path())
    run = evaluate(engine, cases, mode="extractive", retrieval="hybrid", k=5, progress=False)
    thresholds = load_thresholds()
    # Both splits are in the bundled set, so neither can pass by not being run.
    assert all(split_summary(run.summary, s) is not None for s in ("tune", "holdout"))
    failures = check_thresholds(run.summary, thresholds)
    worst = [
        f"  {r.id} ({r.split}, {r.type}): {'; '.join(r.failures) or 'passed'}"
        for split in ("holdout", "tune")
        for r in worst_first([r for r in run.results if r.split == split])[:WORST_SHOWN]
    ]
    assert failures == [], "\n".join(
        ["quality gate failed: " + gate_line(run.summary, thresholds), *failures, "",
         summary_table(run, thresholds), "", "worst items:", *worst]
    )
