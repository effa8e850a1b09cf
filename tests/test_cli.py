"""The `citeqa` command as a user runs it: real processes, real index, one-line errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

CITEQA = [sys.executable, "-m", "ui.cli"]
REPO = Path(__file__).resolve().parent.parent


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CITEQA_", "OPENAI_"))}
    environment.update({"CITEQA_DATA_DIR": str(data_dir), **env})
    return subprocess.run(CITEQA + args, capture_output=True, text=True, env=environment, cwd=REPO, timeout=300)


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without the progress lines (indented) that `citeqa ingest` writes there."""
    return [line for line in result.stderr.splitlines() if not line.startswith("  ")]


def test_ask_prints_the_answer_and_numbered_sources(index_dir: Path) -> None:
    result = run(["ask", "What share of GDP did the information industry reach in 2005?"], index_dir)
    assert result.returncode == 0, result.stderr
    assert "7.2 per cent of GDP" in result.stdout
    assert "Sources:" in result.stdout
    assert "[1] II (1) The situation of progress in informatization development" in result.stdout


def test_ask_json_prints_the_result_object(index_dir: Path) -> None:
    result = run(["ask", "--json", "--k", "3", "Who won the 2008 Olympic Games?"], index_dir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["refused"] is True and data["citations"] == [] and len(data["retrieved"]) == 3


def test_empty_question_is_a_one_line_error(index_dir: Path) -> None:
    result = run(["ask", "   "], index_dir)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("citeqa: error: the question is empty")
    assert "Traceback" not in result.stderr


def test_ingest_reports_a_summary_and_skips_unchanged_files(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe harbour opens at six. Boats leave at seven.\n", encoding="utf-8")
    first = run(["ingest", str(note)], tmp_path / "data")
    assert first.returncode == 0, first.stderr
    assert "indexed 1 document(s): 1 chunks in 1 sections, 1 embedded" in first.stdout
    second = run(["ingest", str(note)], tmp_path / "data")
    assert "1 unchanged (skipped)" in second.stdout and "0 embedded" in second.stdout


def test_ingest_of_a_bad_file_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "scan.txt"
    bad.write_bytes(b"\xff\xfe\x00\x00binary")
    result = run(["ingest", str(bad)], tmp_path / "data")
    assert result.returncode == 1
    [error] = error_lines(result)
    assert "scan.txt" in error and "binary" in error


def test_mismatched_chunking_tells_the_user_to_rebuild(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Note\n\nThe harbour opens at six.\n", encoding="utf-8")
    assert run(["ingest", str(note)], tmp_path / "data").returncode == 0
    result = run(["ingest", str(note)], tmp_path / "data", CITEQA_CHUNK_TOKENS="96")
    assert result.returncode == 1 and "--rebuild" in result.stderr


def test_a_bad_setting_is_named(tmp_path: Path) -> None:
    result = run(["ask", "anything"], tmp_path, CITEQA_TOP_K="many")
    assert result.returncode == 1
    assert result.stderr.startswith("citeqa: error: setting CITEQA_TOP_K:")
    assert result.stderr.count("\n") == 1


def test_documents_lists_and_delete_removes_with_one_line_errors(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe harbour opens at six. Boats leave at seven.\n", encoding="utf-8")
    data = tmp_path / "data"
    assert run(["ingest", str(note)], data).returncode == 0
    listed = run(["documents", "--json"], data)
    assert [d["doc_id"] for d in json.loads(listed.stdout)] == ["note"]
    assert json.loads(listed.stdout)[0]["source"] == "note.md"
    assert "note\tnote.md\t1 chunks" in run(["documents"], data).stdout
    deleted = run(["delete", "note"], data)
    assert deleted.returncode == 0 and "deleted note (note.md, 1 chunks)" in deleted.stdout
    again = run(["delete", "note"], data)
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert again.stderr.startswith("citeqa: error: no document 'note' in the index")
    assert json.loads(run(["documents", "--json"], data).stdout) == []


def test_a_damaged_database_is_one_line_naming_the_file_and_rebuild_repairs_it(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nThe harbour opens at six. Boats leave at seven.\n", encoding="utf-8")
    data = tmp_path / "data"
    assert run(["ingest", str(note)], data).returncode == 0
    sqlite = data / "chroma" / "chroma.sqlite3"
    sqlite.write_bytes(b"garbage " * 4096)
    for args in (["ask", "When does the harbour open?"], ["ingest", str(note)]):
        result = run(args, data)
        assert result.returncode == 1, result.stderr
        [error] = error_lines(result)
        assert error.startswith(f"citeqa: error: {sqlite} is damaged")
        assert "citeqa ingest --rebuild" in error and "Traceback" not in result.stderr
    rebuilt = run(["ingest", "--rebuild", str(note)], data)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "moved the damaged database to" in rebuilt.stdout and "chroma.damaged-" in rebuilt.stdout
    asked = run(["ask", "When does the harbour open?"], data)
    assert asked.returncode == 0 and "six" in asked.stdout


@pytest.mark.parametrize("command", ["ingest", "delete", "documents", "ask", "ui", "eval"])
def test_every_command_has_help_with_an_example(command: str, tmp_path: Path) -> None:
    result = run([command, "--help"], tmp_path)
    assert result.returncode == 0
    assert "example: citeqa " + command in result.stdout


def test_ui_prints_the_url_it_serves(index_dir: Path) -> None:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CITEQA_", "OPENAI_"))}
    process = subprocess.Popen(
        [*CITEQA, "ui", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**environment, "CITEQA_DATA_DIR": str(index_dir)},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the page is up (or the process ends)
        assert line == f"citeqa: serving the chat page on http://127.0.0.1:{port}/ (Ctrl+C stops it)\n", (
            line + (process.stderr.read() if process.poll() is not None and process.stderr else "")
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            assert response.status == 200 and b"citeqa" in response.read()
    finally:
        process.terminate()  # only the process this test started
        process.wait(timeout=30)


def test_ui_on_a_taken_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run(["ui", "--port", str(port)], tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"citeqa: error: port {port} on 127.0.0.1 is already in use; choose another with --port\n"
    )
    assert not (tmp_path / "chroma").exists()  # refused before the index was opened


def test_ui_on_an_address_of_another_machine_is_one_line_and_exit_1(tmp_path: Path) -> None:
    # An address no interface here has: binding fails locally, nothing goes on the network.
    result = run(["ui", "--host", "10.255.255.1", "--port", "7860"], tmp_path)
    assert result.returncode == 1
    assert result.stderr == "citeqa: error: cannot serve on 10.255.255.1: not an address of this machine\n"
