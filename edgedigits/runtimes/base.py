"""The runner interface every runtime implements: load, infer, close.

Modelled on Polygraphy's runners: the code that verifies or benchmarks an artifact never branches
on the runtime. A runner takes *preprocessed float32* inputs (pixels / 255 in the model's layout)
and returns *float32* outputs; a runner for a quantized artifact quantizes the input and
dequantizes the output with the artifact's own scale and zero point, so callers compare like
with like.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.errors import EdgeDigitsError

UNVERIFIED = "unverified"  # what a row says when the runtime cannot tell us what executed


class RuntimeUnavailable(EdgeDigitsError):
    """This runtime cannot run here (no GPU adapter, no NPU): the bench records a skip, not a
    failure. Raised by ``load`` when only trying tells (LiteRT's GPU accelerator, for one)."""


@dataclass(frozen=True)
class OpTime:
    """One operator type's share of an inference, as the runtime's own profiler reports it."""

    op: str  # operator type, e.g. "Conv" or "DynamicQuantizeMatMul"
    provider: str  # where it ran (execution provider / delegate)
    nodes: int  # how many nodes of this type
    us_per_run: float  # summed kernel time per inference, microseconds
    share: float  # fraction of all kernel time

    def to_json(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "provider": self.provider,
            "nodes": self.nodes,
            "us_per_run": round(self.us_per_run, 3),
            "share": round(self.share, 4),
        }


@dataclass(frozen=True)
class TensorInfo:
    """One input or output tensor as the artifact declares it."""

    name: str
    shape: tuple[int | str | None, ...]  # None or a string for a dynamic (batch) dimension
    dtype: str  # numpy dtype name: "float32", "int8", ...
    scale: float | None = None  # set when the tensor is quantized: real = scale * (q - zero_point)
    zero_point: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}
        if self.scale is not None:
            out["quantization"] = {"scale": self.scale, "zero_point": self.zero_point}
        return out


def quantize(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    """float -> integer with the tensor's affine parameters: round half away from zero (as
    TFLite's QUANTIZE and C's ``lroundf`` do; NumPy's ``round`` would round half to even),
    then saturate."""
    dtype = np.dtype(info.dtype)
    if info.scale is None or dtype.kind == "f":
        return x.astype(dtype)
    limits = np.iinfo(dtype)
    scaled = np.asarray(x, dtype=np.float64) / info.scale
    q = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) + info.zero_point
    return np.clip(q, limits.min, limits.max).astype(dtype)


def dequantize(q: np.ndarray, info: TensorInfo) -> np.ndarray:
    if info.scale is None or np.dtype(info.dtype).kind == "f":
        return q.astype(np.float32)
    return ((q.astype(np.float32) - info.zero_point) * info.scale).astype(np.float32)


class Runner(abc.ABC):
    """Runs one artifact. Use as a context manager so native resources are always released."""

    name: str = "runner"  # the runtime's registry name, e.g. "litert"
    suffixes: tuple[str, ...] = ()  # artifact file suffixes this runtime runs
    measures_memory: bool = False  # fills arena_bytes and flash_bytes at load (MCU budgets)
    single_image: bool = False  # one image per call (a device runtime, or a fixed-batch file)
    single_image_reason: str = ""  # why, for the rows of other batch sizes
    # The BenchOptions fields this runtime's constructor takes. Constructors take explicit
    # keyword options (as Polygraphy's runners do): a mistyped one is a TypeError, not ignored.
    bench_options: tuple[str, ...] = ()

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.inputs: list[TensorInfo] = []
        self.outputs: list[TensorInfo] = []
        # What actually executed, as the runtime reports it after loading: "XNNPACK 4/4 nodes",
        # "CPUExecutionProvider 6/6 nodes", a TensorFlow device. Never what was merely asked for.
        self.provider = UNVERIFIED
        # Microcontroller runtimes measure these at load (TFLM); None elsewhere.
        self.arena_bytes: int | None = None  # working memory the model took from its arena
        self.flash_bytes: int | None = None  # model data a firmware keeps in flash

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this runtime cannot run on this machine (None when it can): a skip, not an error."""
        return None

    @abc.abstractmethod
    def load(self) -> None:
        """Read the artifact and prepare to infer (fills ``inputs`` and ``outputs``)."""

    @abc.abstractmethod
    def infer_raw(self, x: np.ndarray) -> np.ndarray:
        """Run one batch already in the artifact's input dtype; return the raw output.

        This is the call an app makes per inference, with its bindings (tensor indices, names)
        prepared once at load: set the input, run, read the output. It is what ``latency_us``
        times, so it must do nothing per call that an app would not do.
        """

    def bind(self, x: np.ndarray) -> Callable[[], Any] | None:
        """Set ``x`` (artifact dtype) as the input once; return a call that runs only the
        runtime's own work on it (``compute_us``), or None where the runtime cannot separate it.

        The difference between ``infer_raw`` and this call is the per-call binding cost (copying
        the input in and the output out) that an app pays on top of the runtime's compute.
        """
        return None

    def profile(self, x: np.ndarray, runs: int = 20) -> list[OpTime] | None:
        """Per-operator kernel time from the runtime's own profiler, or None where the runtime's
        Python API exposes none (then ``profile_note`` says so)."""
        return None

    profile_note: str = "no per-operator profiler in this runtime's Python API"

    def close(self) -> None:  # noqa: B027 - optional: most runners hold nothing to release
        """Release the runtime's resources (default: nothing to do)."""

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Float32 preprocessed batch in, float32 (dequantized) outputs out."""
        raw = self.infer_raw(quantize(np.asarray(x, dtype=np.float32), self.inputs[0]))
        return dequantize(raw, self.outputs[0])

    def infer_in_batches(self, x: np.ndarray, batch: int) -> np.ndarray:
        """``infer`` over ``x`` in chunks of ``batch`` images (scoring a test set). A runtime
        whose own API takes a whole array and batches it (``model.predict``) overrides this,
        so the scoring is the call an app makes rather than one call per chunk."""
        return np.concatenate([self.infer(x[k : k + batch]) for k in range(0, len(x), batch)])

    def __enter__(self) -> Runner:
        self.load()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
