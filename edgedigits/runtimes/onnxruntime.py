"""ONNX Runtime on the CPU execution provider, with all graph optimizations on.

Input and output names are cached at load, as an app caches them. What executed is read from
ONNX Runtime's own session profile (each node's execution provider), taken on a separate
profiling session at load so the timed session never runs with profiling on.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter, defaultdict
from functools import partial
from pathlib import Path

import numpy as np

from edgedigits.errors import ModelFileError, first_line
from edgedigits.runtimes.base import UNVERIFIED, OpTime, Runner, RuntimeUnavailable, TensorInfo

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
}


class OnnxRuntimeRunner(Runner):
    name = "onnxruntime"
    suffixes = (".onnx", ".ort")  # .ort: ONNX Runtime Mobile's format, same session API
    provider_wanted = "CPUExecutionProvider"
    profile_note = "ONNX Runtime session profiling: kernel time per node"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        import onnxruntime as ort

        if cls.provider_wanted not in ort.get_available_providers():
            return (
                f"onnxruntime {ort.__version__} has no {cls.provider_wanted} (available: "
                f"{', '.join(ort.get_available_providers())}); install onnxruntime-gpu on a "
                "machine with CUDA"
            )
        return None

    bench_options = ("threads",)

    def __init__(
        self, path: str | Path, *, threads: int = 1, disabled_optimizers: tuple[str, ...] = ()
    ):
        super().__init__(path)
        self.threads = threads
        self.disabled_optimizers = tuple(disabled_optimizers)  # graph optimizers to leave out
        self.providers = tuple(dict.fromkeys((self.provider_wanted, "CPUExecutionProvider")))
        self._session = None

    def _new_session(self, profile_prefix: str | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if profile_prefix:
            options.enable_profiling = True
            options.profile_file_prefix = profile_prefix
        try:
            return ort.InferenceSession(
                str(self.path),
                sess_options=options,
                providers=list(self.providers),
                disabled_optimizers=list(self.disabled_optimizers),
            )
        except Exception as exc:  # noqa: BLE001 - ORT raises several unrelated types
            raise ModelFileError(
                f"{self.path}: ONNX Runtime cannot load it ({first_line(exc, 160)})"
            ) from None

    def load(self) -> None:
        self._session = self._new_session()
        self.inputs = [
            TensorInfo(
                i.name,
                tuple(d if isinstance(d, int) else None for d in i.shape),
                _ORT_TYPES.get(i.type, i.type),
            )
            for i in self._session.get_inputs()
        ]
        self.outputs = [
            TensorInfo(
                o.name,
                tuple(d if isinstance(d, int) else None for d in o.shape),
                _ORT_TYPES.get(o.type, o.type),
            )
            for o in self._session.get_outputs()
        ]
        self._in_name = self.inputs[0].name
        self._out_names = [self.outputs[0].name]
        if self.inputs[0].shape[0] == 1:  # exported with --onnx-batch 1: it takes nothing else
            self.single_image = True
            self.single_image_reason = "the file's input has a fixed batch of 1"
        active = self._session.get_providers()[0]
        if active != self.provider_wanted:
            # ONNX Runtime silently falls back to CPU when a provider fails to initialize.
            raise RuntimeUnavailable(
                f"asked for {self.provider_wanted} but ONNX Runtime runs "
                f"on {active} (silent fallback)"
            )
        self.provider = self.placement()

    def _profiled_nodes(self, runs: int, x: np.ndarray | None = None) -> list[dict]:
        """Run a profiling session ``runs`` times on ``x`` (default: one zero image); its
        per-node kernel events."""
        if x is None:
            shape = [1 if not isinstance(d, int) else d for d in self.inputs[0].shape]
            x = np.zeros(shape, dtype=np.dtype(self.inputs[0].dtype))
        with tempfile.TemporaryDirectory(prefix="edgedigits-ort-") as folder:
            session = self._new_session(profile_prefix=os.path.join(folder, "profile"))
            for _ in range(runs):
                session.run(self._out_names, {self._in_name: x})
            events = json.loads(Path(session.end_profiling()).read_text())
        return [
            e
            for e in events
            if e.get("cat") == "Node"
            and e.get("name", "").endswith("_kernel_time")
            and "provider" in e.get("args", {})
        ]

    def placement(self) -> str:
        """Each node's execution provider, from one profiled inference."""
        try:
            nodes = {e["name"]: e["args"]["provider"] for e in self._profiled_nodes(1)}
        except Exception:  # noqa: BLE001 - no profile, no claim
            return UNVERIFIED
        if not nodes:
            return UNVERIFIED
        counts = Counter(nodes.values())
        return ", ".join(
            f"{provider} {n}/{len(nodes)} nodes" for provider, n in counts.most_common()
        )

    def profile(self, x: np.ndarray, runs: int = 20) -> list[OpTime] | None:
        events = self._profiled_nodes(runs, x)
        time_us: dict[tuple[str, str], float] = defaultdict(float)
        nodes: dict[tuple[str, str], set] = defaultdict(set)
        for e in events:
            key = (e["args"].get("op_name", "?"), e["args"]["provider"])
            time_us[key] += float(e.get("dur", 0))
            nodes[key].add(e["name"])
        total = sum(time_us.values()) or 1.0
        ops = [
            OpTime(op, provider, len(nodes[(op, provider)]), us / runs, us / total)
            for (op, provider), us in time_us.items()
        ]
        return sorted(ops, key=lambda o: -o.us_per_run)

    def infer_raw(self, x: np.ndarray) -> np.ndarray:
        if self.single_image and len(x) != 1:  # a fixed-batch file, scored image by image
            return np.concatenate([self.infer_raw(x[k : k + 1]) for k in range(len(x))])
        return self._session.run(self._out_names, {self._in_name: x})[0]

    def bind(self, x: np.ndarray):
        """Input bound as an OrtValue, output bound on the CPU: ``run_with_iobinding`` alone."""
        import onnxruntime as ort

        binding = self._session.io_binding()
        self._bound = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(x))  # kept alive
        binding.bind_ortvalue_input(self._in_name, self._bound)
        binding.bind_output(self._out_names[0], "cpu")
        return partial(self._session.run_with_iobinding, binding)

    def close(self) -> None:
        self._session = None


class OnnxRuntimeCUDARunner(OnnxRuntimeRunner):
    name = "onnxruntime-cuda"
    provider_wanted = "CUDAExecutionProvider"
