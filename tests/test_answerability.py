"""The answerability decision: one logistic model over a few features, fitted on tune only."""

from __future__ import annotations

import numpy as np
import pytest

from eval.calibrate import perturbations, training_rows
from eval.dataset import Case, bundled_qa_path, load_cases
from rag import QAEngine
from rag.answerability import AnswerabilityFeatures, AnswerabilityModel, fit_logistic, load_model


def test_a_wrong_signed_weight_is_fixed_at_zero_not_fitted_backwards() -> None:
    rng = np.random.default_rng(0)
    signal = rng.normal(size=400)
    y = (signal + 0.3 * rng.normal(size=400) > 0).astype(float)
    # the second column copies the signal with noise and would fit a negative weight beside
    # it (a correlated neighbour); its sign says it may only help
    x = np.column_stack([signal, signal + rng.normal(size=400) * 0.01 - 0.5 * (y - 0.5)])
    _, _, weights, _ = fit_logistic(x, y, signs=(1, 1))
    assert weights[0] > 0 and weights[1] >= 0
    _, _, free, _ = fit_logistic(x, y, signs=(0, 0))
    assert free[1] < 0  # the constraint is what stopped it


def test_the_shipped_model_was_fitted_on_tune_with_every_feature() -> None:
    model = load_model()
    assert list(model.feature_names) == AnswerabilityFeatures.names()
    assert "tune split only" in model.provenance
    assert model.caveat_threshold <= model.answer_threshold
    index = AnswerabilityFeatures.names().index
    assert model.weights[index("missing_anchor")] < 0 and model.weights[index("missing_value")] < 0
    assert model.weights[index("missing_number")] < 0


def test_a_model_for_other_features_is_refused_with_the_fix() -> None:
    neutral = AnswerabilityModel.neutral()
    raw = neutral.to_json().replace('"best_cosine"', '"old_feature"')
    with pytest.raises(ValueError, match="citeqa eval --calibrate"):
        AnswerabilityModel.from_json(raw)


def test_training_rows_read_only_tune_items() -> None:
    cases = load_cases(bundled_qa_path())
    rows = training_rows(cases, {})
    tune = {c.question for c in cases if c.split == "tune"}
    assert {r.question for r in rows if r.kind != "generated"} <= tune


CASE = Case(
    id="t1",
    question="What share of GDP did the information industry reach in 2005?",
    reference_answer="7.2 per cent.",
    key_facts=("7.2 per cent",),
    evidence=("In 2005, the information industry’s added value amounted to a proportion of 7.2 per cent of GDP",),
    section=("II (1)",),
    type="factoid",
    answerable=True,
)


@pytest.mark.parametrize(
    "question",
    [
        "What share of GDP did the information industry reach in 2012?",  # a changed year
        "How much money is budgeted for “The situation of progress in informatization development”?",
        "What percentage target does the document set for “E-commerce action plans” by 2015?",
        "Who chairs the State Leading Group for Informatization?",  # a person it never names
        # a changed year on a list the document has: the list's match must not outweigh it
        "What are the strategic objectives for informatization until 2025?",
    ],
)
def test_perturbed_look_alikes_of_an_answerable_question_are_refused(
    engine: QAEngine, question: str
) -> None:
    answer = engine.ask(question)
    assert answer.refused or answer.caveat, answer.answer
    assert not engine.ask(CASE.question).refused


def test_the_generated_look_alikes_include_a_changed_year() -> None:
    generated = perturbations(CASE, {"II (1)": "The situation of progress in informatization development"})
    changed = [r.question for r in generated if "reach in" in r.question]
    assert changed and "2005" not in changed[0] and all(r.answerable == 0 for r in generated)
