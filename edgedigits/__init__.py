"""edgedigits: train a zoo of MNIST digit models, export them for the edge, benchmark them.

The public API is imported lazily so ``import edgedigits`` (and ``edgedigits --help``) does not
pay for TensorFlow.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {
    "list_models": "edgedigits.zoo",
    "create_model": "edgedigits.zoo",
    "get_spec": "edgedigits.zoo",
    "load_dataset": "edgedigits.data",
    "train": "edgedigits.training",
    "train_model": "edgedigits.training",
    "load_trained_model": "edgedigits.model_files",
    "import_model": "edgedigits.model_import",
    "bench": "edgedigits.benchmark",
    "diagnose": "edgedigits.doctor",
    "classify": "edgedigits.classify",
    "to_model_image": "edgedigits.preprocess",
    "EdgeDigitsError": "edgedigits.errors",
}

__all__ = [*_API, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'edgedigits' has no attribute {name!r}")
