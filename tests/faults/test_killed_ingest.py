"""An ingest killed with SIGKILL at any step leaves an index that the next plain `citeqa ingest`
brings to exactly what a clean ingest of the same files gives: the same documents, versions,
chunk ids, sentence and text-block counts, no leftover records, and the same answers.

Each case runs the real ingest in its own process (tests/faults/ingest_until.py) and kills it
at the Nth progress event of a stage, in one of three situations: building a new index,
`--rebuild` of a clean one, and re-ingesting after the Strategy changed (an edited figure and a
new paragraph, so both new and reused chunks are written). The kill points cover every stage.
Then `citeqa ingest` runs as a user would, with no flags, in a subprocess, and the index is
compared with a clean ingest built once per module.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.embed import MiniLMEmbedder
from ingest.index import open_store
from ingest.pipeline import ingest_paths
from rag import QAEngine, Settings, load_settings
from tests.faults.citeqa_process import REPO, clean_environment, run_citeqa
from tests.faults.corpus import FACTS, change_strategy, corpus_setting, write_corpus

# (situation, stage, n): kill at the nth event of the stage. Event order of this corpus
# (the Strategy in two write batches, then the harbour rules), from ingest.pipeline:
#   read, clean (per file) | sections, chunk, embed, write (per batch), write (text blocks),
#   commit, [cleanup of the old version] (per document) | cleanup | keyword (per document), keyword
KILL_POINTS = [
    ("new", "read", 2),  # between checking the two files: nothing opened yet
    ("new", "embed", 1),  # the first batch embedded, not written
    ("new", "write", 1),  # the first batch written, the document not committed
    ("new", "commit", 1),  # the Strategy committed, the harbour rules not begun
    ("new", "write", 5),  # the harbour rules written up to their text, not committed
    ("new", "keyword", 1),  # both committed; the keyword cache half built
    ("rebuild", "clean", 1),  # before anything was dropped
    ("rebuild", "sections", 1),  # the collections and caches dropped, nothing written
    ("rebuild", "write", 3),  # the Strategy written anew, not committed
    ("rebuild", "cleanup", 1),  # both committed, garbage removed, no keyword cache yet
    ("changed", "chunk", 2),  # the new version's first batch written beside the old one
    ("changed", "commit", 1),  # the new version committed, the old one still stored
    ("changed", "cleanup", 1),  # the old version deleted, the run not finished
    ("changed", "keyword", 2),  # the keyword cache half rebuilt
]


@dataclass(frozen=True)
class IndexState:
    """What a clean ingest fixes and a repaired index must equal."""

    documents: dict[str, tuple[str, int, int]]  # doc_id → (version, chunks, sentences) as recorded
    chunk_ids: dict[str, list[str]]
    stored_sentences: dict[str, int]
    stored_text_blocks: dict[str, int]
    records: tuple[int, int, int, int]  # chunks, sentences, documents, texts: nothing left over
    answers: list[tuple[str, tuple[str, ...]]]  # each fact: answer text, cited chunk ids


def index_state(settings: Settings, embedder: MiniLMEmbedder) -> IndexState:
    store = open_store(settings)
    records = store.documents()
    engine = QAEngine(settings, embedder=embedder)
    answers = [engine.ask(fact.question) for fact in FACTS]
    return IndexState(
        documents={d: (r.version, r.chunks, r.sentences) for d, r in sorted(records.items())},
        chunk_ids={d: sorted(store.chunk_ids(d, r.version)) for d, r in records.items()},
        stored_sentences={d: store.sentence_count(d, r.version) for d, r in records.items()},
        stored_text_blocks={d: store.text_block_count(d, r.version) for d, r in records.items()},
        records=tuple(store.count(role) for role in ("chunks", "sentences", "documents", "texts")),  # type: ignore[arg-type]
        answers=[(a.answer, tuple(p.chunk_id for p in a.citations)) for a in answers],
    )


@dataclass(frozen=True)
class Clean:
    """A corpus and the index a clean ingest of it gives."""

    paths: list[Path]
    data_dir: Path
    state: IndexState


def build_clean(folder: Path, paths: list[Path], embedder: MiniLMEmbedder) -> Clean:
    settings = load_settings(data_dir=folder / "data", corpus=paths)
    ingest_paths(paths, settings, embedder)
    return Clean(paths, settings.data_dir, index_state(settings, embedder))


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder) -> Clean:
    folder = tmp_path_factory.mktemp("original")
    clean = build_clean(folder, write_corpus(folder / "corpus"), embedder)
    # The clean answers are the right ones (what the comparisons below are worth).
    for fact, (answer, cited) in zip(FACTS, clean.state.answers):
        assert fact.says in answer and cited, (fact.question, answer)
    return clean


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder) -> Clean:
    folder = tmp_path_factory.mktemp("changed")
    paths = write_corpus(folder / "corpus")
    change_strategy(paths[0])
    return build_clean(folder, paths, embedder)


def killed_ingest(
    stage: str, n: int, paths: Sequence[Path], data_dir: Path, rebuild: bool
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.faults.ingest_until", stage, str(n),
         *(["--rebuild"] if rebuild else []), *map(str, paths)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
        env=clean_environment(CITEQA_DATA_DIR=str(data_dir)),
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("situation", "stage", "n"), KILL_POINTS, ids=[f"{s}-{t}{n}" for s, t, n in KILL_POINTS])
def test_after_a_kill_a_plain_ingest_gives_the_clean_index_and_answers(
    tmp_path: Path,
    embedder: MiniLMEmbedder,
    original: Clean,
    changed: Clean,
    situation: str,
    stage: str,
    n: int,
) -> None:
    data_dir = tmp_path / "data"
    if situation != "new":  # a clean index of the original files exists
        shutil.copytree(original.data_dir, data_dir)
    expected = changed if situation == "changed" else original
    killed = killed_ingest(stage, n, expected.paths, data_dir, rebuild=situation == "rebuild")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    repaired = run_citeqa(
        ["ingest"],
        clean_environment(CITEQA_DATA_DIR=str(data_dir), CITEQA_CORPUS=corpus_setting(expected.paths)),
    )
    assert repaired.returncode == 0 and "Traceback" not in repaired.stderr, repaired.stderr[-2000:]
    state = index_state(load_settings(data_dir=data_dir, corpus=expected.paths), embedder)
    assert state == expected.state
