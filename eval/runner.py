"""Runs QA cases through rag's public API and scores each one: CaseResult rows and a summary.

`evaluate()` asks every case with `QAEngine.ask` (a follow-up with the conversation it
continues), judges every passage of the index (`QAEngine.passages`, listed once per run)
against the case's evidence quotes, and applies `eval.metrics`; `summarize` reports the whole
run and each split (tune, holdout); `run_sensitivity` repeats a run with each AnswerPolicy
knob moved ±10%. The optional LLM judge (`judge=True`) is extra and clearly marked
`llm_judge`: no metric, threshold or pass/fail verdict depends on it. The compromise: an
item's pass/fail uses fixed rules (`ITEM_RULES`), coarser than the metrics.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias, get_args

from eval import metrics
from eval.dataset import Case, Split
from rag import (
    Answer,
    AnswerMode,
    AnswerPolicy,
    CiteqaError,
    Passage,
    QAEngine,
    RetrievalMode,
    Turn,
)

JSONValue: TypeAlias = "str | int | float | bool | None | list[JSONValue] | dict[str, JSONValue]"
Summary: TypeAlias = "dict[str, JSONValue]"

# The recall@k curve runs k = 1..CURVE_DEPTH on one ranking of this depth.
CURVE_DEPTH = 10
# An answer stating fewer than half its key facts fails the item (the recall is reported too).
MIN_ITEM_KEY_FACT_RECALL = 0.5
# Failure reasons quote at most this much of a missed quote or fact.
QUOTE_PREVIEW_CHARS = 70
ITEM_RULES = (
    "answerable: not refused (a caveat still answers); a relevant passage in the top k; every "
    "evidence quote in the top k; every cited passage relevant; key-fact recall >= "
    f"{MIN_ITEM_KEY_FACT_RECALL}. unanswerable: refused, or answered with the caveat that the "
    "document does not say it directly."
)
# The QA set's splits, in the order reports show them.
SPLITS: tuple[Split, ...] = get_args(Split)
# Metrics whose summary value is better when lower; every other metric is better higher,
# except those in NEITHER_BETTER.
LOWER_IS_BETTER = frozenset(
    {"false_refusal", "caveat_rate_answerable", "latency_p50_ms", "latency_p95_ms"}
)
# A caveat on an unanswerable item is as right as a refusal (both say the document does not
# say it), so more or fewer of them is a change, not an improvement or a regression.
NEITHER_BETTER = frozenset({"caveat_rate_unanswerable"})
# Sensitivity runs move a float knob by this factor down and up (an integer knob by 1).
SENSITIVITY_FACTORS = (0.9, 1.1)


# --- judge prompts ------------------------------------------------------------------------
# One word out keeps the verdict parseable from any chat model, without JSON mode.
JUDGE_FAITHFULNESS_SYSTEM = (
    "You check a sentence against numbered passages of a policy document. Reply with one "
    "word: SUPPORTED if every claim of the sentence is stated in the passages, otherwise "
    "UNSUPPORTED."
)
JUDGE_FAITHFULNESS_USER = "Passages:\n{passages}\n\nSentence: {sentence}\n\nVerdict:"
# Three grades rather than a 0-10 score: small models give stable words, unstable numbers.
JUDGE_CORRECTNESS_SYSTEM = (
    "You grade an answer to a question about a policy document against a reference answer. "
    "Reply with one word: CORRECT if it states what the reference states, PARTIAL if it "
    "states some of it, INCORRECT otherwise."
)
JUDGE_CORRECTNESS_USER = (
    "Question: {question}\nReference answer: {reference}\nAnswer: {answer}\n\nGrade:"
)
CORRECTNESS_GRADES = {"CORRECT": 1.0, "PARTIAL": 0.5, "INCORRECT": 0.0}
_VERDICT_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class JudgeResult:
    """What the optional LLM judge said about one answer (marked `llm_judge` in results).

    `faithfulness` is the share of answer sentences judged SUPPORTED by the passages they
    cite (a sentence citing nothing counts as unsupported without asking); `correctness` is
    1 / 0.5 / 0 for CORRECT / PARTIAL / INCORRECT against the reference answer. Either is
    None when the model failed or gave no verdict; `errors` says why; `verdicts` is the raw
    first word of each reply, sentences first.
    """

    faithfulness: float | None
    correctness: float | None
    verdicts: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseResult:
    """One QA case, answered and scored.

    Retrieval metrics are over the answer's top-k retrieved passages; `section_hit` is whether
    one of them lies in an expected section and `citation_section_precision` the share of cited
    passages that do (coarser than the quote-level `citation_precision`: it tells a citation
    of the right section's wrong chunk from one of another section); `recall_curve[j-1]` is
    evidence recall@j for j = 1..10 over one ranking of depth 10. `n_relevant` counts the
    relevant passages of the whole index. Metrics that do not apply are None (retrieval and
    answer metrics of unanswerable cases, citation precision of an answer citing nothing).
    `failures` are human-readable reasons (`ITEM_RULES`); the item passes when there are none.
    `split` and `style` are the case's (see eval/README.md); `caveat` is the answer's middle
    outcome ("does not say this directly; the closest it comes is …"); `follows` is the id of
    the item this follow-up was asked after, and `asked_as` the standalone question the engine
    searched (`Answer.question`: a follow-up rewritten with its history, Chinese translated).
    """

    id: str
    question: str
    type: str
    language: str
    answerable: bool
    expected_sections: tuple[str, ...]
    reference_answer: str
    answer: str
    refused: bool
    answerer: str
    cited_sections: tuple[str, ...]
    retrieved_sections: tuple[str, ...]
    latency_ms: float
    split: Split = "holdout"
    style: tuple[str, ...] = ()
    caveat: bool = False
    follows: str | None = None
    asked_as: str = ""
    n_relevant: int | None = None
    evidence_recall: float | None = None
    hit: float | None = None
    reciprocal_rank: float | None = None
    ndcg: float | None = None
    section_hit: float | None = None
    recall_curve: tuple[float, ...] = ()
    key_fact_recall: float | None = None
    missing_facts: tuple[str, ...] = ()
    token_f1: float | None = None
    semantic_similarity: float | None = None
    citation_precision: float | None = None
    citation_recall: float | None = None
    citation_section_precision: float | None = None
    failures: tuple[str, ...] = ()
    error: str | None = None
    llm_judge: JudgeResult | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, JSONValue]:
        row = _plain(dataclasses.asdict(self))
        assert isinstance(row, dict)
        row["passed"] = self.passed
        return row

    @classmethod
    def from_dict(cls, row: Mapping[str, object]) -> CaseResult:
        """The CaseResult `to_dict` wrote (lists back to tuples); KeyError/TypeError if not."""
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            if f.name not in row:
                continue
            value = row[f.name]
            if f.name == "llm_judge" and isinstance(value, Mapping):
                value = JudgeResult(
                    faithfulness=_opt_float(value.get("faithfulness")),
                    correctness=_opt_float(value.get("correctness")),
                    verdicts=tuple(str(v) for v in value.get("verdicts", ())),
                    errors=tuple(str(v) for v in value.get("errors", ())),
                )
            elif isinstance(value, list):
                value = tuple(value)
            values[f.name] = value
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class EvalConfig:
    """How a run was made: answer mode, retrieval mode, k, who answered, when, on what."""

    mode: AnswerMode
    retrieval: RetrievalMode
    k: int
    answerer: str
    n_cases: int
    judge: bool = False
    qa_path: str | None = None
    started_at: str = ""


@dataclass(frozen=True)
class EvalRun:
    """A run: its config, one CaseResult per case (in QA-set order) and the summary.

    `summary` is JSON-ready (see `summarize` for its keys); `to_dict`/`from_dict` round-trip.
    """

    config: EvalConfig
    results: tuple[CaseResult, ...]
    summary: Summary = field(default_factory=dict)

    def to_dict(self) -> dict[str, JSONValue]:
        return {
            "config": _plain(dataclasses.asdict(self.config)),
            "summary": self.summary,
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> EvalRun:
        """The EvalRun `to_dict` wrote; KeyError/TypeError/ValueError when it is not one."""
        config = data["config"]
        results = data["results"]
        summary = data["summary"]
        if not isinstance(config, Mapping) or not isinstance(results, list):
            raise TypeError("an eval run needs a config object and a results list")
        if not isinstance(summary, dict):
            raise TypeError("an eval run needs a summary object")
        return cls(
            config=EvalConfig(**config),
            results=tuple(CaseResult.from_dict(row) for row in results),
            summary=summary,
        )


def _plain(value: object) -> JSONValue:
    """`value` with tuples made lists, for JSON (dataclasses.asdict keeps tuples)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"not JSON-ready: {type(value).__name__}")


