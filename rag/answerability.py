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
    """What the decision reads, each in 0..1 unless said otherwise.

    best_score     the best sentence's blended score (see rag.evidence), the old rule's number
    best_cosine    the best sentence's cosine with the question: meaning alone, robust to
                   paraphrase ("spam" for "junk mail")
    best_overlap   the best sentence's IDF-weighted share of the question's words
    coverage       IDF-weighted share of the question's topic words the corpus uses at all
                   (after spelling correction): low for "yuan", "5G", "penalties"
    passage_cover  IDF-weighted share of the question's topic words found in the top passages
    missing_year   1 when the question names a year no retrieved passage holds ("by 2010")
    missing_value  1 when a date or quantity is asked for and no relevant sentence holds one
    agreement      share of keyword top-5 passages also in the dense top-5: both rankers agree
                   when the document really talks about the question
    structure      how well a list/overview question matches a part or list of the document
                   (cosine with its heading or lead-in; 0 for other shapes)
    broad          1 for list, count, overview and multi-part questions, whose best single
                   sentence is naturally weaker than a fact question's
    """

    best_score: float
    best_cosine: float
    best_overlap: float
    coverage: float
    passage_cover: float
    missing_year: float
    missing_value: float
    agreement: float
    structure: float
    broad: float

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


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
    class_balanced: bool = True,
    iterations: int = 50,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method on standardised features.

    Returns (mean, scale, weights, bias). `class_balanced` weights each class by the inverse
    of its size, so 14 unanswerable questions count as much as 127 answerable ones. `l2` is
    the ridge penalty on the weights (not the bias): the tune set is small, and unpenalised
    weights would chase single items.
    """
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
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
    return mean, scale, beta[:-1], float(beta[-1])


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
