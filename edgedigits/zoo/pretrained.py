"""Shipped weights: every zoo model, trained once with its recipe, in the package.

Like timm's ``pretrained_cfg``, the weights ship apart from the architecture: the registry builds
the model by code and a weights-only file (``weights/<name>.weights.h5``, the layout tf_keras'
``save_weights`` writes) only fills it, read as arrays through the same bounded, shape-checked
reader as any model file (``edgedigits.model_files.weights``). ``weights/index.json`` records
per model the file's SHA-256 (checked before the file is opened), the test accuracy it reaches,
the seed, the recipe, the package versions and the CPU that trained it. ``bench/ship_weights.py``
writes both from a ``bench/train_zoo.py`` run; regenerate them only when a recipe changes.

This module is the index (data, beside the registry); reading the weights into their model and
writing a model folder from them (``materialize``) is ``edgedigits.model_files.shipped``, where
model files are read and written.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edgedigits.errors import ModelFileError

__all__ = ["PretrainedWeights", "describe", "index", "index_document", "pretrained", "weights_dir"]

INDEX_SCHEMA = "edgedigits.pretrained/1"
MAX_INDEX_BYTES = 1 << 20


def weights_dir() -> Path:
    return Path(str(resources.files("edgedigits.zoo") / "weights"))


@dataclass(frozen=True)
class PretrainedWeights:
    """One model's shipped weights, as the index records them."""

    model: str
    file: str  # inside weights_dir()
    sha256: str
    size_bytes: int
    test_accuracy: float  # percent, full MNIST test split, when they were trained
    seed: int
    recipe: str  # the registry's recipe summary at training time
    train_seconds: float
    trained_on: dict[str, Any]  # cpu, cpu_id, cores: the machine that trained them
    versions: dict[str, str]  # tensorflow, tf-keras, numpy, edgedigits
    train_result: dict[str, Any]  # the training run's TrainResult, as train wrote it

    @property
    def path(self) -> Path:
        return weights_dir() / self.file

    def line(self) -> str:
        return (
            f"{self.model}: pretrained weights ({self.test_accuracy:.2f}%, sha256 "
            f"{self.sha256[:12]}...); 'edgedigits train {self.model}' to train it yourself"
        )


@functools.lru_cache(maxsize=1)
def index() -> dict[str, PretrainedWeights]:
    """Every shipped model's record (empty when the package ships none)."""
    from edgedigits.jsonfile import read_bounded

    path = weights_dir() / "index.json"
    if not path.is_file():
        return {}
    doc = read_bounded(path, lambda why: ModelFileError(f"{path}: {why}"), MAX_INDEX_BYTES)
    if not isinstance(doc, dict) or doc.get("schema") != INDEX_SCHEMA:
        raise ModelFileError(f"{path}: not a pretrained-weights index ({INDEX_SCHEMA})")
    try:
        return {
            name: PretrainedWeights(model=name, **entry) for name, entry in doc["models"].items()
        }
    except (TypeError, KeyError) as exc:
        raise ModelFileError(f"{path}: damaged pretrained-weights index ({exc})") from None


def pretrained(name: str) -> PretrainedWeights | None:
    return index().get(name)


def describe(name: str) -> dict[str, Any] | None:
    """The index record as ``edgedigits zoo --json`` shows it."""
    entry = pretrained(name)
    if entry is None:
        return None
    return {
        "file": entry.file,
        "sha256": entry.sha256,
        "size_bytes": entry.size_bytes,
        "test_accuracy": entry.test_accuracy,
        "seed": entry.seed,
        "recipe": entry.recipe,
        "train_seconds": entry.train_seconds,
        "trained_on": entry.trained_on,
        "versions": entry.versions,
    }


def index_document(entries: dict[str, dict[str, Any]]) -> str:
    return json.dumps({"schema": INDEX_SCHEMA, "models": entries}, indent=2) + "\n"
