"""Question handling before retrieval: sanitise, language, follow-ups, and the question's shape.

Everything here reads only the question text (and, for a follow-up, the question before it),
so each rule is testable without an index. The compromise: shapes and follow-ups are read
from the wording with a few patterns, not by a model; a question the patterns miss is treated
as a plain fact question, which is the safe default (one precise cited sentence).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from rag.errors import QuestionError

# Longer questions are cut: a question is a sentence or two, not a document, and a 100 KB
# paste would otherwise cost seconds of tokenising for nothing.
MAX_QUESTION_CHARS = 1000

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def well_formed(text: str) -> str:
    """`text` with every lone surrogate (a broken paste, a JavaScript string) as U+FFFD: a str
    that UTF-8, JSON encoders, SQLite and terminals all take. Valid pairs are kept."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def sanitize_question(question: object) -> tuple[str, list[str]]:
    """The question as text citeqa can use, and notices for the reader.

    Lone surrogates (from a broken paste or a JS client) become U+FFFD instead of crashing the
    tokenizer; control and format characters become spaces; runs of space collapse; the text is
    cut at MAX_QUESTION_CHARS with a notice. Raises QuestionError when `question` is not a str
    or nothing is left.
    """
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    notices: list[str] = []
    pasted = len(question)
    # Only the head can be used: clean a generous prefix, not a whole pasted document
    # (cleaning is per character; a 1 MB paste took 0.3 s).
    text = well_formed(question[: 4 * MAX_QUESTION_CHARS])
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs") else ch for ch in text
    )
    text = re.sub(r"\s+", " ", text).strip()
    if not text.replace("\ufffd", "").strip():
        raise QuestionError("the question is empty: type a question about the document")
    if len(text) > MAX_QUESTION_CHARS or pasted > 4 * MAX_QUESTION_CHARS:
        notices.append(
            f"Your question was {max(len(text), pasted):,} characters long; only the first "
            f"{MAX_QUESTION_CHARS:,} were used."
        )
        text = text[:MAX_QUESTION_CHARS].rstrip()
    return text, notices


def is_chinese(text: str) -> bool:
    """True when Chinese characters outnumber Latin words (a question asked in Chinese)."""
    return len(_CJK.findall(text)) > 2 * len(_LATIN_WORD.findall(text))


# --- follow-ups -----------------------------------------------------------------------------
# A follow-up is a question that cannot stand alone. Three signs, each a matter of meaning:
#   1. it continues the conversation: "and …", "what about …", "tell me more";
#   2. it leans on a pronoun whose referent is not in the question itself ("why are they
#      needed?"); "it" meaning the document ("what does it say about …") is not one;
#   3. its subject is elided: no topic word at all ("Why?", "Which comes first?").
# Length is not a sign ("Digital divide?" stands alone), and neither is a change of language.
_CONTINUATION = re.compile(
    r"^\W*(and|also|plus|then|so)\b|^\W*(what|how)\s+about\b|^\W*what\s+else\b"
    r"|^\W*(tell\s+me\s+)?more\b|^\W*(any|some)\s+more\b|^\W*same\s+(for|with)\b"
    r"|^\W*what\s+of\b|^\W*and\s+(what|how|which|who|why|when)\b",
    re.IGNORECASE,
)
_PRONOUN = re.compile(
    r"\b(they|them|their|theirs|those|these|such|it|its|this|that|he|she|him|her)\b",
    re.IGNORECASE,
)
# "it" as the document: "what does it say", "who issued it", "is it about".
_DOCUMENT_IT = re.compile(
    r"\b(does|did|do|will|would|can|could|is|was)\s+it\s+(say|says|mention|state|cover|describe"
    r"|define|propose|list|set|aim|talk|discuss|address|include|contain|plan|want|call|"
    r"expect|recommend|require|ask|suggest|give|name|issued|published|adopted|approved|signed"
    r"|dated|released|written)\b"
    r"|\b(issued?|wrote|write|written|published?|adopted?|approved?|signed?|dated?|released?)\s+it\b"
    r"|\bit\s+(says|mentions|states|covers|describes|lists|proposes|sets|calls)\b",
    re.IGNORECASE,
)
# Words that frame a question without naming its topic.
FRAME_WORDS = frozenset(
    """a an the and or but of to in on for by with as at from is are was were be been being do
    does did done doing have has had will would shall should can could may might must what which
    who whom whose when where why how that this these those it its they them their there here
    about tell me more else also any some anything something please explain describe say says
    said mention mentions mentioned list name give show define mean means first last next one
    ones other others another both either each all so then plus same again document
    strategy text paper part section i you we us our my your really exactly just come comes
    kind kinds type types way ways thing things example examples detail details further
    compare compared comparison contrast difference differences differ between versus vs
    many much number main major summarise summarize summary overview outline contents cover
    covers contain contains set sets out lay lays laid listed named outlined parts structure
    structured organised organized""".split()
)
_ZH_FOLLOW_UP = re.compile(r"^(那|那么|还有|另外|此外|而且|并且)|呢[？?]?$|(它|它们|他们|这些|那些|其)")


