"""Corpora for the scale and diversity benches: editions of the Strategy made deterministically
from the bundled text, and real long English texts already on this machine.

An edition (`strategy_edition(n)`) is what a corpus of policy documents really holds: the same
strategy re-issued by another region, with its title, some figures, the order of two sections
and a few paragraphs changed, dropped or swapped; `light=True` changes only the title and a
couple of figures (the "60 near-identical versions" of the diversity bench). Edition n is the
same text on every run and machine (random.Random(n)); no two editions are identical, because
the title names n. Most sentences are shared with the original, so citeqa's ingest reuses their
vectors: a corpus of editions costs far less to embed than as many unrelated documents, and the
benches print the texts embedded so the difference can be read.

The real texts are the licence texts Debian ships in /usr/share/common-licenses (plain text,
11-35 KB, legal prose with numbered sections; LGPL-2 / LGPL-2.1 and GFDL-1.2 / GFDL-1.3 are
near-duplicates of each other, as real corpora have). Missing ones are skipped and listed.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.settings import BUNDLED_CORPUS  # noqa: E402

# Longest first; the order is the order they join a corpus.
REAL_TEXTS = (
    "GPL-3", "LGPL-2.1", "MPL-1.1", "LGPL-2", "GFDL-1.3", "GPL-2", "GFDL-1.2", "MPL-2.0",
    "GPL-1", "Apache-2.0",
)
REAL_TEXT_FOLDER = Path("/usr/share/common-licenses")
TITLE = "2006-2020 National Informatization Development Strategy"
REGIONS = (
    "Anhui", "Fujian", "Gansu", "Guangdong", "Guizhou", "Hainan", "Hebei", "Henan", "Hubei",
    "Hunan", "Jiangsu", "Jiangxi", "Jilin", "Liaoning", "Qinghai", "Shaanxi", "Shandong",
    "Shanxi", "Sichuan", "Yunnan", "Zhejiang",
)
_PART = re.compile(r"^[IVX]+, ")
_SECTION = re.compile(r"^[(9](\d{1,2})\) ")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


def available_real_texts() -> list[Path]:
    return [REAL_TEXT_FOLDER / name for name in REAL_TEXTS if (REAL_TEXT_FOLDER / name).is_file()]


def _changed_number(match: re.Match[str], rng: random.Random) -> str:
    text = match.group(0)
    if "." in text:
        whole, fraction = text.split(".")
        value = max(0.1, float(text) + rng.choice((-1, 1)) * rng.randint(1, 9) / 10 ** len(fraction))
        return f"{value:.{len(fraction)}f}"
    value = int(text)
    if 1900 <= value <= 2100:  # a year: moved a little
        return str(value + rng.choice((-1, 1)))
    return str(max(1, value + rng.choice((-1, 1)) * rng.randint(1, max(1, value // 5))))


def strategy_edition(n: int, *, light: bool = False) -> str:
    """Edition n (n >= 1) of the Strategy's text (see the module docstring)."""
    rng = random.Random(n)
    region = REGIONS[n % len(REGIONS)]
    title = f"{TITLE.split(' National')[0]} {region} Informatization Development Strategy (edition {n})"
    text = BUNDLED_CORPUS.read_text(encoding="utf-8").replace(TITLE, title)
    paragraphs = text.split("\n\n")
    body = [i for i, p in enumerate(paragraphs) if len(p.split()) > 25]
    # Figures: in `light` editions two paragraphs get one figure changed each; else a tenth of
    # the paragraphs get every figure changed with probability 1/3.
    chosen = rng.sample(body, 2) if light else [i for i in body if rng.random() < 0.1]
    for index in chosen:
        numbers = list(_NUMBER.finditer(paragraphs[index]))
        if not numbers:
            continue
        keep = {rng.randrange(len(numbers))} if light else {k for k in range(len(numbers)) if rng.random() < 1 / 3}
        pieces, position = [], 0
        for k, match in enumerate(numbers):
            pieces.append(paragraphs[index][position : match.start()])
            pieces.append(_changed_number(match, rng) if k in keep else match.group(0))
            position = match.end()
        paragraphs[index] = "".join(pieces) + paragraphs[index][position:]
    if light:
        return "\n\n".join(paragraphs)
    # Two adjacent sections of one part change places, renumbered so numbering still runs on.
    sections = [i for i, p in enumerate(paragraphs) if _SECTION.match(p)]
    pairs = [
        (a, b) for a, b in zip(sections, sections[1:])
        if not any(_PART.match(paragraphs[j]) for j in range(a, b))
        and b + 1 < len(paragraphs) and _SECTION.match(paragraphs[b])
    ]
    if pairs:
        first, second = rng.choice(pairs)
        end = next((j for j in range(second + 1, len(paragraphs))
                    if _SECTION.match(paragraphs[j]) or _PART.match(paragraphs[j])), len(paragraphs))
        moved = paragraphs[second:end] + paragraphs[first:second]
        number_first = _SECTION.match(paragraphs[first]).group(1)  # type: ignore[union-attr]
        number_second = _SECTION.match(paragraphs[second]).group(1)  # type: ignore[union-attr]
        moved[0] = _SECTION.sub(f"({number_first}) ", moved[0], count=1)
        head = len(paragraphs[second:end])
        moved[head] = _SECTION.sub(f"({number_second}) ", moved[head], count=1)
        paragraphs[first:end] = moved
    # One to three body paragraphs dropped, one or two pairs of neighbours swapped.
    body = [i for i, p in enumerate(paragraphs) if len(p.split()) > 25]
    for index in sorted(rng.sample(body, rng.randint(1, 3)), reverse=True):
        del paragraphs[index]
    body = [i for i, p in enumerate(paragraphs) if len(p.split()) > 25]
    for _ in range(rng.randint(1, 2)):
        index = rng.choice(body[:-1])
        if index + 1 in body:
            paragraphs[index], paragraphs[index + 1] = paragraphs[index + 1], paragraphs[index]
    return "\n\n".join(paragraphs)


def edition_path(folder: Path, n: int, *, light: bool = False) -> Path:
    """Edition n written to folder (once) as strategy-edition-NNN.txt."""
    path = folder / f"strategy-edition-{n:03d}{'-light' if light else ''}.txt"
    if not path.exists():
        path.write_text(strategy_edition(n, light=light), encoding="utf-8")
    return path


def corpus(folder: Path, size: int) -> list[Path]:
    """`size` documents: the Strategy, a tenth (rounded down) real texts, the rest editions
    1, 2, …; corpus(…, 10) is part of corpus(…, 100). Real texts are copied as .txt files."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [BUNDLED_CORPUS]
    real = available_real_texts()[: size // 10]
    for source in real:
        target = folder / f"license-{source.name}.txt"
        if not target.exists():
            target.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        paths.append(target)
    paths += [edition_path(folder, n) for n in range(1, size - len(paths) + 1)]
    return paths[:size]
