"""The representative dataset for int8 calibration: images from the *training* split only.

Calibration sets the int8 ranges of every activation; drawing it from the test set would leak
test data into the artifact and flatter its measured accuracy. TFLite (``int8``, ``int16x8``,
``qat``) and ONNX (``int8``) artifacts of a model use the same images, so their numbers compare.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from edgedigits.data import Dataset
from edgedigits.errors import UsageError
from edgedigits.zoo import ModelSpec

DEFAULT_CALIBRATION_SAMPLES = 500


@dataclass(frozen=True)
class CalibrationSet:
    images: np.ndarray  # preprocessed float32, in the model's input layout
    indices: np.ndarray  # positions in the training split
    seed: int

    def describe(self) -> dict:
        """For the manifest: enough to reproduce (and audit) the calibration data."""
        return {
            "split": "train",
            "samples": int(len(self.indices)),
            "seed": self.seed,
            "indices_sha256": hashlib.sha256(self.indices.astype("<i8").tobytes()).hexdigest(),
            # of the very array the converters are fed: an audit can prove which images
            "images_sha256": hashlib.sha256(
                np.ascontiguousarray(self.images, dtype="<f4").tobytes()
            ).hexdigest(),
        }

    def batches(self):
        """Single-image batches, as TFLite's ``representative_dataset`` expects."""
        for k in range(len(self.images)):
            yield [self.images[k : k + 1]]


def calibration_set(
    spec: ModelSpec, dataset: Dataset, samples: int, seed: int = 0
) -> CalibrationSet:
    """``samples`` training images drawn without replacement with a fixed seed."""
    if samples < 1:
        raise UsageError(f"--calibration-samples {samples}: must be at least 1")
    if samples > dataset.num_train:
        raise UsageError(
            f"--calibration-samples {samples}: only {dataset.num_train} training images"
        )
    rng = np.random.default_rng(seed)
    indices = np.sort(rng.choice(dataset.num_train, size=samples, replace=False))
    return CalibrationSet(spec.preprocess(dataset.train_images[indices]), indices, seed)
