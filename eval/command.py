"""`citeqa eval`: its arguments and what it does; ui/cli.py only mounts these two functions.

Runs the QA set (or one split of it) through a QAEngine once per retrieval mode (a comma list
is an ablation), writes the report, prints tune and holdout side by side, and with --gate exits
1 when a split fails its thresholds. `--sensitivity` reruns the set with each AnswerPolicy knob
moved ±10% and prints how the holdout figures move. `--from-feedback` writes readers'
thumbs-down answers as draft QA items instead. `--calibrate` fits the answerability model on
the tune items only (eval.calibrate) and prints its cross-validated curve.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from eval import metrics
from eval.dataset import Case, bundled_qa_path, load_cases
from eval.report import (
    ablation_table,
    check_thresholds,
    compare,
    gate_verdicts,
    load_results,
    load_thresholds,
    matching_run,
    sensitivity_table,
    summary_table,
    write_report,
    write_sensitivity,
)
from eval.runner import SPLITS, EvalRun, JSONValue, evaluate, run_sensitivity
from rag import AnswerMode, CiteqaError, QAEngine, RetrievalMode, Settings
from rag.feedback import FEEDBACK_FILENAME, Feedback, FeedbackStore

RETRIEVAL_MODES: tuple[RetrievalMode, ...] = ("hybrid", "dense", "keyword")
RUNS_DIR = Path("eval") / "runs"
# Drafts from feedback go here, one file per export, for a person to complete and move into a
# QA file.
DRAFTS_DIR = Path("eval") / "drafts"
# A draft question with any Chinese character is guessed to be Chinese; the person checks.
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


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
        "--split", choices=[*SPLITS, "all"], default="all",
        help="run only the tune or the holdout items (default all: both, side by side); a "
        "follow-up's earlier item is still asked first, unscored",
    )
    parser.add_argument(
        "--out", type=Path, default=None,
        help="report folder (default eval/runs/<UTC timestamp>, and eval/runs/last points to "
        "it); with --from-feedback, the drafts file (default "
        "eval/drafts/feedback-<UTC timestamp>.jsonl)",
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
        "--gate", action="store_true",
        help="exit 1 when the first run fails a split's limits in eval/thresholds.toml (tune, holdout)",
    )
    parser.add_argument(
        "--thresholds", type=Path, default=None, help="thresholds file (default eval/thresholds.toml)"
    )
    parser.add_argument(
        "--calibrate", action="store_true",
        help="fit the answerability model on the tune items and print its cross-validated "
        "curve (rewrites rag/answerability.json)",
    )
    parser.add_argument(
        "--sensitivity", action="store_true",
        help="also rerun the set with each answer-policy knob at x0.9 and x1.1 (integers -1/+1) "
        "and show how the holdout figures and the gate move (writes sensitivity.md)",
    )
    parser.add_argument(
        "--from-feedback", action="store_true",
        help="write every thumbs-down answer from the page as a draft QA item (JSON Lines) "
        "for a person to complete, instead of running the set",
    )
    parser.add_argument(
        "--feedback-db", type=Path, default=None, metavar="PATH",
        help=f"feedback file for --from-feedback (default <CITEQA_DATA_DIR>/{FEEDBACK_FILENAME})",
    )
    parser.add_argument("--json", action="store_true", help="print the summaries as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def default_out_dir(now: datetime | None = None) -> Path:
    """eval/runs/<UTC timestamp>, e.g. eval/runs/20260301-142233 (relative to the cwd)."""
    now = now or datetime.now(UTC)
    return RUNS_DIR / now.strftime("%Y%m%d-%H%M%S")


def default_drafts_path(now: datetime | None = None) -> Path:
    """eval/drafts/feedback-<UTC timestamp>.jsonl (relative to the cwd)."""
    now = now or datetime.now(UTC)
    return DRAFTS_DIR / now.strftime("feedback-%Y%m%d-%H%M%S.jsonl")


def select_split(cases: Sequence[Case], split: str) -> list[Case]:
    """The cases of one split ("tune", "holdout"), or all of them for "all"."""
    return list(cases) if split == "all" else [c for c in cases if c.split == split]


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

    0 on success; 1 when --gate is given and the first run fails a split's thresholds, and 1
    (one line on stderr) for a bad QA file (naming the file and line), a --split with no items, --judge
    without an LLM endpoint, --sensitivity with several retrieval modes or --judge, an
    unreadable --compare / --thresholds file, or a --from-feedback problem. Other CiteqaErrors
    (index problems) propagate to the CLI.
    """
    if args.from_feedback:
        return write_feedback_drafts(args, settings)
    qa_path: Path = args.qa or bundled_qa_path()
    try:
        all_cases = load_cases(qa_path)
        previous = load_results(args.compare) if args.compare else []
        thresholds = load_thresholds(args.thresholds)
    except CiteqaError as error:  # DatasetError, ReportError
        _error(str(error))
        return 1
    cases = select_split(all_cases, args.split)
    if not cases:
        _error(f"{qa_path.name} has no {args.split} items")
        return 1
    mode: AnswerMode = args.mode or settings.answer_mode
    modes: list[RetrievalMode] = args.retrieval or [settings.retrieval_mode]
    k: int = args.k or settings.top_k
    if args.sensitivity and (len(modes) > 1 or args.judge):
        _error("--sensitivity runs one retrieval mode without --judge (it repeats the set "
               "1 + 2 x knobs times)")
        return 1
    engine = QAEngine(settings)
    if args.judge and engine.generative is None:
        _error("--judge needs an LLM endpoint: set CITEQA_LLM_BASE_URL (or OPENAI_API_KEY)")
        return 1
    if args.calibrate:
        return print_calibration(engine, all_cases, k)

    progress = not args.no_progress
    sensitivity = None
    runs: list[EvalRun] = []
    if args.sensitivity:
        # One engine for every run: with_policy shares the open index (no reload per knob).
        sensitivity = run_sensitivity(
            engine, cases, mode=mode, retrieval=modes[0], k=k, progress=progress,
            qa_path=str(qa_path), all_cases=all_cases,
        )
        runs.append(sensitivity.base)
    else:
        for number, retrieval in enumerate(modes):
            # A fresh engine per mode: the engine caches query vectors, which would make every
            # run after the first look faster than it is.
            run_engine = engine if number == 0 else QAEngine(settings)
            runs.append(
                evaluate(
                    run_engine, cases, mode=mode, retrieval=retrieval, k=k, judge=args.judge,
                    progress=progress, qa_path=str(qa_path), all_cases=all_cases,
                )
            )
    comparisons = []
    for run in runs:
        earlier = matching_run(run, previous)
        if earlier is not None:
            comparisons.append(compare(run, earlier))
    out_dir: Path = args.out or default_out_dir()
    files = write_report(runs, out_dir, comparisons=comparisons, thresholds=thresholds)
    sensitivity_md = write_sensitivity(sensitivity, out_dir, thresholds) if sensitivity else None
    if args.out is None:
        _point_last_at(out_dir)
    failures = check_thresholds(runs[0].summary, thresholds)
    if args.json:
        document: dict[str, JSONValue] = {
            "out": str(out_dir),
            "runs": [{"config": r.to_dict()["config"], "summary": r.summary} for r in runs],
            "gate_failures": list(failures),
            "gates": {r.config.retrieval: list(check_thresholds(r.summary, thresholds)) for r in runs},
        }
        if sensitivity is not None:
            document["sensitivity"] = sensitivity.to_dict()
        print(json.dumps(document, ensure_ascii=False, indent=1))
    else:
        for run in runs:
            print(summary_table(run, thresholds))
            print()
        if len(runs) > 1:
            print(ablation_table(runs, thresholds))
            print()
        for comparison in comparisons:
            worse = ", ".join(f"{c.scope} {c.name}" for c in comparison.worse) or "none"
            better = ", ".join(f"{c.scope} {c.name}" for c in comparison.better) or "none"
            print(f"{comparison.retrieval} vs {comparison.label}: better {better}; worse {worse}; "
                  f"{len(comparison.flips)} item(s) flipped")
        if sensitivity is not None:
            print(sensitivity_table(sensitivity, thresholds))
            print()
        # Each run's table ends with its gate line, split by split; this is the verdict --gate
        # acts on, with the splits that failed.
        which = f" ({runs[0].config.retrieval}, the run --gate reads)" if len(runs) > 1 else ""
        failed = [v.split for v in gate_verdicts(runs[0].summary, thresholds) if v.failures]
        print(f"gate{which}: " + ("passes" if not failures else
                                  f"fails on {', '.join(failed) or 'no gated split with items'} "
                                  f"({len(failures)} limit(s); see the gate line above)"))
        extra = f", {sensitivity_md.name}" if sensitivity_md else ""
        print(f"report: {files.report_html}  ({files.report_md.name}, "
              f"{files.results_json.name}{extra})")
    return 1 if args.gate and failures else 0


