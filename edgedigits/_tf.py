"""Lazy, quiet imports of TensorFlow and tf_keras.

TensorFlow takes seconds to import, so nothing imports it at module level: ``edgedigits --help``
and ``edgedigits zoo --names`` stay instant. We use tf_keras (Keras 2) rather than Keras 3 because
tensorflow-model-optimization and tf2onnx's ``from_keras`` only work with it.
"""

from __future__ import annotations

import os
from types import ModuleType


def tensorflow() -> ModuleType:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide oneDNN/CUDA banner noise
    import tensorflow as tf

    return tf


def tf_keras() -> ModuleType:
    tensorflow()
    import tf_keras

    return tf_keras
