"""Shipped weights: every zoo model, trained once with its recipe, in the package.

Like timm's ``pretrained_cfg``, the weights ship apart from the architecture: the registry builds
the model by code and a weights-only file (``weights/<name>.weights.h5``, the layout tf_keras'
``save_weights`` writes) only fills it, read as arrays through the same bounded, shape-checked
reader as any model file (``edgedigits.model_files.weights``). ``weights/index.json`` records
per model the file's SHA-256 (checked before the file is opened), the test accuracy it reaches,
the seed, the recipe, the package versions and the CPU that trained it. ``bench/ship_weights.py``
writes both from a ``bench/train_zoo.py`` run; regenerate them only when a recipe changes.

When a command needs a model that is not trained under ``--out``, ``materialize`` writes it
there from these weights (``<name>.keras`` and a ``metrics.json`` saying ``weights:
pretrained`` with the weights' hash), so the rest of the toolkit runs unchanged and no report can
pass shipped weights off as a training run of its own.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edgedigits.errors import ModelFileError

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
        return (f"{self.model}: pretrained weights ({self.test_accuracy:.2f}%, sha256 "
                f"{self.sha256[:12]}...); 'edgedigits train {self.model}' to train it yourself")


@functools.lru_cache(maxsize=1)
def index() -> dict[str, PretrainedWeights]:
    """Every shipped model's record (empty when the package ships none)."""
    from edgedigits.model_files.keras_json import load_json

    path = weights_dir() / "index.json"
    if not path.is_file():
        return {}
    doc = load_json(path.read_bytes(), str(path), MAX_INDEX_BYTES)
    if not isinstance(doc, dict) or doc.get("schema") != INDEX_SCHEMA:
        raise ModelFileError(f"{path}: not a pretrained-weights index ({INDEX_SCHEMA})")
    try:
        return {name: PretrainedWeights(model=name, **entry)
                for name, entry in doc["models"].items()}
    except (TypeError, KeyError) as exc:
        raise ModelFileError(f"{path}: damaged pretrained-weights index ({exc})") from None


def pretrained(name: str) -> PretrainedWeights | None:
    return index().get(name)


def load_pretrained(name: str) -> Any:
    """The zoo model ``name`` with its shipped weights (hash checked first, arrays checked)."""
    from edgedigits.model_files import file_sha256, fill_weights
    from edgedigits.model_files.weights import checked_regular_file
    from edgedigits.zoo.registry import get_spec

    entry = pretrained(name)
    if entry is None:
        raise ModelFileError(f"{name}: no pretrained weights ship with this edgedigits; train it "
                             f"with 'edgedigits train {name}'")
    path = checked_regular_file(entry.path, "weights file")
    actual = file_sha256(path)
    if actual != entry.sha256:
        raise ModelFileError(f"{path}: SHA-256 {actual[:12]}... is not the registry's "
                             f"{entry.sha256[:12]}... (a changed or damaged weights file); "
                             f"reinstall edgedigits, or 'edgedigits train {name}'")
    from edgedigits._tf import tf_keras

    tf_keras().backend.reset_uids()  # the layer names training gave (dense, dense_1, ...)
    return fill_weights(get_spec(name).build(), path, path, file_format="keras")


def materialize(out: str | Path, name: str, log: Callable[[str], None] = print) -> Path:
    """Write ``<out>/<name>/<name>.keras`` and its ``metrics.json`` from the shipped weights,
    saying so in one line; returns the model path."""
    from edgedigits import folder_commit
    from edgedigits.model_files import file_sha256, model_dir, model_path, save_model

    entry = pretrained(name)
    model = load_pretrained(name)
    target = model_path(out, name)
    with folder_commit.work_dir(target.parent) as work:  # the model and its metrics together
        save_model(model, work / target.name)
        metrics = dict(entry.train_result)
        metrics.update(model_path=str(target), model_sha256=file_sha256(work / target.name),
                       weights="pretrained", weights_sha256=entry.sha256,
                       trained_on=entry.trained_on.get("cpu"))
        def build(stage: Path) -> None:
            if (stage / target.name).exists():  # another export materialized it meanwhile:
                return  # keep that one, whose hash its records may already carry
            os.replace(work / target.name, stage / target.name)
            folder_commit.write_new(stage / "metrics.json",
                                    (json.dumps(metrics, indent=2) + "\n").encode())
        folder_commit.commit(model_dir(out, name), build, what=f"the shipped weights of {name}")
    log(entry.line())
    return target


def missing_models(out: str | Path, names: list[str]) -> list[str]:
    """Those of ``names`` with no trained (or imported) model under ``out``."""
    from edgedigits.model_files import model_path

    return [n for n in names if not model_path(out, n).is_file()]


def describe(name: str) -> dict[str, Any] | None:
    """The index record as ``edgedigits zoo --json`` shows it."""
    entry = pretrained(name)
    if entry is None:
        return None
    return {"file": entry.file, "sha256": entry.sha256, "size_bytes": entry.size_bytes,
            "test_accuracy": entry.test_accuracy, "seed": entry.seed, "recipe": entry.recipe,
            "train_seconds": entry.train_seconds, "trained_on": entry.trained_on,
            "versions": entry.versions}


def index_document(entries: dict[str, dict[str, Any]]) -> str:
    return json.dumps({"schema": INDEX_SCHEMA, "models": entries}, indent=2) + "\n"
