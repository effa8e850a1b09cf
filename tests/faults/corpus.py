"""The fault suite's corpus and the facts asked of it after every fault.

Two documents, so that a fault can hit one document's write while the other is committed: the
bundled Strategy, and "Harbour Rules", a short hand-written policy. `write_corpus(..., berths=N)`
adds a berth schedule of N short distinct sentences to the harbour rules: with N = 720 the
index passes Chroma's flush threshold (1,000 writes to a collection's vector segment), so the
sentences' hnswlib files on disk are the real graph, not placeholders, and damaging them
matters (tests/faults/test_damaged_files.py).

`FACTS` are questions with the answer a clean index gives, checked on the text and on the
section of the first citation; the suite compares every answer after a fault with the answer
of a clean ingest of the same files, these only make sure that clean answer is the right one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import CORPUS

HARBOUR = """Harbour Rules

I, General provisions

(1) Opening hours

The harbour opens at six in the morning and closes at ten at night. Ships that arrive after ten wait at the outer anchorage until the morning.

(2) Pilots

Pilots board every ship longer than ninety metres at the outer buoy. A pilot stays on board until the ship is moored at its berth.

II, Clean water

(1) Testing

The harbour water is tested for oil every Tuesday by the port laboratory. A sheen of oil on the water closes the nearest berth until it is cleaned.

(2) Waste

Ships hand their waste to the collection barge before they leave. Nothing may be thrown into the harbour.
"""
ZONES = "ABCDEFGH"


def harbour_text(berths: int = 0) -> str:
    """The harbour rules, with a schedule of `berths` berths (short distinct sentences)."""
    if not berths:
        return HARBOUR
    lines = [HARBOUR, "III, Berth schedule", ""]
    per_zone = -(-berths // len(ZONES))
    for number, zone in enumerate(ZONES, 1):
        rows = range(per_zone * (number - 1), min(berths, per_zone * number))
        if not rows:
            break
        lines += [f"({number}) Zone {zone}", ""]
        lines += [
            " ".join(f"Berth {zone}-{n} takes ships up to {80 + (n * 37) % 220} metres." for n in rows[i : i + 6])
            + "\n"
            for i in range(0, len(rows), 6)
        ]
    return "\n".join(lines)


def write_corpus(folder: Path, berths: int = 0) -> list[Path]:
    """The Strategy and the harbour rules as files in `folder` (the Strategy is copied, so a
    test may change it); returns their paths, the Strategy first."""
    folder.mkdir(parents=True, exist_ok=True)
    strategy = folder / CORPUS.name
    strategy.write_bytes(CORPUS.read_bytes())
    harbour = folder / "harbour-rules.txt"
    harbour.write_text(harbour_text(berths), encoding="utf-8")
    return [strategy, harbour]


def corpus_setting(paths: list[Path]) -> str:
    """CITEQA_CORPUS for these files (what `citeqa ingest` with no arguments ingests)."""
    return json.dumps([str(p) for p in paths])


def change_strategy(path: Path) -> None:
    """A changed document: one figure of part II edited, a paragraph added to part V."""
    text = path.read_text(encoding="utf-8")
    heading = "V, Our country’s strategic plan for informatization development."
    assert text.count("16.6%") == 1 and text.count(heading) == 1
    text = text.replace("16.6%", "16.9%").replace(
        heading,
        heading + "\n\nA later edition of the Strategy adds this paragraph, so that the changed "
        "document has a new passage to embed and write.",
    )
    path.write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class Fact:
    question: str
    says: str  # a phrase the answer contains
    section: str  # how the first citation's section path starts


FACTS = (
    Fact("What share of GDP did the information industry reach in 2005?", "7.2 per cent", "II (1)"),
    Fact(
        "Which body must authorize all major informatization policy plans?",
        "State Leading Group for Informatization",
        "VII (9)",
    ),
    Fact("What time does the harbour open?", "six in the morning", "I (1)"),
    Fact("Where do pilots board ships?", "outer buoy", "I (2)"),
)
