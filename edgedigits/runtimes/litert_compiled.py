"""LiteRT's CompiledModel API (``ai_edge_litert.compiled_model``): the API mobile apps use from
Kotlin and C++ since LiteRT 2, with the hardware accelerator chosen per model.

``litert-compiled`` runs on the CPU accelerator (XNNPACK). ``litert-compiled-gpu`` and
``litert-compiled-npu`` ask for the GPU and NPU accelerators; where the machine has none, LiteRT
fails to compile the model and says why only in its C++ log (for the GPU: "No adapters found").
That reason becomes a ``skipped`` row. What ran is LiteRT's own ``is_fully_accelerated()``.

Input and output buffers are created once at load, as an app does; a call writes the input,
runs, and reads the output. Tensor quantization (scale, zero point) is not in the CompiledModel
tensor details, so it is read from the file's tensors with the interpreter, which runs nothing.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np

from edgedigits.errors import ModelFileError, first_line
from edgedigits.runtimes.base import Runner, RuntimeUnavailable

_ENVIRONMENT = None  # one LiteRT Environment per process: accelerators register once


def _environment():
    """The shared LiteRT Environment, created quietly. It registers the CPU, GPU and NPU
    accelerators (logging each at INFO level to fd 2) and logs again when destroyed, so it is
    created once and released quietly at exit."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        import atexit
        import os

        import ai_edge_litert
        from ai_edge_litert.environment import Environment, EnvironmentOptions

        from edgedigits._tf import native_stderr_silenced

        with native_stderr_silenced():
            _ENVIRONMENT = Environment.create(
                options=EnvironmentOptions(
                    runtime_path=os.path.dirname(os.path.abspath(ai_edge_litert.__file__))
                )
            )
        atexit.register(_release_environment)
    return _ENVIRONMENT


def _release_environment() -> None:
    """At exit: release our environment quietly. The one LiteRT's TensorBuffer keeps for itself
    is destroyed by C++ static destructors after Python is done, and logs two INFO lines then;
    native fd 2 goes to /dev/null for that, while Python's own stderr keeps the real one."""
    global _ENVIRONMENT
    import gc
    import io
    import os
    import sys

    from edgedigits._tf import native_stderr_silenced

    with native_stderr_silenced():
        _ENVIRONMENT = None
        gc.collect()
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = io.TextIOWrapper(os.fdopen(real, "wb", buffering=0), write_through=True)
    except (OSError, ValueError):
        pass


def _failure_reason(log: str, fallback: str) -> str:
    """The most telling line of LiteRT's C++ log for a failed compilation."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for needle in (
        "No adapters found",
        "accelerator could not be loaded",
        "No compiler plugin",
        "Failed to initialize",
        "not supported",
    ):
        for line in lines:
            if needle.lower() in line.lower():
                return line.split("] ", 1)[-1][:200]
    return fallback


class LiteRTCompiledRunner(Runner):
    name = "litert-compiled"
    suffixes = (".tflite",)
    accelerator = "CPU"

    bench_options = ("threads",)

    def __init__(self, path: str | Path, *, threads: int = 1):
        super().__init__(path)
        self.threads = threads
        self._model = None
        self._batch = None
        self.fully_accelerated: bool | None = None

    def load(self) -> None:
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
        from ai_edge_litert.options import CpuOptions, Options

        from edgedigits._tf import native_stderr_captured
        from edgedigits.runtimes.litert import LiteRTRunner, mark_fixed_batch

        with LiteRTRunner(self.path, xnnpack=False) as spec:  # tensor specs; raises if corrupt
            self.inputs, self.outputs = spec.inputs, spec.outputs
        mark_fixed_batch(self)
        options = Options(
            hardware_accelerators=getattr(HardwareAccelerator, self.accelerator),
            cpu_options=CpuOptions(num_threads=self.threads),
        )
        with native_stderr_captured() as log:
            try:
                self._model = CompiledModel.from_file(
                    str(self.path), options=options, environment=_environment()
                )
                error = None
            except RuntimeError as exc:
                error = first_line(exc)
        if error is not None:
            reason = _failure_reason(log.text, error)
            if self.accelerator != "CPU":
                raise RuntimeUnavailable(
                    f"LiteRT {self.accelerator} accelerator unavailable here: {reason}"
                )
            raise ModelFileError(f"{self.path}: LiteRT CompiledModel cannot compile it ({reason})")
        self._signature = 0
        self._allocate(int(self.inputs[0].shape[0] or 1))
        self.fully_accelerated = bool(self._model.is_fully_accelerated())
        self.provider = (
            f"LiteRT {self.accelerator} accelerator, fully accelerated: "
            f"{'yes' if self.fully_accelerated else 'no'}"
        )

    def _allocate(self, batch: int) -> None:
        from edgedigits._tf import native_stderr_silenced

        with native_stderr_silenced():
            self._allocate_buffers(batch)
            # The first write into a new buffer sets up a LiteRT environment of its own, with
            # a page of INFO lines on fd 2: do it here, quietly, not in the first timed call.
            self._in[0].write(
                np.zeros(
                    (batch, *(int(d) for d in self.inputs[0].shape[1:])),
                    np.dtype(self.inputs[0].dtype),
                )
            )

    def _allocate_buffers(self, batch: int) -> None:
        if batch != self._batch:
            shape = [batch, *(int(d) for d in self.inputs[0].shape[1:])]
            current = self._model.get_input_tensor_details(
                self._model.get_signature_by_index(self._signature)["key"]
            )
            if list(next(iter(current.values()))["shape"]) != shape:
                self._model.resize_input_tensor(0, shape, self._signature)
        self._in = self._model.create_input_buffers(self._signature)
        self._out = self._model.create_output_buffers(self._signature)
        self._batch = batch
        self._out_shape = (batch, *(int(d) for d in self.outputs[0].shape[1:]))
        self._out_count = math.prod(self._out_shape)
        self._out_dtype = np.dtype(self.outputs[0].dtype)

    def infer_raw(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] != self._batch:
            self._allocate(x.shape[0])
        self._in[0].write(x)
        self._model.run_by_index(self._signature, self._in, self._out)
        return self._out[0].read(self._out_count, self._out_dtype).reshape(self._out_shape)

    def bind(self, x: np.ndarray):
        """The native run on buffers already written: what a Kotlin or C++ app's ``run`` costs.

        ``CompiledModel.run_by_index`` rebuilds two capsule lists in Python on every call; the
        compute call skips that by calling the wrapped C++ model with the capsules prepared once
        (falling back to the public call if the wrapper's layout changes)."""
        if x.shape[0] != self._batch:
            self._allocate(x.shape[0])
        self._in[0].write(x)
        native = getattr(self._model, "_model", None)
        if native is not None and hasattr(native, "RunByIndex"):
            return partial(
                native.RunByIndex,
                self._signature,
                [b.capsule for b in self._in],
                [b.capsule for b in self._out],
            )
        return partial(self._model.run_by_index, self._signature, self._in, self._out)

    profile_note = "LiteRT's CompiledModel Python API exposes no per-operator profiler"

    def close(self) -> None:
        from edgedigits._tf import native_stderr_silenced

        with native_stderr_silenced():  # LiteRT logs buffer and model destruction
            self._in = self._out = None
            self._model = None


class LiteRTCompiledGPURunner(LiteRTCompiledRunner):
    name = "litert-compiled-gpu"
    accelerator = "GPU"


class LiteRTCompiledNPURunner(LiteRTCompiledRunner):
    name = "litert-compiled-npu"
    accelerator = "NPU"
