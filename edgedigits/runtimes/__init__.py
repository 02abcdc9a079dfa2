"""Runtimes: one runner class per runtime behind the small interface in ``base.py``."""

from __future__ import annotations

from pathlib import Path

from edgedigits.errors import UnknownNameError
from edgedigits.runtimes.base import Runner, TensorInfo, dequantize, quantize


def runner_for(path: str | Path, **options) -> Runner:
    """The default runner for an artifact file, chosen by its extension."""
    suffix = Path(path).suffix.lower()
    if suffix == ".tflite":
        from edgedigits.runtimes.litert import LiteRTRunner

        return LiteRTRunner(path, **options)
    if suffix == ".onnx":
        from edgedigits.runtimes.onnxruntime import OnnxRuntimeRunner

        return OnnxRuntimeRunner(path, **options)
    raise UnknownNameError(f"{path}: no runtime runs '{suffix}' files (known: .tflite, .onnx)")


__all__ = ["Runner", "TensorInfo", "dequantize", "quantize", "runner_for"]
