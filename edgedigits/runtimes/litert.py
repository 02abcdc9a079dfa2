"""LiteRT (ai-edge-litert), the TFLite runtime an Android or iOS app embeds.

``tf.lite.Interpreter`` is deprecated in favour of this package's interpreter, which has the same
API. XNNPACK, the CPU delegate mobile apps get by default, is on unless ``xnnpack=False``;
``reference_kernels=True`` runs TFLite's reference kernels instead, the ones TensorFlow Lite Micro
ports (and CMSIS-NN matches bit for bit): XNNPACK requantizes differently and can land an int8
output a step away, which a softmax over coarse logits turns into several steps.

Tensor indices are looked up once at load (and after a resize), never per call: at these model
sizes ``get_input_details()`` costs more than ``invoke()`` itself, and an app caches them too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgedigits.errors import ModelFileError, first_line
from edgedigits.runtimes.base import Runner, TensorInfo

DELEGATE_OP = "DELEGATE"  # the node name LiteRT gives a delegate's kernel in the node list


def _info(detail: dict) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    quantized = bool(scale) and np.dtype(detail["dtype"]).kind in "iu"
    shape = tuple(None if s < 0 else int(s) for s in detail.get("shape_signature", detail["shape"]))
    return TensorInfo(
        name=detail["name"],
        shape=shape,
        dtype=np.dtype(detail["dtype"]).name,
        scale=float(scale) if quantized else None,
        zero_point=int(zero_point) if quantized else None,
    )


def mark_fixed_batch(runner: Runner) -> None:
    """A file exported with a fixed batch of 1 (the default) is called one image at a time, as
    the app it is for does: LiteRT's Python API could resize it, LiteRT.js and TFLM cannot."""
    if runner.inputs and runner.inputs[0].shape[:1] == (1,):
        runner.single_image = True
        runner.single_image_reason = "the file's input has a fixed batch of 1"


def delegated_nodes(ops: list[dict]) -> tuple[int, int]:
    """(nodes a delegate took, model nodes) from the interpreter's node list after delegation.

    LiteRT appends one ``DELEGATE`` node per partition it hands to a delegate; that node's
    outputs are the partition's outputs and its inputs the partition's inputs. The model nodes
    inside a partition are found by walking producers back from its outputs to its inputs.
    """
    model_ops = [op for op in ops if op["op_name"] != DELEGATE_OP]
    producer = {int(t): op["index"] for op in model_ops for t in op["outputs"] if t >= 0}
    by_index = {op["index"]: op for op in model_ops}
    taken: set[int] = set()
    for delegate in (op for op in ops if op["op_name"] == DELEGATE_OP):
        boundary = {int(t) for t in delegate["inputs"]}
        stack = [int(t) for t in delegate["outputs"]]
        seen: set[int] = set()
        while stack:
            tensor = stack.pop()
            if tensor in boundary or tensor in seen or tensor not in producer:
                continue
            seen.add(tensor)
            node = producer[tensor]
            if node not in taken:
                taken.add(node)
                stack.extend(int(t) for t in by_index[node]["inputs"] if t >= 0)
    return len(taken), len(model_ops)


class LiteRTRunner(Runner):
    name = "litert"
    suffixes = (".tflite",)

    bench_options = ("threads", "xnnpack")

    def __init__(
        self,
        path: str | Path,
        *,
        threads: int = 1,
        xnnpack: bool = True,
        reference_kernels: bool = False,
    ):
        super().__init__(path)
        self.threads = threads
        self.reference_kernels = reference_kernels
        self.xnnpack = xnnpack and not reference_kernels
        self._interpreter = None
        self._batch = None
        self._in = self._out = -1  # tensor indices, cached

    def load(self) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        from edgedigits._tf import native_stderr_silenced

        # AUTO applies LiteRT's default delegate, XNNPACK, and no other (we pass no
        # experimental_delegates); BUILTIN_WITHOUT_DEFAULT_DELEGATES applies none; BUILTIN_REF
        # swaps the optimized builtin kernels for the reference ones.
        resolver = (
            OpResolverType.BUILTIN_REF
            if self.reference_kernels
            else OpResolverType.AUTO
            if self.xnnpack
            else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        try:
            with native_stderr_silenced():
                self._interpreter = Interpreter(
                    model_path=str(self.path),
                    num_threads=self.threads,
                    experimental_op_resolver_type=resolver,
                )
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(
                f"{self.path}: LiteRT cannot load it ({first_line(exc, 160)})"
            ) from None
        self.inputs = [_info(d) for d in self._interpreter.get_input_details()]
        self.outputs = [_info(d) for d in self._interpreter.get_output_details()]
        mark_fixed_batch(self)
        self._cache_indices()
        self.provider = self.placement()

    def placement(self) -> str:
        """What executed, read from the interpreter's node list after delegation."""
        taken, total = delegated_nodes(self._interpreter._get_ops_details())
        if self.reference_kernels:
            return f"reference kernels, {total} nodes (XNNPACK off)"
        if not self.xnnpack:
            return f"builtin kernels, {total} nodes (XNNPACK off)"
        if taken == total:
            return f"XNNPACK {taken}/{total} nodes"
        if taken == 0:
            return f"builtin kernels, XNNPACK took 0/{total} nodes"
        return f"XNNPACK {taken}/{total} nodes, builtin kernels {total - taken}"

    def _cache_indices(self) -> None:
        inp = self._interpreter.get_input_details()[0]
        self._in = inp["index"]
        self._out = self._interpreter.get_output_details()[0]["index"]
        self._batch = int(inp["shape"][0])
        self._tail = [int(d) for d in inp["shape"][1:]]

    def _resize(self, batch: int) -> None:
        self._interpreter.resize_tensor_input(self._in, [batch, *self._tail])
        self._interpreter.allocate_tensors()
        self._cache_indices()

    def infer_raw(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] != self._batch:
            self._resize(x.shape[0])
        interpreter = self._interpreter
        interpreter.set_tensor(self._in, x)
        interpreter.invoke()
        return interpreter.get_tensor(self._out)

    def bind(self, x: np.ndarray):
        if x.shape[0] != self._batch:
            self._resize(x.shape[0])
        self._interpreter.set_tensor(self._in, x)
        return self._interpreter.invoke

    profile_note = (
        "ai-edge-litert's Python API exposes no per-operator profiler; the node "
        "placement is in the provider column"
    )

    def close(self) -> None:
        self._interpreter = None
