"""Distinct passages in the top 5 when the index holds 60 near-identical versions of the Strategy,
with near-duplicates across documents kept (before) and collapsed (after).

    .venv/bin/python bench/diversity.py [--versions 60] [--repeat 3] [--data DIR]

The versions are the Strategy and `light` editions of it (bench/corpora.py: another title and
two figures changed). For each of bench/common.py's QUESTIONS, the top 5 of `retrieve()`
(hybrid) is read both ways over the same index; "distinct" counts the groups of the 5 that are
not near-duplicates of each other (exact word-set Jaccard >= 0.8, the rule rag.retrieve uses).
Retrieval time is timed both ways, interleaved, --repeat rounds (a suffix makes every question
new to the query cache), and given as p50/p95 and the ratio after / before.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import QUESTIONS, p50, p95, print_table, timed  # noqa: E402
from bench.corpora import edition_path  # noqa: E402
from ingest.dedup import NEAR_DUPLICATE_JACCARD, jaccard, word_set  # noqa: E402
from ingest.embed import MiniLMEmbedder  # noqa: E402
from ingest.index import IndexConfig, open_index  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from rag.retrieve import HybridRetriever  # noqa: E402
from rag.settings import BUNDLED_CORPUS  # noqa: E402
from rag.types import Passage  # noqa: E402


def distinct(passages: list[Passage]) -> int:
    """Groups of near-duplicates among the passages (connected by Jaccard >= 0.8)."""
    words = [word_set(p.text) for p in passages]
    group = list(range(len(passages)))
    for later in range(len(passages)):
        for earlier in range(later):
            if jaccard(words[earlier], words[later]) >= NEAR_DUPLICATE_JACCARD:
                old, new = group[later], group[earlier]
                group = [new if g == old else g for g in group]
    return len(set(group))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, help="keep the index here (default: a temporary folder)")
    args = parser.parse_args()
    embedder = MiniLMEmbedder()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.data or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        paths = [BUNDLED_CORPUS] + [edition_path(folder, n, light=True) for n in range(1, args.versions)]
        started = time.perf_counter()
        summary = ingest_paths(paths, IndexConfig(folder / "data"), embedder)
        print(f"{len(paths)} versions, {summary.chunks} chunks; ingest {time.perf_counter() - started:.0f} s, "
              f"{summary.embedded_texts} texts embedded\n")
        index = open_index(IndexConfig(folder / "data"), embedder)
        retrievers = {
            "before (copies kept)": HybridRetriever(index, embedder, across_documents=False),
            "after (copies collapsed)": HybridRetriever(index, embedder),
        }
        counts: dict[str, list[int]] = {label: [] for label in retrievers}
        named: dict[str, list[int]] = {label: [] for label in retrievers}
        times: dict[str, list[float]] = {label: [] for label in retrievers}
        for question in QUESTIONS:
            for label, retriever in retrievers.items():
                passages = retriever.retrieve(question, 5)
                counts[label].append(distinct(passages))
                named[label].append(sum(len(p.also_in) for p in passages))
        for round_ in range(args.repeat):
            for question in QUESTIONS:
                for label, retriever in retrievers.items():
                    asked = f"{question} {'?' * (round_ + 1)}"  # new to the query cache
                    vector = embedder.embed_query(asked)
                    times[label] += timed(lambda r=retriever, q=asked, v=vector: r.retrieve(q, 5, query_vector=v))  # type: ignore[misc]
        before = p50(times["before (copies kept)"])
        rows = [
            [
                label,
                statistics.mean(counts[label]),
                min(counts[label]),
                statistics.mean(named[label]),
                p50(times[label]),
                p95(times[label]),
                p50(times[label]) / before,
            ]
            for label in retrievers
        ]
    print(f"Top 5 of retrieve() over {len(QUESTIONS)} questions; times: retrieval after the query "
          f"embedding, {args.repeat} rounds\n")
    print_table(
        ["", "distinct passages (mean)", "fewest", "documents named in also_in (mean per question)",
         "p50 ms", "p95 ms", "× before"],
        rows,
    )


if __name__ == "__main__":
    main()
