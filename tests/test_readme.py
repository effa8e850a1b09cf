"""The README stays true: its settings table and commands match the code."""

from __future__ import annotations

import re
from pathlib import Path

from rag.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
MAKEFILE = (Path(__file__).resolve().parent.parent / "Makefile").read_text(encoding="utf-8")
CI = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")


def table_rows() -> dict[str, str]:
    table = README.split("<!-- settings-table")[1].split("<!-- /settings-table -->")[0]
    return dict(re.findall(r"^\| `(CITEQA_[A-Z_0-9]+)` \| [^|]* \| (.*) \|$", table, re.MULTILINE))


def test_every_setting_is_in_the_readme_table_with_its_description() -> None:
    rows = table_rows()
    for name, field in Settings.model_fields.items():
        variable = f"CITEQA_{name.upper()}"
        assert variable in rows, f"{variable} missing from the README's configuration table"
        assert rows[variable] == field.description
    assert set(rows) == {f"CITEQA_{n.upper()}" for n in Settings.model_fields}


def test_the_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    commands = re.findall(r"^make (\w+)", README.split("## Two commands")[1].split("##")[0], re.M)
    assert commands == ["run", "test"]
    assert re.search(r"^run:", MAKEFILE, re.M) and re.search(r"^test:", MAKEFILE, re.M)
    assert "make test" in CI