# --- drafts from feedback -----------------------------------------------------------------
def draft_item(entry: Feedback) -> dict[str, JSONValue]:
    """A thumbs-down rating as a draft QA item (one JSON Lines row).

    The question, the answer given, the reader's comment, the cited excerpts and when it was
    rated, marked `draft: true`, held out, and guessed to be a descriptive, answerable
    question; reference_answer, key_facts, evidence and section are left empty for a person
    to fill. An empty reference answer does not load (`load_cases` raises DatasetError), so a
    draft cannot be scored until someone completes it.
    """
    return {
        "id": f"feedback-{entry.id}",
        "draft": True,
        "question": entry.question,
        "reference_answer": "",
        "key_facts": [],
        "evidence": [],
        "section": [],
        "type": "descriptive",
        "answerable": True,
        "language": "zh" if _CJK.search(entry.question) else "en",
        "split": "holdout",
        "answer_given": entry.answer,
        "comment": entry.comment,
        "citations_given": [
            {"section": c.section, "chunk_id": c.chunk_id, "excerpt": c.excerpt}
            for c in entry.citations
        ],
        "answerer": entry.answerer,
        "settings_given": dict(entry.settings),
        "created_at": entry.created_at,
    }


def write_feedback_drafts(args: argparse.Namespace, settings: Settings) -> int:
    """`citeqa eval --from-feedback`: every thumbs-down as a draft QA item in a new JSON Lines
    file (--out, default `default_drafts_path()`); prints how many and where. Returns 0, or 2
    with a one-line error when the feedback file is missing or damaged or the drafts file
    exists or cannot be written. No thumbs-down: says so and writes nothing."""
    db: Path = args.feedback_db or settings.data_dir / FEEDBACK_FILENAME
    if not db.is_file():
        _error(f"no feedback file at {db} (the page writes one when a reader rates an answer)")
        return 1
    try:
        entries = FeedbackStore(db).list(rating=-1)
    except CiteqaError as error:  # FeedbackError
        _error(str(error))
        return 1
    if not entries:
        print(f"no thumbs-down feedback in {db}; nothing written")
        return 0
    out: Path = args.out or default_drafts_path()
    lines = "".join(json.dumps(draft_item(e), ensure_ascii=False) + "\n" for e in entries)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("x", encoding="utf-8") as file:
            file.write(lines)
    except FileExistsError:
        _error(f"{out} already exists; give another --out")
        return 1
    except OSError as error:
        _error(f"cannot write {out}: {error.strerror}")
        return 1
    print(f"wrote {len(entries)} draft QA item(s) from thumbs-down feedback to {out}; fill in "
          "reference_answer, key_facts, evidence and section before adding them to a QA file")
    return 0


