"""Models the way the seed notebooks write them, in Keras 3 (``import keras``) or Keras 2
(``tf_keras``), trained briefly and saved with ``model.save``: what ``edgedigits import`` meets.

Each builder takes the Keras module, so the same notebook code makes a Keras 3 file and a
tf_keras one. ``save_notebook_model`` trains on a small subset for two epochs (enough to score far
above chance, which the preprocessing inference needs) and saves ``.keras`` and ``.h5``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

TRAIN_IMAGES = 12000
EPOCHS = 2


def mlp_dropout_bn(k: Any) -> Any:
    """Seed 000 style: Sequential with input_shape=(784,), Dropout and BatchNormalization."""
    return k.Sequential(
        [
            k.layers.Dense(64, activation="relu", input_shape=(784,)),
            k.layers.Dropout(0.2),
            k.layers.BatchNormalization(),
            k.layers.Dense(10, activation="softmax"),
        ]
    )


def flatten_logits(k: Any) -> Any:
    """Seed 002 style: 28x28 in, Flatten, a logits output (trained with from_logits)."""
    return k.Sequential(
        [
            k.Input((28, 28)),
            k.layers.Flatten(),
            k.layers.Dense(64, activation="relu"),
            k.layers.Dense(10),
        ]
    )


def cnn_mse(k: Any) -> Any:
    """Seed 004 style: Conv2D/MaxPooling CNN with a softmax, trained with mean squared error."""
    return k.Sequential(
        [
            k.Input((28, 28, 1)),
            k.layers.Conv2D(8, 3, activation="relu"),
            k.layers.MaxPooling2D(),
            k.layers.Conv2D(16, 3, activation="relu"),
            k.layers.MaxPooling2D(),
            k.layers.Flatten(),
            k.layers.Dense(10, activation="softmax"),
        ]
    )


def functional_separable(k: Any) -> Any:
    """A Functional model: BatchNormalization, SeparableConv2D, a residual Add, global pooling.
    (BatchNormalization's momentum 0.9: with Keras' 0.99 its moving statistics lag two short
    epochs of training, and the model scores near chance in inference.)"""
    inputs = k.Input((28, 28, 1))
    x = k.layers.Conv2D(32, 3, activation="relu")(inputs)
    x = k.layers.BatchNormalization(momentum=0.9)(x)
    x = k.layers.MaxPooling2D()(x)
    y = k.layers.SeparableConv2D(32, 3, padding="same", activation="relu")(x)
    x = k.layers.Add()([x, y])
    x = k.layers.BatchNormalization(momentum=0.9)(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    outputs = k.layers.Dense(10, activation="softmax")(x)
    return k.Model(inputs, outputs)


def rescaling_raw(k: Any) -> Any:
    """Takes raw 0..255 pixels and rescales inside the graph."""
    return k.Sequential(
        [
            k.Input((28, 28, 1)),
            k.layers.Rescaling(1.0 / 255),
            k.layers.Conv2D(8, 3, activation="relu"),
            k.layers.MaxPooling2D(),
            k.layers.Flatten(),
            k.layers.Dense(10, activation="softmax"),
        ]
    )


# name -> (builder, loss, one-hot targets, input scaling the notebook trained with)
NOTEBOOKS: dict[str, tuple[Callable[[Any], Any], Any, bool, str]] = {
    "mlp_dropout_bn": (mlp_dropout_bn, "sparse_categorical_crossentropy", False, "unit"),
    "flatten_logits": (flatten_logits, "logits", False, "unit"),
    "cnn_mse": (cnn_mse, "mean_squared_error", True, "unit"),
    "functional_separable": (
        functional_separable,
        "sparse_categorical_crossentropy",
        False,
        "unit",
    ),
    "rescaling_raw": (rescaling_raw, "sparse_categorical_crossentropy", False, "raw"),
}


def keras_module(writer: str) -> Any:
    """``keras`` (Keras 3) or ``tf_keras`` (Keras 2)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if writer == "keras":
        import keras

        return keras
    import tf_keras

    return tf_keras


def save_notebook_model(
    kind: str,
    folder: Path,
    writer: str = "keras",
    seed: int = 0,
    formats: tuple[str, ...] = (".keras", ".h5"),
) -> dict[str, Path]:
    """Train ``kind`` as its notebook does (one short epoch) and save it in each format."""
    from edgedigits.data import load_dataset

    k = keras_module(writer)
    build, loss, one_hot, scaling = NOTEBOOKS[kind]
    k.utils.set_random_seed(seed)
    model = build(k)
    if loss == "logits":
        loss = k.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=k.optimizers.Adam(0.003), loss=loss, metrics=["accuracy"])
    data = load_dataset()
    x = data.train_images[:TRAIN_IMAGES].astype(np.float32)
    x = x if scaling == "raw" else x / 255.0
    shape = model.inputs[0].shape[1:]
    x = x.reshape((len(x), *shape))
    y = data.train_labels[:TRAIN_IMAGES].astype(np.int64)
    y = np.eye(10, dtype=np.float32)[y] if one_hot else y
    # global pooling learns slower
    epochs = EPOCHS * 2 if kind == "functional_separable" else EPOCHS
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for suffix in formats:
        path = folder / f"{kind}_{writer}{suffix}"
        model.save(path)
        paths[suffix] = path
    return paths
