"""How citeqa grows from 1 to 10 to 100 documents, beside llama-index's default pipeline.

    .venv/bin/python bench/scale.py [--sizes 1,10,100] [--repeat 3] [--keep DIR]

Corpora (bench/corpora.py): the Strategy, editions of it (figures, title, section order and
paragraphs changed; no two alike) and, one document in ten, licence texts from
/usr/share/common-licenses; each corpus holds the smaller ones. For each size:

  ingest      a whole ingest into a new embedded index, in a new process: seconds, split by
              stage (IngestSummary.stage_seconds), texts embedded, peak RSS (VmHWM)
  add one     one more edition added to that index (ingest_paths of that file alone, as the
              page's upload does), in a new process: seconds, texts embedded, and the part
              spent bringing the keyword cache up to date
  disk        the data folder (Chroma and the local keyword cache)
  warm        retrieve() and ask() p50/p95 over bench/common.py QUESTIONS in this process,
              --repeat rounds, each question new to the query cache
  cold        a new process that opens the index and answers one question: wall time to the
              answer, peak RSS; and, in another, the Python memory open_index() holds (the
              keyword cache, the key table, the document records: tracemalloc)
  llama-index VectorStoreIndex.from_documents (its default SentenceSplitter, the same MiniLM
              through ingest.embed.as_llama_index_embedding, in memory): build time in a new
              process with its peak RSS, and its default retriever's p50/p95, interleaved
              with citeqa's so a busy machine slows both alike

Timed steps are repeated --repeat times (medians; the warm rounds give percentiles). The
machine is shared and has 2 cores: read the ratios and the growth exponents (k in
quantity ∝ documents^k, the log-log slope between sizes), not single figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.common import QUESTIONS, p50, p95, print_table, timed  # noqa: E402
from bench.corpora import available_real_texts, corpus, edition_path  # noqa: E402
from ingest.embed import MiniLMEmbedder, as_llama_index_embedding  # noqa: E402
from ingest.load import read_document  # noqa: E402
from rag import QAEngine, load_settings  # noqa: E402

STAGES = ("read", "sections", "chunk", "embed", "write", "commit", "cleanup", "keyword")
# The edition added to each corpus: a number no corpus of up to 900 documents uses.
ADDED_EDITION = 901

INGEST_CODE = """
import json, sys, time
from pathlib import Path
from bench.common import rss_mb
from ingest.embed import MiniLMEmbedder
from ingest.index import IndexConfig
from ingest.pipeline import ingest_paths
paths = [Path(p) for p in json.loads(sys.argv[2])]
summary = ingest_paths(paths, IndexConfig(Path(sys.argv[1])), MiniLMEmbedder())
print(json.dumps({"seconds": summary.seconds, "stages": summary.stage_seconds,
                  "chunks": summary.chunks, "sentences": summary.sentences,
                  "embedded": summary.embedded_texts, "rss_mb": rss_mb()}))
"""

COLD_CODE = """
import json, sys, time
started = time.perf_counter()
from rag import QAEngine, load_settings
engine = QAEngine(load_settings(data_dir=sys.argv[1]))
answer = engine.ask("What share of GDP did the information industry reach in 2005?")
from bench.common import rss_mb
print(json.dumps({"ms": (time.perf_counter() - started) * 1000, "rss_mb": rss_mb(),
                  "refused": answer.refused}))
"""

LLAMA_CODE = """
import json, sys, time
from pathlib import Path
from bench.common import rss_mb
from bench.scale import llama_index_of
from ingest.embed import MiniLMEmbedder
paths = [Path(p) for p in json.loads(sys.argv[1])]
embedder = MiniLMEmbedder()
embedder.embed_documents(["warm up"])
started = time.perf_counter()
index = llama_index_of(paths, embedder)
print(json.dumps({"seconds": time.perf_counter() - started, "rss_mb": rss_mb(),
                  "nodes": len(index.docstore.docs)}))