# --- calibration --------------------------------------------------------------------------
def support_scores(engine: QAEngine, cases: Sequence[Case], k: int) -> tuple[list[float], list[float]]:
    """Support of reference-answer sentences: (by their evidence passage, by another section's).

    For each answerable tune case, every sentence of its reference answer is scored against
    the stored passage holding its first evidence quote (grounded) and against the best
    retrieved passage from another section (ungrounded). The citation check's support
    threshold is read off these: a sentence below it loses its citation. Reference answers
    paraphrase the document as a model would, which extractive answers (quotes) never do.
    """
    evidence = engine.evidence()
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
        for row in evidence.support_matrix(claims, [home] + ([other] if other else [])):
            grounded.append(row[0].score)
            if other is not None:
                ungrounded.append(row[1].score)
    return grounded, ungrounded


def _distribution(scores: Sequence[float]) -> str:
    if not scores:
        return "n=0"
    points = {p: metrics.percentile(scores, p) for p in (0, 10, 25, 50, 75, 90, 100)}
    return f"n={len(scores)} " + " ".join(f"p{p}={v:.3f}" for p, v in points.items() if v is not None)


def section_titles(engine: QAEngine, cases: Sequence[Case]) -> dict[str, str]:
    """Section id ("IV (2)") → its title, read from the passage holding each case's evidence
    (the generated look-alike questions name sections in the document's own words)."""
    titles: dict[str, str] = {}
    for case in cases:
        for quote in case.evidence[:1]:
            for passage in engine.retrieve(quote, 3, "keyword"):
                match = re.match(r"^([IVXL]+(?: \(\d+\))?) (.+)$", passage.section)
                if match and metrics.covers(passage.text, quote):
                    titles.setdefault(match.group(1), match.group(2))
    return titles


def print_calibration(
    engine: QAEngine, cases: Sequence[Case], k: int, *, out: Path | None = None
) -> int:
    """Fit the answerability model on the tune items (eval.calibrate), write it, print its
    cross-validated curve and the support-score distributions; returns 0."""
    from eval.calibrate import calibrate, default_model_path

    tune = [c for c in cases if c.split == "tune"]
    if not tune:
        _error("calibration reads only tune items, and the QA set has none")
        return 1
    target = out or default_model_path()
    print(calibrate(engine, tune, section_titles(engine, tune), target))
    grounded, ungrounded = support_scores(engine, tune, k)
    print()
    print("Citation support (reference-answer sentences, tune): the threshold is "
          f"{engine.policy.support_threshold}")
    print(f"  by their evidence passage     {_distribution(grounded)}")
    print(f"  by another section's passage  {_distribution(ungrounded)}")
    return 0
