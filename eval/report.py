"""Writes an eval run as results.json, report.md and a self-contained report.html; compares
runs; checks the CI gate's thresholds on each split; renders a sensitivity table.

One results.json holds every run of one command (several when retrieval modes are ablated),
so a later run can be compared against it run by run. Every table shows the tune and holdout
splits side by side with the whole set ("all"), and every run is gated on its own, split by
split. The HTML embeds its plots as base64 PNGs and links nothing outside itself, so it can be
attached to a CI job or mailed. The compromise: plots are drawn with matplotlib's Agg canvas on
a `Figure` (no pyplot, no global backend switch), which keeps them static.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from eval import metrics
from eval.runner import (
    SPLITS,
    CaseResult,
    EvalRun,
    JSONValue,
    Sensitivity,
    metric_direction,
    split_summary,
)
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
    "list_items",
    "multi_part_items",
    "token_f1",
    "semantic_similarity",
    "citation_precision",
    "citation_recall",
    "citation_section_precision",
    "refusal_on_unanswerable",
    "false_refusal",
    "caveat_rate_answerable",
    "caveat_rate_unanswerable",
    "pass_rate",
    "latency_p50_ms",
    "latency_p95_ms",
)
# Counts shown above the metrics in the side-by-side table.
COUNT_ROWS = ("n_cases", "n_passed")
# Columns of every side-by-side table: each split, then the whole set.
SCOPES = (*SPLITS, "all")
TYPE_PLOT_METRICS = (
    "pass_rate", "evidence_recall", "key_fact_recall", "citation_precision", "token_f1", "refused",
)
# The holdout figures a sensitivity table shows the change of, for each end of each knob.
SENSITIVITY_METRICS = (
    "false_refusal",
    "refusal_on_unanswerable",
    "key_fact_recall",
    "list_items",
    "multi_part_items",
    "citation_precision",
)
# Item tables cut questions to this length; the item's details further down hold them whole.
QUESTION_PREVIEW_CHARS = 90


class ReportError(CiteqaError):
    """A thresholds file or an earlier results.json is missing or malformed."""


# --- thresholds ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Limits:
    """One split's gate: summary metric name → the least (minimums) or most (maximums) allowed.
    `targets` are an issue's bar not yet reached: shown beside the gate in every report, met
    or not, but they do not fail it (the gate's floors keep what is reached from slipping)."""

    minimums: Mapping[str, float]
    maximums: Mapping[str, float]
    targets: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    """The CI gate: the Limits each split's summary must keep ("tune", "holdout")."""

    by_split: Mapping[str, Limits]


def load_thresholds(path: Path | None = None) -> Thresholds:
    """Read a thresholds TOML file (default: the bundled eval/thresholds.toml).

    The file has a [<split>.min] and a [<split>.max] table of metric = number for each split
    it gates (tune, holdout). ReportError when the file is missing, is not TOML, names another
    table, or holds anything but numbers in those tables.
    """
    path = path or THRESHOLDS_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ReportError(f"cannot read thresholds {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ReportError(f"thresholds {path} is not valid TOML: {error}") from error
    by_split: dict[str, Limits] = {}
    for split, tables in data.items():
        if split not in SPLITS or not isinstance(tables, dict):
            raise ReportError(
                f"thresholds {path}: unexpected entry {split!r} "
                "(use [tune.min], [tune.max], [holdout.min], [holdout.max])"
            )
        limits: dict[str, dict[str, float]] = {"min": {}, "max": {}, "target": {}}
        for kind, table in tables.items():
            if kind not in limits or not isinstance(table, dict):
                raise ReportError(
                    f"thresholds {path}: unexpected entry {split}.{kind} (use min, max and target)"
                )
            for name, limit in table.items():
                if isinstance(limit, bool) or not isinstance(limit, int | float):
                    raise ReportError(f"thresholds {path}: {split}.{kind}.{name} must be a number")
                limits[kind][name] = float(limit)
        by_split[split] = Limits(
            minimums=limits["min"], maximums=limits["max"], targets=limits["target"]
        )
    return Thresholds(by_split=by_split)


@dataclass(frozen=True)
class GateVerdict:
    """The gate on one split of one run: whether the run had items of it, and what failed
    (`failures` one line per metric, `failed_metrics` their names)."""

    split: str
    ran: bool
    failures: tuple[str, ...] = ()
    failed_metrics: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.ran and not self.failures


def limit_failures(summary: Mapping[str, JSONValue], limits: Limits) -> list[str]:
    """The metrics of one summary outside `limits`, one line each ("x = 0.700, needs >= 0.75").

    A metric fails when it is below its minimum or above its maximum, and also when the
    summary lacks it or it is None (a gate must not pass by missing data, e.g. a run made with
    another k than the threshold's `_at_5`, or a split without list items for `list_items`).
    """
    return [message for _, message in _limit_checks(summary, limits)]


def _limit_checks(summary: Mapping[str, JSONValue], limits: Limits) -> list[tuple[str, str]]:
    """(metric, message) of each metric outside its limit (see `limit_failures`)."""
    failures: list[tuple[str, str]] = []
    bounds = [(n, v, ">=") for n, v in limits.minimums.items()]
    bounds += [(n, v, "<=") for n, v in limits.maximums.items()]
    for name, limit, op in bounds:
        value = summary.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            failures.append((name, f"{name}: no value in this run (threshold {op} {limit:g})"))
        elif (op == ">=" and value < limit) or (op == "<=" and value > limit):
            failures.append((name, f"{name} = {value:.3f}, needs {op} {limit:g}"))
    return failures


def gate_verdicts(summary: Mapping[str, JSONValue], thresholds: Thresholds) -> list[GateVerdict]:
    """The gate on each split the thresholds name, in SPLITS order (tune, holdout: the order
    of the tables' columns).

    A split the run has no items of (`--split tune`, a QA file without splits) is not gated:
    its verdict has `ran=False` and says so; it neither passes nor fails.
    """
    verdicts = []
    for split in (s for s in SPLITS if s in thresholds.by_split):
        limits = thresholds.by_split[split]
        scoped = split_summary(summary, split)
        if scoped is None:
            verdicts.append(GateVerdict(split, ran=False))
        else:
            checks = _limit_checks(scoped, limits)
            verdicts.append(GateVerdict(split, True, tuple(m for _, m in checks),
                                        tuple(n for n, _ in checks)))
    return verdicts


def check_thresholds(summary: Mapping[str, JSONValue], thresholds: Thresholds) -> list[str]:
    """The gate's failures, one line each prefixed with the split; [] means the gate passes.

    Every failing metric of every gated split is listed ("holdout: list_items = 0.700, needs
    >= 0.75"), not only the first. A split without items in the run is not gated; a run with
    no item of any gated split fails ("no tune or holdout items in this run").
    """
    verdicts = gate_verdicts(summary, thresholds)
    if thresholds.by_split and not any(v.ran for v in verdicts):
        return [f"no {' or '.join(v.split for v in verdicts)} items in this run"]
    return [f"{v.split}: {failure}" for v in verdicts for failure in v.failures]


def gate_line(summary: Mapping[str, JSONValue], thresholds: Thresholds) -> str:
    """The gate's verdict on every split in one line.

    E.g. "tune passes | holdout fails: list_items = 0.700, needs >= 0.75; key_fact_recall = …".
    """
    parts = []
    for verdict in gate_verdicts(summary, thresholds):
        if not verdict.ran:
            parts.append(f"{verdict.split} not run (no {verdict.split} items)")
        elif verdict.passed:
            parts.append(f"{verdict.split} passes")
        else:
            parts.append(f"{verdict.split} fails: " + "; ".join(verdict.failures))
    if thresholds.by_split and not any(v.ran for v in gate_verdicts(summary, thresholds)):
        return "fails: " + " | ".join(parts)
    return " | ".join(parts)


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
Verdict = Literal["better", "worse", "same", "changed"]


@dataclass(frozen=True)
class MetricChange:
    """One summary metric of one scope ("tune", "holdout", "all") in two runs.

    `verdict` accounts for lower-is-better metrics; "changed" is for metrics where neither
    direction is better (`metric_direction`).
    """

    name: str
    previous: float | None
    current: float | None
    delta: float | None
    verdict: Verdict | None
    scope: str = "all"


@dataclass(frozen=True)
class Flip:
    """An item that passed in one run and failed in the other (`failures` are the current)."""

    id: str
    question: str
    now_passed: bool
    failures: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    """How `current` differs from `previous`: metrics, flipped items, items added/removed.

    `previous_summary` is the earlier run's summary, so a report can gate it too;
    `retrieval` is the current run's retrieval mode (which run of a report it describes).
    """

    label: str
    changes: tuple[MetricChange, ...]
    flips: tuple[Flip, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    previous_summary: Mapping[str, JSONValue] = field(default_factory=dict)
    retrieval: str = ""

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


def scopes_of(run: EvalRun) -> list[str]:
    """The scopes a run has figures for: its splits with items, in SCOPES order, then "all"."""
    return [s for s in SCOPES if split_summary(run.summary, s) is not None]


def _change(name: str, scope: str, now: float | None, before: float | None) -> MetricChange:
    delta = now - before if now is not None and before is not None else None
    verdict: Verdict | None = None
    if delta is not None:
        direction = metric_direction(name)
        if abs(delta) <= SAME_TOLERANCE:
            verdict = "same"
        elif direction == "neither":
            verdict = "changed"
        else:
            improved = delta > 0 if direction == "higher" else delta < 0
            verdict = "better" if improved else "worse"
    return MetricChange(name, before, now, delta, verdict, scope)


def compare(current: EvalRun, previous: EvalRun) -> Comparison:
    """The differences between two runs.

    Every headline metric present in either summary is listed per scope both runs have (each
    split, then "all"; an earlier run without splits compares on "all" only) with its delta
    (current − previous) and verdict ("same" when |delta| ≤ 1e-9; None when either value is
    missing). Items are matched by id; a flip is an item whose pass/fail differs.
    """
    names = headline_names(current)
    names += [n for n in headline_names(previous) if n not in names]
    changes: list[MetricChange] = []
    for scope in SCOPES:
        now_summary = split_summary(current.summary, scope)
        before_summary = split_summary(previous.summary, scope)
        if now_summary is None or before_summary is None:
            continue
        for name in names:
            now, before = _number(now_summary.get(name)), _number(before_summary.get(name))
            if now is not None or before is not None:
                changes.append(_change(name, scope, now, before))
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
        previous_summary=previous.summary,
        retrieval=current.config.retrieval,
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
    for whether it said the document does not say it (a refusal or a caveat) exactly when it
    should; 0 for an item that raised an error.
    """
    if row.error is not None:
        return 0.0
    warned = metrics.says_not_stated(row.refused, row.caveat)
    right_refusal = float(warned != row.answerable)
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


def _cut(text: str, limit: int = QUESTION_PREVIEW_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _gate_cell(name: str, value: JSONValue | None, limits: Limits | None) -> str:
    if limits is None:
        return ""
    number = _number(value)
    if name in limits.minimums:
        limit = limits.minimums[name]
        ok = number is not None and number >= limit
        return f"≥ {limit:g} {'✓' if ok else '✗'}"
    if name in limits.maximums:
        limit = limits.maximums[name]
        ok = number is not None and number <= limit
        return f"≤ {limit:g} {'✓' if ok else '✗'}"
    return ""


def _target_cell(name: str, value: JSONValue | None, limits: Limits | None) -> str:
    if limits is None or name not in limits.targets:
        return ""
    number, target = _number(value), limits.targets[name]
    if metric_direction(name) == "lower":
        return f"≤ {target:g} {'✓' if number is not None and number <= target else '✗'}"
    return f"≥ {target:g} {'✓' if number is not None and number >= target else '✗'}"


def missed_targets(summary: Mapping[str, JSONValue], thresholds: Thresholds) -> list[str]:
    """"split: metric = value, target >= t" for every target a split has not reached."""
    missed = []
    for split, limits in thresholds.by_split.items():
        values = split_summary(summary, split) or {}
        for name, target in limits.targets.items():
            number = _number(values.get(name))
            lower = metric_direction(name) == "lower"
            if number is None or (number > target if lower else number < target):
                shown = "n/a" if number is None else f"{number:.3f}"
                missed.append(f"{split}: {name} = {shown}, target {'<=' if lower else '>='} {target:g}")
    return missed


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _gated_splits(run: EvalRun, thresholds: Thresholds | None) -> list[str]:
    if thresholds is None:
        return []
    return [s for s in SPLITS if s in thresholds.by_split and split_summary(run.summary, s) is not None]


def summary_rows(
    run: EvalRun, thresholds: Thresholds | None = None
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a run's figures side by side: a column per split and "all", then a
    gate column per gated split (its limit and ✓/✗). Rows: counts, headline metrics, and any
    gated metric that is not a headline one."""
    scopes = scopes_of(run)
    gated = _gated_splits(run, thresholds)
    names = [*COUNT_ROWS, *headline_names(run)]
    if thresholds is not None:
        for limits in thresholds.by_split.values():
            names += [n for n in (*limits.minimums, *limits.maximums) if n not in names]
    targeted = [s for s in gated if thresholds is not None and thresholds.by_split[s].targets]
    if thresholds is not None:
        for split in targeted:
            names += [n for n in thresholds.by_split[split].targets if n not in names]
    header = [
        "metric", *scopes, *[f"gate {s}" for s in gated], *[f"gate target {s}" for s in targeted]
    ]
    rows = []
    for name in names:
        values = [split_summary(run.summary, s) or {} for s in scopes]
        cells = [_fmt(v.get(name), name) for v in values]
        gates = [
            _gate_cell(
                name,
                (split_summary(run.summary, s) or {}).get(name),
                thresholds.by_split[s] if thresholds is not None else None,
            )
            for s in gated
        ]
        targets = [
            _target_cell(
                name,
                (split_summary(run.summary, s) or {}).get(name),
                thresholds.by_split[s] if thresholds is not None else None,
            )
            for s in targeted
        ]
        rows.append([name, *cells, *gates, *targets])
    return header, rows


def _text_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "", labels: int = 1
) -> str:
    """Columns aligned: the first `labels` columns and the gate columns left, figures right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    left = [i < labels or header[i].startswith("gate") for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [c.ljust(w) if left[i] else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append((indent + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def run_title(run: EvalRun) -> str:
    """One line naming how a run was made: "hybrid retrieval, extractive answers, k=5"."""
    return f"{run.config.retrieval} retrieval, {run.config.mode} answers, k={run.config.k}"


def summary_table(run: EvalRun, thresholds: Thresholds | None = None) -> str:
    """A run's figures as plain text (for terminals and test output): the side-by-side table
    of `summary_rows`, then the gate's verdict per split when thresholds are given."""
    lines = [f"{run_title(run)}: {run.summary.get('n_cases')} cases "
             f"({run.summary.get('n_passed')} passed)"]
    lines.append(_text_table(*summary_rows(run, thresholds), indent="  "))
    if thresholds is not None:
        lines.append(f"  gate: {gate_line(run.summary, thresholds)}")
        missed = missed_targets(run.summary, thresholds)
        if missed:
            lines.append("  targets not yet reached (reported, not gated): " + "; ".join(missed))
    return "\n".join(lines)


def ablation_rows(
    runs: Sequence[EvalRun], thresholds: Thresholds | None = None
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) comparing runs side by side: a row per run and scope (each split, then
    "all"), headline metrics as columns, and the run's gate verdict on that split."""
    k = runs[0].config.k
    names = headline_names(runs[0])
    header = ["retrieval", "split", *[n.replace(f"_at_{k}", f"@{k}") for n in names]]
    if thresholds is not None:
        header.append("gate")
    rows = []
    for run in runs:
        verdicts = (
            {v.split: v for v in gate_verdicts(run.summary, thresholds)} if thresholds else {}
        )
        for scope in scopes_of(run):
            values = split_summary(run.summary, scope) or {}
            row = [run.config.retrieval, scope, *[_fmt(values.get(n), n) for n in headline_names(run)]]
            if thresholds is not None:
                verdict = verdicts.get(scope)
                row.append("" if verdict is None else "passes" if verdict.passed else "FAILS")
            rows.append(row)
    return header, rows


def ablation_table(runs: Sequence[EvalRun], thresholds: Thresholds | None = None) -> str:
    """The ablation as plain text, columns aligned (for terminals)."""
    return _text_table(*ablation_rows(runs, thresholds), labels=2)


def ablation_heading(runs: Sequence[EvalRun]) -> str:
    """ "Ablation: hybrid vs dense vs keyword"."""
    return "Ablation: " + " vs ".join(run.config.retrieval for run in runs)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _group_rows(run: EvalRun, key: str, label: str) -> tuple[list[str], list[list[str]]]:
    groups = run.summary.get(key)
    groups = groups if isinstance(groups, dict) else {}
    columns = ["n", *TYPE_PLOT_METRICS, "caveat", "semantic_similarity", "citation_recall"]
    rows = []
    for name, values in groups.items():
        values = values if isinstance(values, dict) else {}
        rows.append([name, *[_fmt(values.get(c), c) for c in columns]])
    return [label, *columns], rows


def item_anchor(run: EvalRun, row: CaseResult) -> str:
    """The id of an item's details in a report: "item-<retrieval>-<id>" (unique per report,
    since a report holds each retrieval mode once)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"item-{run.config.retrieval}-{row.id}")


def outcome(row: CaseResult) -> str:
    """What the answer did: "error", "refused", "caveat" or "answered"."""
    if row.error is not None:
        return "error"
    return "refused" if row.refused else "caveat" if row.caveat else "answered"


ITEM_HEADER = ["id", "split", "type", "pass", "question", "ev. recall", "key facts",
               "cit. prec.", "outcome", "ms", "failures"]


def _item_cells(row: CaseResult) -> list[str]:
    """An item's table cells after the id, as plain text."""
    return [
        row.split,
        row.type,
        "pass" if row.passed else "FAIL",
        _cut(row.question),
        _fmt(row.evidence_recall),
        _fmt(row.key_fact_recall),
        _fmt(row.citation_precision),
        outcome(row),
        f"{row.latency_ms:.0f}",
        "; ".join(row.failures),
    ]


def _gate_lines_md(runs: Sequence[EvalRun], thresholds: Thresholds) -> list[str]:
    """The gate section: every run gated on its own, split by split."""
    lines = ["## Quality gate", ""]
    if len(runs) > 1:
        lines += [f"Each run is gated on its own. `citeqa eval --gate` and CI read the first "
                  f"({runs[0].config.retrieval}).", ""]
    for run in runs:
        for verdict in gate_verdicts(run.summary, thresholds):
            state = ("not run (no items of this split)" if not verdict.ran
                     else "passes" if verdict.passed else "**fails**: " + "; ".join(verdict.failures))
            lines.append(f"- {run.config.retrieval}, {verdict.split}: {state}")
        if not any(v.ran for v in gate_verdicts(run.summary, thresholds)):
            lines.append(f"- {run.config.retrieval}: **fails**: no gated split has items")
    return lines + [""]


def _comparison_rows(comparison: Comparison) -> list[list[str]]:
    changed = [c for c in comparison.changes if c.verdict in ("better", "worse", "changed")]
    return [
        [c.scope, c.name, _fmt(c.previous, c.name), _fmt(c.current, c.name),
         f"{c.delta:+.3f}" if c.delta is not None else "—", c.verdict or ""]
        for c in changed
    ]


COMPARISON_HEADER = ["split", "metric", "before", "now", "change", ""]


def _comparison_gate(comparison: Comparison, current: EvalRun, thresholds: Thresholds) -> str:
    before = comparison.previous_summary
    then = gate_line(before, thresholds) if split_summary(before, "tune") or split_summary(
        before, "holdout") else "not recorded per split"
    return f"Gate before: {then}. Now: {gate_line(current.summary, thresholds)}."


def _comparison_lines(
    comparison: Comparison, current: EvalRun, thresholds: Thresholds | None
) -> list[str]:
    lines = [f"## Compared with {comparison.label} ({current.config.retrieval} now)", ""]
    if thresholds is not None:
        lines += [_comparison_gate(comparison, current, thresholds), ""]
    rows = _comparison_rows(comparison)
    lines += _md_table(COMPARISON_HEADER, rows) if rows else ["No headline metric changed.", ""]
    if comparison.flips:
        lines += _md_table(
            ["id", "now", "question", "failures"],
            [[f.id, "pass" if f.now_passed else "FAIL", _cut(f.question), "; ".join(f.failures)]
             for f in comparison.flips],
        )
    else:
        lines += ["No item flipped between pass and fail.", ""]
    if comparison.added or comparison.removed:
        lines += [f"New items: {', '.join(comparison.added) or '—'}; "
                  f"dropped items: {', '.join(comparison.removed) or '—'}", ""]
    return lines


def _pairs(
    runs: Sequence[EvalRun], comparisons: Sequence[Comparison]
) -> list[tuple[Comparison, EvalRun]]:
    """Each comparison with the run of this report it describes (by retrieval mode)."""
    by_mode: dict[str, EvalRun] = {run.config.retrieval: run for run in runs}
    return [(c, by_mode.get(c.retrieval, runs[0])) for c in comparisons]


# --- markdown -----------------------------------------------------------------------------
def render_markdown(
    runs: Sequence[EvalRun],
    comparisons: Sequence[Comparison] = (),
    thresholds: Thresholds | None = None,
) -> str:
    """report.md: config, gate per run and split, side-by-side summaries, by type and style,
    ablation (several runs), comparisons, then each run's items (failures first, each linked
    to its details further down)."""
    first = runs[0]
    lines = ["# citeqa evaluation", ""]
    lines += [f"- {run_title(run)} ({run.config.answerer}), {run.config.n_cases} cases, "
              f"started {run.config.started_at}" for run in runs]
    lines += [f"- QA set: {first.config.qa_path}" if first.config.qa_path else "- QA set: given cases", ""]
    if thresholds is not None:
        lines += _gate_lines_md(runs, thresholds)
    for run in runs:
        mode = run.config.retrieval
        lines += [f"## Summary: {mode} retrieval", ""]
        lines += _md_table(*summary_rows(run, thresholds))
        lines += [f"### By question type ({mode}, all items)", ""]
        lines += _md_table(*_group_rows(run, "by_type", "type"))
        lines += [f"### By question style ({mode}, all items; an item counts under each tag)", ""]
        lines += _md_table(*_group_rows(run, "by_style", "style"))
        judge = run.summary.get("llm_judge")
        if isinstance(judge, dict):
            lines += [f"### llm_judge ({mode}; optional, not gated)", ""]
            lines += _md_table(["metric", "value"], [[k, _fmt(v, k)] for k, v in judge.items()])
    if len(runs) > 1:
        lines += [f"## {ablation_heading(runs)}", ""] + _md_table(*ablation_rows(runs, thresholds))
    for comparison, run in _pairs(runs, comparisons):
        lines += _comparison_lines(comparison, run, thresholds)
    for run in runs:
        mode = run.config.retrieval
        ordered = worst_first(run.results)
        lines += [f"## Items: {mode} retrieval (failures first)", ""]
        lines += _md_table(
            ITEM_HEADER,
            [[f"[{r.id}](#{item_anchor(run, r)})", *_item_cells(r)] for r in ordered],
        )
        lines += [f"## Item details: {mode} retrieval", ""]
        for r in ordered:
            lines += _item_details_md(run, r)
    return "\n".join(lines)


def _item_details_md(run: EvalRun, row: CaseResult) -> list[str]:
    lines = [f'<a id="{item_anchor(run, row)}"></a>',
             f"#### {row.id} ({run.config.retrieval}): {'pass' if row.passed else 'FAIL'}", "",
             f"- Question ({row.split}, {row.type}): {_md_cell(row.question)}"]
    if row.follows:
        lines.append(f"- Follows {row.follows}; searched as: {_md_cell(row.asked_as)}")
    lines += [
        f"- Answer ({row.answerer or '—'}, {outcome(row)}): {_md_cell(row.answer) or '—'}",
        f"- Reference: {_md_cell(row.reference_answer)}",
        f"- Cited: {_md_cell('; '.join(row.cited_sections)) or '—'}; expected sections: "
        f"{', '.join(row.expected_sections) or '—'}",
    ]
    if row.failures:
        lines.append(f"- Failures: {_md_cell('; '.join(row.failures))}")
    return lines + [""]


# --- plots --------------------------------------------------------------------------------
def _png(figure: object) -> str:
    from matplotlib.figure import Figure

    assert isinstance(figure, Figure)
    buffer = io.BytesIO()
    # No Software tag: the same run renders the same bytes.
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_by_type(run: EvalRun) -> str:
    """Grouped bar chart of TYPE_PLOT_METRICS (pass rate first) per question type, as PNG."""
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
    axes.set_title(f"Metrics by question type ({run.config.retrieval} retrieval, all items)")
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
text-align:left;vertical-align:top}th{background:#f3f3f3}tr.fail td:nth-child(4){color:#b00;
font-weight:bold}.ok{color:#070}.bad{color:#b00;font-weight:bold}img{max-width:100%}
details{margin:.2em 0}details:target{background:#fff6cc}small{color:#666}
"""


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] = ()) -> str:
    """A table of plain-text cells (escaped here)."""
    return _html_rows(header, [[html.escape(c) for c in row] for row in rows], classes)


def _html_rows(header: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] = ()) -> str:
    """A table of cells that are already HTML."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _gate_html(runs: Sequence[EvalRun], thresholds: Thresholds) -> list[str]:
    """The gate section: every run gated on its own; the heading says "passes" only when every
    run passes on every split it ran."""
    verdicts = [(run, v) for run in runs for v in gate_verdicts(run.summary, thresholds)]
    empty = [run for run in runs if not any(v.ran for v in gate_verdicts(run.summary, thresholds))]
    passes = not empty and all(v.passed or not v.ran for _, v in verdicts)
    if len(runs) == 1:
        heading = "passes" if passes else "fails"
    else:
        heading = "every run passes" if passes else "fails on at least one run"
    parts = [f"<h2>Quality gate: <span class='{'ok' if passes else 'bad'}'>{heading}</span></h2>"]
    if len(runs) > 1:
        parts.append(f"<p>Each run is gated on its own. <code>citeqa eval --gate</code> and CI "
                     f"read the first ({html.escape(runs[0].config.retrieval)}).</p>")
    parts.append("<ul>")
    for run, verdict in verdicts:
        if not verdict.ran:
            state = "not run (no items of this split)"
        elif verdict.passed:
            state = "<span class='ok'>passes</span>"
        else:
            state = "<span class='bad'>fails</span>: " + html.escape("; ".join(verdict.failures))
        parts.append(f"<li>{html.escape(run.config.retrieval)}, {html.escape(verdict.split)}: {state}</li>")
    parts += [f"<li>{html.escape(run.config.retrieval)}: <span class='bad'>fails</span>: no gated "
              "split has items</li>" for run in empty]
    parts.append("</ul>")
    return parts


def render_html(
    runs: Sequence[EvalRun],
    comparisons: Sequence[Comparison] = (),
    thresholds: Thresholds | None = None,
) -> str:
    """report.html: what report.md shows plus the plots, in one file with no outside links."""
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>citeqa evaluation</title>",
             f"<style>{_CSS}</style></head><body><h1>citeqa evaluation</h1><ul>"]
    parts += [f"<li>{html.escape(run_title(run))} ({html.escape(run.config.answerer)}), "
              f"{run.config.n_cases} cases, started {html.escape(run.config.started_at)}</li>"
              for run in runs]
    parts.append("</ul>")
    if thresholds is not None:
        parts += _gate_html(runs, thresholds)
    parts.append("<h2>Recall@k</h2><img alt='evidence recall at k' "
                 f"src='data:image/png;base64,{plot_recall_curves(runs)}'>")
    for run in runs:
        mode = html.escape(run.config.retrieval)
        parts.append(f"<h2>Summary: {mode} retrieval</h2>")
        parts.append(_html_table(*summary_rows(run, thresholds)))
        parts.append(f"<img alt='metrics by question type' src='data:image/png;base64,{plot_by_type(run)}'>")
        parts.append(f"<h3>By question type <small>({mode}, all items)</small></h3>")
        parts.append(_html_table(*_group_rows(run, "by_type", "type")))
        parts.append(f"<h3>By question style <small>({mode}, all items; an item counts under "
                     "each tag)</small></h3>")
        parts.append(_html_table(*_group_rows(run, "by_style", "style")))
        judge = run.summary.get("llm_judge")
        if isinstance(judge, dict):
            parts.append(f"<h3>llm_judge <small>({mode}; optional, not gated)</small></h3>")
            parts.append(_html_table(["metric", "value"], [[k, _fmt(v, k)] for k, v in judge.items()]))
    if len(runs) > 1:
        parts.append(f"<h2>{html.escape(ablation_heading(runs))}</h2>")
        parts.append(_html_table(*ablation_rows(runs, thresholds)))
    for comparison, run in _pairs(runs, comparisons):
        parts.append(f"<h2>Compared with {html.escape(comparison.label)} "
                     f"<small>({html.escape(run.config.retrieval)} now)</small></h2>")
        if thresholds is not None:
            parts.append(f"<p>{html.escape(_comparison_gate(comparison, run, thresholds))}</p>")
        rows = _comparison_rows(comparison)
        parts.append(_html_table(
            COMPARISON_HEADER, rows, ["ok" if r[-1] == "better" else "bad" if r[-1] == "worse" else "" for r in rows]
        ) if rows else "<p>No headline metric changed.</p>")
        parts.append(_html_table(
            ["id", "now", "question", "failures"],
            [[f.id, "pass" if f.now_passed else "FAIL", _cut(f.question), "; ".join(f.failures)]
             for f in comparison.flips],
        ) if comparison.flips else "<p>No item flipped between pass and fail.</p>")
    for run in runs:
        parts += _items_html(run)
    parts.append("</body></html>")
    return "\n".join(parts)


def _items_html(run: EvalRun) -> list[str]:
    """The failures-first item table, each id linking to the item's details below it."""
    mode = html.escape(run.config.retrieval)
    ordered = worst_first(run.results)
    rows = [
        [f"<a href='#{item_anchor(run, r)}'>{html.escape(r.id)}</a>",
         *[html.escape(c) for c in _item_cells(r)]]
        for r in ordered
    ]
    parts = [f"<h2>Items: {mode} retrieval <small>(failures first)</small></h2>",
             _html_rows(ITEM_HEADER, rows, ["" if r.passed else "fail" for r in ordered]),
             f"<h2>Item details: {mode} retrieval</h2>"]
    for r in ordered:
        asked = (f"<p><b>Follows</b> {html.escape(r.follows)}; searched as: "
                 f"{html.escape(r.asked_as)}</p>") if r.follows else ""
        failures = (f"<p><b>Failures</b>: {html.escape('; '.join(r.failures))}</p>"
                    if r.failures else "")
        parts.append(
            f"<details id='{item_anchor(run, r)}'{'' if r.passed else ' open'}>"
            f"<summary>{html.escape(r.id)} ({html.escape(r.split)}, {html.escape(r.type)}, "
            f"{'pass' if r.passed else 'FAIL'}): {html.escape(r.question)}</summary>{asked}"
            f"<p><b>Answer</b> ({html.escape(r.answerer or '—')}, {outcome(r)}): "
            f"{html.escape(r.answer or '—')}</p>"
            f"<p><b>Reference</b>: {html.escape(r.reference_answer)}</p>"
            f"<p><b>Cited</b>: {html.escape('; '.join(r.cited_sections) or '—')}<br>"
            f"<b>Expected sections</b>: {html.escape(', '.join(r.expected_sections) or '—')}</p>"
            f"{failures}</details>"
        )
    return parts


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


# --- sensitivity --------------------------------------------------------------------------
def sensitivity_scope(sensitivity: Sensitivity) -> str:
    """The scope sensitivity deltas are read on: "holdout" when the run has held-out items,
    else "all" (the tune items are what the knobs were chosen on)."""
    return "holdout" if split_summary(sensitivity.base.summary, "holdout") is not None else "all"


def _delta(moved: Mapping[str, JSONValue], base: Mapping[str, JSONValue], name: str) -> str:
    now, before = _number(moved.get(name)), _number(base.get(name))
    return "—" if now is None or before is None else f"{now - before:+.3f}"


def _failing(summary: Mapping[str, JSONValue], thresholds: Thresholds) -> set[str]:
    """The gate's failing limits as "split:metric" (and "no items" for a run of no split)."""
    verdicts = gate_verdicts(summary, thresholds)
    failing = {f"{v.split}:{name}" for v in verdicts for name in v.failed_metrics}
    return failing if any(v.ran for v in verdicts) else {"no items"}


def _gate_state(
    summary: Mapping[str, JSONValue], base: Mapping[str, JSONValue], thresholds: Thresholds
) -> str:
    """The gate at one end of a knob, against the base run: "passes", "fails (as base)", or
    "fails" with the limits that newly fail (+) and no longer fail (−)."""
    now, before = _failing(summary, thresholds), _failing(base, thresholds)
    if not now:
        return "passes"
    if now == before:
        return "fails (as base)"
    changes = [f"+{f}" for f in sorted(now - before)] + [f"−{f}" for f in sorted(before - now)]
    return f"fails ({', '.join(changes)})"


def sensitivity_rows(
    sensitivity: Sensitivity, thresholds: Thresholds
) -> tuple[list[str], list[list[str]]]:
    """(header, rows): per knob its base, low and high values, the change of each
    SENSITIVITY_METRICS on `sensitivity_scope` at the low and high end (moved − base, as
    "low / high"), and the whole gate's verdict at each end (see `_gate_state`)."""
    scope = sensitivity_scope(sensitivity)
    base = split_summary(sensitivity.base.summary, scope) or {}
    header = ["knob", "base", "low", "high", *[f"Δ {n}" for n in SENSITIVITY_METRICS],
              "gate low", "gate high"]
    rows = []
    for knob in sensitivity.knobs:
        low = split_summary(knob.low, scope) or {}
        high = split_summary(knob.high, scope) or {}
        rows.append([
            knob.knob, f"{knob.base_value:g}", f"{knob.low_value:g}", f"{knob.high_value:g}",
            *[f"{_delta(low, base, n)} / {_delta(high, base, n)}" for n in SENSITIVITY_METRICS],
            _gate_state(knob.low, sensitivity.base.summary, thresholds),
            _gate_state(knob.high, sensitivity.base.summary, thresholds),
        ])
    return header, rows


def sensitivity_table(sensitivity: Sensitivity, thresholds: Thresholds) -> str:
    """The sensitivity table as plain text, with the base run's figures and gate above it."""
    scope = sensitivity_scope(sensitivity)
    base = split_summary(sensitivity.base.summary, scope) or {}
    figures = ", ".join(f"{n} {_fmt(base.get(n), n)}" for n in SENSITIVITY_METRICS)
    return "\n".join([
        f"sensitivity ({run_title(sensitivity.base)}), {scope} at the base policy: {figures}",
        f"base gate: {gate_line(sensitivity.base.summary, thresholds)}",
        f"Δ = moved − base on {scope}, as low end / high end; the gate columns name the limits "
        "that newly fail (+) or no longer fail (−)",
        _text_table(*sensitivity_rows(sensitivity, thresholds)),
    ])


def render_sensitivity_markdown(sensitivity: Sensitivity, thresholds: Thresholds) -> str:
    """sensitivity.md: how the method works, the base figures and gate, the table."""
    scope = sensitivity_scope(sensitivity)
    base = split_summary(sensitivity.base.summary, scope) or {}
    lines = [
        "# citeqa sensitivity", "",
        f"- {run_title(sensitivity.base)} ({sensitivity.base.config.answerer}), "
        f"{sensitivity.base.config.n_cases} cases, started {sensitivity.base.config.started_at}",
        "- Each AnswerPolicy knob is moved on its own, a float to ×0.9 and ×1.1, an integer by "
        "−1 and +1 (never below 1), and the QA set is run again with one shared engine.",
        f"- Δ columns are changes on the {scope} items (moved − base), as low end / high end; "
        "the gate columns judge the whole gate (every split) at that end, naming the limits "
        "that newly fail (+) or no longer fail (−) against the base run.", "",
        f"Base policy, {scope}: " + ", ".join(f"{n} {_fmt(base.get(n), n)}" for n in SENSITIVITY_METRICS),
        "", f"Base gate: {gate_line(sensitivity.base.summary, thresholds)}", "",
    ]
    lines += _md_table(*sensitivity_rows(sensitivity, thresholds))
    return "\n".join(lines)


def write_sensitivity(sensitivity: Sensitivity, out_dir: Path, thresholds: Thresholds) -> Path:
    """Write sensitivity.md and sensitivity.json (every run's summary) into `out_dir`; returns
    the .md path. OSError when the folder cannot be written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sensitivity.json").write_text(
        json.dumps(sensitivity.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    path = out_dir / "sensitivity.md"
    path.write_text(render_sensitivity_markdown(sensitivity, thresholds) + "\n", encoding="utf-8")
    return path