"""


OPEN_CODE = """
import json, sys, tracemalloc
from pathlib import Path
from ingest.embed import MiniLMEmbedder
from ingest.index import IndexConfig, open_index
embedder = MiniLMEmbedder()
settings = IndexConfig(Path(sys.argv[1]))
open_index(settings, embedder)  # imports and the Chroma client, outside the count
tracemalloc.start()
index = open_index(settings, embedder)
held, _ = tracemalloc.get_traced_memory()
print(json.dumps({"mb": held / 1e6}))
"""


def run_json(code: str, *args: str) -> dict[str, Any]:
    """Run `code` in a new interpreter from the repository; its last stdout line is JSON."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, cwd=REPO
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def llama_index_of(paths: list[Path], embedder: MiniLMEmbedder) -> Any:
    """llama-index's stock pipeline over the same clean texts citeqa indexes."""
    from llama_index.core import Document, VectorStoreIndex

    documents = [Document(text=read_document(p).text, metadata={"doc": p.stem}) for p in paths]
    return VectorStoreIndex.from_documents(documents, embed_model=as_llama_index_embedding(embedder))


def warm_samples(paths: list[Path], data: Path, repeat: int, embedder: MiniLMEmbedder) -> dict[str, list[float]]:
    """Milliseconds of citeqa's retrieve() and ask() and llama-index's retrieve, interleaved."""
    baseline = llama_index_of(paths, embedder).as_retriever()
    engine = QAEngine(load_settings(data_dir=data), embedder=embedder)
    engine.warm_up()
    samples: dict[str, list[float]] = {"retrieve": [], "ask": [], "llama": []}
    for round_ in range(repeat):
        for question in QUESTIONS:
            def variant(n: int, question: str = question, round_: int = round_) -> str:
                return question + " " + "?" * (4 * round_ + n)  # new to every cache

            samples["retrieve"] += timed(lambda: engine.retrieve(variant(1)))
            samples["ask"] += timed(lambda: engine.ask(variant(2)))
            samples["llama"] += timed(lambda: baseline.retrieve(variant(3)))
    return samples


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def median(values: list[float]) -> float:
    return statistics.median(values)


def measure(size: int, work: Path, repeat: int, embedder: MiniLMEmbedder) -> dict[str, Any]:
    """Every figure of one corpus size (see the module docstring)."""
    paths = corpus(work / "corpus", size)
    listed = json.dumps([str(p) for p in paths])
    data = work / f"data-{size}"
    ingests = []
    llama_builds = []
    for attempt in range(repeat):  # citeqa and llama-index in turns: load hits both alike
        target = data if attempt == 0 else work / f"data-{size}-again"
        shutil.rmtree(target, ignore_errors=True)
        print(f"  {size} documents: ingest {attempt + 1}/{repeat}", file=sys.stderr, flush=True)
        ingests.append(run_json(INGEST_CODE, str(target), listed))
        llama_builds.append(run_json(LLAMA_CODE, listed))
        if attempt:
            shutil.rmtree(target)
    disk = folder_mb(data)
    chroma_mb = folder_mb(data / "chroma")

    added = edition_path(work / "corpus", ADDED_EDITION)
    adds = []
    for _ in range(repeat):
        copy = work / f"data-{size}-add"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(data, copy)
        adds.append(run_json(INGEST_CODE, str(copy), json.dumps([str(added)])))
        shutil.rmtree(copy)

    colds = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run_json(COLD_CODE, str(data))
        result["wall_ms"] = (time.perf_counter() - started) * 1000
        colds.append(result)

    opened = run_json(OPEN_CODE, str(data))
    print(f"  {size} documents: warm questions", file=sys.stderr, flush=True)
    samples = warm_samples(paths, data, repeat, embedder)
    gc.collect()  # this size's engine and llama-index index go before the next size's
    return {
        "documents": len(paths),
        "chunks": ingests[0]["chunks"],
        "sentences": ingests[0]["sentences"],
        "ingest_s": median([i["seconds"] for i in ingests]),
        "stages": {s: median([i["stages"][s] for i in ingests]) for s in STAGES},
        "embedded": ingests[0]["embedded"],
        "ingest_rss_mb": median([i["rss_mb"] for i in ingests]),
        "add_s": median([a["seconds"] for a in adds]),
        "add_embedded": adds[0]["embedded"],
        "add_keyword_s": median([a["stages"]["keyword"] for a in adds]),
        "open_mb": opened["mb"],
        "disk_mb": disk,
        "chroma_mb": chroma_mb,
        "retrieve_p50": p50(samples["retrieve"]),
        "retrieve_p95": p95(samples["retrieve"]),
        "ask_p50": p50(samples["ask"]),
        "ask_p95": p95(samples["ask"]),
        "cold_wall_s": median([c["wall_ms"] for c in colds]) / 1000,
        "cold_rss_mb": median([c["rss_mb"] for c in colds]),
        "llama_ingest_s": median([b["seconds"] for b in llama_builds]),
        "llama_rss_mb": median([b["rss_mb"] for b in llama_builds]),
        "llama_nodes": llama_builds[0]["nodes"],
        "llama_p50": p50(samples["llama"]),
        "llama_p95": p95(samples["llama"]),
    }


