"""TensorFlow Lite Micro: the interpreter a microcontroller runs, here as its host build.

The ``tflite-micro`` package wraps the TFLM C++ runtime (reference kernels, a fixed tensor arena,
batch 1). It runs the same ``.tflite`` bytes the ``.cc`` arrays hold, so a file that loads here
is one a firmware can run with the same kernels; latency here is *host* time, not MCU time.

The arena is measured, not guessed: TFLM's recording allocator reports what the model actually
took from the arena handed to it (``print_allocations`` writes it to the C-level stderr, which we
capture); ``arena_bytes`` is that total. A file TFLM cannot prepare (float16 weights, hybrid
dynamic-range kernels) fails to load with TFLM's own log line as the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from edgedigits.errors import ModelFileError, first_line
from edgedigits.runtimes.base import Runner, TensorInfo

HOST_ARENA_BYTES = 4 << 20  # handed to TFLM at load; the model's real need is measured
_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")


class TFLMCannotRun(ModelFileError):
    """TFLM could not prepare the file; ``reason`` is TFLM's own log line."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: TensorFlow Lite Micro cannot run it ({reason})")
        self.reason = reason


def _info(detail: dict, name: str) -> TensorInfo:
    q = detail.get("quantization_parameters") or {}
    scales, zero_points = q.get("scales", []), q.get("zero_points", [])
    dtype = np.dtype(detail["dtype"])
    quantized = len(scales) > 0 and dtype.kind in "iu" and float(scales[0]) != 0.0
    return TensorInfo(
        name=name,
        shape=(None, *(int(d) for d in detail["shape"][1:])),
        dtype=dtype.name,
        scale=float(scales[0]) if quantized else None,
        zero_point=int(zero_points[0]) if quantized else None,
    )


class TFLMRunner(Runner):
    name = "tflm"
    suffixes = (".tflite",)
    measures_memory = True
    single_image = True
    single_image_reason = "tflm runs one image per call, as on the device"
    profile_note = "TFLM's Python API exposes no per-operator profiler"

    def __init__(self, path: str | Path):
        super().__init__(path)
        self._interpreter = None  # arena_bytes (the allocator's total) and flash_bytes: at load

    @classmethod
    def unavailable_reason(cls) -> str | None:
        import importlib.util

        if importlib.util.find_spec("tflite_micro") is None:
            return "tflite-micro is not installed (pip install tflite-micro)"
        return None

    def load(self) -> None:
        from tflite_micro.python.tflite_micro import runtime

        from edgedigits._tf import native_stderr_captured

        data = self.path.read_bytes()
        with native_stderr_captured() as log:
            try:
                self._interpreter = runtime.Interpreter.from_bytes(
                    data, arena_size=HOST_ARENA_BYTES
                )
            except Exception as exc:  # noqa: BLE001 - the reason is in TFLM's log
                failure = first_line(exc)
        if self._interpreter is None:
            reason = next((line.strip() for line in log.text.splitlines() if line.strip()), failure)
            raise TFLMCannotRun(self.path, reason)
        self.arena_bytes = measured_arena_bytes(self._interpreter)
        self.flash_bytes = len(data)
        self.inputs = [_info(self._interpreter.get_input_details(0), "input")]
        self.outputs = [_info(self._interpreter.get_output_details(0), "output")]
        self.provider = f"TFLM reference kernels (host build), arena {self.arena_bytes:,} bytes"

    def infer_raw(self, x: np.ndarray) -> np.ndarray:
        """One image per ``invoke()``: TFLM's tensors have batch 1, as on the device."""
        interpreter = self._interpreter
        out = []
        for k in range(len(x)):
            interpreter.set_input(x[k : k + 1], 0)
            interpreter.invoke()
            out.append(interpreter.get_output(0))
        return np.concatenate(out)

    def bind(self, x: np.ndarray):
        if len(x) != 1:
            return None  # one invoke per image: no batch to bind
        self._interpreter.set_input(x, 0)
        return self._interpreter.invoke

    def close(self) -> None:
        self._interpreter = None


def measured_arena_bytes(interpreter) -> int:
    """What TFLM's recording allocator says the model took from its arena."""
    from edgedigits._tf import native_stderr_captured

    with native_stderr_captured() as log:
        interpreter.print_allocations()
    match = _TOTAL.search(log.text)
    if not match:
        raise RuntimeError(f"TFLM's allocation report has no total: {log.text[:200]!r}")
    return int(match.group(1))