def _opt_float(value: object) -> float | None:
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_PREVIEW_CHARS else text[: QUOTE_PREVIEW_CHARS - 1] + "…"


def section_matches(passage_section: str, section_id: str) -> bool:
    """Whether a passage's section path ("IV (8) Build a …") is the QA set's id ("IV (8)").

    An id names its section exactly or a part as a whole: "V" matches "V (2) E-commerce …"
    and "V Our country's …" but not "VII …"; "Notice" matches "Notice".
    """
    return passage_section == section_id or passage_section.startswith(section_id + " ")


# --- one case -----------------------------------------------------------------------------
def score_case(
    case: Case,
    answer: Answer,
    *,
    k: int,
    ranking: Sequence[Passage],
    all_passages: Sequence[Passage],
    embed: metrics.EmbedTexts,
) -> CaseResult:
    """Score one answered case.

    `answer` is what `engine.ask` returned for it (its `retrieved` are the top k; a caveat
    counts as an answer on an answerable case and as a right refusal on an unanswerable one);
    `ranking` is a depth-10 ranking for the recall curve; `all_passages` is every passage of
    the index (for nDCG's ideal and for checking the QA set's quotes exist); `embed` maps
    texts to vectors for semantic similarity. Pure apart from calling `embed`.
    """
    top_k = answer.retrieved[:k]
    base = CaseResult(
        id=case.id,
        question=case.question,
        type=case.type,
        language=case.language,
        answerable=case.answerable,
        expected_sections=tuple(case.section),
        reference_answer=case.reference_answer,
        answer=answer.answer,
        refused=answer.refused,
        answerer=answer.answerer,
        cited_sections=tuple(p.section for p in answer.citations),
        retrieved_sections=tuple(p.section for p in top_k),
        latency_ms=answer.latency_ms,
        split=case.split,
        style=case.style,
        caveat=answer.caveat,
        follows=case.follows,
        asked_as=answer.question,
    )
    if not case.answerable:
        warned = metrics.says_not_stated(answer.refused, answer.caveat)
        wrong = () if warned else ("answered a question the document does not answer",)
        return dataclasses.replace(base, failures=wrong)

    evidence = tuple(case.evidence)
    flags = [metrics.is_relevant(p.text, evidence) for p in top_k]
    n_relevant = sum(metrics.is_relevant(p.text, evidence) for p in all_passages)
    n_relevant = max(n_relevant, sum(flags))
    recall = metrics.evidence_recall(evidence, top_k)
    hit = metrics.hit_at_k(flags, k) if evidence else None
    facts_missing = metrics.missing_key_facts(case.key_facts, answer.answer)
    precision = metrics.citation_precision(answer.citations, evidence) if evidence else None
    in_section = [any(section_matches(p.section, s) for s in case.section) for p in answer.citations]
    section_hit = None
    if case.section:
        found = any(section_matches(p.section, s) for p in top_k for s in case.section)
        section_hit = float(found)
    result = dataclasses.replace(
        base,
        n_relevant=n_relevant,
        evidence_recall=recall,
        hit=hit,
        reciprocal_rank=metrics.reciprocal_rank(flags, k) if evidence else None,
        ndcg=metrics.ndcg_at_k(flags, k, n_relevant) if evidence else None,
        section_hit=section_hit,
        recall_curve=tuple(
            metrics.evidence_recall(evidence, ranking[:depth]) or 0.0
            for depth in range(1, CURVE_DEPTH + 1)
            if evidence
        ),
        key_fact_recall=metrics.key_fact_recall(case.key_facts, answer.answer),
        missing_facts=tuple(facts_missing),
        token_f1=metrics.token_f1(answer.answer, case.reference_answer),
        semantic_similarity=metrics.semantic_similarity(
            answer.answer, case.reference_answer, embed
        ),
        citation_precision=precision,
        citation_recall=metrics.citation_recall(answer.citations, evidence) if evidence else None,
        citation_section_precision=(
            sum(in_section) / len(in_section) if in_section and case.section else None
        ),
    )
    failures: list[str] = []
    unknown = [q for q in evidence if not metrics.quote_is_covered(q, all_passages)]
    if unknown:
        failures.append(f"QA set: evidence not found in the index: “{_preview(unknown[0])}”")
    if answer.refused:
        failures.append("refused a question the document answers")
    if hit == 0.0:
        failures.append(f"retrieval: no relevant passage in the top {k}")
    elif recall is not None and recall < 1.0:
        missed = [q for q in evidence if not metrics.quote_is_covered(q, top_k)]
        failures.append(
            f"retrieval: {len(missed)} of {len(evidence)} evidence quotes not in the top {k}, "
            f"e.g. “{_preview(missed[0])}”"
        )
    irrelevant = [p.section for p in answer.citations if not metrics.is_relevant(p.text, evidence)]
    if evidence and irrelevant:
        failures.append(
            f"citations: {len(irrelevant)} of {len(answer.citations)} cited passages hold no "
            f"evidence ({'; '.join(_preview(s) for s in irrelevant)})"
        )
    if not answer.refused and not answer.citations:
        failures.append("answer cites no passage")
    fact_recall = result.key_fact_recall
    if not answer.refused and fact_recall is not None and fact_recall < MIN_ITEM_KEY_FACT_RECALL:
        failures.append(
            f"answer: {len(facts_missing)} of {len(case.key_facts)} key facts missing: "
            + "; ".join(f"“{_preview(f)}”" for f in facts_missing)
        )
    return dataclasses.replace(result, failures=tuple(failures))


