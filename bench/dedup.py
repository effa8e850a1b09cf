"""Duplicate-paragraph detection, all pairs (before) against MinHash + LSH (now), and the time
to chunk very long runs of text.

    .venv/bin/python bench/dedup.py

Documents of 500 to 4,000 paragraphs are made from the Strategy's own paragraphs with about
half of their words swapped for other words of the Strategy, so few pairs are duplicates
(Jaccard >= 0.5), plus one planted repeat in a hundred. Both methods run on each, in one
process; the table gives seconds, their ratio, and the growth exponent k of time ∝ n^k from
the previous size, then over the whole range (other load on the machine moves single steps:
the old method runs once, the new one best of three). Then two long texts are chunked (160
tokens): a 1.5 MB line of clauses and a 2 MB "word" without spaces. Before this change the
second came out as one chunk of 2,000,000 characters (1.3 M tokens).
"""

from __future__ import annotations

import math
import random
import re
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, rss_mb  # noqa: E402
from ingest.chunk import ChunkParams, _paragraphs, chunk_document, find_duplicate_paragraphs  # noqa: E402
from ingest.clean import clean_text  # noqa: E402
from ingest.sections import Section, parse_sections  # noqa: E402
from rag.settings import BUNDLED_CORPUS  # noqa: E402

T = TypeVar("T")
SIZES = (500, 1_000, 2_000, 4_000)
SWAPPED_SHARE = 0.5
_WORD = re.compile(r"[a-z0-9]+")


def quadratic_find_duplicate_paragraphs(text: str, sections: list[Section]) -> dict[int, int]:
    """The method before MinHash, kept here only to compare: every paragraph against every
    earlier one."""
    paragraphs = [p for s in sections for p in _paragraphs(text, s.body_start, s.end)]
    words = [set(_WORD.findall(text[p.start : p.end].lower())) for p in paragraphs]
    duplicates: dict[int, int] = {}
    for later in range(len(paragraphs)):
        if len(words[later]) < 20:
            continue
        for earlier in range(later):
            if paragraphs[earlier].start in duplicates or len(words[earlier]) < 20:
                continue
            overlap = len(words[later] & words[earlier]) / len(words[later] | words[earlier])
            if overlap >= 0.5:
                duplicates[paragraphs[later].start] = paragraphs[earlier].start
                break
    return duplicates


def synthetic_document(sources: list[str], count: int, seed: int) -> tuple[str, list[Section]]:
    """`count` paragraphs, each a Strategy paragraph with SWAPPED_SHARE of its words swapped,
    except every 100th: an earlier one with a tenth of its words swapped (a planted repeat)."""
    rng = random.Random(seed)
    vocabulary = sorted({word for source in sources for word in source.split()})

    def swapped(words: list[str], share: float) -> str:
        return " ".join(rng.choice(vocabulary) if rng.random() < share else w for w in words)

    paragraphs: list[str] = []
    for index in range(count):
        if index % 100 == 99:
            paragraphs.append(swapped(rng.choice(paragraphs).split(), 0.1))
        else:
            paragraphs.append(swapped(sources[index % len(sources)].split(), SWAPPED_SHARE))
    text = "\n\n".join(paragraphs)
    return text, [Section("I", "Synthetic", "", "Synthetic", 0, 0, len(text))]


def seconds(function: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def exponent(times: list[float], index: int) -> str:
    if index == 0:
        return "–"
    return f"{math.log(times[index] / times[index - 1]) / math.log(SIZES[index] / SIZES[index - 1]):.2f}"


def main() -> None:
    document = clean_text(BUNDLED_CORPUS.read_text(encoding="utf-8"))
    sections = parse_sections(document.text, document.title)
    paragraphs = [
        document.text[p.start : p.end]
        for s in sections
        for p in _paragraphs(document.text, s.body_start, s.end)
    ]
    sources = [p for p in paragraphs if len(set(_WORD.findall(p.lower()))) >= 20]
    find_duplicate_paragraphs(document.text, sections)  # loads numpy and the permutations once
    old_times: list[float] = []
    new_times: list[float] = []
    rows: list[list[object]] = []
    for index, count in enumerate(SIZES):
        text, synthetic_sections = synthetic_document(sources, count, seed=count)
        old_s, old = seconds(partial(quadratic_find_duplicate_paragraphs, text, synthetic_sections))
        # The new method is cheap enough to take the best of three, which steadies k.
        new_s, new = min(
            (seconds(partial(find_duplicate_paragraphs, text, synthetic_sections)) for _ in range(3)),
            key=lambda timed: timed[0],
        )
        old_times.append(old_s)
        new_times.append(new_s)
        rows.append([
            count, f"{len(old)} / {len(new)}", "yes" if old == new else "NO",
            old_s, new_s, f"{old_s / new_s:.0f}×",
            exponent(old_times, index), exponent(new_times, index),
        ])
    print("Duplicate paragraphs: all pairs (old) against MinHash + LSH (new)\n")
    print_table(
        ["paragraphs", "repeats old / new", "same", "old, s", "new, s", "old / new",
         "old k", "new k"],
        rows,
    )
    overall = math.log(SIZES[-1] / SIZES[0])
    print(
        f"\n{SIZES[0]} → {SIZES[-1]} paragraphs: old k = {math.log(old_times[-1] / old_times[0]) / overall:.2f}, "
        f"new k = {math.log(new_times[-1] / new_times[0]) / overall:.2f} (time ∝ n^k)"
    )

    flat = " ".join(document.text.split())
    clauses = re.sub(r"[.!?]", ",", flat)
    word = "".join(document.text.split())
    long_rows: list[list[object]] = []
    for name, source, size in [("1.5 MB line of clauses", clauses, 1_500_000),
                               ("2 MB word without spaces", word, 2_000_000)]:
        text = (source * (size // len(source) + 1))[:size]
        one = [Section("I", "Long", "", "Long", 0, 0, len(text))]
        took, chunks = seconds(partial(chunk_document, text, one, "long", "Long", ChunkParams()))
        long_rows.append([
            name, took, len(chunks), max(c.n_tokens for c in chunks), max(len(c.text) for c in chunks)
        ])
    print("\nChunking long runs (max 160 tokens)\n")
    print_table(["text", "chunk_document, s", "chunks", "max tokens", "max chars"], long_rows)
    print(f"\npeak RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
