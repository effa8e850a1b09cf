"""Several processes on one store: replicas read what another process ingests or deletes,
without a restart and without embedding any document text themselves; adding a document
embeds only that document's texts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.chunk import chunk_document, split_sentences
from ingest.embed import MiniLMEmbedder
from ingest.index import IndexConfig, chunk_params
from ingest.load import read_document
from ingest.pipeline import ingest_paths
from ingest.sections import parse_sections
from ingest.store import ChromaStore
from tests.conftest import SMALL, CountingEmbedder

REPO = Path(__file__).resolve().parent.parent
HARBOUR = """Harbour Rules

Pilots board every ship at the outer buoy. Tugs wait inside the breakwater at night.
Cargo is weighed on the north quay before any ship leaves the harbour.
"""
REFRESH_S = 1.0


def environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITEQA_", "OPENAI_"))}
    env.update({f"CITEQA_{k.upper()}": v for k, v in settings.items()})
    return env


def citeqa(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ui.cli", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result


class Replica:
    """tests/replica_worker.py in its own process, driven line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.replica_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )
        self.ready = self._read()

    def _read(self) -> dict[str, object]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the replica exited"
        return dict(json.loads(line))

    def ask(self, question: str, retrieval: str = "hybrid") -> dict[str, object]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"ask": question, "retrieval": retrieval}) + "\n")
        self.process.stdin.flush()
        return self._read()

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture()
def replica_env(chroma_server: str, tmp_path: Path, embedder: MiniLMEmbedder) -> Iterator[dict[str, str]]:
    small = tmp_path / "small.txt"
    small.write_text(SMALL, encoding="utf-8")
    collection = f"replicas_{tmp_path.name[-12:].replace('-', '_')}"
    # The shared store starts with one document, written by this test process.
    ingest_paths([small], IndexConfig(tmp_path / "writer", chroma_url=chroma_server, collection=collection), embedder)
    yield {"chroma_url": chroma_server, "collection": collection}


@pytest.mark.timeout(600)
def test_a_running_replica_answers_from_documents_another_process_ingests_and_deletes(
    replica_env: dict[str, str], tmp_path: Path
) -> None:
    harbour = tmp_path / "harbour.md"
    harbour.write_text(HARBOUR, encoding="utf-8")
    writer = environment(**replica_env, data_dir=str(tmp_path / "a"))
    replica = Replica(environment(**replica_env, data_dir=str(tmp_path / "b"), refresh_s=str(REFRESH_S)))
    try:
        assert replica.ready["texts"] == 0  # opening the shared index embedded nothing
        before = replica.ask("Where do pilots board ships?", "keyword")
        assert "harbour" not in before["retrieved"]  # type: ignore[operator]

        citeqa(["ingest", str(harbour)], writer)  # process A
        time.sleep(REFRESH_S + 0.5)  # B's next question comes after its refresh interval
        after = replica.ask("Where do pilots board ships?", "keyword")
        assert after["cited"] and set(after["cited"]) == {"harbour"}, after  # type: ignore[arg-type]
        assert "outer buoy" in str(after["answer"])
        hybrid = replica.ask("What is weighed on the north quay?")
        assert "harbour" in hybrid["cited"], hybrid  # type: ignore[operator]
        assert hybrid["texts"] == 0 and hybrid["queries"] >= 1  # only questions were embedded

        citeqa(["delete", "harbour"], writer)
        time.sleep(REFRESH_S + 0.5)
        gone = replica.ask("Where do pilots board ships?")
        assert gone["documents"] == ["small"]
        assert "harbour" not in gone["retrieved"] and "harbour" not in gone["cited"]  # type: ignore[operator]
        assert gone["texts"] == 0
    finally:
        replica.stop()


@pytest.mark.timeout(600)
def test_a_stale_replica_refreshes_when_a_dense_hit_names_an_unknown_version(
    replica_env: dict[str, str], tmp_path: Path
) -> None:
    harbour = tmp_path / "harbour.md"
    harbour.write_text(HARBOUR, encoding="utf-8")
    # A refresh interval longer than the test: only the unknown-version rule can help.
    replica = Replica(environment(**replica_env, data_dir=str(tmp_path / "b"), refresh_s="3600"))
    try:
        citeqa(["ingest", str(harbour)], environment(**replica_env, data_dir=str(tmp_path / "a")))
        answer = replica.ask("Where do pilots board ships?", "hybrid")
        assert "harbour" in answer["cited"] and "harbour" in answer["documents"], answer  # type: ignore[operator]
        assert answer["texts"] == 0
    finally:
        replica.stop()


def note(number: int) -> str:
    topics = ["rivers", "forests", "schools", "roads", "clinics", "ports", "farms", "libraries", "bridges", "parks", "markets"]
    topic = topics[number]
    return (
        f"Note {number} on {topic}\n\nThe council reviews its {topic} every spring, plan {number}. "
        f"Each district reports on {topic} twice a year under rule {number}.\n\n"
        f"Funding for {topic} rises by {number + 2} per cent in the plan for {topic}.\n"
    )


def test_adding_one_document_to_ten_embeds_only_its_texts_and_tokenises_only_it(
    tmp_path: Path, embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = IndexConfig(tmp_path / "data")
    paths = []
    for number in range(11):
        path = tmp_path / f"note-{number}.md"
        path.write_text(note(number), encoding="utf-8")
        paths.append(path)
    ingest_paths(paths[:10], settings, embedder)

    new = read_document(paths[10])
    chunks = chunk_document(
        new.text, parse_sections(new.text, new.title), new.doc_id, new.title,
        chunk_params(settings), version=new.content_hash,
    )
    sentences = {c.text[a:b] for c in chunks for a, b in split_sentences(c.text)}
    # The default method embeds each distinct sentence of the new document, nothing else (its
    # chunk vectors are the means of its sentence vectors).
    expected = len(sentences)

    fetched: list[str] = []
    original = ChromaStore.iter_chunk_records

    def spy(self: ChromaStore, doc_id: str, version: str) -> object:
        fetched.append(doc_id)
        return original(self, doc_id, version)

    monkeypatch.setattr(ChromaStore, "iter_chunk_records", spy)
    counting = CountingEmbedder(embedder)
    summary = ingest_paths(paths, settings, counting)
    assert summary.added_documents == ["note-10"] and len(summary.skipped_documents) == 10
    assert counting.texts == summary.embedded_texts == expected
    assert fetched == ["note-10"]  # the keyword cache fetched and tokenised the new one only
