"""Peak memory and time of one ingest against document size: what grows, and how fast.

    .venv/bin/python bench/ingest_memory.py [--sizes-mb 1,10,50]

Each document is the Strategy repeated, every copy with its numbers shifted and its part
headings numbered (so copies are near-duplicates, as real long reports are, not one paragraph
repeated: sentences with figures are new text to embed, the rest reuse stored vectors). Each
size is ingested by `ingest_paths` (default settings, embedded Chroma) in a fresh process, which
reports its peak resident set (VmHWM from /proc/self/status) and wall time; a five-sentence
note gives the fixed cost (model, onnxruntime, Chroma). The table shows each run beside the
smallest document: ratios of peak RSS, of RSS above the fixed cost, and of time, with growth
exponents (log ratio / log size ratio: 1.0 is linear, 0 is flat). Figures move with other load
on a shared machine; the exponents are the part to read.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table  # noqa: E402
from rag.settings import BUNDLED_CORPUS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NOTE = "Harbour Rules\n\nThe harbour opens at six. Pilots board at the outer buoy. Ships wait outside.\n"
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_PART = re.compile(r"^([IVX]+, )(.*)$", re.MULTILINE)

RUN = """
import json, sys, time
from pathlib import Path
from bench.common import rss_mb
from ingest.embed import MiniLMEmbedder
from ingest.index import IndexConfig
from ingest.pipeline import ingest_paths
started = time.perf_counter()
summary = ingest_paths([Path(sys.argv[1])], IndexConfig(Path(sys.argv[2])), MiniLMEmbedder())
print(json.dumps({"seconds": time.perf_counter() - started, "rss_mb": rss_mb(),
                  "chunks": summary.chunks, "sentences": summary.sentences,
                  "embedded": summary.embedded_texts, "embed_s": summary.stage_seconds["embed"],
                  "write_s": summary.stage_seconds["write"]}))
"""


def edition(text: str, number: int) -> str:
    """The Strategy as its `number`th edition: every figure shifted, every part heading numbered."""
    shifted = _NUMBER.sub(lambda m: _shift(m.group(0), number), text)
    return _PART.sub(lambda m: f"{m.group(1)}{m.group(2)} (edition {number})", shifted)


def _shift(figure: str, number: int) -> str:
    if "." in figure:
        return f"{float(figure) + number / 10:.1f}"
    return str(int(figure) + number)


def document(size_mb: float) -> str:
    """Editions of the Strategy, one after another, up to `size_mb` MB of text."""
    text = BUNDLED_CORPUS.read_text(encoding="utf-8")
    editions: list[str] = []
    total = 0
    while total < size_mb * 1e6:
        editions.append(edition(text, len(editions)) if editions else text)
        total += len(editions[-1].encode("utf-8")) + 2
    return "\n\n".join(editions)


def ingest_in_new_process(path: Path, data_dir: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(path), str(data_dir)],
        capture_output=True, text=True, check=True, cwd=REPO,
    )
    return dict(json.loads(done.stdout.splitlines()[-1]))


def exponent(ratio: float, size_ratio: float) -> str:
    return f"{math.log(ratio) / math.log(size_ratio):.2f}" if ratio > 0 and size_ratio > 1 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="1,10,50", help="document sizes, MB of text")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes_mb.split(",")]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        note = folder / "note.txt"
        note.write_text(NOTE, encoding="utf-8")
        fixed = ingest_in_new_process(note, folder / "data-note")
        print(f"fixed cost (a {note.stat().st_size}-byte note): peak RSS {fixed['rss_mb']:.0f} MB, "
              f"{fixed['seconds']:.1f} s", flush=True)
        runs = []
        for size in sizes:
            path = folder / f"text-{size:g}.txt"
            path.write_text(document(size), encoding="utf-8")
            run = ingest_in_new_process(path, folder / f"data-{size:g}")
            run["mb"] = path.stat().st_size / 1e6
            runs.append(run)
            print(f"  {run['mb']:.1f} MB: {json.dumps({k: round(v, 1) for k, v in run.items()})}", flush=True)
    first = runs[0]
    rows: list[list[object]] = []
    for run in runs:
        size_ratio = run["mb"] / first["mb"]
        rss_ratio = run["rss_mb"] / first["rss_mb"]
        above = (run["rss_mb"] - fixed["rss_mb"]) / max(first["rss_mb"] - fixed["rss_mb"], 1e-9)
        time_ratio = run["seconds"] / first["seconds"]
        rows.append([
            f"{run['mb']:.1f}", int(run["chunks"]), int(run["sentences"]), int(run["embedded"]),
            run["seconds"], run["rss_mb"], run["rss_mb"] - fixed["rss_mb"],
            f"{rss_ratio:.2f} ({exponent(rss_ratio, size_ratio) or '-'})",
            f"{above:.2f} ({exponent(above, size_ratio) or '-'})",
            f"{time_ratio:.2f} ({exponent(time_ratio, size_ratio) or '-'})",
        ])
    print(f"\nPeak RSS and time of one ingest in a new process, by document size "
          f"(fixed cost {fixed['rss_mb']:.0f} MB); ratios to the {first['mb']:.1f} MB run, "
          "growth exponent in brackets\n")
    print_table(
        ["MB of text", "chunks", "sentences", "texts embedded", "ingest, s", "peak RSS, MB",
         "above fixed, MB", "RSS ×", "above fixed ×", "time ×"],
        rows,
    )


if __name__ == "__main__":
    main()
