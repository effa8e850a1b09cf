"""Uploaded files → checked copies inside `<data_dir>/uploads/`, never anywhere else.

A browser sends a file name, not a path: whatever it says ("../../x.pdf", "C:\\a\\b.pdf",
".bashrc"), only a sanitised last component is kept, and the copy is checked to land inside
the uploads folder. A file is first staged in `uploads/.incoming/<token>/` and ingested from
there, and only moves to `uploads/<name>` once it is in the index, so a failed upload never
replaces the copy of a document already indexed. The limits (largest file, allowed types)
come from settings in one place, `upload_limits`.
"""

from __future__ import annotations

import re
import secrets
import shutil
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rag import CiteqaError, Settings

# The settings' defaults (one source of truth: rag/settings.py says why 50 MB).
_DEFAULTS = Settings.model_construct()
DEFAULT_MAX_MB = float(_DEFAULTS.upload_max_mb)
DEFAULT_TYPES = tuple(_DEFAULTS.upload_types)
UPLOADS_FOLDER = "uploads"
STAGING_FOLDER = ".incoming"
# Longest name kept: file systems allow 255 bytes, and the name is also a label on the page.
NAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w.\- ()]+")


class UploadError(CiteqaError):
    """An upload is refused (type, size, name): one line naming the file."""


@dataclass(frozen=True)
class UploadLimits:
    """What the page accepts: files up to `max_mb` megabytes with a suffix in `types`."""

    max_mb: float = DEFAULT_MAX_MB
    types: tuple[str, ...] = DEFAULT_TYPES

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)


def upload_limits(settings: Settings) -> UploadLimits:
    """The upload limits from settings (CITEQA_UPLOAD_MAX_MB, CITEQA_UPLOAD_TYPES); the only
    place that reads them."""
    return UploadLimits(settings.upload_max_mb, tuple(_suffix(t) for t in settings.upload_types))


def uploads_dir(data_dir: Path) -> Path:
    """Where uploaded documents are kept: `<data_dir>/uploads`."""
    return data_dir / UPLOADS_FOLDER


def safe_name(name: str) -> str:
    """A file name that can only be a name: the last component of whatever path it claims
    (either slash), without control or shell characters, no leading dots, at most NAME_CHARS.
    "../../x.pdf" → "x.pdf"; "....x.pdf" (as Gradio strips slashes) → "x.pdf"; "" → "upload".
    """
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    # Leading dots go too: "...." is what is left of "../../" once slashes are stripped.
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = stem.strip(" ._") or "upload"
    suffix = suffix.lower()
    keep = NAME_CHARS - len(suffix) - 1
    return f"{stem[:keep].rstrip(' ._') or 'upload'}.{suffix}" if suffix else stem[:NAME_CHARS]


@dataclass(frozen=True)
class StagedUpload:
    """An accepted upload: `path` is the staged copy to ingest, `target` where it is kept
    once indexed, `name` the sanitised file name the page shows."""

    name: str
    path: Path
    target: Path

    def keep(self) -> Path:
        """Move the staged copy to its place in uploads/ (replacing an older version)."""
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.path.replace(self.target)
        self.discard()
        return self.target

    def discard(self) -> None:
        """Remove what is left of the staged copy."""
        shutil.rmtree(self.path.parent, ignore_errors=True)


def stage_upload(
    received: Path, claimed_name: str, data_dir: Path, limits: UploadLimits
) -> StagedUpload:
    """Check an upload and copy it into `<data_dir>/uploads/.incoming/<token>/<safe name>`.

    `received` is the file as the web server saved it, `claimed_name` the name the browser
    sent. Raises UploadError for a type not in `limits.types`, a file over `limits.max_mb`, or
    one that cannot be read; nothing is written then.
    """
    name = safe_name(claimed_name)
    suffix = Path(name).suffix.lower()
    if suffix not in limits.types:
        allowed = ", ".join(limits.types)
        raise UploadError(f"{name}: {suffix or 'no extension'} files are not accepted (only {allowed})")
    try:
        size = received.stat().st_size
    except OSError as error:
        raise UploadError(f"{name}: the upload cannot be read ({error.strerror})") from None
    if size > limits.max_bytes:
        raise UploadError(
            f"{name}: {size / 1024 / 1024:.1f} MB is over the {limits.max_mb:g} MB upload limit"
        )
    folder = uploads_dir(data_dir).resolve()
    staging = folder / STAGING_FOLDER / secrets.token_hex(8)
    path, target = staging / name, folder / name
    # safe_name already made this impossible; checked again because a mistake here would
    # write wherever a stranger's browser says.
    if path.parent != staging or target.parent != folder:
        raise UploadError(f"{name}: not a plain file name")
    staging.mkdir(parents=True)
    shutil.copyfile(received, path)
    return StagedUpload(name, path, target)


def uploaded_at(data_dir: Path, source: str) -> str:
    """When the page kept the upload of `source` (ISO 8601 UTC), or "" if it did not
    upload it. Stands in for the time a document was added while the index keeps none."""
    path = uploads_dir(data_dir) / safe_name(source)
    try:
        moment = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return ""
    return moment.isoformat(timespec="seconds")


def remove_upload(data_dir: Path, source: str) -> None:
    """Delete the kept copy of a document's file (`DocumentInfo.source`), if the page
    uploaded it; files elsewhere (the bundled corpus) are never touched."""
    folder = uploads_dir(data_dir).resolve()
    path = (folder / safe_name(source)).resolve()
    if path.parent == folder and path.is_file():
        path.unlink()


def _suffix(suffix: str) -> str:
    suffix = suffix.strip().lower()
    return suffix if suffix.startswith(".") else f".{suffix}"
