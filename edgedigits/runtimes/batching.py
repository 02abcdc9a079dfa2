"""Run an artifact on many images the way a deployed app would see the answers.

Apps run one image at a time. Most artifacts answer the same at any batch size, so scoring them
in large batches is only faster; some do not: ONNX dynamic-range quantization
(``DynamicQuantizeLinear``) takes one activation scale per *batch*, so an image's output depends
on the images beside it. ``infer_as_deployed`` checks that on a probe (the first images, one at a
time vs in one batch) and, when the outputs differ beyond float rounding (1e-5 absolute plus
1e-5 relative, so logits of 15 may move by 1.5e-4), runs every image at batch 1. The result says
which it did and how far apart the probe was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgedigits.runtimes.base import Runner

LARGE_BATCH = 256  # batch used when outputs do not depend on it (fast scoring)
PROBE_IMAGES = 16  # images compared at batch 1 vs one batch: a per-batch activation scale
# moves nearly every image's output, so 16 find it as surely as 64, at a quarter of the calls
# (64 one-image predict() calls were ~3 s per model)
# Float rounding moves outputs by ~1e-7 relative between batch sizes (different kernel tilings),
# so ~1e-5 on a logit of 15; a batch-dependent quantizer moves probabilities by ~1e-3 to 1e-1.
INVARIANCE_ATOL = 1e-5
INVARIANCE_RTOL = 1e-5


@dataclass(frozen=True)
class DeployedOutputs:
    outputs: np.ndarray  # float32, dequantized, one row per image
    batch: int  # the batch size the outputs were computed at: 1 or LARGE_BATCH
    invariance_max_diff: float  # max |batch-1 output - batched output| on the probe


def infer_one_at_a_time(runner: Runner, x: np.ndarray) -> np.ndarray:
    """Each image alone, as an app runs it."""
    return np.concatenate([runner.infer(x[k : k + 1]) for k in range(len(x))])


def infer_raw_one_at_a_time(runner: Runner, q: np.ndarray) -> np.ndarray:
    """Each image alone, already in the artifact's input dtype; raw (not dequantized) outputs."""
    return np.concatenate([runner.infer_raw(q[k : k + 1]) for k in range(len(q))])


def infer_batched(runner: Runner, x: np.ndarray, batch: int = LARGE_BATCH) -> np.ndarray:
    return runner.infer_in_batches(x, batch)


def infer_as_deployed(
    runner: Runner, x: np.ndarray, probe: int = PROBE_IMAGES, batch: int = LARGE_BATCH
) -> DeployedOutputs:
    """Outputs for every image of ``x`` as one-image-at-a-time calls would give them.

    A runner that takes one image per call (``single_image``: TFLM, a fixed-batch file) is
    scored at batch 1."""
    if runner.single_image:  # nothing to probe: it takes no other batch
        return DeployedOutputs(
            infer_one_at_a_time(runner, x) if len(x) else np.zeros((0,), np.float32), 1, 0.0
        )
    probe_x = x[:probe]
    single = infer_one_at_a_time(runner, probe_x)
    together = runner.infer(probe_x)
    diff = float(np.max(np.abs(single.astype(np.float64) - together))) if len(x) else 0.0
    same = np.allclose(single, together, rtol=INVARIANCE_RTOL, atol=INVARIANCE_ATOL)
    if not same or not np.array_equal(np.argmax(single, 1), np.argmax(together, 1)):
        rest = infer_one_at_a_time(runner, x[probe:]) if len(x) > probe else single[:0]
        return DeployedOutputs(np.concatenate([single, rest]), 1, diff)
    return DeployedOutputs(infer_batched(runner, x, batch), batch, diff)
