"""Run a module as a program under an address-space cap, and report the peak it reached.

    python -m tests.faults.capped CAP_MB MODULE [ARG ...]     (CAP_MB 0: no cap)

`resource.setrlimit(RLIMIT_AS, ...)` is set in this process before MODULE is imported, so
every allocation of the run counts against it (Python, onnxruntime, Chroma's Rust core); one
that would pass the cap fails as it would on a machine without that memory. At exit the peak
virtual size (VmPeak) and resident size (VmHWM) are printed as the last line of stderr, as
`peak: VMPEAK_KB HWM_KB`, for tests/faults/test_memory_bounds.py.
"""

from __future__ import annotations

import atexit
import resource
import runpy
import sys


def peaks_kb() -> tuple[int, int]:
    found = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmPeak", "VmHWM"):
                found[key] = int(value.split()[0])
    return found["VmPeak"], found["VmHWM"]


def report() -> None:
    peak, resident = peaks_kb()
    print(f"peak: {peak} {resident}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    cap_mb, module, *args = sys.argv[1:]
    if int(cap_mb):
        cap = int(cap_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    atexit.register(report)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
