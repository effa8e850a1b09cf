"""citeqa's public API: ask a question of the indexed document, get an answer with citations.

    from rag import ask
    result = ask("What share of GDP did the information industry reach in 2005?")
    print(result.answer)                       # "... 7.2 per cent of GDP ... [1]"
    for n, passage in enumerate(result.citations, 1):
        print(n, passage.section)

`ask`/`retrieve` build a default `QAEngine` from the environment on first use (and the index
from the bundled corpus if it is missing). Build your own `QAEngine(load_settings(...))` to
choose settings explicitly.
"""

from rag.engine import QAEngine, ask, ask_stream, retrieve
from rag.errors import CiteqaError
from rag.policy import AnswerPolicy
from rag.settings import Settings, load_settings
from rag.types import Answer, AnswerMode, AnswerSentence, Passage, RetrievalMode, Turn

__all__ = [
    "Answer",
    "AnswerPolicy",
    "AnswerMode",
    "AnswerSentence",
    "CiteqaError",
    "Passage",
    "QAEngine",
    "RetrievalMode",
    "Settings",
    "Turn",
    "ask",
    "ask_stream",
    "load_settings",
    "retrieve",
]
