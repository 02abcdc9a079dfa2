"""Where trained models live and how they are read back: the folder and file conventions, the
content hash, loading a ``.keras`` file safely with its architecture checked, and the checks on
names and seeds every command runs first.

Kept apart from ``training.py`` (as timm keeps ``_registry.py`` apart from its factory) so the
runtimes, the exporter and the benchmark can find and load a trained model without importing
the trainer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable, Sequence

from edgedigits._tf import tf_keras
from edgedigits.errors import ModelFileError, UsageError, first_line
from edgedigits.outputs import writable_dir
from edgedigits.zoo import ModelSpec, get_spec, list_models

DEFAULT_OUT = Path("exports")
DEFAULT_MODELS = ("seed003_ann64_relu", "seed004_cnn", "edge_cnn_tiny", "edge_cnn_small",
                  "edge_cnn_micro")
MODEL_SUFFIX = ".keras"
MAX_SEED = 2**32 - 1  # NumPy's legacy seeding (which Keras' set_random_seed calls) takes 0..2^32-1


def model_dir(out: str | Path, name: str) -> Path:
    return Path(out) / name


def model_path(out: str | Path, name: str) -> Path:
    """Where ``train`` saves (and ``export`` looks for) the trained model ``name``."""
    return model_dir(out, name) / f"{name}{MODEL_SUFFIX}"


def resolve_names(names: Iterable[str], all_models: bool = False) -> list[str]:
    """Validate model names up front, so a typo fails before an hour of training."""
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
    """Every ``<out>/<name>/`` a command will write into is a writable folder (or can be one)."""
    for name in names:
        writable_dir(model_dir(out, name), f"--out {out}")


def check_seed(seed: int, flag: str = "--seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"{flag} {seed}: choose a whole number 0-{MAX_SEED}")
    return seed


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_trained_model(path: str | Path, spec: ModelSpec | None = None) -> Any:
    """Load a ``.keras`` file we trained, in Keras' safe mode (no lambda/code deserialization).

    With ``spec``, the file must also hold that registry entry's architecture (same layer types
    and weight shapes): a ``.keras`` copied under another model's name fails here, with the file
    named, instead of deep inside a conversion.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: trained model not found")
    try:
        model = tf_keras().models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - any load failure means a bad file
        first = first_line(exc, 200)
        raise ModelFileError(f"{path}: not a loadable .keras model ({first})") from None
    if spec is not None:
        mismatch = architecture_mismatch(model, spec)
        if mismatch:
            raise ModelFileError(f"{path}: not the architecture of zoo model {spec.name} "
                                 f"({mismatch}); retrain it with 'edgedigits train {spec.name}'")
    return model


def _layer_signature(model: Any) -> list[tuple[str, tuple[tuple[int, ...], ...]]]:
    return [(type(layer).__name__, tuple(tuple(w.shape) for w in layer.weights))
            for layer in model.layers]


def architecture_mismatch(model: Any, spec: ModelSpec) -> str | None:
    """How ``model`` differs from a fresh ``spec.build()`` (layer types, weight shapes), or None."""
    mine, expected = _layer_signature(model), _layer_signature(spec.build())
    for k, (a, b) in enumerate(zip(mine, expected)):
        if a != b:
            return f"layer {k}: {a[0]} with weights {list(a[1])}, expected {b[0]} with {list(b[1])}"
    if len(mine) != len(expected):
        return f"{len(mine)} layers, expected {len(expected)}"
    return None
