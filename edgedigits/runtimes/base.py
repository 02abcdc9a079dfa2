"""The runner interface every runtime implements: load, infer, close.

Modelled on Polygraphy's runners: the code that verifies or benchmarks an artifact never branches
on the runtime. A runner takes *preprocessed float32* inputs (pixels / 255 in the model's layout)
and returns *float32* outputs; a runner for a quantized artifact quantizes the input and
dequantizes the output with the artifact's own scale and zero point, so callers compare like
with like.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


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
    """float -> integer with the tensor's affine parameters (round half away, then saturate)."""
    dtype = np.dtype(info.dtype)
    if info.scale is None or dtype.kind == "f":
        return x.astype(dtype)
    limits = np.iinfo(dtype)
    q = np.round(x / info.scale) + info.zero_point
    return np.clip(q, limits.min, limits.max).astype(dtype)


def dequantize(q: np.ndarray, info: TensorInfo) -> np.ndarray:
    if info.scale is None or np.dtype(info.dtype).kind == "f":
        return q.astype(np.float32)
    return ((q.astype(np.float32) - info.zero_point) * info.scale).astype(np.float32)


class Runner(abc.ABC):
    """Runs one artifact. Use as a context manager so native resources are always released."""

    name: str = "runner"  # the runtime's registry name, e.g. "litert"
    suffixes: tuple[str, ...] = ()  # artifact file suffixes this runtime runs

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.inputs: list[TensorInfo] = []
        self.outputs: list[TensorInfo] = []
        self.provider = ""  # what actually ran it (delegate, execution provider, device)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this runtime cannot run on this machine (None when it can): a skip, not an error."""
        return None

    @abc.abstractmethod
    def load(self) -> None:
        """Read the artifact and prepare to infer (fills ``inputs`` and ``outputs``)."""

    @abc.abstractmethod
    def infer_raw(self, x: np.ndarray) -> np.ndarray:
        """Run one batch already in the artifact's input dtype; return the raw output."""

    def close(self) -> None:
        """Release the runtime's resources (default: nothing to do)."""

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Float32 preprocessed batch in, float32 (dequantized) outputs out."""
        raw = self.infer_raw(quantize(np.asarray(x, dtype=np.float32), self.inputs[0]))
        return dequantize(raw, self.outputs[0])

    def __enter__(self) -> "Runner":
        self.load()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