def topic_words(question: str) -> list[str]:
    """The question's words that name a topic (not frame words), in order, as written."""
    return [w for w in _WORD.findall(question) if w.lower().strip("'’-") not in FRAME_WORDS]


def is_follow_up(question: str) -> bool:
    """Whether `question` cannot stand alone (see the three signs above)."""
    if is_chinese(question):
        return bool(_ZH_FOLLOW_UP.search(question.strip()))
    if _CONTINUATION.search(question):
        return True
    if not topic_words(question):
        return True  # "Why?", "Which one comes first?": the subject is elided
    without_document_it = _DOCUMENT_IT.sub(" ", question)
    for match in _PRONOUN.finditer(without_document_it):
        before = without_document_it[: match.start()]
        if not topic_words(before):
            # The pronoun comes before anything it could refer to in this question. A
            # determiner with its own topic noun ("these plans") still points back: "plans"
            # names what, not which.
            return True
    return False


def leans_on_pronoun(question: str) -> bool:
    """Whether the question holds a third-person pronoun other than the document's "it"
    ("…which plan is meant to fix it?"): inside a multi-part question it points back."""
    return bool(_PRONOUN.search(_DOCUMENT_IT.sub(" ", question)))


_TOPIC_SWAP = re.compile(
    r"^\W*(?:and\s+)?(?:also\s+)?(?:what|how)\s+about\s+(?:the\s+)?(?P<topic>.+?)\W*$"
    r"|^\W*and\s+(?:for\s+|in\s+)?(?:the\s+)?(?P<topic2>.+?)\W*$"
    r"|^\W*(?:那|那么)?(?P<topic3>.+?)呢[？?]?$",
    re.IGNORECASE,
)


def swap_topic(question: str) -> str | None:
    """The new topic of an "and what about X?" follow-up, or None if it is not one."""
    match = _TOPIC_SWAP.match(question.strip())
    if match is None:
        return None
    topic = match["topic"] or match["topic2"] or match["topic3"]
    return topic if topic and len(topic.split()) <= 6 else None


def previous_topic(previous_question: str) -> str:
    """The topic of the question a follow-up leans on: its topic words, in order."""
    return " ".join(topic_words(previous_question))


# --- shapes --------------------------------------------------------------------------------
QuestionShape = Literal["fact", "list", "count", "overview", "multi", "explain"]