# --- the optional LLM judge ---------------------------------------------------------------
JudgeComplete = Callable[[str, str], str]


def _verdict(reply: str) -> str:
    match = _VERDICT_WORD.search(reply)
    return match.group(0).upper() if match else ""


def judge_answer(case: Case, answer: Answer, complete: JudgeComplete) -> JudgeResult:
    """Ask an LLM whether each sentence is supported by its cited passages, and grade it.

    `complete(system, user)` returns the model's reply and may raise CiteqaError (recorded in
    `errors`, never raised). See `JudgeResult` for the scores.
    """
    verdicts: list[str] = []
    errors: list[str] = []
    supported: list[bool] = []
    for sentence in answer.sentences if not answer.refused else []:
        cited = [answer.citations[n - 1] for n in sentence.citations if 0 < n <= len(answer.citations)]
        if not cited:
            supported.append(False)
            continue
        passages = "\n\n".join(f"[{n}] {p.text}" for n, p in enumerate(cited, 1))
        try:
            word = _verdict(
                complete(
                    JUDGE_FAITHFULNESS_SYSTEM,
                    JUDGE_FAITHFULNESS_USER.format(passages=passages, sentence=sentence.text),
                )
            )
        except CiteqaError as error:
            errors.append(f"faithfulness: {error}")
            continue
        verdicts.append(word)
        if word in ("SUPPORTED", "UNSUPPORTED"):
            supported.append(word == "SUPPORTED")
        else:
            errors.append(f"faithfulness: no verdict in the reply ({word or 'empty'})")
    correctness: float | None = None
    try:
        word = _verdict(
            complete(
                JUDGE_CORRECTNESS_SYSTEM,
                JUDGE_CORRECTNESS_USER.format(
                    question=case.question,
                    reference=case.reference_answer,
                    answer=metrics.strip_citation_markers(answer.answer),
                ),
            )
        )
        verdicts.append(word)
        correctness = CORRECTNESS_GRADES.get(word)
        if correctness is None:
            errors.append(f"correctness: no grade in the reply ({word or 'empty'})")
    except CiteqaError as error:
        errors.append(f"correctness: {error}")
    return JudgeResult(
        faithfulness=sum(supported) / len(supported) if supported else None,
        correctness=correctness,
        verdicts=tuple(verdicts),
        errors=tuple(errors),
    )


