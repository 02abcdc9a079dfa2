"""Where trained models live and how they are read back: the folder and file conventions, the
content hash, loading a ``.keras`` file safely with its architecture checked, and the checks on
names and seeds every command runs first.

Kept apart from ``training.py`` (as timm keeps ``_registry.py`` apart from its factory) so the
runtimes, the exporter and the benchmark can find and load a trained model without importing
the trainer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from edgedigits._tf import tf_keras
from edgedigits.errors import ModelFileError, UsageError
from edgedigits.outputs import writable_dir
from edgedigits.zoo import ModelSpec, get_spec, list_models
from edgedigits.zoo.registry import DEFAULT_MODELS

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_OUT",
    "MODEL_SUFFIX",
    "architecture_mismatch",
    "check_model_folders",
    "check_seed",
    "ensure_writable_dir",
    "file_sha256",
    "fill_weights",
    "load_trained_model",
    "model_dir",
    "model_path",
    "registered_names",
    "save_model",
]

DEFAULT_OUT = Path("exports")
MODEL_SUFFIX = ".keras"
MAX_SEED = 2**32 - 1  # NumPy's legacy seeding (which Keras' set_random_seed calls) takes 0..2^32-1


def model_dir(out: str | Path, name: str) -> Path:
    return Path(out) / name


def model_path(out: str | Path, name: str) -> Path:
    """Where ``train`` saves (and ``export`` looks for) the trained model ``name``."""
    return model_dir(out, name) / f"{name}{MODEL_SUFFIX}"


def registered_names(names: Iterable[str], all_models: bool = False) -> list[str]:
    """Validate model names up front, so a typo fails before an hour of training: names the
    registry knows (the zoo, and imported models already registered). Commands resolve names
    with ``imported.resolve_names``, which registers the models imported under ``--out`` first;
    the trainer, which trains zoo models only, uses this."""
    names = list(names)
    if all_models:
        if names:
            raise UsageError("give model names or --all, not both")
        return list_models()
    if not names:
        raise UsageError(f"name at least one model, or --all; models: {', '.join(list_models())}")
    return [get_spec(n).name for n in dict.fromkeys(names)]


def ensure_writable_dir(path: str | Path, flag: str = "--out") -> Path:
    """Create ``path`` if needed and prove we can write there, before any long work."""
    return writable_dir(path, f"{flag} {path}")


def check_model_folders(out: str | Path, names: Sequence[str]) -> None:
    """Every ``<out>/<name>/`` a command will write into is a folder (or can be one), and not a
    symbolic link: changes land as folder commits made beside it in ``out``, whose
    writability ``ensure_writable_dir`` proves (``folder_commit.py``)."""
    from edgedigits.folder_commit import check_not_link

    for name in names:
        folder = model_dir(out, name)
        check_not_link(folder, f"--out {out}")
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"--out {out}: {folder} is a file, not a folder")


def check_seed(seed: int, flag: str = "--seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"{flag} {seed}: choose a whole number 0-{MAX_SEED}")
    return seed


def save_model(model: Any, path: Path) -> None:
    """Save atomically: a crash mid-save leaves no partial file at ``path`` (a model folder's
    files are then committed together: ``folder_commit.py``)."""
    from edgedigits import atomic

    with atomic.atomic_path(path) as tmp:
        model.save(tmp)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_trained_model(path: str | Path, spec: ModelSpec | None = None) -> Any:
    """A trained model under ``--out``, read as data: ``spec.build()`` plus the file's weights.

    The file's ``config.json`` is never handed to Keras (Keras imports the modules a config
    names; see ``keras_json``): a zoo or imported model is built by its own code (the registry,
    or the checked architecture in ``import.json``) and only the weight arrays are read, each
    checked against the built layer's shape. So a ``.keras`` copied under another model's name
    fails here, with the file named, instead of deep inside a conversion.

    Without ``spec`` (a ``.keras`` named directly), the architecture is read from the file
    through the allowlist (``keras_json.parse_keras_config``) and rebuilt.
    """
    from edgedigits.model_files.keras_json import parse_keras_config
    from edgedigits.model_files.rebuild import build_model
    from edgedigits.model_files.weights import open_model_file

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: trained model not found")
    with open_model_file(path) as held:
        if spec is not None:
            tf_keras().backend.reset_uids()  # auto names as in training (dense, dense_1, ...)
            model = spec.build()
            _restore_layer_names(model, held.config_text)
        else:
            model = build_model(parse_keras_config(held.config_text, str(path)))
        try:
            return fill_weights(model, held, path)
        except ModelFileError as exc:
            if spec is None:
                raise
            detail = str(exc).removeprefix(f"{path}: ")
            fix = (
                "import the model again"
                if spec.imported
                else f"retrain it with 'edgedigits train {spec.name}'"
            )
            kind = "imported model" if spec.imported else "zoo model"
            raise ModelFileError(
                f"{path}: not the architecture of {kind} {spec.name} ({detail}); {fix}"
            ) from None


def fill_weights(model: Any, source: Any, where: str | Path, file_format: str | None = None) -> Any:
    """Put the arrays of ``source`` (a held model file, or a weights-only ``.weights.h5``) into
    the built ``model``, each checked against its layer's shape before it is read."""
    from edgedigits.model_files.rebuild import set_weights
    from edgedigits.model_files.weights import read_weights

    layers = [(type(layer).__name__, layer.name) for layer in model.layers]
    shapes = {
        layer.name: [tuple(int(d) for d in w.shape) for w in layer.weights]
        for layer in model.layers
    }
    return set_weights(model, read_weights(source, layers, shapes, where, file_format))


def _restore_layer_names(model: Any, config_text: str) -> None:
    """Give ``model``'s layers the names the file recorded (plain strings read from its JSON,
    matched by position and class), as Keras' own loading did: the exported files' tensor
    names, and the doctor's layer matching, come from them. Anything that does not match
    leaves the built names alone (the weights check decides whether the file fits)."""
    from edgedigits.model_files.keras_json import load_json
    from edgedigits.model_files.keras_layers import valid_name

    try:
        items = load_json(config_text, "config.json")["config"]["layers"]
        saved = [
            (item["class_name"], item["config"]["name"])
            for item in items
            if item["class_name"] != "InputLayer"
        ]
    except (ModelFileError, KeyError, TypeError):
        return
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if len(saved) != len(layers) or any(
        cls != type(layer).__name__ or not valid_name(name)
        for (cls, name), layer in zip(saved, layers)
    ):
        return
    for (_, name), layer in zip(saved, layers):
        layer._name = name  # noqa: SLF001 - tf_keras has no public setter for a layer's name


def _layer_signature(model: Any) -> list[tuple[str, tuple[tuple[int, ...], ...]]]:
    return [
        (type(layer).__name__, tuple(tuple(w.shape) for w in layer.weights))
        for layer in model.layers
    ]


def architecture_mismatch(model: Any, spec: ModelSpec) -> str | None:
    """How ``model`` differs from a fresh ``spec.build()`` (layer types, weight shapes), or None."""
    mine, expected = _layer_signature(model), _layer_signature(spec.build())
    for k, (a, b) in enumerate(zip(mine, expected)):
        if a != b:
            return f"layer {k}: {a[0]} with weights {list(a[1])}, expected {b[0]} with {list(b[1])}"
    if len(mine) != len(expected):
        return f"{len(mine)} layers, expected {len(expected)}"
    return None
