"""Pathological files are ingested within a memory cap: a 2 MB file of one word (no sentence or
word boundary to cut at) and a 1.5 MB file of one line (no paragraph, heading or title to end).
`citeqa ingest` runs in a subprocess under RLIMIT_AS (tests/faults/capped.py); the run must
succeed, every chunk must stay within the token limit, and titles and headings stay capped.

The cap is relative: the peak address space of ingesting a five-chunk note, measured here in
the same way, plus CAP_GROWTH_MB. The fixed part (Python, onnxruntime's threads and arena,
Chroma's runtime) differs between machines; what a document adds must not. Measured here, the
current code adds ~15 MB for the one-word file and ~250 MB for the one-line file; the issue
reports 22 GB (one 2,000,000-character chunk) and 2.45 GB (the whole line as the title and
heading of every chunk) for the first release, far past the cap. (A cap of +70 MB does stop
the one-line ingest: the cap bites.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ingest.chunk import count_tokens
from ingest.index import IndexConfig, open_store
from ingest.load import TITLE_CHARS
from tests.faults.citeqa_process import REPO, clean_environment
from tests.faults.corpus import HARBOUR

CAP_GROWTH_MB = 768
CHUNK_TOKENS = 160  # the default limit, which the CLI ingests with
FILES = {
    "one-word.txt": "x" * 2_000_000 + "\n",
    "one-line.txt": ("The plan keeps every river clean and every factory reports its discharges. " * 20_000).strip() + "\n",
}


def capped_ingest(cap_mb: int, path: Path, data_dir: Path) -> tuple[subprocess.CompletedProcess[str], int]:
    """`citeqa ingest PATH` under a cap of cap_mb (0: none); the run and its peak in MB."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.faults.capped", str(cap_mb), "ui.cli", "ingest", str(path)],
        capture_output=True, text=True, cwd=REPO, timeout=600,
        env=clean_environment(CITEQA_DATA_DIR=str(data_dir)),
    )
    last = result.stderr.splitlines()[-1] if result.stderr else ""
    assert last.startswith("peak: "), result.stderr[-2000:]
    return result, int(last.split()[1]) // 1024


@pytest.fixture(scope="module")
def cap_mb(tmp_path_factory: pytest.TempPathFactory) -> int:
    folder = tmp_path_factory.mktemp("baseline")
    note = folder / "harbour-rules.txt"
    note.write_text(HARBOUR, encoding="utf-8")
    result, peak_mb = capped_ingest(0, note, folder / "data")
    assert result.returncode == 0, result.stderr[-2000:]
    return peak_mb + CAP_GROWTH_MB


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", list(FILES))
def test_a_pathological_file_is_ingested_within_the_cap_in_bounded_chunks(
    tmp_path: Path, cap_mb: int, name: str
) -> None:
    path = tmp_path / name
    path.write_text(FILES[name], encoding="utf-8")
    result, peak_mb = capped_ingest(cap_mb, path, tmp_path / "data")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert peak_mb <= cap_mb
    store = open_store(IndexConfig(tmp_path / "data"))
    [record] = store.documents().values()
    chunks = store.chunks(store.chunk_ids(record.doc_id, record.version))
    assert len(chunks) == record.chunks > 1000
    assert len(record.title) <= TITLE_CHARS and record.title.endswith("…")
    for chunk in chunks:
        assert chunk.n_tokens <= CHUNK_TOKENS and count_tokens(chunk.text) <= CHUNK_TOKENS
        assert max(len(chunk.section_path), len(chunk.part_title), len(chunk.section_title)) <= TITLE_CHARS + 20
