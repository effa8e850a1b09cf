"""The page's document jobs: uploads ingested in the background, one at a time, and which
documents a question searches.

`IngestJobs` owns one worker thread that feeds staged uploads to `QAEngine.add_documents` in
the order they came, so the chat stays usable while a file is read and embedded; the page
polls `rows()` for what to show. One file per call: a corrupt file fails alone, at the price
of rebuilding the derived caches once per file on today's index. The selection helpers are
pure, so the rule "all stays all when a document arrives" is unit-tested without a page.
"""

from __future__ import annotations

import itertools
import queue
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from rag import CiteqaError, QAEngine
from rag.types import DocumentInfo
from ui.uploads import StagedUpload

# Failed uploads stay listed (with their reason) until dismissed; past this many the oldest go.
MAX_FAILED_SHOWN = 20
JOB_PREFIX = "upload-"
# What the page says for each stage `QAEngine.add_documents` reports.
STAGE_TEXT = {
    "waiting": "queued",
    "read": "reading the file",
    "clean": "reading the file",
    "sections": "finding its sections",
    "chunk": "cutting into passages",
    "embed": "embedding passages",
    "write": "storing passages",
    "commit": "making it searchable",
    "cleanup": "making it searchable",
    "keyword": "updating the keyword index",
}


@dataclass(frozen=True)
class _Job:
    job_id: str
    upload: StagedUpload
    submitted_at: str
    stage: str = "waiting"
    failed: bool = False
    error: str = ""

    def row(self) -> DocumentInfo:
        """The job as a line of the documents panel."""
        return DocumentInfo(
            doc_id=self.job_id,
            title=self.upload.name,
            kind=Path(self.upload.name).suffix.lstrip(".").lower(),
            pages=None,
            chunks=0,
            added_at=self.submitted_at,
            source=self.upload.name,
            status="failed" if self.failed else "ingesting",
            error=self.error if self.failed else STAGE_TEXT.get(self.stage, self.stage),
        )


class IngestJobs:
    """Background ingest of staged uploads into `engine` (see the module docstring)."""

    def __init__(self, engine: QAEngine) -> None:
        self._engine = engine
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str] = queue.Queue()
        self._ids = itertools.count(1)
        self._idle = threading.Event()
        self._idle.set()
        self._worker: threading.Thread | None = None

    def submit(self, uploads: Sequence[StagedUpload]) -> None:
        """Queue uploads for ingest, in order; returns at once."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            for upload in uploads:
                job = _Job(f"{JOB_PREFIX}{next(self._ids)}", upload, now)
                self._jobs[job.job_id] = job
                self._queue.put(job.job_id)
                self._idle.clear()
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="citeqa-ingest", daemon=True)
                self._worker.start()

    def rows(self) -> list[DocumentInfo]:
        """Uploads not in the index yet: waiting or ingesting first, then failed ones."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [j.row() for j in jobs if not j.failed] + [j.row() for j in jobs if j.failed]

    def is_busy(self) -> bool:
        """True while an upload waits or is being ingested."""
        return not self._idle.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Block until no upload is waiting or being ingested; False on timeout."""
        return self._idle.wait(timeout_s)

    def dismiss(self, job_id: str) -> bool:
        """Forget a failed upload's line; False if `job_id` is not a failed upload."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not job.failed:
                return False
            del self._jobs[job_id]
            return True

    def _run(self) -> None:
        while True:
            try:
                job_id = self._queue.get(timeout=1.0)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():  # submit() starts a new worker after this one
                        self._worker = None
                        return
                continue
            try:
                self._ingest(job_id)
            except Exception:  # keep the worker alive: the next upload must still be served
                traceback.print_exc()
                self._fail(job_id, "the upload could not be kept; the server log has the details")
            with self._lock:
                if self._queue.empty():
                    self._idle.set()

    def _ingest(self, job_id: str) -> None:
        upload = self._jobs[job_id].upload

        def progress(stage: str, done: int, total: int) -> None:
            self._update(job_id, stage=stage)

        try:
            self._engine.add_documents([upload.path], on_progress=progress)
        except CiteqaError as error:
            # The message names the staged path; the reader knows the file by its name.
            self._fail(job_id, str(error).replace(str(upload.path), upload.name))
            upload.discard()
            return
        except Exception:  # a bug: the log gets the traceback, the page one calm line
            traceback.print_exc()
            self._fail(job_id, f"{upload.name}: could not be added; the server log has the details")
            upload.discard()
            return
        upload.keep()
        with self._lock:
            # A successful upload replaces an earlier failure of the same file name.
            for other in [j for j in self._jobs.values() if j.upload.name == upload.name]:
                del self._jobs[other.job_id]

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id] = replace(self._jobs[job_id], **changes)  # type: ignore[arg-type]

    def _fail(self, job_id: str, error: str) -> None:
        self._update(job_id, failed=True, error=error)
        with self._lock:
            failed = [j.job_id for j in self._jobs.values() if j.failed]
            for old in failed[:-MAX_FAILED_SHOWN]:
                del self._jobs[old]


# --- which documents a question searches ---------------------------------------------------
def selection_after_change(
    previous_ids: Sequence[str], selected: Sequence[str], current_ids: Sequence[str]
) -> list[str]:
    """The reader's selection once the document list changed from `previous_ids` to
    `current_ids`: "all" stays all (a new document is searched too), otherwise the chosen
    documents that still exist. An empty previous list counts as all (the first load)."""
    was_all = not previous_ids or set(previous_ids) <= set(selected)
    if was_all:
        return list(current_ids)
    return [doc_id for doc_id in current_ids if doc_id in set(selected)]


def documents_to_search(selected: Sequence[str] | None, ready_ids: Sequence[str]) -> list[str] | None:
    """The `documents=` argument for `QAEngine.ask`: None when every ready document is
    chosen (or nothing was ever chosen: an API call), else the chosen ones still in the index.
    Raises CiteqaError when none of the chosen documents is left."""
    if selected is None:
        return None
    chosen = [doc_id for doc_id in ready_ids if doc_id in set(selected)]
    if not chosen:
        raise CiteqaError("no document is selected: choose at least one under “Search in”")
    return None if len(chosen) == len(ready_ids) else chosen
