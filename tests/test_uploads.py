"""ui.uploads: a browser's file name is never a path, and the limits are checked before
anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import load_settings
from ui.uploads import (
    DEFAULT_MAX_MB,
    DEFAULT_TYPES,
    UploadError,
    UploadLimits,
    remove_upload,
    safe_name,
    stage_upload,
    upload_limits,
    uploads_dir,
)


@pytest.mark.parametrize(
    ("claimed", "kept"),
    [
        ("../../x.pdf", "x.pdf"),
        ("....x.pdf", "x.pdf"),  # what gradio leaves of "../../x.pdf"
        ("..\\..\\evil.docx", "evil.docx"),
        ("/etc/passwd", "passwd"),
        (".bashrc", "bashrc"),
        ("report.PDF", "report.pdf"),
        ("Rapport d'été (v2).md", "Rapport d_été (v2).md"),
        ("a\x00b;rm -rf.txt", "a_b_rm -rf.txt"),
        ("", "upload"),
        ("..", "upload"),
    ],
)
def test_a_claimed_file_name_keeps_only_a_safe_last_component(claimed: str, kept: str) -> None:
    assert safe_name(claimed) == kept


def test_a_long_name_is_cut_and_keeps_its_suffix() -> None:
    name = safe_name("x" * 500 + ".pdf")
    assert name.endswith(".pdf") and len(name) <= 120


def test_an_upload_named_like_a_path_is_staged_inside_the_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "deep" / "data"
    received = tmp_path / "received.pdf"
    received.write_bytes(b"%PDF-1.4 not really")
    staged = stage_upload(received, "../../x.pdf", data_dir, UploadLimits())
    uploads = uploads_dir(data_dir).resolve()
    assert staged.name == "x.pdf" and staged.target == uploads / "x.pdf"
    assert staged.path.is_relative_to(uploads) and staged.path.read_bytes() == received.read_bytes()
    kept = staged.keep()
    assert kept == uploads / "x.pdf" and kept.exists()
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "deep" / "x.pdf").exists()
    assert sorted(p.name for p in uploads.iterdir()) == [".incoming", "x.pdf"]
    assert list((uploads / ".incoming").iterdir()) == []  # the staging folder is gone


def test_a_type_not_allowed_is_refused_in_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    received = tmp_path / "tool.exe"
    received.write_bytes(b"MZ")
    with pytest.raises(UploadError) as refused:
        stage_upload(received, "tool.exe", tmp_path / "data", UploadLimits())
    assert str(refused.value) == (
        "tool.exe: .exe files are not accepted (only .txt, .md, .html, .pdf, .docx)"
    )
    assert not (tmp_path / "data").exists()


def test_a_file_over_the_limit_is_refused_naming_its_size_and_the_limit(tmp_path: Path) -> None:
    received = tmp_path / "big.pdf"
    received.write_bytes(b"0" * (2 * 1024 * 1024 + 1))
    with pytest.raises(UploadError, match=r"^big\.pdf: 2\.0 MB is over the 2 MB upload limit$"):
        stage_upload(received, "big.pdf", tmp_path / "data", UploadLimits(max_mb=2))
    assert not (tmp_path / "data").exists()


def test_limits_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = upload_limits(load_settings())
    assert limits == UploadLimits(DEFAULT_MAX_MB, DEFAULT_TYPES)
    assert limits.max_bytes == 50 * 1024 * 1024 and ".pdf" in limits.types
    monkeypatch.setenv("CITEQA_UPLOAD_MAX_MB", "2")
    monkeypatch.setenv("CITEQA_UPLOAD_TYPES", '["pdf"]')
    assert upload_limits(load_settings()) == UploadLimits(2.0, (".pdf",))


def test_removing_an_upload_touches_only_the_uploads_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    uploads_dir(data_dir).mkdir(parents=True)
    (uploads_dir(data_dir) / "notes.md").write_text("x")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    remove_upload(data_dir, "../outside.txt")
    remove_upload(data_dir, "notes.md")
    remove_upload(data_dir, "never-uploaded.txt")
    assert outside.exists() and not (uploads_dir(data_dir) / "notes.md").exists()
