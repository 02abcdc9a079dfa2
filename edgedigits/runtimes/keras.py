"""The trained tf_keras model itself: the reference every artifact is compared with.

Two ways to call it, because they differ by an order of magnitude at batch 1 and the seed
projects time the slow one: a direct call ``model(x, training=False)`` (eager), and
``model.predict`` (which builds a tf.data pipeline per call). ``tensorflow-gpu`` is the direct
call placed on the first GPU, and is skipped with its reason where TensorFlow sees none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgedigits.runtimes.base import Runner, RuntimeUnavailable, TensorInfo


class KerasRunner(Runner):
    name = "keras"
    suffixes = (".keras",)
    device = "/CPU:0"

    bench_options = ("threads",)

    def __init__(self, path: str | Path, *, threads: int = 1):
        super().__init__(path)
        self.threads = threads
        self.model = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None

    def load(self) -> None:
        from edgedigits.imported import spec_for_file
        from edgedigits.model_files import load_trained_model

        self.model = load_trained_model(self.path, spec_for_file(Path(self.path)))
        shape = tuple(None if d is None else int(d) for d in self.model.input_shape)
        self.inputs = [TensorInfo("input", shape, "float32")]
        self.outputs = [TensorInfo("output", tuple(self.model.output_shape), "float32")]
        self.provider = self.placement()

    def placement(self) -> str:
        """The device TensorFlow placed the model's output on, read from the result."""
        from edgedigits._tf import tensorflow

        shape = [1 if d is None else d for d in self.inputs[0].shape]
        with tensorflow().device(self.device):
            out = self.model(np.zeros(shape, np.float32), training=False)
        return out.device.rsplit("device:", 1)[-1] + " (TensorFlow placement)"

    def infer_raw(self, x: np.ndarray) -> np.ndarray:
        from edgedigits._tf import tensorflow

        with tensorflow().device(self.device):
            return self.model(x, training=False).numpy()

    def bind(self, x: np.ndarray):
        """The model call on a tensor already built, without copying the result back."""
        from edgedigits._tf import tensorflow

        tf = tensorflow()
        with tf.device(self.device):
            tensor = tf.constant(x)

        def compute():
            with tf.device(self.device):
                return self.model(tensor, training=False)

        return compute

    def close(self) -> None:
        self.model = None


class KerasPredictRunner(KerasRunner):
    name = "keras-predict"

    def infer_raw(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x, batch_size=max(1, len(x)), verbose=0)

    def infer_in_batches(self, x: np.ndarray, batch: int) -> np.ndarray:
        """One ``predict`` over the whole array, batching inside as an app's call would (one
        call per chunk paid predict's ~45 ms set-up 40 times per test set)."""
        return self.model.predict(np.asarray(x, np.float32), batch_size=batch, verbose=0)

    def bind(self, x: np.ndarray):
        return None  # predict() is one opaque call: nothing to separate


class TensorFlowGPURunner(KerasRunner):
    name = "tensorflow-gpu"
    device = "/GPU:0"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        from edgedigits._tf import tensorflow

        if not tensorflow().config.list_physical_devices("GPU"):
            return "TensorFlow sees no GPU on this machine (no CUDA device or driver)"
        return None

    def load(self) -> None:
        super().load()
        if "GPU" not in self.provider.upper():  # where the model's ops really ran
            raise RuntimeUnavailable(f"TensorFlow placed the model on {self.provider}, not a GPU")
