"""Helpers shared by the bench scripts: timing percentiles, RSS, a table printer."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Sequence

QUESTIONS = [
    "What share of GDP did the information industry reach in 2005?",
    "What are the strategic objectives for informatization until 2020?",
    "How does the Strategy plan to narrow the digital divide?",
    "What does the e-commerce action plan aim to achieve?",
    "Which projects are examples of e-government results?",
    "How should information security protection be strengthened?",
    "What problems in informatization development need attention?",
    "What is said about Internet governance?",
    "How will informatization talent teams be expanded?",
    "What financial policies support informatization?",
    "What is the guiding ideology of informatization development?",
    "How should rural informatization be promoted?",
    "What does the Strategy say about integrated circuits and software?",
    "What role does the State Leading Group for Informatization play?",
    "How should citizens' information skills be raised?",
    "What does the plan say about network media information resources?",
    "What are the basic trends of global informatization?",
    "How should the legal system for informatization be built?",
    "What does the document say about international cooperation?",
    "Who issued the notice and when?",
]


def timed(function: Callable[[], object], repeat: int = 1) -> list[float]:
    """Milliseconds of each of `repeat` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p50(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def rss_mb() -> float:
    """Peak resident set size of this process, in MB.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over an exec from the parent
    that forked, so a child started by a 900 MB bench reported 900 MB whatever it used.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header]] + [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
