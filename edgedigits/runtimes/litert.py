"""LiteRT (ai-edge-litert), the TFLite runtime an Android or iOS app embeds.

``tf.lite.Interpreter`` is deprecated in favour of this package's interpreter, which has the same
API. XNNPACK, the CPU delegate mobile apps get by default, is on unless ``xnnpack=False``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgedigits.errors import ModelFileError
from edgedigits.runtimes.base import Runner, TensorInfo


def _info(detail: dict) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    quantized = bool(scale) and np.dtype(detail["dtype"]).kind in "iu"
    shape = tuple(None if s < 0 else int(s) for s in detail.get("shape_signature", detail["shape"]))
    return TensorInfo(name=detail["name"], shape=shape, dtype=np.dtype(detail["dtype"]).name,
                      scale=float(scale) if quantized else None,
                      zero_point=int(zero_point) if quantized else None)


class LiteRTRunner(Runner):
    name = "litert"
    suffixes = (".tflite",)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None

    def __init__(self, path: str | Path, *, threads: int = 1, xnnpack: bool = True, **_ignored):
        super().__init__(path)
        self.threads = threads
        self.xnnpack = xnnpack
        self._interpreter = None
        self._batch = None

    def load(self) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        from edgedigits._tf import native_stderr_silenced

        resolver = (OpResolverType.AUTO if self.xnnpack
                    else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        try:
            with native_stderr_silenced():
                self._interpreter = Interpreter(model_path=str(self.path),
                                                num_threads=self.threads,
                                                experimental_op_resolver_type=resolver)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{self.path}: LiteRT cannot load it "
                                 f"({str(exc).splitlines()[0][:160]})") from None
        self.inputs = [_info(d) for d in self._interpreter.get_input_details()]
        self.outputs = [_info(d) for d in self._interpreter.get_output_details()]
        self._batch = self._interpreter.get_input_details()[0]["shape"][0]
        self.provider = "XNNPACK delegate" if self.xnnpack else "builtin kernels (no XNNPACK)"

    def _resize(self, batch: int) -> None:
        detail = self._interpreter.get_input_details()[0]
        self._interpreter.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]])
        self._interpreter.allocate_tensors()
        self._batch = batch

    def infer_raw(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] != self._batch:
            self._resize(x.shape[0])
        interpreter = self._interpreter
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    def close(self) -> None:
        self._interpreter = None
