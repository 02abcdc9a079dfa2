"""The shipped weights on disk: read into their zoo model, or written into a model folder.

The index of what ships (hashes, accuracy, recipe, the CPU that trained it) is
``edgedigits.zoo.pretrained``, beside the registry. Here the weights file is checked against
its hash before it is opened and read through the bounded, shape-checked reader every model
file goes through (``model_files.weights``).

When a command needs a model that is not trained under ``--out``, ``materialize`` writes it
there from these weights (``<name>.keras`` and a ``metrics.json`` saying ``weights:
pretrained`` with the weights' hash), in one folder commit, so the rest of the toolkit runs
unchanged and no report can pass shipped weights off as a training run of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgedigits.errors import ModelFileError
from edgedigits.zoo.pretrained import pretrained


def load_pretrained(name: str) -> Any:
    """The zoo model ``name`` with its shipped weights (hash checked first, arrays checked)."""
    from edgedigits.model_files import file_sha256, fill_weights
    from edgedigits.model_files.weights import checked_regular_file
    from edgedigits.zoo import get_spec

    entry = pretrained(name)
    if entry is None:
        raise ModelFileError(
            f"{name}: no pretrained weights ship with this edgedigits; train it "
            f"with 'edgedigits train {name}'"
        )
    path = checked_regular_file(entry.path, "weights file")
    actual = file_sha256(path)
    if actual != entry.sha256:
        raise ModelFileError(
            f"{path}: SHA-256 {actual[:12]}... is not the registry's "
            f"{entry.sha256[:12]}... (a changed or damaged weights file); "
            f"reinstall edgedigits, or 'edgedigits train {name}'"
        )
    from edgedigits._tf import tf_keras

    tf_keras().backend.reset_uids()  # the layer names training gave (dense, dense_1, ...)
    return fill_weights(get_spec(name).build(), path, path, file_format="keras")


def materialize(out: str | Path, name: str, log: Callable[[str], None] = print) -> Path:
    """Write ``<out>/<name>/<name>.keras`` and its ``metrics.json`` from the shipped weights,
    saying so in one line; returns the model path."""
    from edgedigits import atomic, folder_commit
    from edgedigits.model_files import file_sha256, model_dir, model_path, save_model

    entry = pretrained(name)
    model = load_pretrained(name)
    target = model_path(out, name)
    with folder_commit.work_dir(target.parent) as work:  # the model and its metrics together
        save_model(model, work / target.name)
        metrics = dict(entry.train_result)
        metrics.update(
            model_path=str(target),
            model_sha256=file_sha256(work / target.name),
            weights="pretrained",
            weights_sha256=entry.sha256,
            trained_on=entry.trained_on.get("cpu"),
        )

        def build(stage: Path) -> None:
            if (stage / target.name).exists():  # another export materialized it meanwhile:
                return  # keep that one, whose hash its records may already carry
            os.replace(work / target.name, stage / target.name)
            folder_commit.write_new(stage / "metrics.json", atomic.json_bytes(metrics))

        folder_commit.commit(model_dir(out, name), build, what=f"the shipped weights of {name}")
    log(entry.line())
    return target
