"""The smallest TensorFlow Lite Micro arena a model runs in, found by trying.

TFLM's recording allocator reports what a model took from a generous arena; the smallest arena
that works is a little less (the recording counts alignment slack and the allocator's own
bookkeeping differently) and depends on the build (the pip ``tflite-micro`` wheel is built with
compression support; a plain build needs a few hundred bytes less). So we try: ``AllocateTensors``
and one ``invoke`` with an arena of N bytes, bisecting N. A far-too-small arena makes TFLM abort
the process rather than fail the call, so the tries run in a child process; when it dies, the size
it was trying counts as too small and a new child carries on from there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ALIGN = 16  # arenas are compared at 16-byte steps, the alignment TFLM's allocator keeps

_PROBE = r"""
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
lo, hi, align = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def works(size):
    try:
        interpreter = runtime.Interpreter.from_bytes(data, arena_size=size)
        detail = interpreter.get_input_details(0)
        interpreter.set_input(np.zeros(detail["shape"], detail["dtype"]), 0)
        interpreter.invoke()
        return True
    except Exception:
        return False
while hi - lo > align:
    mid = (lo + hi) // 2 // align * align
    if mid <= lo:
        break
    print("try", mid, flush=True)
    if works(mid):
        hi = mid
    else:
        lo = mid
    print("ok" if hi == mid else "fail", mid, flush=True)
"""


def smallest_arena(path: str | Path, known_good: int, timeout_s: float = 120.0) -> int:
    """The smallest arena (a multiple of 16 bytes, to within 16) in which the model at ``path``
    allocates and runs in the installed TFLM, searching below ``known_good`` (which must work)."""
    lo, hi = 0, -(-known_good // ALIGN) * ALIGN
    for _ in range(64):  # each pass ends the search or moves a bound
        if hi - lo <= ALIGN:
            break
        run = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path), str(lo), str(hi), str(ALIGN)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        trying = None
        for line in run.stdout.splitlines():
            word, _, size = line.partition(" ")
            if word == "try":
                trying = int(size)
            elif word == "ok":
                hi, trying = int(size), None
            elif word == "fail":
                lo, trying = int(size), None
        if run.returncode != 0:
            if trying is None:  # died before trying anything: not an arena question
                raise RuntimeError(
                    f"{path}: TFLM arena probe failed: "
                    f"{(run.stderr.strip().splitlines() or ['no output'])[-1]}"
                )
            lo = trying  # TFLM aborted on this size: too small
    return hi
