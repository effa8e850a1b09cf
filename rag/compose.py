"""The offline answerer: one calibrated answerability decision, then an answer shaped by the
question and by the document's structure, every sentence quoted from a cited passage.

    decide   features of the retrieved evidence → answer / caveat / refuse (rag.answerability)
    fact     the best sentence, plus its passage's next-best or the sentence holding the asked
             date or figure ("When was …?")
    explain  why/how: the 2–3 best sentences of the best section
    overview "what does it say about X": 2–5 key sentences of the best section, from several
             passages, chosen for diversity (maximal marginal relevance)
    list     the items of the document's own list that best matches the question (a part's
             sections, a lead-in's items, "first, … second, …", dashed paragraphs), each cited;
             the key sentences as a list when no list matches
    count    the number of those items, then the items
    multi    each part of a comparison or multi-part question answered on its own, cited
Sentences are the document's own (bullets and line breaks tidied), so an extractive answer
cannot misstate; a sentence ending in ":" is never left dangling — its items follow or it goes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.answerability import AnswerabilityFeatures, Decision
from rag.evidence import (
    Evidence,
    Matrix,
    ScoredSentence,
    TermStatistics,
    content_words,
    is_titled_heading,
)
from rag.policy import AnswerPolicy
from rag.question import (
    FRAME_WORDS,
    QuestionShape,
    ScopeReference,
    compared_items,
    is_chinese,
    is_follow_up,
    leans_on_pronoun,
    previous_topic,
    question_shape,
    scope_references,
    split_parts,
    topic_words,
    without_scope,
)
from rag.structure import (
    RUN_IN_WORDS,
    DocumentList,
    ListItem,
    StructureSource,
    document_parts,
    is_numbered_part,
    passage_lists,
    section_leads,
    section_lists,
)
from rag.types import Passage

# A sentence gives the value asked for only if it is about the question's topic: at least this
# IDF-weighted share of the question's topic words in the sentence itself (a figure about exports does not answer a
# question about GDP just because both mention "information").
HOLDER_TOPIC_SHARE = 0.5
# … or half that in the best sentence's own passage, which is about the topic already.
HOLDER_TOPIC_SHARE_SAME_PASSAGE = 0.25
CAVEAT_LEAD = "The document does not say this directly; the closest it comes is:"

# "When" asks for a date as the question's first word or in "by when"; mid-sentence ("what
# did it say when it was written") it is a conjunction.
_ASKS_DATE = re.compile(
    r"^\W*when\b|\bby when\b|\b(what|which|in what) (year|date|day)\b|\bdated?\b", re.IGNORECASE
)
_ASKS_NUMBER = re.compile(
    r"\b(how (many|much)|what (share|percentage|proportion|number|figure|rate|amount|value)"
    r"|per ?cent|%)",
    re.IGNORECASE,
)
# "Who …", "Which ministry/office/body …": a named body or person is asked for. Plural kinds
# ("which organisations and people", "which institutions") ask for kinds of actor, which a
# policy text names generically ("enterprises, individuals and social organizations"), so
# they ask for no name; countries are always named.
_ASKS_ENTITY = re.compile(
    r"^\W*who\b|\b(which|what)\s+(foreign\s+)?(ministry|ministries|department|office|offices"
    r"|agency|body|organi[sz]ation|institution|authority|committee|bureau|person|official"
    r"|leader|unit|countries|country|nations?|company|firm|university)\b",
    re.IGNORECASE,
)
# A named body: capitalised words ending in (or holding) a word for an organisation, not at
# the start of a sentence ("State Council", "National Leading Group for Informatization").
_HAS_ENTITY = re.compile(
    r"(?<=[a-z,;]\s)(?:[A-Z][a-z]+\s+(?:(?:of|for|and|the)\s+)?)*"
    r"(?:Office|Council|Committee|Group|Commission|Ministry|Bureau|Administration|Department"
    r"|Agency|Centre|Center|Congress|Party|Government|Association|Institute|University"
    r"|Conference|Army|People’s\s+Governments?)s?\b"
)
# A year on its own counts, a span of years ("2006-2020", a title) does not.
_HAS_DATE = re.compile(
    r"(?<![-\d])(1[89]\d\d|20\d\d)(?![-\d])|\b(January|February|March|April|May|June|July|August"
    r"|September|October|November|December)\b"
)
# A quantity: a percentage, or a number that is neither a year, an ordinal ("11th") nor a
# section number ("(2)").
_HAS_NUMBER = re.compile(
    r"\d+(\.\d+)?\s*(%|per ?cent)"
    r"|(?<![(\d])\b(?!(?:19|20)\d\d\b)\d+(\.\d+)?\b(?!\s*(st|nd|rd|th)\b)(?![)\d])"
)
# A year, not a decade ("the 1990s") or a span ("2006-2020").
_YEAR = re.compile(r"(?<![-\d])(?:1[89]|20)\d\d(?![-\ds’'])")
_BULLET = re.compile(r"^\s*[–—•*-]\s+")
_SPACE = re.compile(r"\s+")
_FRAME_STEMS = content_words(" ".join(FRAME_WORDS))
# A question about the document as a whole ("What is this document about?", "How many parts
# does the strategy have?", "Summarise it"), once it has no topic of its own.
_ABOUT_THE_DOCUMENT = re.compile(
    r"\b(document|strategy|text|paper|parts|structure|structured|organi[sz]ed|overview|outline"
    r"|summar\w*|about|cover|covers|contents?)\b",
    re.IGNORECASE,
)
# The ordinal that opens a list inside its lead-in sentence ("… manifested as: first,").
_FIRST_ORDINAL = re.compile(r"\s*\bfirst(ly)?\s*[,:]?\s*$", re.IGNORECASE)
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()


@dataclass(frozen=True)
class ComposedSentence:
    """One sentence of an answer: its text (no markers), the passages it cites, and per cited
    passage the span of `Passage.text` it quotes ((0, 0): the passage's heading). `item` marks
    a list item (shown on its own numbered line); `heading` a part label ("On Part IV:")."""

    text: str
    cites: tuple[Passage, ...]
    spans: tuple[tuple[int, int], ...]
    item: bool = False
    heading: bool = False


@dataclass(frozen=True)
class Composition:
    """What the offline answerer decided and wrote."""

    decision: Decision
    probability: float
    shape: QuestionShape
    sentences: tuple[ComposedSentence, ...] = ()
    features: AnswerabilityFeatures | None = None
    parts: tuple[Composition, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Retrieved:
    """A question's retrieval: the passages, the question's vector and the two rankers' top
    ids (their agreement is an answerability feature)."""

    passages: list[Passage]
    vector: Matrix
    dense_top: tuple[str, ...] = ()
    keyword_top: tuple[str, ...] = ()


RetrievePart = Callable[[str, Sequence[ScopeReference]], Retrieved]


class Composer:
    """Writes offline answers (see the module docstring)."""

    def __init__(
        self,
        evidence: Evidence,
        terms: TermStatistics,
        structure: StructureSource,
        embed_text: Callable[[str], Matrix],
        policy: AnswerPolicy,
    ) -> None:
        self._evidence = evidence
        self._terms = terms
        self._structure = structure
        # Cached by the engine: part headings are embedded once per process.
        self._embed_text = embed_text
        self.policy = policy

    # --- entry ---------------------------------------------------------------------------
    def compose(
        self,
        question: str,
        retrieved: Retrieved,
        retrieve_part: RetrievePart,
        *,
        previous_answer: str = "",
    ) -> Composition:
        """Decide and write the answer to `question` (standalone, English, spelling fixed).

        `retrieve_part(text, scope)` retrieves for one part of a multi-part question;
        `previous_answer` (a follow-up's predecessor) is not repeated.
        """
        shape = question_shape(question)
        if shape == "multi":
            composed = self._multi(question, retrieve_part, previous_answer)
            if composed is not None:
                return composed
            shape = "overview"
        if (
            not topic_words(question)
            and _ABOUT_THE_DOCUMENT.search(question)
            and not is_chinese(question)
            and retrieved.passages
        ):
            # "What is this document about?", "How many parts does it have?": its outline.
            parts = self._document_parts(retrieved.passages[0].doc)
            if parts:
                return Composition("answer", 1.0, "list", tuple(parts))
        # "Summarise Part IV", "What does Part V say?": what a part sets out is its sections.
        outline = self._part_outline(question, scope_references(question), retrieved)
        if outline is not None:
            return outline
        return self._single(question, shape, retrieved, previous_answer)

    def _single(
        self, question: str, shape: QuestionShape, retrieved: Retrieved, previous_answer: str
    ) -> Composition:
        passages = retrieved.passages
        scored = self._scored(question, passages, retrieved.vector, previous_answer)
        document_list: tuple[DocumentList, float] | None = None
        if shape in ("list", "count"):
            document_list = self._best_list(question, passages, retrieved.vector)
        features = self._features(question, shape, retrieved, scored, document_list)
        decision, probability = self.policy.answerability.decide(features)
        if decision == "refuse" or not scored:
            return Composition("refuse", probability, shape, (), features)
        if decision == "caveat":
            # The hedge, then what a fact answer would say: the reader sees the closest the
            # document comes, and is told how close that is.
            lead = ComposedSentence(CAVEAT_LEAD, (), (), heading=True)
            closest = self._fact(question, scored, passages)
            return Composition("caveat", probability, shape, (lead, *closest), features)
        sentences = self._write(question, shape, passages, scored, document_list)
        return Composition("answer", probability, shape, tuple(sentences), features)

    def _write(
        self,
        question: str,
        shape: QuestionShape,
        passages: Sequence[Passage],
        scored: list[ScoredSentence],
        document_list: tuple[DocumentList, float] | None,
    ) -> list[ComposedSentence]:
        policy = self.policy
        matched = (
            document_list[0]
            if document_list is not None and document_list[1] >= policy.structure_min_cosine
            else None
        )
        if shape == "count" and matched is not None:
            return self._count(matched)
        if shape == "list":
            if matched is not None:
                return self._enumerate(matched)
            key = self._key_sentences(scored, passages, policy.overview_sentences)
            if len(key) < 2 or any(s.item for s in key):
                return key  # one sentence, or a lead-in already followed by its own items
            return [_as_item(s) for s in key]
        if shape == "overview":
            return self._key_sentences(scored, passages, policy.overview_sentences)
        if shape == "explain":
            return self._key_sentences(scored, passages, policy.explain_sentences)
        return self._fact(question, scored, passages)

    # --- scoring and the decision --------------------------------------------------------
    def _scored(
        self, question: str, passages: Sequence[Passage], vector: Matrix, previous_answer: str
    ) -> list[ScoredSentence]:
        scored = self._evidence.score_sentences(
            question, passages, vector, ignore_words=_FRAME_STEMS
        )
        wanted = _wanted_values(question)
        if wanted:
            bonus = self.policy.answer_type_bonus
            scored = sorted(
                (
                    _rescored(s, s.score + bonus) if any(p.search(s.text) for p in wanted) else s
                    for s in scored
                ),
                key=lambda s: -s.score,
            )
        if previous_answer:
            said = _normal(previous_answer)
            scored = [s for s in scored if _normal(_tidy(s.text)).rstrip(".") not in said]
        return scored

    def _features(
        self,
        question: str,
        shape: QuestionShape,
        retrieved: Retrieved,
        scored: Sequence[ScoredSentence],
        document_list: tuple[DocumentList, float] | None,
    ) -> AnswerabilityFeatures:
        passages = retrieved.passages
        best = scored[0] if scored else None
        held = " ".join(p.text for p in passages).lower()
        missing = [anchor for anchor in anchors(question) if not _holds(held, anchor)]
        counted = (
            shape == "count"
            and document_list is not None
            and document_list[1] >= self.policy.structure_min_cosine
        )  # a count is answered by counting the list, not by a figure in the text
        missing_value = float(
            bool(_wanted_values(question)) and not counted and not self._value_holders(question, scored, passages)
        )
        dense, keyword = set(retrieved.dense_top[:5]), set(retrieved.keyword_top[:5])
        agreement = len(dense & keyword) / 5 if dense and keyword else 0.0
        return AnswerabilityFeatures(
            best_cosine=best.cosine if best else 0.0,
            missing_anchor=float(any(not a[0].isdigit() for a in missing)),
            missing_number=float(any(a[0].isdigit() for a in missing)),
            missing_value=missing_value,
            agreement=agreement,
            structure=document_list[1] if document_list is not None else 0.0,
            broad=float(shape in ("list", "count", "overview", "multi", "explain")),
        )

    # --- shapes --------------------------------------------------------------------------
    def _fact(
        self, question: str, scored: list[ScoredSentence], passages: Sequence[Passage]
    ) -> list[ComposedSentence]:
        policy = self.policy
        best = scored[0]
        chosen = [
            s
            for s in scored
            if s.score >= policy.keep_relative * best.score
            and s.passage_index == best.passage_index
        ][: policy.fact_sentences]
        for holder in self._value_holders(question, scored, passages, chosen):
            if holder not in chosen:
                chosen.append(holder)
        chosen.sort(key=lambda s: (passages[s.passage_index].doc, s.start))
        return self._resolve_lead_ins(self._with_run_in_bodies(chosen, scored, passages), passages)

    def _value_holders(
        self,
        question: str,
        scored: Sequence[ScoredSentence],
        passages: Sequence[Passage],
        chosen: Sequence[ScoredSentence] = (),
    ) -> list[ScoredSentence]:
        """For each kind of value the question asks for (date, quantity, named body), the
        sentence that gives it: one already chosen, else the best holder in the best sentence's
        passage (the date under a notice), else one scoring holder_relative of the best. A
        name the question itself contains does not count ("Who chairs the Leading Group?" is
        not answered by a sentence naming the Leading Group). Empty if a kind has no holder."""
        if not scored:
            return []
        best = scored[0]
        asked = question.lower()
        topic = frozenset(w for w in content_words(question) - _FRAME_STEMS if not w[0].isdigit())
        years = set(_YEAR.findall(question))
        passages_titles = [p.section for p in passages]
        holders: list[ScoredSentence] = []
        for pattern in _wanted_values(question):
            def gives(s: ScoredSentence, pattern: re.Pattern[str] = pattern) -> bool:
                """Holds a value of the kind asked, about the question's topic (shares a topic
                word with it), and does not contradict its year (a 2005 figure does not answer
                "by 2020")."""
                values = [m.group(0) for m in pattern.finditer(s.text) if m.group(0).lower() not in asked]
                same_passage = s.passage_index == best.passage_index
                share = HOLDER_TOPIC_SHARE_SAME_PASSAGE if same_passage else HOLDER_TOPIC_SHARE
                if not values:
                    return False
                # The sentence's own words, not its heading's: every sentence under a heading
                # that repeats the question's words would otherwise qualify. The exception is
                # a short date line, which dates the section it closes ("19 March 2006" under
                # the Notice): its section title says what it is about.
                words = content_words(s.text)
                if same_passage and pattern is _HAS_DATE and len(s.text.split()) <= RUN_IN_WORDS:
                    words = words | content_words(passages_titles[s.passage_index])
                if self._evidence.weighted_share(topic, lambda w: float(w in words)) < share:
                    return False
                sentence_years = set(_YEAR.findall(s.text))
                return not years or not sentence_years or bool(years & sentence_years)

            holder = next((c for c in chosen if gives(c)), None) or next(
                (c for c in scored if c.passage_index == best.passage_index and gives(c)),
                next(
                    (c for c in scored if c.score >= self.policy.holder_relative * best.score and gives(c)),
                    None,
                ),
            )
            if holder is None:
                return []
            holders.append(holder)
        return holders

    def _key_sentences(
        self, scored: list[ScoredSentence], passages: Sequence[Passage], most: int
    ) -> list[ComposedSentence]:
        """Up to `most` key sentences (at least 2 when there are 2), from up to
        `overview_sections` sections: the best sentence of each strong section first, then the
        rest by maximal marginal relevance (score − diversity_penalty · max similarity to a
        sentence already chosen), so a reader gets several points, not one point three times,
        and a topic the document treats in several parts is shown from each."""
        policy = self.policy
        best = scored[0]
        floor = policy.overview_relative * best.score
        pool = [s for s in scored if s.score >= floor]
        if len(pool) < 2:
            pool = scored[:2]
        by_section: dict[str, list[ScoredSentence]] = {}
        for s in pool:
            by_section.setdefault(passages[s.passage_index].section, []).append(s)
        # A section's strength: its best sentence plus half its second: one lucky sentence in
        # a section about something else should not outrank a section about the topic.
        def strength(section: str) -> float:
            scores = sorted((s.score for s in by_section[section]), reverse=True)
            return scores[0] + 0.5 * (scores[1] if len(scores) > 1 else 0.0)

        ranked = sorted(by_section, key=strength, reverse=True)[: policy.overview_sections]
        # Another section joins only when its best sentence is nearly as good as the best:
        # a second section is a second topic unless it answers about as well.
        sections = [
            section for section in ranked
            if by_section[section][0].score >= policy.section_relative * best.score
        ] or ranked[:1]
        candidates = [s for s in pool if passages[s.passage_index].section in sections]
        chosen = [by_section[section][0] for section in sections][:most]
        candidates = [s for s in candidates if s not in chosen]
        while candidates and len(chosen) < most:
            def marginal(s: ScoredSentence) -> float:
                similarity = max(float(np.dot(s.vector, c.vector)) for c in chosen)
                return s.score - policy.diversity_penalty * similarity

            pick = max(candidates, key=marginal)
            chosen.append(pick)
            candidates.remove(pick)
        chosen.sort(key=lambda s: (passages[s.passage_index].doc, s.start))
        return self._resolve_lead_ins(self._with_run_in_bodies(chosen, scored, passages), passages)

    def _with_run_in_bodies(
        self,
        chosen: list[ScoredSentence],
        scored: Sequence[ScoredSentence],
        passages: Sequence[Passage],
    ) -> list[ScoredSentence]:
        """A chosen run-in heading ("Stimulating the basic transformation of economic growth
        models.", a paragraph's short first sentence) brings the sentence after it, which says
        what the heading means; a section's own heading line is replaced by that sentence."""
        out: list[ScoredSentence] = []
        for s in chosen:
            heading = is_titled_heading(s.text, s.start, passages[s.passage_index])
            if len(s.text.split()) > RUN_IN_WORDS and not heading:
                out.append(s)
                continue
            doc = passages[s.passage_index].doc
            later = sorted(
                (t for t in scored if passages[t.passage_index].doc == doc and t.start > s.start),
                key=lambda t: t.start,
            )
            body = later[0] if later and later[0] not in chosen else None
            if body is not None and body.passage_index != s.passage_index:
                holder = passages[body.passage_index]
                if not (holder.start <= s.start and s.end <= holder.end):
                    body = None  # no one passage holds both: the heading stands alone
                elif not heading:
                    # Overlapping chunks: cite the heading to the passage holding its body too.
                    s = _rescored(s, s.score, passage_index=body.passage_index)
            if not heading or body is None:
                out.append(s)
            if body is not None:
                out.append(body)
        return out

    def _enumerate(self, document_list: DocumentList) -> list[ComposedSentence]:
        items = document_list.items[: self.policy.max_list_items]
        anchor, (start, end) = document_list.anchor, document_list.lead_in
        if end > start:
            # The document's own lead-in, quoted and cited ("The strategic objectives … until
            # 2020 are"), with the count the reader may have asked for.
            count = len(document_list.items)
            lead = anchor.text[start - anchor.start : end - anchor.start]
            intro = f"{lead} the following {count} ({_count_word(count)}):"
            sentences = [
                ComposedSentence(intro, (anchor,), ((start - anchor.start, end - anchor.start),), heading=True)
            ]
        else:
            sentences = [ComposedSentence(_list_intro(document_list, len(document_list.items)), (), (), heading=True)]
        sentences += [_item_sentence(item) for item in items]
        hidden = len(document_list.items) - len(items)
        if hidden > 0:
            sentences.append(ComposedSentence(f"… and {hidden} more.", (), (), heading=True))
        return sentences

    def _count(self, document_list: DocumentList) -> list[ComposedSentence]:
        return self._enumerate(document_list)

    def _multi(
        self, question: str, retrieve_part: RetrievePart, previous_answer: str
    ) -> Composition | None:
        items = compared_items(question)
        parts = items or split_parts(question)
        if len(parts) < 2:
            return None
        shared = " ".join(
            w for w in topic_words(question) if not any(w in p for p in parts)
        ) if items else ""
        compositions: list[Composition] = []
        sentences: list[ComposedSentence] = []
        previous_part = ""
        for part in parts:
            scope = scope_references(part)
            part_question = f"{part} {shared}".strip()
            if previous_part and (is_follow_up(part) or leans_on_pronoun(part)):
                # "…, and which action plan is meant to fix it?": "it" is the first part's topic.
                part_question = f"{part_question} ({previous_topic(previous_part)})"
            previous_part = part
            shape = question_shape(part_question)
            if shape == "multi":
                shape = "overview"
            if scope and not topic_words(re.sub(r"(?i)\bpart\s+\w+|\bsection\s+\w+", "", part_question)):
                shape = "overview"  # "Part IV" alone: what that part says
            retrieved = retrieve_part(part_question, scope)
            if not scope:
                # "the guarantee measures" names Part VII by its title: search that part.
                scope = self._part_named_by(part, retrieved)
                if scope:
                    # Within the part, what is asked of it is the shared topic; with none, the
                    # part itself is asked for (as "Part VII" would be).
                    part_question = shared or f"Part {scope[0].part}"
                    retrieved = retrieve_part(part_question, scope)
            # What earlier parts said is not said again ("What is the digital divide, and how
            # will it be narrowed?" quoted the same problem sentence under both).
            said = " ".join([previous_answer, *(s.text for s in sentences)])
            composed = self._part_outline(part_question, scope, retrieved) or self._single(
                part_question, shape, retrieved, said
            )
            compositions.append(composed)
            label = _part_label(part, scope)
            if composed.decision == "refuse":
                sentences.append(
                    ComposedSentence(f"On {label}: the document does not say.", (), (), heading=True)
                )
                continue
            sentences.append(ComposedSentence(f"On {label}:", (), (), heading=True))
            sentences.extend(composed.sentences)
        answered = [c for c in compositions if c.decision != "refuse"]
        if not answered:
            best = max(compositions, key=lambda c: c.probability)
            return Composition("refuse", best.probability, "multi", (), best.features, tuple(compositions))
        decision: Decision = "answer" if any(c.decision == "answer" for c in answered) else "caveat"
        probability = max(c.probability for c in answered)
        return Composition(
            decision, probability, "multi", tuple(sentences), answered[0].features, tuple(compositions)
        )

    def _part_named_by(self, item: str, retrieved: Retrieved) -> list[ScopeReference]:
        """The part whose title holds every content word of `item` (two at least: "the
        strategic focus" is Part IV, "The strategic focus of our country's …"), in the best
        retrieved document; [] when none does."""
        words = content_words(item) - _FRAME_STEMS
        if len(words) < 2 or not retrieved.passages:
            return []
        for section in self._structure.outline(retrieved.passages[0].doc):
            if is_numbered_part(section.part) and words <= content_words(section.part_title):
                return [ScopeReference(section.part, "")]
        return []

    def _document_parts(self, doc_id: str) -> list[ComposedSentence]:
        """The document's numbered parts, each cited to where it begins, after a sentence that
        counts them; empty for a document without numbered parts."""
        parts = document_parts(self._structure.outline(doc_id), self._structure)
        if not parts:
            return []
        count = f"{len(parts)} ({_count_word(len(parts))})"
        intro = f"“{parts[0].passage.doc_title}” has {count} numbered parts:"
        return [ComposedSentence(intro, (), (), heading=True), *map(_item_sentence, parts)]

    def _part_outline(
        self, part_question: str, scope: Sequence[ScopeReference], retrieved: Retrieved
    ) -> Composition | None:
        """A part named with nothing else asked about it ("Compare Part IV and Part V"): what
        the part sets out, i.e. its sections, each cited. None when the question asks more."""
        rest = re.sub(r"(?i)\bpart\s+[ivxl\d]+\b|\bsection\s+\S+|\(\d+\)", " ", part_question)
        if not scope or topic_words(rest) or not retrieved.passages:
            return None
        doc_id = retrieved.passages[0].doc
        outline = self._structure.outline(doc_id)
        for found in section_lists(outline, self._structure):
            if found.anchor.part == scope[0].part and not scope[0].section:
                return Composition("answer", 1.0, "list", tuple(self._enumerate(found)))
        # A part without a list of sections (Part I's trends, Part II's two sections): its key
        # sentences, scored against what the part's own title says it is about.
        named = next(
            (
                s for s in outline
                if s.part == scope[0].part and (s.number == scope[0].section or not scope[0].section)
            ),
            None,
        )
        if named is None:
            return None
        title = named.title if scope[0].section else named.part_title
        # The reader asked for the part itself, so this is an answer, not a decision: nothing
        # outside the named part was searched.
        scored = self._scored(title, retrieved.passages, self._embed_text(title), "")
        if not scored:
            return None
        sentences = self._key_sentences(scored, retrieved.passages, self.policy.overview_sentences)
        return Composition("answer", 1.0, "overview", tuple(sentences))

    # --- lists ---------------------------------------------------------------------------
    def _best_list(
        self, question: str, passages: Sequence[Passage], vector: Matrix
    ) -> tuple[DocumentList, float] | None:
        """The document list that best matches the question, and its match score: the
        sentence-score blend (cosine_weight · cosine + rest · word overlap) of the question
        with the list's label (a part heading or a lead-in)."""
        candidates: list[DocumentList] = []
        scope = scope_references(question)
        documents = list(dict.fromkeys(p.doc for p in passages))
        for doc_id in documents[:3]:
            candidates += section_lists(self._structure.outline(doc_id), self._structure)
        # Lists anywhere in the sections retrieved: a list's lead-in ("…manifested as: first,")
        # is often in a passage other than the one that matched.
        seen: set[tuple[str, int]] = set()
        for doc_id, path in dict.fromkeys((p.doc, p.section) for p in passages):
            section = self._structure.section_passages(doc_id, path)
            leads = section_leads(section)
            if leads is not None and (leads.kind, leads.items[0].start) not in seen:
                seen.add((leads.kind, leads.items[0].start))
                candidates.append(leads)
            for passage in section:
                for found in passage_lists(passage, section):
                    key = (found.kind, found.items[0].start)
                    if key not in seen:
                        seen.add(key)
                        candidates.append(found)
        if scope:
            # "What are the priorities in Part IV?": only lists of the part it names.
            candidates = [c for c in candidates if any(c.anchor.part == s.part for s in scope)]
        if not candidates:
            return None
        policy = self.policy
        question_words = content_words(question) - _FRAME_STEMS
        corpus_words = frozenset(w for w in question_words if self._terms.document_frequency(w) > 0)
        best: tuple[DocumentList, float] | None = None
        for candidate in candidates:
            label_words = content_words(candidate.label)

            def in_label(word: str, words: frozenset[str] = label_words) -> float:
                return 1.0 if word in words else 0.0

            overlap = self._evidence.weighted_share(question_words, in_label)
            cosine = float(np.dot(self._embed_text(candidate.label), vector))
            score = policy.cosine_weight * cosine + (1 - policy.cosine_weight) * overlap
            # "What are the objectives for national defence?" is about one item, not the list
            # of objectives: the more of the question's words the label leaves unexplained,
            # the less the list is the answer. Only words the document uses can name such an
            # item; a word it never uses is the reader's own ("goals" for its "objectives").
            explained = self._evidence.weighted_share(corpus_words, in_label) if corpus_words else 1.0
            score *= 1.0 - policy.list_focus_penalty * (1.0 - explained)
            if scope and candidate.kind == "sections":
                # The reader named the part: its own sections are the list they mean.
                score = max(score, policy.structure_min_cosine)
            if best is None or score > best[1]:
                best = (candidate, score)
        return best

    def _resolve_lead_ins(
        self, chosen: Sequence[ScoredSentence], passages: Sequence[Passage]
    ) -> list[ComposedSentence]:
        """Quote the chosen sentences; a sentence ending in ":" brings its items along (or is
        dropped when its items cannot be found), so no answer ends in a dangling lead-in."""
        sentences: list[ComposedSentence] = []
        for s in chosen:
            passage = passages[s.passage_index]
            if not s.text.rstrip().endswith(":"):
                opened = self._opened_list(s, passage)
                if opened is None:
                    sentences.append(self._quote(s, passages))
                    continue
                # "…are mainly manifested as: first, thought and understanding …": the lead-in
                # is quoted up to its list, then every item, not just the first.
                lead_end = opened.items[0].start
                lead = passage.text[s.start - passage.start : lead_end - passage.start]
                lead = _FIRST_ORDINAL.sub("", lead).rstrip()
                sentences.append(
                    ComposedSentence(
                        _tidy(lead), (passage,), ((s.start - passage.start, s.start - passage.start + len(lead)),)
                    )
                )
                lists = [opened]
            else:
                section = self._structure.section_passages(passage.doc, passage.section)
                lists = [
                    lst for lst in passage_lists(passage, section)
                    if lst.kind in ("block", "ordinal") and s.start <= lst.items[0].start
                ]
                if not lists:
                    continue
                sentences.append(self._quote(s, passages))
            sentences += [_item_sentence(item) for item in lists[0].items[: self.policy.max_list_items]]
        return sentences

    def _opened_list(self, s: ScoredSentence, passage: Passage) -> DocumentList | None:
        """The ordinal list ("first, … second, …") whose first item starts inside sentence
        `s`, if any: the sentence is then its lead-in."""
        section = self._structure.section_passages(passage.doc, passage.section)
        for found in passage_lists(passage, section):
            if found.kind == "ordinal" and len(found.items) >= 2 and s.start < found.items[0].start < s.end:
                return found
        return None

    def _quote(self, s: ScoredSentence, passages: Sequence[Passage]) -> ComposedSentence:
        passage = passages[s.passage_index]
        return ComposedSentence(
            _tidy(s.text), (passage,), ((s.start - passage.start, s.end - passage.start),)
        )


# --- helpers -------------------------------------------------------------------------------
def _expands(text: str, letters: str) -> bool:
    """Whether some run of words in `text` has `letters` as initials (small words such as
    "and", "of" may sit between them; hyphenated parts count as words)."""
    words = re.findall(r"[a-z]+", text)
    for start in range(len(words)):
        i, j = 0, start
        while i < len(letters) and j < len(words):
            if words[j][0] == letters[i]:
                i += 1
            elif words[j] not in ("and", "of", "the", "for"):
                break
            j += 1
        if i == len(letters):
            return True
    return False



# A decade ("the 1990s") is a period, not an anchor: the document writes "the Nineties".
_NUMBER_ANCHOR = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:st|nd|rd|th)?(?![\w.’'])")
# Two-letter acronyms are too ambiguous to anchor on ("IT" is the document's "information
# technology"; "US" would "expand" to any two words): three letters, or a digit ("5G").
_NAME_ANCHOR = re.compile(r"(?<=\s)(?:[A-Z][a-z]+|[A-Z]{3,}s?|[A-Z0-9]*\d[A-Z]+[A-Z0-9]*)\b")
# The document says "our country" where a reader says "China": not a missing name.
_DOCUMENT_ALIASES = frozenset({"china", "chinese", "prc"})


def anchors(question: str) -> list[str]:
    """What a question is anchored on: numbers and years ("2010", "4th"), and names or acronyms
    after its first word ("India", "WTO", "5G"). Frame words and the document's own aliases
    are not anchors, nor is a part or section the question names ("Part VII")."""
    question = without_scope(question)
    found = [m.group(0) for m in _NUMBER_ANCHOR.finditer(question)]
    for match in _NAME_ANCHOR.finditer(question):
        word = match.group(0)
        is_acronym = word.isupper()
        if (is_acronym or word.lower() not in FRAME_WORDS) and word.lower() not in _DOCUMENT_ALIASES:
            found.append(word)
    return found


def _holds(text: str, anchor: str) -> bool:
    """Whether lower-cased passage text contains the anchor as a word, or an acronym's
    expansion ("IT" as "information technology", "SMEs" as "small and mid-size enterprises")."""
    letters = anchor[:-1] if anchor.endswith("s") and anchor[:-1].isupper() else anchor
    if letters.isupper() and letters.isalpha() and _expands(text, letters.lower()):
        return True
    core = re.sub(r"(st|nd|rd|th)$", "", anchor.lower()) if anchor[0].isdigit() else anchor.lower()
    return re.search(rf"(?<!\w){re.escape(core)}(?:st|nd|rd|th|s)?(?!\w)", text) is not None



def _wanted_values(question: str) -> list[re.Pattern[str]]:
    """Patterns for the kind of value a question asks for (a date, a quantity, a named body or
    person), if any."""
    pairs = ((_ASKS_DATE, _HAS_DATE), (_ASKS_NUMBER, _HAS_NUMBER), (_ASKS_ENTITY, _HAS_ENTITY))
    return [has for asks, has in pairs if asks.search(question)]


def _rescored(s: ScoredSentence, score: float, passage_index: int | None = None) -> ScoredSentence:
    return ScoredSentence(
        s.passage_index if passage_index is None else passage_index,
        s.start, s.end, s.text, score, s.cosine, s.overlap, s.vector,
    )


def _tidy(text: str) -> str:
    """A quoted sentence as prose: no leading bullet or dash, no raw line breaks."""
    return _SPACE.sub(" ", _BULLET.sub("", text)).strip()


def _normal(text: str) -> str:
    text = re.sub(r"\[\d+(?:\s*,\s*\d+)*\]", "", text)
    return _SPACE.sub(" ", text.replace("’", "'")).strip().lower()


def _item_sentence(item: ListItem) -> ComposedSentence:
    """A list item as an answer line, citing the span it quotes in its passage."""
    start, end = item.start - item.passage.start, item.end - item.passage.start
    return ComposedSentence(item.text, (item.passage,), ((start, end),), item=True)


def _as_item(sentence: ComposedSentence) -> ComposedSentence:
    return ComposedSentence(sentence.text, sentence.cites, sentence.spans, item=True)


def _count_word(n: int) -> str:
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else str(n)


def _list_intro(document_list: DocumentList, count: int) -> str:
    """The sentence before a list: what it is, where, and how many items (digits and word)."""
    number = f"{count} ({_count_word(count)})"
    if document_list.title:
        return f"{document_list.title} sets out {number} items:"
    where = document_list.anchor.section
    return f"The document lists {number} items in {where}:"


def _shorten(text: str, words: int = 14) -> str:
    pieces = text.split()
    return " ".join(pieces[:words]) + ("…" if len(pieces) > words else "")


def _part_label(part: str, scope: Sequence[ScopeReference]) -> str:
    if scope and not topic_words(re.sub(r"(?i)\bpart\s+\w+", "", part)):
        return ", ".join(f"Part {s.label}" for s in scope)
    text = part.strip().rstrip("?")
    return f"“{_shorten(text[:1].lower() + text[1:], 12)}”"