# --- a whole run --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Asked:
    """One case asked in a run: its answer, or why there is none, and the history it had."""

    answer: Answer | None
    error: str | None
    history: tuple[Turn, ...]


class _Conversations:
    """Asks each case once per run, a follow-up with the conversation it continues.

    A follow-up's history is its earlier item's own history plus Turn(earlier question, the
    answer citeqa gave it in this run). An earlier item that is not among the cases being
    scored (a filtered subset) is asked here all the same, and never scored.
    """

    def __init__(
        self, known: Mapping[str, Case], ask: Callable[[str, Sequence[Turn]], Answer]
    ) -> None:
        self._known = known
        self._ask = ask
        self._asked: dict[str, _Asked] = {}

    def ask(self, case: Case) -> _Asked:
        done = self._asked.get(case.id)
        if done is not None:
            return done
        history: tuple[Turn, ...] = ()
        if case.follows is not None:
            earlier_case = self._known[case.follows]
            earlier = self.ask(earlier_case)
            if earlier.answer is None:
                failed = _Asked(None, f"the item it follows ({case.follows}) failed: {earlier.error}", ())
                self._asked[case.id] = failed
                return failed
            history = (*earlier.history, Turn(earlier_case.question, earlier.answer.answer))
        try:
            asked = _Asked(self._ask(case.question, history), None, history)
        except CiteqaError as error:
            asked = _Asked(None, str(error), history)
        self._asked[case.id] = asked
        return asked


