"""ONNX Runtime on the CPU execution provider, with all graph optimizations on."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgedigits.errors import ModelFileError
from edgedigits.runtimes.base import Runner, TensorInfo

_ORT_TYPES = {"tensor(float)": "float32", "tensor(int8)": "int8", "tensor(uint8)": "uint8",
              "tensor(float16)": "float16", "tensor(int64)": "int64"}


class OnnxRuntimeRunner(Runner):
    name = "onnxruntime"
    suffixes = (".onnx",)
    provider_wanted = "CPUExecutionProvider"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        import onnxruntime as ort

        if cls.provider_wanted not in ort.get_available_providers():
            return (f"onnxruntime {ort.__version__} has no {cls.provider_wanted} (available: "
                    f"{', '.join(ort.get_available_providers())}); install onnxruntime-gpu on a "
                    "machine with CUDA")
        return None

    def __init__(self, path: str | Path, *, threads: int = 1, **_ignored):
        super().__init__(path)
        self.threads = threads
        self.providers = tuple(dict.fromkeys((self.provider_wanted, "CPUExecutionProvider")))
        self._session = None

    def load(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=options,
                                                 providers=list(self.providers))
        except Exception as exc:  # noqa: BLE001 - ORT raises several unrelated types
            raise ModelFileError(f"{self.path}: ONNX Runtime cannot load it "
                                 f"({str(exc).splitlines()[0][:160]})") from None
        self.inputs = [TensorInfo(i.name, tuple(d if isinstance(d, int) else None
                                                for d in i.shape), _ORT_TYPES.get(i.type, i.type))
                       for i in self._session.get_inputs()]
        self.outputs = [TensorInfo(o.name, tuple(d if isinstance(d, int) else None
                                                 for d in o.shape),
                                   _ORT_TYPES.get(o.type, o.type))
                        for o in self._session.get_outputs()]
        self.provider = self._session.get_providers()[0]
        if self.provider != self.provider_wanted:
            # ONNX Runtime silently falls back to CPU when a provider fails to initialize.
            raise RuntimeError(f"asked for {self.provider_wanted} but ONNX Runtime runs on "
                               f"{self.provider} (silent fallback)")

    @property
    def active_providers(self) -> list[str]:
        """What ONNX Runtime actually uses: it silently falls back to CPU when a provider fails."""
        return list(self._session.get_providers()) if self._session else []

    def infer_raw(self, x: np.ndarray) -> np.ndarray:
        return self._session.run([self.outputs[0].name], {self.inputs[0].name: x})[0]

    def close(self) -> None:
        self._session = None


class OnnxRuntimeCUDARunner(OnnxRuntimeRunner):
    name = "onnxruntime-cuda"
    provider_wanted = "CUDAExecutionProvider"
