"""The real files the fuzz tier mutates, made from the shipped weights (nothing is trained).

Run as ``python -m edgedigits.fuzz.seeds DIR`` in a process of its own: it needs TensorFlow,
and the campaign forks one process per case, which a process that has run TensorFlow must not
do (its thread pools do not survive a fork). ``DIR`` then holds:

* ``models/``: ``seed004_cnn`` as ``tf_keras.keras`` (what ``train`` and ``export`` write),
  ``tf_keras.h5`` (Keras 2's legacy format), and ``keras3.keras`` / ``keras3.h5`` (the same
  layers and weights saved by Keras 3, what a notebook writes today), and
  ``keras3-deflated.keras`` (re-zipped with deflate, as another zip tool would);
* ``exports/seed004_cnn/``: float32 and int8 ``.tflite``, ``.onnx``, ``.ort`` and C arrays with
  their ``manifest.json`` and ``golden.json``, as ``export`` writes them (it passes ``verify``);
* ``data/idx/``: a 300/100-image MNIST subset as four IDX files (images gzipped, labels not),
  and ``data/digits.npz``, the same subset as Keras' ``mnist.npz`` lays it out.
"""

from __future__ import annotations

import gzip
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

SEED_MODEL = "seed004_cnn"
TRAIN, TEST = 300, 100


def idx_bytes(array: np.ndarray) -> bytes:
    """A uint8 array as IDX: two zero bytes, type 0x08, rank, big-endian dimensions, data."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def _keras3_layer(keras, layer):
    """The Keras 3 layer of one of seed004_cnn's tf_keras layers, from its attributes (no
    config is deserialized: a model file, ours too, is data)."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        return keras.layers.Conv2D(
            layer.filters,
            layer.kernel_size,
            strides=layer.strides,
            padding=layer.padding,
            activation=layer.activation.__name__,
            name=layer.name,
        )
    if kind == "MaxPooling2D":
        return keras.layers.MaxPooling2D(layer.pool_size, layer.strides, name=layer.name)
    if kind == "Flatten":
        return keras.layers.Flatten(name=layer.name)
    if kind == "Dropout":
        return keras.layers.Dropout(layer.rate, name=layer.name)
    if kind == "Dense":
        return keras.layers.Dense(
            layer.units, activation=layer.activation.__name__, name=layer.name
        )
    raise ValueError(f"{SEED_MODEL}: no Keras 3 counterpart for {kind}")


def _keras3_copy(model, folder: Path) -> None:
    """The tf_keras ``model`` rebuilt layer by layer in Keras 3, weights copied, saved both
    ways (and re-zipped with deflate)."""
    import keras

    rebuilt = keras.Sequential(
        [keras.Input(tuple(model.input_shape[1:]))]
        + [_keras3_layer(keras, layer) for layer in model.layers]
    )
    for ours, theirs in zip(rebuilt.layers, model.layers):
        ours.set_weights(theirs.get_weights())
    rebuilt.save(folder / "keras3.keras")
    rebuilt.save(folder / "keras3.h5")
    # Keras stores its members uncompressed; a file re-zipped by another tool is deflated, and
    # its members then go through zlib too.
    with (
        zipfile.ZipFile(folder / "keras3.keras") as stored,
        zipfile.ZipFile(folder / "keras3-deflated.keras", "w", zipfile.ZIP_DEFLATED) as deflated,
    ):
        for info in stored.infolist():
            deflated.writestr(info.filename, stored.read(info))


PROJECT_CONFIG = """[project]
name = "digit-app"
version = "0.1.0"

[tool.edgedigits]
models = ["models/digits.keras", "seed004_cnn"]
targets = ["web", "mobile", "server"]
formats = ["tflite", "onnx"]
recipes = ["float32", "int8", "dynamic"]
out = "exports"

[tool.edgedigits.budgets]
max_size_bytes = 250000
min_accuracy = 95.0
max_latency_us = 500.0

[tool.edgedigits.gate]
max_slowdown = 1.1
max_instruction_growth = 1.01
rounds = 30
instructions = "auto"
base = "origin/main"
export_with = "installed"
"""  # every key of project_config.SCHEMA, for the pyproject.toml fuzz family


def make_seeds(root: Path) -> None:
    from edgedigits.data import load_dataset
    from edgedigits.export import export
    from edgedigits.model_files import load_trained_model, model_path
    from edgedigits.zoo import get_spec

    exports = root / "exports"
    report = export(
        [SEED_MODEL],
        formats="tflite,onnx,ort,c",
        recipes="float32,int8",
        out=exports,
        log=lambda _line: None,
    )
    if not report.all_good:
        raise SystemExit("seed export failed")
    models = root / "models"
    models.mkdir(parents=True, exist_ok=True)
    source = model_path(exports, SEED_MODEL)
    shutil.copyfile(source, models / "tf_keras.keras")
    model = load_trained_model(source, get_spec(SEED_MODEL))
    model.save(models / "tf_keras.h5")
    _keras3_copy(model, models)

    data = load_dataset()
    idx = root / "data" / "idx"
    idx.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": data.train_images[:TRAIN],
        "train-labels-idx1-ubyte": data.train_labels[:TRAIN],
        "t10k-images-idx3-ubyte": data.test_images[:TEST],
        "t10k-labels-idx1-ubyte": data.test_labels[:TEST],
    }
    for name, array in arrays.items():
        body = idx_bytes(array)
        if "images" in name:
            (idx / f"{name}.gz").write_bytes(gzip.compress(body, mtime=0))
        else:
            (idx / name).write_bytes(body)
    pictures = root / "pictures"  # a drawn digit as a phone's camera or canvas saves it
    pictures.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    from edgedigits.data.drawn import drawn_digits

    drawn = drawn_digits(data.test_images, data.test_labels, 2, seed=7)
    Image.fromarray(drawn[0].pixels).save(pictures / "digit.png")
    Image.fromarray(drawn[1].pixels).convert("RGB").save(pictures / "digit.jpg", quality=90)
    project = root / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(PROJECT_CONFIG)
    np.savez(
        root / "data" / "digits.npz",
        x_train=data.train_images[:TRAIN],
        y_train=data.train_labels[:TRAIN],
        x_test=data.test_images[:TEST],
        y_test=data.test_labels[:TEST],
    )


if __name__ == "__main__":
    make_seeds(Path(sys.argv[1]))
