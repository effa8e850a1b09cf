"""Warm latency of citeqa's ask()/retrieve() beside one query embedding and llama-index's
default retriever over the same document and embedding model, plus cold start and RSS.

    .venv/bin/python bench/latency.py [--rounds 3]

Every question is new to the engine in each round (a suffix defeats the query-vector cache),
so the figures include embedding the question. Prints a table; ratios are to one embedding.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QUESTIONS, p50, p95, print_table, rss_mb, timed  # noqa: E402
from ingest.embed import as_llama_index_embedding  # noqa: E402
from rag import QAEngine, load_settings  # noqa: E402


def llama_index_default_retriever(engine: QAEngine) -> object:
    """llama-index's stock pipeline: SentenceSplitter(1024) → VectorStoreIndex → top-2."""
    from llama_index.core import Document, VectorStoreIndex

    text = engine.document_text("national-informatization-strategy-2006-2020") or ""
    index = VectorStoreIndex.from_documents(
        [Document(text=text)], embed_model=as_llama_index_embedding(engine.embedder)
    )
    return index.as_retriever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(data_dir=Path(folder))
        started = time.perf_counter()
        engine = QAEngine(settings)
        engine.warm_up()
        build_s = time.perf_counter() - started
        baseline = llama_index_default_retriever(engine)

        rows = []
        samples: dict[str, list[float]] = {"embed": [], "retrieve": [], "ask": [], "llama": []}
        for round_ in range(args.rounds):
            for question in QUESTIONS:
                # a different number of '?' per call: every text is new to every cache
                def variant(n: int, question: str = question, round_: int = round_) -> str:
                    return question + " " + "?" * (4 * round_ + n)

                samples["embed"] += timed(lambda: engine.embedder.embed_query(variant(1)))
                samples["retrieve"] += timed(lambda: engine.retrieve(variant(2)))
                samples["ask"] += timed(lambda: engine.ask(variant(3)))
                samples["llama"] += timed(lambda: baseline.retrieve(variant(4)))  # type: ignore[attr-defined]
        embed_p50 = p50(samples["embed"])
        labels = {
            "embed": "one query embedding (MiniLM int8)",
            "retrieve": "citeqa retrieve() hybrid, k=5",
            "ask": "citeqa ask() offline extractive",
            "llama": "llama-index default as_retriever() (dense, top-2)",
        }
        for key, label in labels.items():
            values = samples[key]
            rows.append([label, p50(values), p95(values), p50(values) / embed_p50])
        rss_warm = rss_mb()

        # Cold start: a new process, index already built, to the first printed answer.
        env_code = (
            "import time; t=time.perf_counter(); from rag import QAEngine, load_settings; "
            f"e=QAEngine(load_settings(data_dir={folder!r})); "
            "a=e.ask('What share of GDP did the information industry reach in 2005?'); "
            "print(round((time.perf_counter()-t)*1000)); "
            "from bench.common import rss_mb; print(round(rss_mb()))"
        )
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", env_code], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        cold_wall = (time.perf_counter() - started) * 1000
        in_process_ms, cold_rss = out.stdout.split()

    print(f"{len(QUESTIONS)} questions × {args.rounds} rounds, warm; ratio = p50 / p50 of one query embedding\n")
    print_table(["what", "p50 ms", "p95 ms", "× embed"], rows)
    print()
    print_table(
        ["start-up", "value"],
        [
            ["first build of the index (ingest + caches), s", build_s],
            ["cold start to first answer, new process, ms (wall)", cold_wall],
            ["  of which after interpreter start (imports + open + ask), ms", in_process_ms],
            ["peak RSS, cold process answering one question, MB", cold_rss],
            ["peak RSS, this process (engine + llama-index baseline), MB", rss_warm],
        ],
    )


if __name__ == "__main__":
    main()
