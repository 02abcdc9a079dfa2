"""Instructions per inference, counted under Valgrind: a latency measure the machine cannot move.

Wall-clock time on a shared runner moves with its neighbours; the number of instructions an
inference executes does not. CodSpeed gates on exactly this. Here, one child process per side
loads every file (LiteRT for ``.tflite``, ONNX Runtime for ``.onnx``/``.ort``, one thread) under
``valgrind --tool=callgrind`` and, per file, runs 10 and then 110 inferences between markers;
callgrind dumps its counters at each marker (``--dump-before`` on the C function behind
``os.getppid``), so each segment is counted alone, and only on the calling thread
(``--separate-threads``: a runtime's helper threads wake when they like). The count per
inference is the median of three long segments less the median of three short ones, over 100
calls: process start-up (7-9 s and +-0.4% under Valgrind, more than a small model's whole
inference) and the loop's own overhead cancel, and a rare event inside one segment (an A/A study
once saw ONNX Runtime's int8 file count 12% more in one process) is outvoted.

Honest labelling: Valgrind emulates a CPU without AVX-512, so XNNPACK and ONNX Runtime pick the
kernels they pick there (AVX2 at best), not the ones a native AVX-512 run would. The count is a
deterministic proxy that moves when the model's work moves, not the native instruction count.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SHORT, LONG = 10, 110  # inferences in the two kinds of counted segment per file
REPEATS = 3  # short and long segments alternate this many times; medians of each are taken
CHILD_TIMEOUT_S = 600
LABEL = (
    "instructions per inference at batch 1 under Valgrind (callgrind; its emulated CPU has no "
    "AVX-512, so kernels are those chosen there, not native ones)"
)

_CHILD = r"""
import os, sys
import numpy as np
marker = os.getppid  # callgrind dumps its counters when os_getppid is entered
files = sys.argv[1:]
for path in files:
    x = np.load(path + ".input.npy")
    if path.endswith(".tflite"):
        from ai_edge_litert.interpreter import Interpreter
        it = Interpreter(model_path=path, num_threads=1)
        it.allocate_tensors()
        index = it.get_input_details()[0]["index"]
        it.resize_tensor_input(index, x.shape)
        it.allocate_tensors()
        def run(n, it=it, index=index, x=x):
            for _ in range(n):
                it.set_tensor(index, x)
                it.invoke()
    else:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        feed = {s.get_inputs()[0].name: x}
        def run(n, s=s, feed=feed):
            for _ in range(n):
                s.run(None, feed)
    run(5)
    for _ in range(%(repeats)d):
        marker()
        run(%(short)d)
        marker()
        run(%(long)d)
    marker()
"""


def unavailable_reason() -> str | None:
    """Why instructions cannot be counted here (None when they can)."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (Debian/Ubuntu: apt-get install valgrind)"
    return None


def _totals(path: Path) -> int:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"{path.name}: callgrind wrote no totals")


def count(files: list[tuple[Path, np.ndarray]]) -> list[float]:
    """Instructions per inference for each (file, one input in its dtype), in one process."""
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    if not files:
        return []
    with tempfile.TemporaryDirectory(prefix="edgedigits-instructions-") as tmp:
        work = Path(tmp)
        names = []
        for k, (path, x) in enumerate(files):
            local = work / f"{k}{path.suffix}"  # short names; the child reads nothing else
            shutil.copyfile(path, local)
            np.save(str(local) + ".input.npy", x)
            names.append(str(local))
        script = work / "count.py"
        script.write_text(_CHILD % {"short": SHORT, "long": LONG, "repeats": REPEATS})
        env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
        cmd = [
            *(["setarch", "-R"] if shutil.which("setarch") else []),  # the same addresses
            "valgrind",
            "--tool=callgrind",
            "--dump-before=os_getppid",
            "--dump-instr=no",
            "--separate-threads=yes",  # only the calling thread's work is the inference's
            f"--callgrind-out-file={work}/cg.out",
            sys.executable,
            "-I",
            str(script),
            *names,
        ]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, cwd=work, env=env
        )
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"the counting process under valgrind failed: {tail}")
        # With --separate-threads, dump N of thread T is cg.out.N-0T; thread 1 calls invoke/run.
        dumps = sorted(work.glob("cg.out.*-01"), key=lambda p: int(p.name.split(".")[2][:-3]))
        per_file = 2 * REPEATS + 1  # the load segment, then short/long pairs
        if len(dumps) != per_file * len(files):
            raise RuntimeError(
                f"callgrind dumped {len(dumps)} segments, not {per_file * len(files)}: this "
                "Python's os.getppid is not the function os_getppid, so segments cannot be told "
                "apart"
            )
        out = []
        for k in range(len(files)):
            segments = [_totals(d) for d in dumps[per_file * k + 1 : per_file * (k + 1)]]
            short, long_ = np.median(segments[0::2]), np.median(segments[1::2])
            out.append(float(long_ - short) / (LONG - SHORT))
        return out