_COUNT = re.compile(
    r"\bhow\s+many\b|\bnumber\s+of\s+\w+s\b|多少(个|项|条|种)|几(个|项|条|种)", re.IGNORECASE
)
_COMPARE = re.compile(
    r"\bcompar(e|es|ed|ing|ison)\b|\bdiffer(ence|ences|s|ent)?\b.*\b(between|from)\b|\bcontrast\b"
    r"|\bvs\.?\b|\bversus\b|\bboth\b.*\band\b|比较|区别|不同",
    re.IGNORECASE,
)
# "What are the …s", "list …", "name the …", "which …s does it set out".
_LIST = re.compile(
    r"^\W*(what|which)\s+(are|were)\s+(the\s+|its\s+|their\s+|some\s+(of\s+the\s+)?)?"
    r"|^\W*(list|name|enumerate|outline|give)\b|\b(what|which)\s+(kinds|types|sorts)\s+of\b"
    r"|\b(main|key|major|six|nine|seven|five|four|three|all\s+the)\s+\w+s\b"
    r"|\bset\s+out\b|\blay\s+out\b|有哪些|哪些|列出"
    # "Which areas …", "What problems …": a plural noun asked for by which/what.
    r"|^\W*(what|which)\s+(?!(does|is|was|has|this|its|us)\b)[a-z]*[^s\W]s\b",
    re.IGNORECASE,
)
_OVERVIEW = re.compile(
    r"\b(what|how)\s+(does|do|did)\s+(it|the\s+\w+|this\s+\w+)\s+(say|says|state|cover|discuss"
    r"|address|propose|plan)\s*(about|on|for|regarding)?\b|\btell\s+me\s+about\b|\banything\s+"
    r"(on|about)\b|\boverview\b|\bsummar(y|ise|ize)\b|\bwhat\s+about\b|关于|怎么说|说了什么",
    re.IGNORECASE,
)
_EXPLAIN = re.compile(r"^\W*(why|how)\b|为什么|如何|怎样", re.IGNORECASE)
# A question word anywhere ("In what year …", "According to Part V, which …"): without one
# (and without a leading verb), the text is a bare topic ("Digital divide?").
_QUESTION_WORD = re.compile(
    r"\b(what|which|who|whom|whose|when|where|why|how)\b|^\W*(is|are|was|were|does|do|did|can"
    r"|could|will|would|should|shall|has|have|list|name|tell|give|describe|explain|compare"
    r"|summari[sz]e|define)\b",
    re.IGNORECASE,
)


def question_shape(question: str) -> QuestionShape:
    """How the answer should be shaped (see rag.compose): count, multi (a comparison or a
    multi-part question), list, overview, explain (why/how), or fact. Checked in that order:
    "How many plans are listed?" is a count, "What are the differences between A and B?" multi."""
    if _COUNT.search(question):
        return "count"
    if _COMPARE.search(question) or len(split_parts(question)) > 1:
        return "multi"
    if _LIST.search(question):
        return "list"
    if _OVERVIEW.search(question) or not _QUESTION_WORD.search(question):
        # A bare topic ("Digital divide?", "e-government") asks for what the document says.
        return "overview" if not is_chinese(question) or _OVERVIEW.search(question) else "fact"
    if _EXPLAIN.search(question):
        return "explain"
    return "fact"


_PART_SPLIT = re.compile(
    r"\?\s+(?=\S)|;\s+|,?\s+and\s+(?=(what|how|which|who|when|where|why|is|are|does|do)\b)",
    re.IGNORECASE,
)


def split_parts(question: str) -> list[str]:
    """A multi-part question's parts: "What is X, and how will Y be done?" → two questions.

    Only splits where a new question begins (a second "?" or ", and what/how/…"), so "What are
    the aims and tasks of X?" stays one question.
    """
    parts: list[str] = []
    position = 0
    for match in _PART_SPLIT.finditer(question):
        piece = question[position : match.start()].strip(" ,;")
        if piece:
            parts.append(piece)
        position = match.end()
    tail = question[position:].strip(" ,;")
    if tail:
        parts.append(tail)
    parts = [piece for part in parts for piece in _split_at_second_part(part)]
    return [p for p in parts if topic_words(p)] or [question]