def _check_follow_ups(cases: Sequence[Case], known: Mapping[str, Case]) -> None:
    """ValueError when a follow-up's chain of earlier items is broken or goes round."""
    for case in cases:
        seen = {case.id}
        current = case
        while current.follows is not None:
            earlier = known.get(current.follows)
            if earlier is None:
                raise ValueError(
                    f"case {current.id!r} follows {current.follows!r}, which is neither among "
                    "the cases nor in all_cases"
                )
            if earlier.id in seen:
                raise ValueError(f"case {case.id!r}: its follow-ups go round through {earlier.id!r}")
            seen.add(earlier.id)
            current = earlier


def evaluate(
    engine: QAEngine,
    cases: Sequence[Case],
    *,
    mode: AnswerMode = "extractive",
    retrieval: RetrievalMode = "hybrid",
    k: int = 5,
    judge: bool = False,
    progress: bool = True,
    qa_path: str | None = None,
    all_cases: Sequence[Case] = (),
    progress_label: str | None = None,
) -> EvalRun:
    """Answer every case with `engine.ask(question, top_k=k, mode=mode, retrieval=retrieval,
    history=…)` and score it (`score_case`); summarise with `summarize`.

    A case with `follows` is asked as a follow-up: its history is the earlier case's question
    with the answer citeqa gave it in this run (see `_Conversations`). `all_cases` is the QA
    file the cases were taken from: an earlier case missing from `cases` is found there and
    asked first, unscored. ValueError when a follow-up's earlier case is in neither.

    A case whose question the engine rejects (CiteqaError) becomes a failed row with `error`
    set (so does a follow-up of it); other exceptions propagate. `judge=True` adds the LLM
    judge (`judge_answer`) through `engine.generative`, and raises ValueError when no LLM
    endpoint is configured. `progress` shows a tqdm bar on stderr, titled `progress_label`
    and cleared when done if one is given (for runs nested in a longer job). Index errors
    (IndexNotReadyError, …) propagate.
    """
    if judge and engine.generative is None:
        raise ValueError("the LLM judge needs an LLM endpoint: set CITEQA_LLM_BASE_URL")
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    known = {c.id: c for c in all_cases}
    known.update((c.id, c) for c in cases)
    _check_follow_ups(cases, known)
    from tqdm import tqdm

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    # Open the index before the first timed question, so its latency is a question's only.
    engine.warm_up()
    # Every passage, listed from the index once (not by retrieval): nDCG's ideal counts every
    # relevant passage, and the QA set's quotes are checked to exist.
    every_passage = engine.passages()
    generative = engine.generative
    complete: JudgeComplete | None = (
        (lambda system, user: generative.complete(system, user, max_tokens=16))
        if judge and generative is not None
        else None
    )
    conversations = _Conversations(
        known,
        lambda question, history: engine.ask(
            question, top_k=k, mode=mode, retrieval=retrieval, history=history
        ),
    )
    rows: list[CaseResult] = []
    answerers: set[str] = set()
    bar = tqdm(
        cases,
        desc=progress_label or f"eval {retrieval}",
        unit="q",
        disable=not progress,
        leave=progress_label is None,
        file=sys.stderr,
    )
    for case in bar:
        asked = conversations.ask(case)
        answer = asked.answer
        if answer is None:
            rows.append(_error_row(case, asked.error or "no answer"))
            continue
        answerers.add(answer.answerer)
        all_passages: list[Passage] = []
        ranking: list[Passage] = []
        if case.answerable and case.evidence:
            # What the engine searched: a follow-up's own words ("which of those comes
            # first?") would rank passages for a question nobody asked.
            searched = answer.question or case.question
            ranking = engine.retrieve(searched, CURVE_DEPTH, retrieval)
            all_passages = every_passage
        row = score_case(
            case,
            answer,
            k=k,
            ranking=ranking,
            all_passages=all_passages,
            embed=engine.embedder.embed_documents,
        )
        if complete is not None:
            # The judge grades against the reference of the question as resolved.
            judged = dataclasses.replace(case, question=answer.question) if case.follows else case
            row = dataclasses.replace(row, llm_judge=judge_answer(judged, answer, complete))
        rows.append(row)
    config = EvalConfig(
        mode=mode,
        retrieval=retrieval,
        k=k,
        answerer=", ".join(sorted(answerers)) or engine.answerer_name(mode),
        n_cases=len(cases),
        judge=judge,
        qa_path=qa_path,
        started_at=started_at,
    )
    return EvalRun(config=config, results=tuple(rows), summary=summarize(rows, k))


