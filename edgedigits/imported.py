"""Imported models as the rest of the toolkit sees them: names under ``--out``, specs, files.

``model_import`` turns a user's file into a model folder with an ``import.json``; this module
reads such folders back: the :class:`ModelSpec` an imported model is built from (its checked
architecture and preprocessing, never the file's code), the names under an output folder
(zoo, trained and imported) and how a name or a ``.keras``/``.h5`` path on a command line
resolves. Export, bench, doctor, verify and pipeline reach imported models only through here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edgedigits.errors import ModelFileError, UsageError, first_line
from edgedigits.model_files import model_dir
from edgedigits.model_files.architecture import Architecture
from edgedigits.model_files.weights import KERAS_SUFFIXES
from edgedigits.zoo.registry import (
    IMPORTED,
    ModelSpec,
    TrainingRecipe,
    is_zoo_model,
    register_imported,
)

SCHEMA = "edgedigits.import/1"
RECORD = "import.json"
# Candidate input scalings, x = pixel * scale + offset: the three a notebook uses.
PREPROCESSING = {
    "unit": (1.0 / 255.0, 0.0),  # x / 255, the Keras tutorials' and the zoo's
    "raw": (1.0, 0.0),  # 0..255 as they are (a model that rescales inside, or none at all)
    "mnist-normalized": (1.0 / (255.0 * 0.3081), -0.1307 / 0.3081),  # (x/255 - mean) / std
}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def default_name(path: str | Path) -> str:
    """A model name from a file name: ``My Model-v2.keras`` -> ``My_Model_v2``."""
    stem = re.sub(r"[^A-Za-z0-9_]", "_", Path(path).stem).strip("_") or "model"
    return ("m_" + stem if not stem[0].isalpha() else stem)[:64]


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"--name {name!r}: use a letter then letters, digits or _ (at most 64)")
    if is_zoo_model(name):
        raise UsageError(f"--name {name}: that is a zoo model's name; choose another")
    return name


def looks_like_model_file(target: str) -> bool:
    return Path(target).suffix.lower() in KERAS_SUFFIXES


def imported_spec(doc: Any, where: str | Path) -> ModelSpec:
    """The ``ModelSpec`` of an imported model, from its ``import.json`` (checked like a file)."""
    from edgedigits.model_files.rebuild import build_model

    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ModelFileError(f"{where}: not an edgedigits import record (schema {SCHEMA})")
    try:
        name = check_name(doc["name"])
        arch = Architecture.from_json(doc["architecture"], str(where))
        pre = doc["preprocessing"]
        scale, offset = PREPROCESSING[pre["name"]]
        logits = doc["output_kind"] == "logits"
    except (KeyError, TypeError, UsageError) as exc:
        raise ModelFileError(
            f"{where}: damaged import record ({first_line(exc, 120)}); import the model again"
        ) from None
    if logits != arch.emits_logits:
        raise ModelFileError(f"{where}: output_kind does not match the architecture")
    family = "cnn" if any("Conv" in layer.class_name for layer in arch.layers) else "mlp"
    recipe = TrainingRecipe(
        loss="sparse_categorical_crossentropy", optimizer="adam", epochs=1, from_logits=logits
    )
    return ModelSpec(
        name=name,
        source=IMPORTED,
        architecture=arch.summary(),
        family=family,
        input_shape=arch.input_shape,
        recipe=recipe,
        build_fn=lambda: build_model(arch, name),
        choices=f"imported from {doc.get('source_file')}",
        input_scale=scale,
        input_offset=offset,
    )


def load_imported(out: str | Path, name: str) -> ModelSpec | None:
    """Register and return the model imported as ``name`` under ``out``; None if there is none."""
    from edgedigits.model_files.keras_json import load_json
    from edgedigits.model_files.weights import checked_regular_file

    record = model_dir(out, name) / RECORD
    if not _NAME.match(name) or is_zoo_model(name) or not record.exists():
        return None
    checked_regular_file(record, "import record")
    spec = imported_spec(load_json(record.read_bytes(), str(record)), record)
    if spec.name != name:
        raise ModelFileError(f"{record}: records model {spec.name!r}, in the folder of {name!r}")
    register_imported(spec)
    return spec


def resolve_names(
    names: Iterable[str], all_models: bool = False, out: str | Path | None = None
) -> list[str]:
    """The one name resolver: ``model_files.registered_names``, where a name may also be a
    model imported under ``out``
    (``edgedigits import``): its record is read, checked and registered first, so ``get_spec``
    knows it from then on."""
    from edgedigits.model_files import registered_names

    names = list(names)
    if out is not None and not all_models:
        for name in names:
            load_imported(out, name)
    return registered_names(names, all_models)


def imported_names(out: str | Path) -> list[str]:
    """Every model imported under ``out`` (folders holding an ``import.json``), sorted."""
    root = Path(out)
    if not root.is_dir():
        return []
    return sorted(
        p.parent.name
        for p in root.glob(f"*/{RECORD}")
        if _NAME.match(p.parent.name) and not is_zoo_model(p.parent.name)
    )


def is_model_folder_file(path: Path) -> bool:
    """``<out>/<name>/<name>.keras`` of a zoo or imported model: benched as it is, not imported."""
    if path.suffix != ".keras" or path.parent.name != path.stem:
        return False
    return is_zoo_model(path.stem) or (path.parent / RECORD).is_file()


def spec_for_file(path: Path) -> ModelSpec | None:
    """The spec a model folder's ``.keras`` is built from (zoo or imported), None for any other
    file (then its architecture is read through the allowlist)."""
    from edgedigits.zoo import get_spec

    if not is_model_folder_file(path):
        return None
    if is_zoo_model(path.stem):
        return get_spec(path.stem)
    return load_imported(path.parent.parent, path.stem)