ROWS: list[tuple[str, str]] = [
    ("documents", "documents"),
    ("chunks stored", "chunks"),
    ("sentences stored", "sentences"),
    ("ingest, s", "ingest_s"),
    ("  texts embedded", "embedded"),
    ("  peak RSS, MB", "ingest_rss_mb"),
    ("add one edition, s", "add_s"),
    ("  texts embedded", "add_embedded"),
    ("  of which keyword cache rebuilt, s", "add_keyword_s"),
    ("on disk, MB (all)", "disk_mb"),
    ("  of which Chroma, MB", "chroma_mb"),
    ("retrieve() p50, ms", "retrieve_p50"),
    ("retrieve() p95, ms", "retrieve_p95"),
    ("ask() p50, ms", "ask_p50"),
    ("ask() p95, ms", "ask_p95"),
    ("cold first answer, s (wall)", "cold_wall_s"),
    ("  peak RSS, MB", "cold_rss_mb"),
    ("open_index() Python memory, MB", "open_mb"),
    ("llama-index build, s", "llama_ingest_s"),
    ("  peak RSS, MB", "llama_rss_mb"),
    ("  nodes (1024-token chunks)", "llama_nodes"),
    ("llama-index retrieve p50, ms", "llama_p50"),
    ("llama-index retrieve p95, ms", "llama_p95"),
]


def slope(low: float, high: float, low_size: int, high_size: int) -> str:
    if low <= 0 or high <= 0 or low_size == high_size:
        return "–"
    return f"{math.log(high / low) / math.log(high_size / low_size):.2f}"


def report(results: dict[int, dict[str, Any]], repeat: int) -> None:
    sizes = sorted(results)
    header = ["", *(f"{s} docs" for s in sizes)]
    pairs = list(zip(sizes, sizes[1:]))
    header += [f"k {a}→{b}" for a, b in pairs]
    if len(sizes) > 2:
        header.append(f"k {sizes[0]}→{sizes[-1]}")
    spans = pairs + ([(sizes[0], sizes[-1])] if len(sizes) > 2 else [])

    def row(label: str, values: dict[int, float]) -> list[object]:
        cells: list[object] = [label]
        cells += [int(values[s]) if float(values[s]).is_integer() else float(values[s]) for s in sizes]
        cells += [slope(values[a], values[b], a, b) for a, b in spans]
        return cells

    rows = [row(label, {s: results[s][key] for s in sizes}) for label, key in ROWS]
    rows.append(row("ingest, citeqa / llama-index", {s: results[s]["ingest_s"] / results[s]["llama_ingest_s"] for s in sizes}))
    rows.append(row("retrieve p50, citeqa / llama-index", {s: results[s]["retrieve_p50"] / results[s]["llama_p50"] for s in sizes}))
    print(f"\nScale: medians of {repeat} (warm: {repeat} rounds of {len(QUESTIONS)} questions); "
          "k = growth exponent, quantity ∝ documents^k\n")
    print_table(header, rows)
    stage_rows = [row(f"{stage}, s", {s: results[s]["stages"][stage] for s in sizes}) for stage in STAGES]
    print("\nIngest by stage (IngestSummary.stage_seconds)\n")
    print_table(header, stage_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100", help="corpus sizes, documents")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of every timed step")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: temporary)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    real = [p.name for p in available_real_texts()[: max(sizes) // 10]]
    print(f"real texts used: {', '.join(real) or 'none'} (from /usr/share/common-licenses)", file=sys.stderr)
    embedder = MiniLMEmbedder()
    embedder.embed_documents(["warm up"])
    results: dict[int, dict[str, Any]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            results[size] = measure(size, work, args.repeat, embedder)
            print(f"  {size} documents done after {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"real texts: {', '.join(real) or 'none'}; the rest are editions of the Strategy")
    report(results, args.repeat)
    print(f"\nwhole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