def _error_row(case: Case, message: str) -> CaseResult:
    return CaseResult(
        id=case.id,
        question=case.question,
        type=case.type,
        language=case.language,
        answerable=case.answerable,
        expected_sections=tuple(case.section),
        reference_answer=case.reference_answer,
        answer="",
        refused=False,
        answerer="",
        cited_sections=(),
        retrieved_sections=(),
        latency_ms=0.0,
        split=case.split,
        style=case.style,
        follows=case.follows,
        failures=(f"error: {message}",),
        error=message,
    )


# --- the summary --------------------------------------------------------------------------
def _group_metrics(rows: Sequence[CaseResult]) -> dict[str, JSONValue]:
    """Means over one group of rows (None-valued metrics skipped); `refused` and `caveat` are
    the shares of answered rows with that outcome."""
    answered = [r for r in rows if r.error is None]
    return {
        "n": len(rows),
        "pass_rate": metrics.mean(float(r.passed) for r in rows),
        "evidence_recall": metrics.mean(r.evidence_recall for r in answered),
        "hit": metrics.mean(r.hit for r in answered),
        "key_fact_recall": metrics.mean(r.key_fact_recall for r in answered),
        "token_f1": metrics.mean(r.token_f1 for r in answered),
        "semantic_similarity": metrics.mean(r.semantic_similarity for r in answered),
        "citation_precision": metrics.mean(r.citation_precision for r in answered),
        "citation_recall": metrics.mean(r.citation_recall for r in answered),
        "refused": metrics.refusal_rate(r.refused for r in answered),
        "caveat": metrics.refusal_rate(r.caveat for r in answered),
    }


def _grouped(
    rows: Iterable[CaseResult], keys: Callable[[CaseResult], Iterable[str]]
) -> dict[str, JSONValue]:
    """`_group_metrics` per key; a row counts in every group `keys(row)` names."""
    groups: dict[str, list[CaseResult]] = {}
    for row in rows:
        for key in keys(row):
            groups.setdefault(key, []).append(row)
    return {name: _group_metrics(group) for name, group in sorted(groups.items())}


# The by_style group of items that carry no style tag.
UNTAGGED = "(none)"


