"""A second app replica for tests/test_replicas.py: one QAEngine in its own process.

Settings come from CITEQA_* variables. Prints one JSON line when ready, then answers one JSON
command per stdin line ({"ask": question, "retrieval": mode}) with one JSON line: the answer,
the documents cited and retrieved, the documents the engine knows, and how many document
texts and queries its embedder was given (the real embedder behind a counting wrapper).
"""

from __future__ import annotations

import json
import sys

from ingest.embed import MiniLMEmbedder
from rag import QAEngine, load_settings
from tests.conftest import CountingEmbedder


def main() -> None:
    embedder = CountingEmbedder(MiniLMEmbedder())
    engine = QAEngine(load_settings(), embedder=embedder)
    engine.warm_up()
    print(json.dumps({"ready": True, "texts": embedder.texts}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        answer = engine.ask(command["ask"], retrieval=command.get("retrieval"))
        print(
            json.dumps(
                {
                    "answer": answer.answer,
                    "refused": answer.refused,
                    "cited": [p.doc for p in answer.citations],
                    "retrieved": [p.doc for p in answer.retrieved],
                    "documents": sorted(engine._load().index.documents),
                    "texts": embedder.texts,
                    "queries": embedder.queries,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
