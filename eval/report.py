"""Writes an eval run as results.json, report.md and a self-contained report.html; compares
runs; checks the CI gate's thresholds.

One results.json holds every run of one command (several when retrieval modes are ablated),
so a later run can be compared against it run by run. The HTML embeds its plots as base64
PNGs and links nothing outside itself, so it can be attached to a CI job or mailed. The
compromise: plots are drawn with matplotlib's Agg canvas on a `Figure` (no pyplot, no global
backend switch), which keeps them static.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from eval import metrics
from eval.runner import CaseResult, EvalRun, JSONValue, metric_direction
from rag import CiteqaError

RESULTS_FORMAT = "citeqa-eval/1"
THRESHOLDS_PATH = Path(__file__).resolve().parent / "thresholds.toml"
# Changes smaller than this are float noise, not a better or worse system.
SAME_TOLERANCE = 1e-9
# The summary metrics shown in tables and compared between runs, in this order; the ones
# named *_at_k take the run's k.
HEADLINE_METRICS = (
    "evidence_recall_at_k",
    "hit_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "section_hit_at_k",
    "key_fact_recall",
    "token_f1",
    "semantic_similarity",
    "citation_precision",
    "citation_recall",
    "citation_section_precision",
    "refusal_on_unanswerable",
    "false_refusal",
    "pass_rate",
    "latency_p50_ms",
    "latency_p95_ms",
)
TYPE_PLOT_METRICS = ("evidence_recall", "key_fact_recall", "citation_precision", "token_f1", "refused")


class ReportError(CiteqaError):
    """A thresholds file or an earlier results.json is missing or malformed."""


# --- thresholds ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    """The CI gate: summary metric name → the least (minimums) or most (maximums) allowed."""

    minimums: Mapping[str, float]
    maximums: Mapping[str, float]


def load_thresholds(path: Path | None = None) -> Thresholds:
    """Read a thresholds TOML file (default: the bundled eval/thresholds.toml).

    The file has a [min] and a [max] table of metric = number. ReportError when the file is
    missing, is not TOML, or holds anything but numbers in those two tables.
    """
    path = path or THRESHOLDS_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ReportError(f"cannot read thresholds {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ReportError(f"thresholds {path} is not valid TOML: {error}") from error
    tables: dict[str, dict[str, float]] = {"min": {}, "max": {}}
    for key, value in data.items():
        if key not in tables or not isinstance(value, dict):
            raise ReportError(f"thresholds {path}: unexpected entry {key!r} (use [min] and [max])")
        for name, limit in value.items():
            if isinstance(limit, bool) or not isinstance(limit, int | float):
                raise ReportError(f"thresholds {path}: {key}.{name} must be a number")
            tables[key][name] = float(limit)
    return Thresholds(minimums=tables["min"], maximums=tables["max"])


def check_thresholds(summary: Mapping[str, JSONValue], thresholds: Thresholds) -> list[str]:
    """The gate's failures, one line each; an empty list means the gate passes.

    A metric fails when it is below its minimum or above its maximum, and also when the
    summary lacks it or it is None (a gate must not pass by missing data, e.g. a run made with
    another k than the threshold's `_at_5`).
    """
    failures: list[str] = []
    limits = [(n, v, ">=") for n, v in thresholds.minimums.items()]
    limits += [(n, v, "<=") for n, v in thresholds.maximums.items()]
    for name, limit, op in limits:
        value = summary.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            failures.append(f"{name}: no value in this run (threshold {op} {limit:g})")
        elif (op == ">=" and value < limit) or (op == "<=" and value > limit):
            failures.append(f"{name} = {value:.3f}, needs {op} {limit:g}")
    return failures


# --- results.json -------------------------------------------------------------------------
def results_document(runs: Sequence[EvalRun]) -> dict[str, JSONValue]:
    """The JSON document of one command's runs: {"format": …, "runs": [run.to_dict(), …]}."""
    return {"format": RESULTS_FORMAT, "runs": [run.to_dict() for run in runs]}


def load_results(path: Path) -> list[EvalRun]:
    """The runs of a results.json written by `write_report`; ReportError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ReportError(f"cannot read {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise ReportError(f"{path} is not JSON: {error}") from error
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise ReportError(f"{path} is not a citeqa results.json ({RESULTS_FORMAT})")
    try:
        return [EvalRun.from_dict(run) for run in data["runs"]]
    except (KeyError, TypeError, ValueError) as error:
        raise ReportError(f"{path} holds a malformed run: {error}") from error


# --- comparison ---------------------------------------------------------------------------
Verdict = Literal["better", "worse", "same"]


@dataclass(frozen=True)
class MetricChange:
    """One summary metric in two runs; `verdict` accounts for lower-is-better metrics."""

    name: str
    previous: float | None
    current: float | None
    delta: float | None
    verdict: Verdict | None


@dataclass(frozen=True)
class Flip:
    """An item that passed in one run and failed in the other (`failures` are the current)."""

    id: str
    question: str
    now_passed: bool
    failures: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    """How `current` differs from `previous`: metrics, flipped items, items added/removed."""

    label: str
    changes: tuple[MetricChange, ...]
    flips: tuple[Flip, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def better(self) -> tuple[MetricChange, ...]:
        return tuple(c for c in self.changes if c.verdict == "better")

    @property
    def worse(self) -> tuple[MetricChange, ...]:
        return tuple(c for c in self.changes if c.verdict == "worse")


def _number(value: JSONValue | None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def headline_names(run: EvalRun) -> list[str]:
    """HEADLINE_METRICS with "_at_k" spelled with the run's k (evidence_recall_at_5, …)."""
    return [name.replace("_at_k", f"_at_{run.config.k}") for name in HEADLINE_METRICS]


def compare(current: EvalRun, previous: EvalRun) -> Comparison:
    """The differences between two runs.

    Every headline metric present in either summary is listed with its delta (current −
    previous) and verdict ("same" when |delta| ≤ 1e-9; None when either value is missing).
    Items are matched by id; a flip is an item whose pass/fail differs.
    """
    names = headline_names(current)
    names += [n for n in headline_names(previous) if n not in names]
    changes: list[MetricChange] = []
    for name in names:
        now, before = _number(current.summary.get(name)), _number(previous.summary.get(name))
        if now is None and before is None:
            continue
        delta = now - before if now is not None and before is not None else None
        verdict: Verdict | None = None
        if delta is not None:
            if abs(delta) <= SAME_TOLERANCE:
                verdict = "same"
            else:
                improved = delta > 0 if metric_direction(name) == "higher" else delta < 0
                verdict = "better" if improved else "worse"
        changes.append(MetricChange(name, before, now, delta, verdict))
    earlier = {r.id: r for r in previous.results}
    flips = tuple(
        Flip(r.id, r.question, r.passed, r.failures)
        for r in current.results
        if r.id in earlier and earlier[r.id].passed != r.passed
    )
    ids = {r.id for r in current.results}
    return Comparison(
        label=f"{previous.config.retrieval}, {previous.config.started_at or 'earlier run'}",
        changes=tuple(changes),
        flips=flips,
        added=tuple(r.id for r in current.results if r.id not in earlier),
        removed=tuple(r.id for r in previous.results if r.id not in ids),
    )


def matching_run(current: EvalRun, previous: Sequence[EvalRun]) -> EvalRun | None:
    """The earlier run to compare `current` with: same retrieval mode, else the first one."""
    for run in previous:
        if run.config.retrieval == current.config.retrieval:
            return run
    return previous[0] if previous else None


# --- ordering items -----------------------------------------------------------------------
def item_score(row: CaseResult) -> float:
    """How well one item did, 0..1, for ordering (worst first).

    Mean of its defined evidence recall, key-fact recall and citation precision, and 1 or 0
    for whether it refused exactly when it should; 0 for an item that raised an error.
    """
    if row.error is not None:
        return 0.0
    right_refusal = float(row.refused != row.answerable)
    parts = [row.evidence_recall, row.key_fact_recall, row.citation_precision, right_refusal]
    return metrics.mean(parts) or 0.0


def worst_first(rows: Sequence[CaseResult]) -> list[CaseResult]:
    """Failed items first, then by ascending `item_score`, then by id."""
    return sorted(rows, key=lambda r: (r.passed, item_score(r), r.id))


# --- rendering helpers --------------------------------------------------------------------
def _fmt(value: JSONValue | None, name: str = "") -> str:
    """A metric for a table: counts as integers, milliseconds to 1 ms, the rest to 3 places."""
    number = _number(value)
    if number is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{number:.0f}" if name.endswith("_ms") else f"{number:.3f}"


def _gate_cell(name: str, value: JSONValue | None, thresholds: Thresholds | None) -> str:
    if thresholds is None:
        return ""
    number = _number(value)
    if name in thresholds.minimums:
        limit = thresholds.minimums[name]
        ok = number is not None and number >= limit
        return f"≥ {limit:g} {'✓' if ok else '✗'}"
    if name in thresholds.maximums:
        limit = thresholds.maximums[name]
        ok = number is not None and number <= limit
        return f"≤ {limit:g} {'✓' if ok else '✗'}"
    return ""


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def summary_rows(run: EvalRun, thresholds: Thresholds | None) -> list[tuple[str, str, str]]:
    """(metric, value, gate) rows of a run's headline metrics, plus any gated extra metric."""
    names = headline_names(run)
    if thresholds is not None:
        names += [n for n in (*thresholds.minimums, *thresholds.maximums) if n not in names]
    return [(n, _fmt(run.summary.get(n), n), _gate_cell(n, run.summary.get(n), thresholds)) for n in names]


def summary_table(run: EvalRun, thresholds: Thresholds | None = None) -> str:
    """The headline metrics of a run as a plain-text table (for terminals and test output)."""
    rows = summary_rows(run, thresholds)
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{run.config.retrieval} retrieval, {run.config.mode} answers, k={run.config.k}, "
             f"{run.summary.get('n_cases')} cases ({run.summary.get('n_passed')} passed)"]
    lines += [f"  {name:<{width}}  {value:>8}  {gate}".rstrip() for name, value, gate in rows]
    return "\n".join(lines)


