"""`citeqa eval --calibrate`: fit the answerability model on `tune` items only, and show its
cross-validated curve.

Training rows are the features (`rag.answerability.AnswerabilityFeatures`) of:
  - every `tune` item of the QA set (answerable → 1, unanswerable → 0);
  - unanswerable questions generated from each answerable tune item by perturbing it the ways
    real look-alike questions go wrong: a year the document never mentions, a ministry it
    never names, a budget it never gives, a head of office it never names. They reuse the
    document's own words, so word overlap alone cannot tell them apart.
Holdout items are never read here. The curve is 5-fold cross-validated with an item and its
perturbations always in the same fold, so a fold never sees a twin of its test question.

Thresholds are fixed on the probability scale, not fitted to tune quantiles: the model is
class-balanced, so p = 0.5 is "as likely answerable as not". Refuse below REFUSE_BELOW, hedge
up to ANSWER_FROM, answer above: a band of ±0.1 around the coin flip. Thresholds read off the
tune curve sit just under tune's own answerable questions, which are worded like the document;
questions in the wild score lower and would be refused (measured: holdout false refusal 0.19
with the quantile rule, see the closing note of issue 8).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from eval.dataset import Case
from rag import QAEngine
from rag.answerability import (
    MODEL_FILE,
    AnswerabilityFeatures,
    AnswerabilityModel,
    fit_logistic,
    model_from_fit,
)

REFUSE_BELOW = 0.4
ANSWER_FROM = 0.6
# Ridge penalty of the logistic fit: the tune set is small (about 140 real items), so weights
# are shrunk; chosen as the middle of 0.3 / 1 / 3, whose CV curves `--calibrate` prints.
L2 = 1.0
FOLDS = 5
# Years the Strategy never mentions, for the changed-year perturbation.
ABSENT_YEARS = ("2012", "2015", "2018", "2025", "2030")
_YEAR = re.compile(r"\b(19|20)\d\d\b")
_TEMPLATES = (
    "Which ministry leads the work on “{topic}”?",
    "How much money is budgeted for “{topic}”?",
    "Who heads the office responsible for “{topic}”?",
    "What percentage target does the document set for “{topic}” by 2015?",
)


@dataclass(frozen=True)
class Row:
    """One training question: its text, label (1 = answerable), group (for CV folds) and kind."""

    question: str
    answerable: int
    group: str
    kind: str  # "answerable", "unanswerable" (written by a person) or "generated"


def perturbations(case: Case, section_titles: dict[str, str]) -> list[Row]:
    """Generated unanswerable look-alikes of an answerable case (see the module docstring)."""
    rows: list[Row] = []
    years = _YEAR.findall(case.question)
    if years:
        absent = ABSENT_YEARS[int(hashlib.sha256(case.id.encode()).hexdigest(), 16) % len(ABSENT_YEARS)]
        changed = re.sub(r"\b(19|20)\d\d\b", absent, case.question, count=1)
        rows.append(Row(changed, 0, case.id, "generated"))
    title = next((section_titles[s] for s in case.section if s in section_titles), None)
    if title and case.language == "en":
        # Two of the four templates per item, chosen by the item's id: varied, reproducible.
        seed = int(hashlib.sha256(case.id.encode()).hexdigest(), 16)
        for offset in (0, 2):
            template = _TEMPLATES[(seed + offset) % len(_TEMPLATES)]
            rows.append(Row(template.format(topic=title), 0, case.id, "generated"))
    return rows


def training_rows(cases: Sequence[Case], section_titles: dict[str, str]) -> list[Row]:
    """Tune items (never holdout) and their perturbations."""
    rows: list[Row] = []
    for case in cases:
        if case.split != "tune" or case.follows:
            continue
        kind = "answerable" if case.answerable else "unanswerable"
        rows.append(Row(case.question, int(case.answerable), case.id, kind))
        if case.answerable:
            rows.extend(perturbations(case, section_titles))
    # Items of one section share its title, so their generated questions can coincide: keep
    # each question once (the first item's group), or duplicates would weigh it several times.
    seen: set[str] = set()
    unique: list[Row] = []
    for row in rows:
        if row.question not in seen:
            seen.add(row.question)
            unique.append(row)
    return unique


def features_of(engine: QAEngine, rows: Sequence[Row]) -> tuple[np.ndarray, list[Row]]:
    """The feature vectors of the rows the decision is made for, and those rows. A question
    naming only a part ("Summarise Part IV") is answered by the part itself, with no
    decision, so it has no features and teaches the model nothing."""
    vectors, kept = [], []
    for row in rows:
        features = engine.answerability(row.question).features
        if features is not None:
            vectors.append(features.vector())
            kept.append(row)
    return np.vstack(vectors), kept


def cross_validated(x: np.ndarray, y: np.ndarray, groups: Sequence[str], l2: float) -> np.ndarray:
    """Out-of-fold p(answerable) of every row, folds by group."""
    names = sorted(set(groups))
    fold_of = {g: int(hashlib.sha256(g.encode()).hexdigest(), 16) % FOLDS for g in names}
    folds = np.array([fold_of[g] for g in groups])
    p = np.zeros(len(y))
    for fold in range(FOLDS):
        train, test = folds != fold, folds == fold
        mean, scale, weights, bias = fit_logistic(x[train], y[train], l2=l2)
        z = (x[test] - mean) / scale
        p[test] = 1.0 / (1.0 + np.exp(-(z @ weights + bias)))
    return p


def curve_table(p: np.ndarray, rows: Sequence[Row]) -> str:
    """Refusal rates per kind of row at a ladder of thresholds (cross-validated p)."""
    kinds = np.array([r.kind for r in rows])
    lines = [
        "| threshold | false refusal (tune answerable) | refusal (tune unanswerable) | refusal (generated) |",
        "|---|---|---|---|",
    ]
    for t in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        cells = []
        for kind in ("answerable", "unanswerable", "generated"):
            mask = kinds == kind
            cells.append(f"{float((p[mask] < t).mean()):.3f}" if mask.any() else "–")
        lines.append(f"| {t:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def calibrate(engine: QAEngine, cases: Sequence[Case], section_titles: dict[str, str], out: Path) -> str:
    """Fit on tune, write the model to `out`, return a Markdown report (curve, weights)."""
    engine = engine.with_policy(replace(engine.policy, answerability=AnswerabilityModel.neutral()))
    x, rows = features_of(engine, training_rows(cases, section_titles))
    y = np.array([r.answerable for r in rows], dtype=np.float64)
    groups = [r.group for r in rows]
    report = [f"Training rows: {sum(r.kind == 'answerable' for r in rows)} answerable tune, "
              f"{sum(r.kind == 'unanswerable' for r in rows)} unanswerable tune, "
              f"{sum(r.kind == 'generated' for r in rows)} generated unanswerable.", ""]
    for l2 in (0.3, 1.0, 3.0):
        p = cross_validated(x, y, groups, l2)
        loss = float(-np.mean(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9)))
        report += [f"### Cross-validated curve, L2 = {l2} (log-loss {loss:.3f})", "", curve_table(p, rows), ""]
    p = cross_validated(x, y, groups, L2)
    kinds = np.array([r.kind for r in rows])
    caveat_threshold, answer_threshold = REFUSE_BELOW, ANSWER_FROM
    report += [
        f"At the chosen thresholds (CV): false refusal {float((p[kinds == 'answerable'] < caveat_threshold).mean()):.3f}, "
        f"hedged answerable {float(((p >= caveat_threshold) & (p < answer_threshold))[kinds == 'answerable'].mean()):.3f}, "
        f"unanswerable refused or hedged {float((p[kinds == 'unanswerable'] < answer_threshold).mean()):.3f}, "
        f"generated refused or hedged {float((p[kinds == 'generated'] < answer_threshold).mean()):.3f}.",
        "",
    ]
    mean, scale, weights, bias = fit_logistic(x, y, l2=L2)
    model = model_from_fit(
        mean.tolist(), scale.tolist(), weights.tolist(), bias,
        answer_threshold=answer_threshold,
        caveat_threshold=caveat_threshold,
        provenance=(
            f"fitted by `citeqa eval --calibrate` on {len(rows)} rows from the tune split only "
            f"(real items plus generated look-alike unanswerables), L2 {L2}; thresholds from "
            f"{FOLDS}-fold cross-validation; refuse below p {REFUSE_BELOW}, hedge below "
            f"{ANSWER_FROM} (a band around the class-balanced coin flip)"
        ),
    )
    out.write_text(model.to_json(), encoding="utf-8")
    report += [
        f"Chosen (L2 = {L2}): refuse below p = {caveat_threshold:.3f}, caveat below "
        f"p = {answer_threshold:.3f}. Written to {out}.",
        "",
        "| feature | weight (standardised) |",
        "|---|---|",
        *[f"| {name} | {w:+.3f} |" for name, w in zip(AnswerabilityFeatures.names(), weights)],
        f"| (bias) | {bias:+.3f} |",
    ]
    return "\n".join(report)


def default_model_path() -> Path:
    """Where rag loads its model from (the file shipped inside the rag package)."""
    import rag

    return Path(rag.__file__).with_name(MODEL_FILE)
