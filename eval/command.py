"""`citeqa eval`: its arguments and what it does; ui/cli.py only mounts these two functions.

Runs the QA set through a QAEngine once per retrieval mode (a comma list is an ablation),
writes the report, prints the summary, and with --gate exits 1 when the thresholds fail.
`--calibrate` prints score distributions for the two thresholds rag calibrates instead. The
compromise: calibration reads only public scores (see `refusal_scores`), standing in for the
extractive answerer's best-sentence score until rag exposes it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from eval import metrics
from eval.dataset import Case, bundled_qa_path, load_cases
from eval.report import (
    ablation_table,
    check_thresholds,
    compare,
    load_results,
    load_thresholds,
    matching_run,
    summary_table,
    write_report,
)
from eval.runner import evaluate
from rag import AnswerMode, CiteqaError, QAEngine, RetrievalMode, Settings

RETRIEVAL_MODES: tuple[RetrievalMode, ...] = ("hybrid", "dense", "keyword")
RUNS_DIR = Path("eval") / "runs"
# The cap on answerable questions refused; calibration keeps below it.
MAX_FALSE_REFUSAL = 0.10
# Rows of the calibration table shown either side of the chosen threshold.
CALIBRATION_CONTEXT_ROWS = 4


def retrieval_list(text: str) -> list[RetrievalMode]:
    """Parse "hybrid,dense" into retrieval modes; argparse.ArgumentTypeError names a bad one."""
    modes: list[RetrievalMode] = []
    for part in (p.strip() for p in text.split(",")):
        if part not in RETRIEVAL_MODES:
            raise argparse.ArgumentTypeError(
                f"unknown retrieval mode {part!r} (choose from {', '.join(RETRIEVAL_MODES)})"
            )
        if part not in modes:
            modes.append(part)
    return modes


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `citeqa eval`'s options to `parser` (the CLI's `eval` sub-parser)."""
    parser.add_argument(
        "--qa", type=Path, default=None, help="QA set, JSON Lines (default: the bundled eval/qa.jsonl)"
    )
    parser.add_argument(
        "--mode",
        choices=["auto", "extractive", "generative"],
        default=None,
        help="who answers (default CITEQA_ANSWER_MODE: auto = LLM if configured, else extractive)",
    )
    parser.add_argument(
        "--retrieval",
        type=retrieval_list,
        default=None,
        metavar="MODES",
        help="hybrid, dense or keyword; a comma list runs each (an ablation), e.g. hybrid,dense,keyword",
    )
    parser.add_argument(
        "--k", type=positive_int, default=None, help="passages retrieved per question (default CITEQA_TOP_K, 5)"
    )
    parser.add_argument(
        "--out", type=Path, default=None,
        help="report folder (default eval/runs/<UTC timestamp>, and eval/runs/last points to it)",
    )
    parser.add_argument(
        "--compare", type=Path, default=None, metavar="RESULTS_JSON",
        help="an earlier results.json: show metrics that got better/worse and items that flipped",
    )
    parser.add_argument(
        "--judge", action="store_true",
        help="also ask the configured LLM to judge faithfulness and correctness (never gated)",
    )
    parser.add_argument(
        "--gate", action="store_true", help="exit 1 when the first run fails eval/thresholds.toml"
    )
    parser.add_argument(
        "--thresholds", type=Path, default=None, help="thresholds file (default eval/thresholds.toml)"
    )
    parser.add_argument(
        "--calibrate", action="store_true",
        help="print score distributions and suggested refusal/support thresholds instead",
    )
    parser.add_argument("--json", action="store_true", help="print the summaries as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def default_out_dir(now: datetime | None = None) -> Path:
    """eval/runs/<UTC timestamp>, e.g. eval/runs/20260301-142233 (relative to the cwd)."""
    now = now or datetime.now(UTC)
    return RUNS_DIR / now.strftime("%Y%m%d-%H%M%S")


def _point_last_at(out_dir: Path) -> None:
    """Make eval/runs/last a relative symlink to out_dir (best effort: not on every system)."""
    last = out_dir.parent / "last"
    try:
        if last.is_symlink():
            last.unlink()
        if not last.exists():
            os.symlink(out_dir.name, last, target_is_directory=True)
    except OSError:
        pass


def _error(message: str) -> None:
    print(f"citeqa: error: {' '.join(message.split())}", file=sys.stderr)


def run_eval_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `citeqa eval` with parsed `args`; returns the exit code.

    0 on success; 1 when --gate is given and the thresholds fail; 2 for a bad QA file (one
    line naming the file and line), --judge without an LLM endpoint, or an unreadable
    --compare / --thresholds file. Other CiteqaErrors (index problems) propagate to the CLI.
    """
    qa_path: Path = args.qa or bundled_qa_path()
    try:
        cases = load_cases(qa_path)
        previous = load_results(args.compare) if args.compare else []
        thresholds = load_thresholds(args.thresholds)
    except CiteqaError as error:  # DatasetError, ReportError
        _error(str(error))
        return 2
    engine = QAEngine(settings)
    mode: AnswerMode = args.mode or settings.answer_mode
    modes: list[RetrievalMode] = args.retrieval or [settings.retrieval_mode]
    k: int = args.k or settings.top_k
    if args.judge and engine.generative is None:
        _error("--judge needs an LLM endpoint: set CITEQA_LLM_BASE_URL (or OPENAI_API_KEY)")
        return 2
    if args.calibrate:
        return print_calibration(engine, cases, mode, modes[0], k, as_json=args.json)

    runs = []
    for number, retrieval in enumerate(modes):
        # A fresh engine per mode: the engine caches query vectors, which would make every
        # run after the first look faster than it is.
        run_engine = engine if number == 0 else QAEngine(settings)
        runs.append(
            evaluate(
                run_engine, cases, mode=mode, retrieval=retrieval, k=k, judge=args.judge,
                progress=not args.no_progress, qa_path=str(qa_path),
            )
        )
    comparisons = []
    for run in runs:
        earlier = matching_run(run, previous)
        if earlier is not None:
            comparisons.append(compare(run, earlier))
    out_dir: Path = args.out or default_out_dir()
    files = write_report(runs, out_dir, comparisons=comparisons, thresholds=thresholds)
    if args.out is None:
        _point_last_at(out_dir)
    failures = check_thresholds(runs[0].summary, thresholds)
    if args.json:
        print(json.dumps({
            "out": str(out_dir),
            "runs": [{"config": r.to_dict()["config"], "summary": r.summary} for r in runs],
            "gate_failures": failures,
        }, ensure_ascii=False, indent=1))
    else:
        for run in runs:
            print(summary_table(run, thresholds))
            print()
        if len(runs) > 1:
            print(ablation_table(runs))
            print()
        for comparison in comparisons:
            worse = ", ".join(c.name for c in comparison.worse) or "none"
            better = ", ".join(c.name for c in comparison.better) or "none"
            print(f"vs {comparison.label}: better {better}; worse {worse}; "
                  f"{len(comparison.flips)} item(s) flipped")
        print("gate: " + ("passes" if not failures else "fails: " + "; ".join(failures)))
        print(f"report: {files.report_html}  ({files.report_md.name}, {files.results_json.name})")
    return 1 if args.gate and failures else 0


# --- calibration --------------------------------------------------------------------------
CaseScore = Callable[[QAEngine, Case], float]


def best_sentence_score(engine: QAEngine, case: Case) -> float:
    """The extractive answerer's best-sentence score: what its refusal threshold is set on."""
    return engine.evidence_score(case.question)


def refusal_scores(
    engine: QAEngine, cases: Sequence[Case], score: CaseScore = best_sentence_score
) -> tuple[list[float], list[float]]:
    """`score` of every answerable and of every unanswerable case: (answerable, unanswerable).

    A refusal threshold is calibrated on these: refuse below it.
    """
    answerable = [score(engine, c) for c in cases if c.answerable]
    unanswerable = [score(engine, c) for c in cases if not c.answerable]
    return answerable, unanswerable


def support_scores(engine: QAEngine, cases: Sequence[Case], k: int) -> tuple[list[float], list[float]]:
    """Support of reference-answer sentences: (by their evidence passage, by another section's).

    For each answerable case, every sentence of its reference answer is scored against the
    stored passage holding its first evidence quote (grounded) and against the best retrieved
    passage from another section (ungrounded). The citation check's support threshold is
    calibrated on these: a sentence below it loses its citation. Reference answers paraphrase
    the document as a model would, which extractive answers (verbatim quotes) never do.
    """
    grounded: list[float] = []
    ungrounded: list[float] = []
    for case in cases:
        if not case.answerable or not case.evidence:
            continue
        candidates = engine.retrieve(case.evidence[0], 20, "keyword")
        home = next((p for p in candidates if metrics.covers(p.text, case.evidence[0])), None)
        if home is None:
            continue
        other = next((p for p in engine.retrieve(case.question, k * 2) if p.section != home.section), None)
        claims = [metrics.strip_citation_markers(c) for c in re.split(r"(?<=[.!?])\s+", case.reference_answer) if c.strip()]
        matrix = engine.support(claims, [home] + ([other] if other else []))
        for row in matrix:
            grounded.append(row[0])
            if other is not None:
                ungrounded.append(row[1])
    return grounded, ungrounded


def _distribution(scores: Sequence[float]) -> str:
    if not scores:
        return "n=0"
    points = {p: metrics.percentile(scores, p) for p in (0, 10, 25, 50, 75, 90, 100)}
    return f"n={len(scores)} " + " ".join(f"p{p}={v:.3f}" for p, v in points.items() if v is not None)


def _calibration_block(
    title: str, keep_label: str, drop_label: str, keep: Sequence[float], drop: Sequence[float]
) -> dict[str, object]:
    block: dict[str, object] = {
        "title": title,
        keep_label: _distribution(keep),
        drop_label: _distribution(drop),
    }
    if keep and drop:
        threshold, table = metrics.calibrate(keep, drop, MAX_FALSE_REFUSAL)
        block["threshold"] = threshold
        block["table"] = [
            {"threshold": r.threshold, "drops_" + drop_label: r.refusal_on_unanswerable,
             "drops_" + keep_label: r.false_refusal}
            for r in table
        ]
    return block


def print_calibration(
    engine: QAEngine,
    cases: Sequence[Case],
    mode: AnswerMode,
    retrieval: RetrievalMode,
    k: int,
    *,
    as_json: bool,
) -> int:
    """Print the distributions and `metrics.calibrate` thresholds for both scores; returns 0."""
    answerable, unanswerable = refusal_scores(engine, cases)
    grounded, ungrounded = support_scores(engine, cases, k)
    blocks = [
        _calibration_block(
            "refusal threshold (extractive best-sentence score; refuse below; rule 1 of "
            "rag.answer's refusal rules)",
            "answerable", "unanswerable", answerable, unanswerable,
        ),
        _calibration_block(
            "citation support threshold (reference-answer sentences vs their evidence passage "
            "and vs another section's passage; uncite below)",
            "grounded", "ungrounded", grounded, ungrounded,
        ),
    ]
    if as_json:
        print(json.dumps(blocks, indent=1))
        return 0
    for block in blocks:
        print(block["title"])
        for key, value in block.items():
            if key not in ("title", "table", "threshold"):
                print(f"  {key:<13} {value}")
        table = block.get("table")
        if isinstance(table, list):
            threshold = block["threshold"]
            keep_label, drop_label = [k for k in block if k not in ("title", "table", "threshold")]
            print(f"  threshold {threshold:.3f}: drops the most {drop_label} scores while dropping "
                  f"at most {MAX_FALSE_REFUSAL:.0%} of {keep_label} ones")
            chosen = next(i for i, row in enumerate(table) if row["threshold"] == threshold)
            for row in table[max(0, chosen - CALIBRATION_CONTEXT_ROWS) : chosen + CALIBRATION_CONTEXT_ROWS + 1]:
                mark = " <" if row["threshold"] == threshold else ""
                values = "  ".join(f"{k}={v:.3f}" for k, v in row.items())
                print(f"    {values}{mark}")
        else:
            print("  (needs scores of both groups)")
        print()
    return 0