def _split_at_second_part(question: str) -> list[str]:
    """"What does Part II say about problems and Part III about principles?" asks two things,
    one per part; "What do Part IV and Part V say about e-government?" asks one thing of two
    parts. Split at the "and" before the second part only when both sides have a topic."""
    references = list(_PART_REFERENCE.finditer(question))
    if len(references) < 2:
        return [question]
    joint = list(re.finditer(r",?\s+and\s+", question[references[0].end() : references[1].start()]))
    if not joint:
        return [question]
    cut = references[0].end() + joint[-1].start()
    left, right = question[:cut], question[references[0].end() + joint[-1].end() :]
    if topic_words(without_scope(left)) and topic_words(without_scope(right)):
        return [left.strip(" ,;"), right.strip(" ,;")]
    return [question]


_COMPARED = re.compile(
    r"\bcompar\w*\s+(?P<a>.+?)\s+(and|with|to|against)\s+(?P<b>.+?)\W*$"
    r"|\bdifferen\w*\s+between\s+(?P<c>.+?)\s+and\s+(?P<d>.+?)\W*$"
    r"|\b(?P<e>[\w\s'’-]+?)\s+(vs\.?|versus)\s+(?P<f>.+?)\W*$",
    re.IGNORECASE,
)


def compared_items(question: str) -> list[str]:
    """The two things a comparison names ("compare Part IV and Part V" → both), else []."""
    match = _COMPARED.search(question)
    if match is None:
        return []
    pairs = [(match["a"], match["b"]), (match["c"], match["d"]), (match["e"], match["f"])]
    for first, second in pairs:
        if first and second:
            # "Compare what A and B say about X": X is asked of both, so it is not part of B
            # (the caller adds the words no item holds to each item's question).
            second = _SAYS_ABOUT.split(second, maxsplit=1)[0]
            first = _WHAT_OR_HOW.sub("", first)
            return [first.strip(), second.strip()]
    return []


_SAYS_ABOUT = re.compile(r"\s+(?:say|says|said|do|does)\s+(?:about|on|regarding|concerning)\s+", re.IGNORECASE)
_WHAT_OR_HOW = re.compile(r"^\s*(?:what|how)\s+", re.IGNORECASE)