def _scope_summary(rows: Sequence[CaseResult], k: int) -> Summary:
    """Every summary metric over one set of rows (the whole run, or one split)."""
    answered = [r for r in rows if r.error is None]
    answerable = [r for r in answered if r.answerable]
    unanswerable = [r for r in answered if not r.answerable]
    curves = [r.recall_curve for r in answerable if r.recall_curve]
    type_recalls = [(r.type, r.key_fact_recall) for r in answerable]
    summary: Summary = {
        "n_cases": len(rows),
        "n_answerable": sum(r.answerable for r in rows),
        "n_unanswerable": sum(not r.answerable for r in rows),
        "n_errors": len(rows) - len(answered),
        "n_passed": sum(r.passed for r in rows),
        "pass_rate": metrics.mean(float(r.passed) for r in rows),
        f"evidence_recall_at_{k}": metrics.mean(r.evidence_recall for r in answerable),
        f"hit_at_{k}": metrics.mean(r.hit for r in answerable),
        f"mrr_at_{k}": metrics.mean(r.reciprocal_rank for r in answerable),
        f"ndcg_at_{k}": metrics.mean(r.ndcg for r in answerable),
        f"section_hit_at_{k}": metrics.mean(r.section_hit for r in answerable),
        "key_fact_recall": metrics.mean(r.key_fact_recall for r in answerable),
        "list_items": metrics.key_fact_recall_of_type(type_recalls, "list"),
        "multi_part_items": metrics.key_fact_recall_of_type(type_recalls, "multi-part"),
        "token_f1": metrics.mean(r.token_f1 for r in answerable),
        "semantic_similarity": metrics.mean(r.semantic_similarity for r in answerable),
        "citation_precision": metrics.mean(r.citation_precision for r in answerable),
        "citation_recall": metrics.mean(r.citation_recall for r in answerable),
        "citation_section_precision": metrics.mean(
            r.citation_section_precision for r in answerable
        ),
        "refusal_on_unanswerable": metrics.refusal_on_unanswerable(
            (r.refused, r.caveat) for r in unanswerable
        ),
        "false_refusal": metrics.refusal_rate(r.refused for r in answerable),
        "caveat_rate_answerable": metrics.refusal_rate(r.caveat for r in answerable),
        "caveat_rate_unanswerable": metrics.refusal_rate(r.caveat for r in unanswerable),
        "latency_p50_ms": metrics.percentile([r.latency_ms for r in answered], 50),
        "latency_p95_ms": metrics.percentile([r.latency_ms for r in answered], 95),
        "recall_at_k_curve": {
            str(depth): metrics.mean(curve[depth - 1] for curve in curves)
            for depth in range(1, CURVE_DEPTH + 1)
        },
        "by_type": _grouped(rows, lambda r: [r.type]),
        "by_language": _grouped(rows, lambda r: [r.language]),
        "by_style": _grouped(rows, lambda r: r.style or [UNTAGGED]),
    }
    judged = [r.llm_judge for r in rows if r.llm_judge is not None]
    if judged:
        summary["llm_judge"] = {
            "faithfulness": metrics.mean(j.faithfulness for j in judged),
            "correctness": metrics.mean(j.correctness for j in judged),
            "n_judged": len(judged),
        }
    return summary


def summarize(rows: Sequence[CaseResult], k: int) -> Summary:
    """The summary of a run: every metric over all rows, and again per split in `by_split`.

    Keys: n_cases, n_answerable, n_unanswerable, n_errors, n_passed, pass_rate;
    evidence_recall_at_{k}, hit_at_{k}, mrr_at_{k}, ndcg_at_{k}, section_hit_at_{k},
    key_fact_recall, token_f1, semantic_similarity, citation_precision, citation_recall,
    citation_section_precision (means over answerable cases, None-valued rows skipped:
    citation precision averages the answers that cite something);
    list_items / multi_part_items = Σ key_fact_recall / n over answerable cases of type
    "list" / "multi-part";
    refusal_on_unanswerable = |unanswerable cases refused ∨ caveated| / |unanswerable| (a
    caveat, "the document does not say this directly; the closest it comes is …", tells the
    reader the document does not say it, as a refusal does);
    false_refusal = |answerable cases refused| / |answerable| (a caveat still gives the
    answer, so it is not a refusal here);
    caveat_rate_answerable = |answerable cases caveated| / |answerable|,
    caveat_rate_unanswerable = |unanswerable cases caveated| / |unanswerable|;
    latency_p50_ms, latency_p95_ms (nearest rank, answered cases); recall_at_k_curve
    {"1".."10": mean evidence recall@j}; by_type, by_language and by_style (per style tag, an
    item counting under each of its tags, untagged items under "(none)"; see
    `_group_metrics`); llm_judge {faithfulness, correctness, n_judged} only when the judge
    ran; and by_split {"tune": {…}, "holdout": {…}}, each with all of the keys above, for the
    splits that have rows. Rows that raised an error count in n_cases and pass_rate only. A
    mean over no rows is None.
    """
    summary = _scope_summary(rows, k)
    by_split: dict[str, JSONValue] = {}
    for split in SPLITS:
        group = [r for r in rows if r.split == split]
        if group:
            by_split[split] = _scope_summary(group, k)
    summary["by_split"] = by_split
    return summary


