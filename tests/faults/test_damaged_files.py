"""Every file of a data folder damaged in turn: the next `citeqa ask` answers exactly as before
(repairing what it can), or fails with one line naming the fix. Never a traceback, a crash or
a silently different answer; `citeqa ingest` as the next command does the same (a case of each
kind), and the fix an error names works.

One clean index is built per module, of the Strategy and the harbour rules with a berth
schedule long enough that Chroma flushes the sentence vectors' hnswlib graph to disk (smaller
indexes keep every graph in Chroma's log and leave placeholder files). Each case copies it,
damages one file (cut to half, zeroed, overwritten with random bytes, deleted, or replaced by a
folder) and runs the real command in a subprocess, so a crash in native code ends that process,
not the suite. The walk of the folder is checked to name every file the cases cover.

Where cases are grouped: a never-flushed vector segment's four placeholder files are damaged
together (Chroma rebuilds such a segment from its log and reads none of them), and each
keyword-cache file gets one content damage (random bytes) besides delete and folder: cut, zeroed
and overwritten all fail the same size-and-SHA-256 check, which tests/test_index.py drives
with all five damages for every keyword file in-process.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.chunk import content_hash
from ingest.embed import MiniLMEmbedder
from ingest.pipeline import delete_document, ingest_paths
from ingest.vector_files import check_vector_files
from rag import load_settings
from tests.faults.citeqa_process import Asked, answer_of, clean_environment, error_line, run_citeqa
from tests.faults.corpus import FACTS, corpus_setting, harbour_text, write_corpus

QUESTION = FACTS[0].question
BERTHS = 720
REBUILD = "run `citeqa ingest --rebuild FILES`"


def cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def zero(path: Path) -> None:
    path.write_bytes(bytes(path.stat().st_size))


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(max(64, path.stat().st_size)))


def delete(path: Path) -> None:
    path.unlink()


def folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("not what was here")


DAMAGES: dict[str, Callable[[Path], None]] = {
    "cut": cut, "zero": zero, "garbage": garbage, "delete": delete, "folder": folder,
}
SEGMENT_FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin")
KEYWORD_FILES = (
    "manifest.json", "chunk_ids.json", "doc_ids.json", "chunk_docs.npy", "terms.json",
    "structure.json", "vocab.index.json", "params.index.json", "data.csc.index.npy",
    "indices.csc.index.npy", "indptr.csc.index.npy", "near_keys.npz",
)
DOCUMENTS = ("national-informatization-strategy-2006-2020", "harbour-rules")


@dataclass(frozen=True)
class Case:
    """Damage `damage` done to the files of `role`; the next ask answers or refuses."""

    role: str
    damage: str
    outcome: str  # "answers": as before; "refuses": one line naming what is damaged and `fix`
    fix: str = ""
    names: str = ""

    @property
    def id(self) -> str:
        return f"{self.role}-{self.damage}"


CASES = [
    *(
        Case("chroma/chroma.sqlite3", d, "refuses", REBUILD, "chroma.sqlite3 is damaged")
        for d in ("cut", "zero", "garbage", "folder")
    ),
    Case("chroma/chroma.sqlite3", "delete", "refuses", "run `citeqa ingest FILES` to rebuild it", "was the database deleted?"),
    *(
        Case(f"chroma/sentences/{name}", d, "refuses", REBUILD, f"/{name} is damaged")
        for name in (*SEGMENT_FILES, "index_metadata.pickle")
        for d in DAMAGES
    ),
    *(Case(f"chroma/{role}/*", d, "answers") for role in ("chunks", "documents", "texts") for d in DAMAGES),
    *(Case(f"cache/keyword/{name}", d, "answers") for name in KEYWORD_FILES for d in ("garbage", "delete", "folder")),
    *(Case(f"cache/tokens/{doc}", d, "answers") for doc in DOCUMENTS for d in ("garbage", "delete", "folder")),
    *(Case("citeqa-index.json", d, "answers") for d in DAMAGES),
]


@dataclass(frozen=True)
class CleanIndex:
    data_dir: Path
    corpus: list[Path]
    answer: Asked

    def environment(self, data_dir: Path) -> dict[str, str]:
        return clean_environment(CITEQA_DATA_DIR=str(data_dir), CITEQA_CORPUS=corpus_setting(self.corpus))


def segment_roles(data_dir: Path) -> dict[str, Path]:
    """Each vector segment's folder by the role of its collection (read from Chroma's tables)."""
    with sqlite3.connect(f"file:{data_dir / 'chroma' / 'chroma.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT s.id, c.name FROM segments s JOIN collections c ON s.collection = c.id "
            "WHERE s.scope = 'VECTOR'"
        ).fetchall()
    names = {"citeqa": "chunks", "citeqa_sentences": "sentences", "citeqa_documents": "documents", "citeqa_texts": "texts"}
    return {names[name]: data_dir / "chroma" / segment for segment, name in rows}


def files_of(role: str, data_dir: Path) -> list[Path]:
    """The files a role names in `data_dir` (see CASES)."""
    head, _, name = role.rpartition("/")
    if head.startswith("chroma/") and head != "chroma":
        segment = segment_roles(data_dir)[head.removeprefix("chroma/")]
        return [segment / n for n in SEGMENT_FILES] if name == "*" else [segment / name]
    if head == "cache/keyword":
        [keyword] = (data_dir / "cache").glob("keyword-*")
        return [keyword / name]
    if head == "cache/tokens":
        return list((data_dir / "cache" / "tokens").glob(f"{content_hash(name)}-*.json"))
    return [data_dir / role]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder) -> CleanIndex:
    folder = tmp_path_factory.mktemp("damage")
    corpus = write_corpus(folder / "corpus", berths=BERTHS)
    settings = load_settings(data_dir=folder / "data", corpus=corpus)
    ingest_paths(corpus, settings, embedder)
    # The premise: the sentences' graph is on disk, the other segments hold placeholders.
    flushed = {r for r, s in segment_roles(settings.data_dir).items() if (s / "index_metadata.pickle").exists()}
    assert flushed == {"sentences"}
    index = CleanIndex(settings.data_dir, corpus, Asked("", (), (), False))
    asked = answer_of(run_citeqa(["ask", "--json", QUESTION], index.environment(settings.data_dir)))
    assert FACTS[0].says in asked.answer and asked.citations[0][1].startswith(FACTS[0].section)
    return CleanIndex(settings.data_dir, corpus, asked)


def test_the_cases_cover_every_file_of_the_data_folder(clean: CleanIndex) -> None:
    covered = {path for case in CASES for path in files_of(case.role, clean.data_dir)}
    walked = {path for path in clean.data_dir.rglob("*") if path.is_file()}
    assert walked == covered


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_next_ask_answers_as_before_or_names_the_fix(tmp_path: Path, clean: CleanIndex, case: Case) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(clean.data_dir, data_dir)
    for path in files_of(case.role, data_dir):
        DAMAGES[case.damage](path)
    result = run_citeqa(["ask", "--json", QUESTION], clean.environment(data_dir))
    if case.outcome == "answers":
        assert answer_of(result) == clean.answer, result.stderr
        notices = result.stderr.splitlines()
        assert len(notices) <= 1 and all(n.startswith("citeqa: ") for n in notices), notices
        assert "Traceback" not in result.stderr
    else:
        line = error_line(result)
        assert case.fix in line and case.names in line, line


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("role", "damage"),
    [
        ("cache/keyword/manifest.json", "garbage"),
        ("cache/keyword/terms.json", "folder"),
        ("cache/tokens/harbour-rules", "delete"),
        ("chroma/chunks/*", "garbage"),
        ("citeqa-index.json", "folder"),
        ("chroma/sentences/link_lists.bin", "zero"),
        ("chroma/chroma.sqlite3", "cut"),
    ],
)
def test_the_next_ingest_repairs_or_names_the_fix_too(
    tmp_path: Path, clean: CleanIndex, role: str, damage: str
) -> None:
    [case] = [c for c in CASES if (c.role, c.damage) == (role, damage)]
    data_dir = tmp_path / "data"
    shutil.copytree(clean.data_dir, data_dir)
    for path in files_of(role, data_dir):
        DAMAGES[damage](path)
    ingested = run_citeqa(["ingest"], clean.environment(data_dir))
    if case.outcome == "answers":
        assert ingested.returncode == 0 and "Traceback" not in ingested.stderr, ingested.stderr[-2000:]
        assert "2 unchanged (skipped)" in ingested.stdout and "0 embedded" in ingested.stdout
        assert answer_of(run_citeqa(["ask", "--json", QUESTION], clean.environment(data_dir))) == clean.answer
    else:
        line = error_line(ingested)
        assert case.fix in line and case.names in line, line


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("role", "damage", "commands"),
    [
        ("chroma/chroma.sqlite3", "garbage", [["ingest", "--rebuild"]]),
        ("chroma/chroma.sqlite3", "delete", [["ingest"]]),
        ("chroma/sentences/header.bin", "cut", [["ingest", "--rebuild"]]),
    ],
)
def test_the_fix_an_error_names_brings_the_answer_back(
    tmp_path: Path, clean: CleanIndex, role: str, damage: str, commands: list[list[str]]
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(clean.data_dir, data_dir)
    for path in files_of(role, data_dir):
        DAMAGES[damage](path)
    environment = clean.environment(data_dir)
    if commands[0] == ["ingest", "--rebuild"]:  # a plain ingest refuses too, naming the fix
        assert REBUILD in error_line(run_citeqa(["ingest"], environment))
    for command in commands:
        done = run_citeqa(command, environment)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert answer_of(run_citeqa(["ask", "--json", QUESTION], environment)) == clean.answer
    if damage != "delete":  # the damaged database was moved aside, not deleted
        assert list(data_dir.glob("chroma.damaged-*"))


def test_a_flushed_graph_that_saw_replacements_and_deletions_is_not_reported_damaged(
    tmp_path: Path, clean: CleanIndex, embedder: MiniLMEmbedder
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(clean.data_dir, data_dir)
    strategy, harbour = clean.corpus
    edited = tmp_path / harbour.name
    edited.write_text(harbour_text(BERTHS).replace("metres.", "metres long."), encoding="utf-8")
    settings = load_settings(data_dir=data_dir, corpus=[strategy, edited])
    ingest_paths([strategy, edited], settings, embedder)  # every berth sentence replaced
    sentences = segment_roles(data_dir)["sentences"]
    before = (sentences / "index_metadata.pickle").read_bytes()
    delete_document(settings, "harbour-rules")
    ingest_paths([strategy, edited], settings, embedder)
    assert (sentences / "index_metadata.pickle").read_bytes() != before  # flushed again since
    check_vector_files(data_dir / "chroma")
    asked = answer_of(run_citeqa(["ask", "--json", QUESTION], clean.environment(data_dir)))
    assert asked.answer == clean.answer.answer and asked.citations == clean.answer.citations