def ablation_rows(runs: Sequence[EvalRun]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) comparing runs side by side: one row per run, headline metrics as columns."""
    names = headline_names(runs[0])
    header = ["retrieval", *[n.replace(f"_at_{runs[0].config.k}", f"@{runs[0].config.k}") for n in names]]
    rows = [[run.config.retrieval, *[_fmt(run.summary.get(n), n) for n in headline_names(run)]] for run in runs]
    return header, rows


def ablation_table(runs: Sequence[EvalRun]) -> str:
    """The ablation as plain text, columns aligned (for terminals)."""
    header, rows = ablation_rows(runs)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in [header, *rows])


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _type_rows(run: EvalRun) -> tuple[list[str], list[list[str]]]:
    by_type = run.summary.get("by_type")
    groups = by_type if isinstance(by_type, dict) else {}
    columns = ["n", "pass_rate", *TYPE_PLOT_METRICS, "semantic_similarity", "citation_recall"]
    rows = []
    for name, values in groups.items():
        values = values if isinstance(values, dict) else {}
        rows.append([name, *[_fmt(values.get(c), c) for c in columns]])
    return ["type", *columns], rows


def _item_rows(run: EvalRun) -> tuple[list[str], list[list[str]]]:
    header = ["id", "type", "pass", "ev. recall", "key facts", "cit. prec.", "refused", "ms", "failures"]
    rows = [
        [
            r.id,
            r.type,
            "pass" if r.passed else "FAIL",
            _fmt(r.evidence_recall),
            _fmt(r.key_fact_recall),
            _fmt(r.citation_precision),
            "yes" if r.refused else "no",
            f"{r.latency_ms:.0f}",
            "; ".join(r.failures),
        ]
        for r in worst_first(run.results)
    ]
    return header, rows


def _comparison_lines(comparison: Comparison) -> list[str]:
    lines = [f"### Compared with {comparison.label}", ""]
    changed = [c for c in comparison.changes if c.verdict in ("better", "worse")]
    if changed:
        lines += _md_table(
            ["metric", "before", "now", "change", ""],
            [
                [c.name, _fmt(c.previous, c.name), _fmt(c.current, c.name),
                 f"{c.delta:+.3f}" if c.delta is not None else "—", c.verdict or ""]
                for c in changed
            ],
        )
    else:
        lines += ["No headline metric changed.", ""]
    if comparison.flips:
        lines += _md_table(
            ["id", "now", "question", "failures"],
            [[f.id, "pass" if f.now_passed else "FAIL", f.question, "; ".join(f.failures)]
             for f in comparison.flips],
        )
    else:
        lines += ["No item flipped between pass and fail.", ""]
    if comparison.added or comparison.removed:
        lines += [f"New items: {', '.join(comparison.added) or '—'}; "
                  f"dropped items: {', '.join(comparison.removed) or '—'}", ""]
    return lines


# --- markdown -----------------------------------------------------------------------------
def render_markdown(
    runs: Sequence[EvalRun],
    comparisons: Sequence[Comparison] = (),
    thresholds: Thresholds | None = None,
) -> str:
    """report.md: config, gate, summary, by type, ablation (several runs), comparisons, items."""
    first = runs[0]
    lines = ["# citeqa evaluation", ""]
    lines += [f"- {run.config.retrieval} retrieval, {run.config.mode} answers ({run.config.answerer}), "
              f"k={run.config.k}, {run.config.n_cases} cases, started {run.config.started_at}"
              for run in runs]
    lines += [f"- QA set: {first.config.qa_path}" if first.config.qa_path else "- QA set: given cases", ""]
    if thresholds is not None:
        failures = check_thresholds(first.summary, thresholds)
        lines += ["## Quality gate", "", "passes" if not failures else "**fails**:", ""]
        lines += [f"- {f}" for f in failures] + ([""] if failures else [])
    for run in runs:
        lines += [f"## Summary: {run.config.retrieval} retrieval", ""]
        lines += _md_table(["metric", "value", "gate"], summary_rows(run, thresholds))
        lines += ["### By question type", ""]
        lines += _md_table(*_type_rows(run))
        judge = run.summary.get("llm_judge")
        if isinstance(judge, dict):
            lines += ["### llm_judge (optional, not gated)", ""]
            lines += _md_table(["metric", "value"], [[k, _fmt(v, k)] for k, v in judge.items()])
    if len(runs) > 1:
        lines += ["## Ablation", ""] + _md_table(*ablation_rows(runs))
    if comparisons:
        lines += ["## Comparison", ""]
        for comparison in comparisons:
            lines += _comparison_lines(comparison)
    for run in runs:
        lines += [f"## Items: {run.config.retrieval} retrieval (failures first)", ""]
        lines += _md_table(*_item_rows(run))
    return "\n".join(lines)


# --- plots --------------------------------------------------------------------------------
def _png(figure: object) -> str:
    from matplotlib.figure import Figure

    assert isinstance(figure, Figure)
    buffer = io.BytesIO()
    # No Software tag: the same run renders the same bytes.
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_by_type(run: EvalRun) -> str:
    """Grouped bar chart of TYPE_PLOT_METRICS per question type, as base64 PNG."""
    from matplotlib.figure import Figure

    by_type = run.summary.get("by_type")
    groups = by_type if isinstance(by_type, dict) else {}
    names = list(groups)
    figure = Figure(figsize=(8, 3.6))
    axes = figure.subplots()
    width = 0.8 / len(TYPE_PLOT_METRICS)
    for i, metric in enumerate(TYPE_PLOT_METRICS):
        heights = []
        for name in names:
            values = groups[name]
            number = _number(values.get(metric)) if isinstance(values, dict) else None
            heights.append(math.nan if number is None else number)
        axes.bar([x + i * width for x in range(len(names))], heights, width, label=metric)
    axes.set_xticks([x + 0.4 - width / 2 for x in range(len(names))], names)
    axes.set_ylim(0, 1.05)
    axes.set_title(f"Metrics by question type ({run.config.retrieval} retrieval)")
    axes.legend(fontsize=7, ncols=len(TYPE_PLOT_METRICS), loc="lower center", bbox_to_anchor=(0.5, -0.3))
    figure.tight_layout()
    return _png(figure)


def plot_recall_curves(runs: Sequence[EvalRun]) -> str:
    """Mean evidence recall@k for k = 1..10, one line per run, as base64 PNG."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.6))
    axes = figure.subplots()
    for run in runs:
        curve = run.summary.get("recall_at_k_curve")
        points = curve if isinstance(curve, dict) else {}
        ks = sorted(int(k) for k in points)
        values = [_number(points[str(k)]) for k in ks]
        axes.plot(ks, [math.nan if v is None else v for v in values], marker="o", label=run.config.retrieval)
    axes.set_xlabel("k (passages retrieved)")
    axes.set_ylabel("evidence recall@k")
    axes.set_ylim(0, 1.05)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return _png(figure)