def split_summary(summary: Mapping[str, JSONValue], split: str) -> Mapping[str, JSONValue] | None:
    """The summary of one split ("tune", "holdout"), the whole run's for "all", or None when
    the run has no items of that split (or predates splits)."""
    if split == "all":
        return summary
    by_split = summary.get("by_split")
    scoped = by_split.get(split) if isinstance(by_split, dict) else None
    return scoped if isinstance(scoped, dict) else None


def metric_direction(name: str) -> Literal["higher", "lower", "neither"]:
    """Whether a higher or a lower value of summary metric `name` is better (or neither)."""
    if name in NEITHER_BETTER:
        return "neither"
    return "lower" if name in LOWER_IS_BETTER else "higher"


# --- sensitivity --------------------------------------------------------------------------
@dataclass(frozen=True)
class KnobResult:
    """One AnswerPolicy knob moved down and up: its three values and the two runs' summaries."""

    knob: str
    base_value: float
    low_value: float
    high_value: float
    low: Summary
    high: Summary


@dataclass(frozen=True)
class Sensitivity:
    """A base run with the engine's policy and one KnobResult per `AnswerPolicy.knobs()`."""

    base: EvalRun
    knobs: tuple[KnobResult, ...]

    def to_dict(self) -> dict[str, JSONValue]:
        return {
            "config": _plain(dataclasses.asdict(self.base.config)),
            "base": self.base.summary,
            "knobs": [_plain(dataclasses.asdict(knob)) for knob in self.knobs],
        }


def knob_values(policy: AnswerPolicy, knob: str) -> tuple[float, float]:
    """The (low, high) values a sensitivity run gives `knob`.

    A float moves to value × 0.9 and value × 1.1 (rounded to 6 places, so 0.6 × 1.1 reads
    0.66); an integer to value − 1 and value + 1, never below 1 (a count of sentences or list
    items of 0 would switch a feature off, not nudge it). TypeError for a field that is not a
    number.
    """
    value = getattr(policy, knob)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"policy field {knob!r} is not a number: {value!r}")
    if isinstance(value, int):
        return max(1, value - 1), value + 1
    low, high = SENSITIVITY_FACTORS
    return round(value * low, 6), round(value * high, 6)


def run_sensitivity(
    engine: QAEngine,
    cases: Sequence[Case],
    *,
    mode: AnswerMode = "extractive",
    retrieval: RetrievalMode = "hybrid",
    k: int = 5,
    progress: bool = True,
    qa_path: str | None = None,
    all_cases: Sequence[Case] = (),
) -> Sensitivity:
    """Run the cases with the engine's policy, then once per knob at each end of `knob_values`.

    Each moved run answers through `engine.with_policy(dataclasses.replace(policy, knob=v))`,
    which shares the open index: 1 + 2 × len(AnswerPolicy.knobs()) runs, one index load.
    `progress` shows a bar over the runs and one per run. Errors as `evaluate`.
    """
    from tqdm import tqdm

    base_policy = engine.policy
    knobs = AnswerPolicy.knobs()
    bar = tqdm(total=1 + 2 * len(knobs), desc="sensitivity", unit="run", disable=not progress,
               file=sys.stderr)
    with bar:
        base = evaluate(engine, cases, mode=mode, retrieval=retrieval, k=k, qa_path=qa_path,
                        all_cases=all_cases, progress=progress, progress_label="base policy")
        bar.update()
        results: list[KnobResult] = []
        for knob in knobs:
            low_value, high_value = knob_values(base_policy, knob)
            summaries: list[Summary] = []
            for value in (low_value, high_value):
                change: dict[str, Any] = {knob: value}  # one named field; mypy cannot see which
                moved = engine.with_policy(dataclasses.replace(base_policy, **change))
                bar.set_postfix_str(f"{knob}={value:g}")
                run = evaluate(moved, cases, mode=mode, retrieval=retrieval, k=k, qa_path=qa_path,
                               all_cases=all_cases, progress=progress,
                               progress_label=f"{knob}={value:g}")
                summaries.append(run.summary)
                bar.update()
            results.append(KnobResult(knob, getattr(base_policy, knob), low_value,
                                      high_value, summaries[0], summaries[1]))
    return Sensitivity(base=base, knobs=tuple(results))
