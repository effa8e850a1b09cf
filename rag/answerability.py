"""Answerability: one calibrated decision (answer / answer with a caveat / refuse) from a few
measured features, instead of a stack of refusal rules.

The model is a logistic regression, p(answerable) = σ(w · standardised features + b), fitted
by `fit_logistic` on the QA set's `tune` items plus unanswerable questions generated from them
(a changed year, an office the document never names, a figure it never gives; see
`eval.calibrate`). Its coefficients and thresholds are data, stored in `answerability.json`
next to this module with where and how they were fitted; `citeqa eval --calibrate` rewrites
that file and prints the cross-validated curve. Fitting needs only numpy (Newton's method on
a handful of features), so runtime and calibration share one implementation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

Decision = Literal["answer", "caveat", "refuse"]


@dataclass(frozen=True)
class AnswerabilityFeatures:
    """What the decision reads, each in 0..1. Few features, and none that punishes a reader
    for using other words than the document: word-overlap features were measured (on tune)
    to add nothing the cosine does not give, and they are what refused paraphrased questions
    ("spam" for "junk mail", "farmers" for "rural") in the first release.

    best_cosine    the best sentence's cosine with the question: meaning, robust to wording (+)
    missing_anchor 1 when the question is anchored on a name or acronym that no retrieved
                   passage contains ("India", "5G", "WTO")                                 (−)
    missing_number 1 when it is anchored on a year or number no retrieved passage contains
                   ("until 2025", "the 4th Plenum"). Apart from names because a changed
                   year is the commonest look-alike and nearly always decisive, while a
                   missing name is often the reader's word for something the text calls
                   otherwise                                                               (−)
    missing_value  1 when the question asks for a date, a quantity or a named body and no
                   relevant sentence holds one ("How much…", "Which ministry…")           (−)
    agreement      share of keyword top-5 passages also in the dense top-5: both rankers
                   agree when the document really talks about the question                (+)
    structure      how well a list/count question matches a part or list of the document
                   (0 for other shapes)                                                   (+)
    broad          1 for list, count, overview, why/how and multi-part questions, whose best
                   single sentence is naturally weaker than a fact question's             (±)
    The sign after each is the direction the fit is allowed (`SIGNS`): a feature that should
    raise answerability may not get a negative weight from a correlated neighbour.
    """

    best_cosine: float
    missing_anchor: float
    missing_number: float
    missing_value: float
    agreement: float
    structure: float
    broad: float

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


SIGNS = (1, -1, -1, -1, 1, 1, 0)


@dataclass(frozen=True)
class AnswerabilityModel:
    """A fitted logistic model and its two thresholds.

    p ≥ answer_threshold → answer; caveat_threshold ≤ p < answer_threshold → answer with a
    caveat ("the document does not say this directly; the closest it comes is …"); below →
    refuse. `provenance` says what it was fitted on and how, for the reader of the JSON file.
    """

    feature_names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    answer_threshold: float
    caveat_threshold: float
    provenance: str = ""

    def probability(self, features: AnswerabilityFeatures) -> float:
        x = (features.vector() - np.array(self.mean)) / np.array(self.scale)
        return float(1.0 / (1.0 + math.exp(-(float(np.dot(self.weights, x)) + self.bias))))

    def decide(self, features: AnswerabilityFeatures) -> tuple[Decision, float]:
        p = self.probability(features)
        if p >= self.answer_threshold:
            return "answer", p
        if p >= self.caveat_threshold:
            return "caveat", p
        return "refuse", p

    @classmethod
    def neutral(cls) -> AnswerabilityModel:
        """A model that answers everything (p = 0.5 for any features): what calibration runs
        with while it collects the features it will fit."""
        n = len(AnswerabilityFeatures.names())
        return cls(
            tuple(AnswerabilityFeatures.names()), (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0,
            answer_threshold=0.5, caveat_threshold=0.5, provenance="neutral (answers everything)",
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, raw: str) -> AnswerabilityModel:
        data = json.loads(raw)
        for key in ("feature_names", "mean", "scale", "weights"):
            data[key] = tuple(data[key])
        model = cls(**data)
        if list(model.feature_names) != AnswerabilityFeatures.names():
            raise ValueError(
                "answerability.json was fitted on other features "
                f"({', '.join(model.feature_names)}): run `citeqa eval --calibrate`"
            )
        return model


MODEL_FILE = "answerability.json"


def load_model(path: Path | None = None) -> AnswerabilityModel:
    """The fitted model shipped with citeqa (or the one at `path`)."""
    raw = (
        path.read_text(encoding="utf-8")
        if path is not None
        else resources.files("rag").joinpath(MODEL_FILE).read_text(encoding="utf-8")
    )
    return AnswerabilityModel.from_json(raw)


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    *,
    l2: float = 1.0,
    signs: Sequence[int] = SIGNS,
    class_balanced: bool = True,
    iterations: int = 50,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method on standardised features, with
    sign constraints.

    Returns (mean, scale, weights, bias). `class_balanced` weights each class by the inverse
    of its size, so 14 unanswerable questions count as much as 127 answerable ones. `l2` is
    the ridge penalty on the weights (not the bias): the tune set is small, and unpenalised
    weights would chase single items. `signs[i]` = +1 / −1 restricts weight i to that sign
    (0: free); a weight that fits the wrong way is fixed at 0 and the rest refitted (an
    active-set loop), so correlated features cannot flip each other's meaning.
    """
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    active = list(range(x.shape[1]))
    while True:
        weights_active, bias = _newton(z[:, active], y, l2, class_balanced, iterations)
        wrong = [
            i for i, w in zip(active, weights_active) if signs[i] != 0 and w * signs[i] < 0
        ]
        if not wrong:
            break
        worst = max(wrong, key=lambda i: -weights_active[active.index(i)] * signs[i])
        active.remove(worst)
    weights = np.zeros(x.shape[1])
    weights[active] = weights_active
    return mean, scale, weights, bias


def _newton(
    z: np.ndarray, y: np.ndarray, l2: float, class_balanced: bool, iterations: int
) -> tuple[np.ndarray, float]:
    z = np.hstack([z, np.ones((len(z), 1))])
    if class_balanced:
        positives = max(int(y.sum()), 1)
        negatives = max(len(y) - positives, 1)
        sample_weight = np.where(y == 1, len(y) / (2 * positives), len(y) / (2 * negatives))
    else:
        sample_weight = np.ones(len(y))
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        gradient = z.T @ (sample_weight * (p - y)) + penalty * beta
        hessian = (z * (sample_weight * p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(beta)), gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return beta[:-1], float(beta[-1])


def model_from_fit(
    mean: Sequence[float],
    scale: Sequence[float],
    weights: Sequence[float],
    bias: float,
    *,
    answer_threshold: float,
    caveat_threshold: float,
    provenance: str,
) -> AnswerabilityModel:
    return AnswerabilityModel(
        feature_names=tuple(AnswerabilityFeatures.names()),
        mean=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(v), 6) for v in scale),
        weights=tuple(round(float(v), 6) for v in weights),
        bias=round(float(bias), 6),
        answer_threshold=round(answer_threshold, 4),
        caveat_threshold=round(caveat_threshold, 4),
        provenance=provenance,
    )
