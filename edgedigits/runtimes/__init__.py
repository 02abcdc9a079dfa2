"""Runtimes: one runner class per runtime behind the small interface in ``base.py``.

``RUNTIMES`` is the registry ``edgedigits bench --runtimes`` chooses from. Each runner declares
the file suffixes it runs and, through ``unavailable_reason``, why it cannot run here (a GPU
runtime on a machine without a GPU): the bench records that as a skipped row, not an error.
"""

from __future__ import annotations

from pathlib import Path

from edgedigits.errors import UnknownNameError
from edgedigits.names import split_names
from edgedigits.runtimes.base import (
    OpTime,
    Runner,
    RuntimeUnavailable,
    TensorInfo,
    dequantize,
    quantize,
)
from edgedigits.runtimes.batching import infer_one_at_a_time
from edgedigits.runtimes.keras import KerasPredictRunner, KerasRunner, TensorFlowGPURunner
from edgedigits.runtimes.litert import LiteRTRunner
from edgedigits.runtimes.litert_compiled import (
    LiteRTCompiledGPURunner,
    LiteRTCompiledNPURunner,
    LiteRTCompiledRunner,
)
from edgedigits.runtimes.onnxruntime import OnnxRuntimeCUDARunner, OnnxRuntimeRunner
from edgedigits.runtimes.tflm import TFLMRunner

RUNTIMES: dict[str, type[Runner]] = {
    cls.name: cls
    for cls in (
        KerasRunner,
        KerasPredictRunner,
        LiteRTRunner,
        LiteRTCompiledRunner,
        LiteRTCompiledGPURunner,
        LiteRTCompiledNPURunner,
        OnnxRuntimeRunner,
        OnnxRuntimeCUDARunner,
        TensorFlowGPURunner,
        TFLMRunner,
    )
}
# What a bench runs unless told otherwise. TFLM is opt-in for now (--runtimes tflm): it cannot
# prepare float16 and dynamic-range files, and failed rows would fail every default bench.
OPT_IN_RUNTIMES = ("tflm",)
DEFAULT_RUNTIMES = tuple(name for name in RUNTIMES if name not in OPT_IN_RUNTIMES)
# The trained model run by TensorFlow: context for the deployment runtimes, not a target. The
# gate judges their latency only when asked (``--gate-references``).
REFERENCE_RUNTIMES = ("keras", "keras-predict", "tensorflow-gpu")


def parse_runtimes(values: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """``"litert,onnxruntime"`` -> names; an unknown one lists the valid ones."""
    if not values:
        return list(DEFAULT_RUNTIMES)
    names = split_names(values)
    if "all" in names:
        return list(DEFAULT_RUNTIMES)
    for name in names:
        if name not in RUNTIMES:
            raise UnknownNameError(
                f"--runtimes {name}: unknown runtime; choose from {', '.join(RUNTIMES)}, all"
            )
    return list(dict.fromkeys(names))


def runtimes_for(path: str | Path, names: list[str]) -> list[type[Runner]]:
    suffix = Path(path).suffix.lower()
    return [RUNTIMES[n] for n in names if suffix in RUNTIMES[n].suffixes]


def runner_for(path: str | Path, **options) -> Runner:
    """The default runner for an artifact file, chosen by its extension."""
    suffix = Path(path).suffix.lower()
    for cls in (LiteRTRunner, OnnxRuntimeRunner, KerasRunner):
        if suffix in cls.suffixes:
            return cls(path, **options)
    raise UnknownNameError(
        f"{path}: no runtime runs '{suffix}' files (known: .tflite, .onnx, .keras)"
    )


__all__ = [
    "DEFAULT_RUNTIMES",
    "REFERENCE_RUNTIMES",
    "RUNTIMES",
    "OpTime",
    "Runner",
    "RuntimeUnavailable",
    "TensorInfo",
    "dequantize",
    "infer_one_at_a_time",
    "parse_runtimes",
    "quantize",
    "runner_for",
    "runtimes_for",
]
