"""The real ingest, killed with SIGKILL at a chosen progress event (tests/faults/test_killed_ingest.py).

    python -m tests.faults.ingest_until STAGE N [--rebuild] PATH ...

Settings come from the environment (CITEQA_DATA_DIR, ...) through `load_settings`, as for
`citeqa ingest`. The ingest is `ingest_paths` itself; its progress callback, at the Nth event of
STAGE, sends SIGKILL to this process: no handler, `finally` or buffered write runs, as when the
OOM killer strikes or the power goes. Kill points come from stage markers, never from timing, so
each run stops at the same step. An ingest that ends before the Nth event of STAGE exits with
code 3: the kill point was never reached, and the test naming it is wrong.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from ingest.embed import MiniLMEmbedder, set_offline_defaults
from ingest.pipeline import STAGES, ProgressEvent, ingest_paths
from rag import load_settings

NEVER_REACHED = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("n", type=int, help="kill at this event of the stage (1 = the first)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args()
    seen = 0

    def progress(event: ProgressEvent) -> None:
        nonlocal seen
        if event.stage == args.stage:
            seen += 1
            if seen == args.n:
                os.kill(os.getpid(), signal.SIGKILL)

    set_offline_defaults()
    settings = load_settings()
    ingest_paths(args.paths, settings, MiniLMEmbedder(), rebuild=args.rebuild, progress=progress)
    print(f"the ingest ended after {seen} {args.stage} event(s), before event {args.n}", file=sys.stderr)
    return NEVER_REACHED


if __name__ == "__main__":
    sys.exit(main())
