"""The command line's contract, each case in a real subprocess: every failure is one line on
stderr and exit code 1 (argparse's usage errors keep 2), never a traceback; output the terminal
cannot encode is replaced, not a crash."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.faults.citeqa_process import CITEQA, REPO, clean_environment, error_line, run_citeqa

GDP_ZH = "信息产业增加值占GDP的比重是多少？"


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"CITEQA_CORPUS": "notjson"}, "setting CITEQA_CORPUS: not valid JSON"),
        ({"CITEQA_COLLECTION": "a"}, "setting CITEQA_COLLECTION: 'a' must have 3 to 53 characters"),
        ({"CITEQA_COLLECTION": "bad name!"}, "setting CITEQA_COLLECTION: 'bad name!' must be letters"),
        ({"CITEQA_TOP_K": "many"}, "setting CITEQA_TOP_K: Input should be a valid integer"),
        ({"CITEQA_CHUNK_TOKENS": "5"}, "setting CITEQA_CHUNK_TOKENS: Input should be greater than or equal to 32"),
        ({"CITEQA_LLM_DEADLINE_S": "-1"}, "setting CITEQA_LLM_DEADLINE_S: Input should be greater than 0"),
        ({"CITEQA_ANSWER_MODE": "psychic"}, "setting CITEQA_ANSWER_MODE: Input should be 'auto'"),
    ],
)
def test_a_setting_that_does_not_validate_is_one_line_naming_it_and_exit_1(
    tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    for command in (["ask", "What is the digital divide?"], ["ingest"], ["documents"]):
        result = run_citeqa(command, clean_environment(CITEQA_DATA_DIR=str(tmp_path), **variables))
        assert error_line(result).startswith(f"citeqa: error: {named}"), result.stderr
    assert not (tmp_path / "chroma").exists()  # refused before anything was opened


def test_a_data_folder_that_is_a_file_is_one_line_naming_it(tmp_path: Path) -> None:
    occupied = tmp_path / "index"
    occupied.write_text("not a folder")
    environment = clean_environment(CITEQA_DATA_DIR=str(occupied))
    for command in (["ask", "What is the digital divide?"], ["ingest"], ["documents"], ["delete", "x"]):
        line = error_line(run_citeqa(command, environment))
        assert line == (
            f"citeqa: error: the data folder {occupied} is a file, not a folder: "
            "point CITEQA_DATA_DIR at a folder"
        )
    assert occupied.read_text() == "not a folder"


def test_a_missing_corpus_file_is_one_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "gone.txt"
    environment = clean_environment(
        CITEQA_DATA_DIR=str(tmp_path / "data"), CITEQA_CORPUS=json.dumps([str(missing)])
    )
    ingest = run_citeqa(["ingest"], environment)
    assert error_line(ingest) == f"citeqa: error: {missing}: no such file"
    # ask on a never-used folder builds the corpus first: a notice, then the one error line
    asked = run_citeqa(["ask", "What is the digital divide?"], environment)
    assert error_line(asked) == f"citeqa: error: {missing}: no such file"


def test_deleting_an_unknown_document_is_one_line(index_dir: Path) -> None:
    result = run_citeqa(["delete", "nosuch"], clean_environment(CITEQA_DATA_DIR=str(index_dir)))
    assert error_line(result).startswith("citeqa: error: no document 'nosuch' in the index")


def test_arguments_that_are_not_utf8_are_read_not_crashed_on(tmp_path: Path, index_dir: Path) -> None:
    environment = clean_environment(CITEQA_DATA_DIR=str(index_dir))
    # A question of one byte that is no UTF-8: nothing of it is text.
    asked = run_citeqa(["ask", b"\xff"], environment)
    assert error_line(asked) == "citeqa: error: the question is empty: type a question about the document"
    deleted = run_citeqa(["delete", b"\xff"], environment)
    assert error_line(deleted).startswith("citeqa: error: no document '\\udcff' in the index")
    # A file whose name is not UTF-8 is ingested; its id and source name keep what is readable.
    folder = tmp_path.as_posix().encode()
    name = folder + b"/harbour-\xff.txt"
    Path(name.decode("utf-8", "surrogateescape")).write_text(
        "Harbour Rules\n\nThe harbour opens at six. Pilots board at the outer buoy.\n", encoding="utf-8"
    )
    data = clean_environment(CITEQA_DATA_DIR=str(tmp_path / "data"))
    ingested = run_citeqa(["ingest", name], data)
    assert ingested.returncode == 0 and "Traceback" not in ingested.stderr, ingested.stderr
    [record] = json.loads(run_citeqa(["documents", "--json"], data).stdout)
    assert record["doc_id"] == "harbour" and record["source"] == "harbour-\ufffd.txt"


def test_an_ascii_terminal_gets_the_answer_with_replacements_not_a_crash(index_dir: Path) -> None:
    environment = clean_environment(CITEQA_DATA_DIR=str(index_dir), PYTHONIOENCODING="ascii")
    plain = run_citeqa(["ask", GDP_ZH], environment)
    assert plain.returncode == 0 and plain.stderr == "", plain.stderr
    assert "7.2 per cent of GDP" in plain.stdout and "[1] II (1)" in plain.stdout
    as_json = run_citeqa(["ask", "--json", GDP_ZH], environment)
    assert as_json.returncode == 0 and as_json.stdout.isascii(), as_json.stderr
    assert json.loads(as_json.stdout)["original_question"] == GDP_ZH  # escaped, not lost


def test_a_reader_that_stops_reading_ends_the_command_quietly(index_dir: Path) -> None:
    process = subprocess.Popen(
        [*CITEQA, "ask", "--json", "What share of GDP did the information industry reach in 2005?"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_environment(CITEQA_DATA_DIR=str(index_dir)),
        cwd=REPO,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `citeqa ask --json … | head -0`
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=300) == 1
    assert stderr == ""


@pytest.mark.parametrize(("flag", "message"), [("0", "must be from 1 to 50, not 0"), ("many", "not a whole number: 'many'")])
def test_a_bad_flag_is_a_usage_error_with_exit_2(tmp_path: Path, flag: str, message: str) -> None:
    result = run_citeqa(["ask", "--k", flag, "What is the digital divide?"], clean_environment(CITEQA_DATA_DIR=str(tmp_path)))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == f"citeqa ask: error: argument --k: {message}"
