"""The real `citeqa` command in a subprocess, and what the fault suite reads from it.

`run_citeqa` starts `python -m ui.cli` with a clean environment (no CITEQA_*/OPENAI_* of the
developer's) plus the variables a test gives; arguments may be bytes, as a shell passes them.
`error_line` holds a failed run to the CLI contract: exit code 1, no traceback, and exactly one
error line on stderr, the last one (progress lines of stages that finished, which are indented,
and `citeqa:` notices before the error do not count). `answer_of` reads `citeqa ask --json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CITEQA = [sys.executable, "-m", "ui.cli"]


def clean_environment(**variables: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CITEQA_", "OPENAI_"))}
    environment.update(variables)
    return environment


def run_citeqa(
    args: Sequence[str | bytes], environment: Mapping[str, str], timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `citeqa ARGS` to completion in the repository folder; text output, decoded leniently."""
    return subprocess.run(
        [*CITEQA, *args],
        capture_output=True,
        env=dict(environment),
        cwd=REPO,
        timeout=timeout_s,
        text=True,
        encoding="utf-8",
        errors="replace",
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a failed run (asserting the contract of the module docstring)."""
    stderr = result.stderr
    assert result.returncode == 1, f"exit {result.returncode}, stderr: {stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "no error line on stderr"
    errors = [line for line in lines if line.startswith("citeqa: error:")]
    assert errors == [lines[-1]], f"not exactly one error line, the last: {lines}"
    others = lines[:-1]
    assert all(line.startswith(("  ", "citeqa: ")) for line in others), others
    return lines[-1]


@dataclass(frozen=True)
class Asked:
    """What `citeqa ask --json` answered, reduced to what must not change silently."""

    answer: str
    citations: tuple[tuple[str, str], ...]  # (chunk id, section) of each citation
    retrieved: tuple[str, ...]
    refused: bool


def answer_of(result: subprocess.CompletedProcess[str]) -> Asked:
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    return Asked(
        answer=data["answer"],
        citations=tuple((c["chunk_id"], c["section"]) for c in data["citations"]),
        retrieved=tuple(p["chunk_id"] for p in data["retrieved"]),
        refused=data["refused"],
    )