# --- html ---------------------------------------------------------------------------------
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f3f3f3}tr.fail td:nth-child(3){color:#b00;
font-weight:bold}.ok{color:#070}.bad{color:#b00;font-weight:bold}img{max-width:100%}
details{margin:.2em 0}small{color:#666}
"""


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(
    runs: Sequence[EvalRun],
    comparisons: Sequence[Comparison] = (),
    thresholds: Thresholds | None = None,
) -> str:
    """report.html: what report.md shows plus the plots, in one file with no outside links."""
    first = runs[0]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>citeqa evaluation</title>",
             f"<style>{_CSS}</style></head><body><h1>citeqa evaluation</h1><ul>"]
    parts += [f"<li>{html.escape(run.config.retrieval)} retrieval, {html.escape(run.config.mode)} answers "
              f"({html.escape(run.config.answerer)}), k={run.config.k}, {run.config.n_cases} cases, "
              f"started {html.escape(run.config.started_at)}</li>" for run in runs]
    parts.append("</ul>")
    if thresholds is not None:
        failures = check_thresholds(first.summary, thresholds)
        verdict = "<span class='ok'>passes</span>" if not failures else "<span class='bad'>fails</span>"
        parts.append(f"<h2>Quality gate: {verdict}</h2><ul>")
        parts += [f"<li>{html.escape(f)}</li>" for f in failures]
        parts.append("</ul>")
    parts.append(f"<h2>Recall@k</h2><img alt='evidence recall at k' src='data:image/png;base64,{plot_recall_curves(runs)}'>")
    for run in runs:
        parts.append(f"<h2>Summary: {html.escape(run.config.retrieval)} retrieval</h2>")
        parts.append(_html_table(["metric", "value", "gate"], summary_rows(run, thresholds)))
        parts.append(f"<img alt='metrics by question type' src='data:image/png;base64,{plot_by_type(run)}'>")
        parts.append("<h3>By question type</h3>" + _html_table(*_type_rows(run)))
        judge = run.summary.get("llm_judge")
        if isinstance(judge, dict):
            parts.append("<h3>llm_judge <small>(optional, not gated)</small></h3>")
            parts.append(_html_table(["metric", "value"], [[k, _fmt(v, k)] for k, v in judge.items()]))
    if len(runs) > 1:
        parts.append("<h2>Ablation</h2>" + _html_table(*ablation_rows(runs)))
    for comparison in comparisons:
        parts.append(f"<h2>Compared with {html.escape(comparison.label)}</h2>")
        changed = [c for c in comparison.changes if c.verdict in ("better", "worse")]
        parts.append(_html_table(
            ["metric", "before", "now", "change", ""],
            [[c.name, _fmt(c.previous, c.name), _fmt(c.current, c.name),
              f"{c.delta:+.3f}" if c.delta is not None else "—", c.verdict or ""] for c in changed],
            ["ok" if c.verdict == "better" else "bad" for c in changed],
        ) if changed else "<p>No headline metric changed.</p>")
        parts.append(_html_table(
            ["id", "now", "question", "failures"],
            [[f.id, "pass" if f.now_passed else "FAIL", f.question, "; ".join(f.failures)] for f in comparison.flips],
        ) if comparison.flips else "<p>No item flipped between pass and fail.</p>")
    for run in runs:
        parts.append(f"<h2>Items: {html.escape(run.config.retrieval)} retrieval <small>(failures first)</small></h2>")
        header, rows = _item_rows(run)
        ordered = worst_first(run.results)
        parts.append(_html_table(header, rows, ["" if r.passed else "fail" for r in ordered]))
        for r in ordered:
            parts.append(
                f"<details><summary>{html.escape(r.id)}: {html.escape(r.question)}</summary>"
                f"<p><b>Answer</b> ({html.escape(r.answerer)}): {html.escape(r.answer)}</p>"
                f"<p><b>Reference</b>: {html.escape(r.reference_answer)}</p>"
                f"<p><b>Cited</b>: {html.escape('; '.join(r.cited_sections) or '—')}<br>"
                f"<b>Expected sections</b>: {html.escape(', '.join(r.expected_sections) or '—')}</p>"
                "</details>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


# --- files --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportFiles:
    """Where `write_report` put its three files."""

    results_json: Path
    report_md: Path
    report_html: Path


def write_report(
    runs: Sequence[EvalRun],
    out_dir: Path,
    *,
    comparisons: Sequence[Comparison] = (),
    thresholds: Thresholds | None = None,
) -> ReportFiles:
    """Write results.json, report.md and report.html for `runs` into `out_dir` (created).

    The first run is the one the quality gate reads. ValueError for no runs; OSError when
    the folder cannot be written.
    """
    if not runs:
        raise ValueError("a report needs at least one run")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out_dir / "results.json", out_dir / "report.md", out_dir / "report.html")
    files.results_json.write_text(
        json.dumps(results_document(runs), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    files.report_md.write_text(render_markdown(runs, comparisons, thresholds) + "\n", encoding="utf-8")
    files.report_html.write_text(render_html(runs, comparisons, thresholds) + "\n", encoding="utf-8")
    return files