# "Part IV", "part 4", "section IV (2)", "IV (8)", "section 8 of part IV".
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
_PART_REFERENCE = re.compile(
    r"\bpart\s+(?P<part>[ivx]+|\d{1,2})\b(?:\s*,?\s*(?:section\s*)?\(?(?P<section>\d{1,2})\))?"
    r"|\b(?P<part2>[IVX]+)\s*\((?P<section2>\d{1,2})\)"
    r"|\bsection\s*\(?(?P<section3>\d{1,2})\)?\s+(?:of|in)\s+part\s+(?P<part3>[ivx]+|\d{1,2})\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ScopeReference:
    """A part (and maybe a section) the question names explicitly: "Part IV", "V (3)"."""

    part: str  # a Roman numeral, as the document writes it
    section: str = ""

    @property
    def label(self) -> str:
        return f"{self.part} ({self.section})" if self.section else self.part


def scope_references(question: str) -> list[ScopeReference]:
    """The parts/sections a question names, in order ("compare Part IV and Part V")."""
    found: list[ScopeReference] = []
    for match in _PART_REFERENCE.finditer(question):
        raw = (match["part"] or match["part2"] or match["part3"] or "").lower()
        number = int(raw) if raw.isdigit() else _ROMAN.get(raw)
        if number is None:
            continue
        numeral = next(k for k, v in _ROMAN.items() if v == number).upper()
        reference = ScopeReference(
            numeral, match["section"] or match["section2"] or match["section3"] or ""
        )
        if reference not in found:
            found.append(reference)
    return found


def without_scope(question: str) -> str:
    """The question with its part/section references taken out ("Part VII", "IV (2)"): they
    name where to look, not what the text must contain."""
    return _PART_REFERENCE.sub(" ", question)


# --- spelling ------------------------------------------------------------------------------
# British and American spellings of the same word: tried both ways, so a reader's spelling
# meets the document's whichever it uses ("organisation" → "organization", and the document's
# own "centre" stays reachable from "center").
_SPELLING_VARIANTS = (
    ("isation", "ization"), ("ise", "ize"), ("ised", "ized"), ("ising", "izing"),
    ("ises", "izes"), ("yse", "yze"), ("our", "or"), ("tre", "ter"), ("ence", "ense"),
    ("ogue", "og"), ("mme", "m"), ("lled", "led"), ("lling", "ling"),
)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Shorter words are left alone. A four-letter word is corrected only to a word of the corpus
# one edit away ("rual" → "rural"), never by the general English speller: at four letters one
# edit reaches too many real words ("spam" → "span"; "spam" is English, so it stays anyway).
MIN_CORRECTED_LENGTH = 4
GENERAL_SPELLER_MIN_LENGTH = 5


def _variants(word: str) -> list[str]:
    out: list[str] = []
    for british, american in _SPELLING_VARIANTS:
        for a, b in ((british, american), (american, british)):
            if word.endswith(a):
                out.append(word[: -len(a)] + b)
    return out


def _edits1(word: str) -> set[str]:
    """Every string one edit from `word` (delete, transpose, replace, insert) — Norvig's."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in _LETTERS]
    inserts = [a + c + b for a, b in splits for c in _LETTERS]
    return set(deletes + transposes + replaces + inserts)


@lru_cache(maxsize=1)
def _english() -> Any:
    """pyspellchecker's English dictionary (bundled in the wheel, ~0.2 s to load, loaded only
    when a question holds a word the corpus does not)."""
    from spellchecker import SpellChecker

    return SpellChecker(language="en", distance=2)


def correct_spelling(
    question: str, frequency: Callable[[str], int]
) -> tuple[str, list[tuple[str, str]]]:
    """The question with misspelled words corrected, and the (written, read as) pairs.

    `frequency(word)` is how often the corpus uses a lower-case word. A word is left alone when
    the corpus uses it, when it is an English word (pyspellchecker's dictionary: "share" is
    not a misspelling of the corpus's "shape"), when it is an acronym, or when it is shorter
    than MIN_CORRECTED_LENGTH. Otherwise it becomes, in this order: a British/American variant the
    corpus uses ("organisation" → "organization"), or that English has ("prioritise" →
    "prioritize"), a corpus word one edit away used at least
    twice ("stratgey" → "strategy", "rual" → "rural"), or pyspellchecker's English correction
    (words of GENERAL_SPELLER_MIN_LENGTH letters or more).
    """
    corrections: list[tuple[str, str]] = []

    def fix(match: re.Match[str]) -> str:
        written = match.group(0)
        word = written.lower()
        if len(word) < MIN_CORRECTED_LENGTH or word in FRAME_WORDS or frequency(word) > 0:
            return written
        if written.isupper():
            return written  # an acronym ("NATO") is a name, not a misspelling
        english = _english()
        if english.known([word]):
            return written
        candidates = [w for w in _variants(word) if frequency(w) >= 1]
        if not candidates:
            candidates = sorted(english.known(_variants(word)))
        if not candidates:
            candidates = [w for w in _edits1(word) if frequency(w) >= 2]
        best = max(candidates, key=lambda w: (frequency(w), w)) if candidates else None
        if best is None and len(word) >= GENERAL_SPELLER_MIN_LENGTH:
            suggestion = english.correction(word)
            best = suggestion if suggestion and suggestion != word else None
        if best is None:
            return written
        corrections.append((written, best))
        return best if written.islower() else best.capitalize() if written[0].isupper() else best

    corrected = re.sub(r"[A-Za-z]+", fix, question)
    return corrected, corrections
