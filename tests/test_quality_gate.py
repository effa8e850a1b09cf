"""The quality gate: the whole bundled QA set, offline extractive answers, hybrid retrieval, k=5,
must clear every threshold in eval/thresholds.toml (the same check as `citeqa eval --gate`)."""

from __future__ import annotations

from eval.dataset import bundled_qa_path, load_cases
from eval.report import check_thresholds, load_thresholds, summary_table, worst_first
from eval.runner import evaluate
from rag import QAEngine

# How many of the worst items the failure message shows, with their reasons.
WORST_SHOWN = 8


def test_the_bundled_qa_set_clears_the_thresholds(engine: QAEngine) -> None:
    cases = load_cases(bundled_qa_path())
    run = evaluate(engine, cases, mode="extractive", retrieval="hybrid", k=5, progress=False)
    thresholds = load_thresholds()
    failures = check_thresholds(run.summary, thresholds)
    worst = [
        f"  {r.id} ({r.type}): {'; '.join(r.failures) or 'passed'}"
        for r in worst_first(run.results)[:WORST_SHOWN]
    ]
    assert failures == [], "\n".join(
        ["quality gate failed:", *failures, "", summary_table(run, thresholds), "", "worst items:", *worst]
    )
