"""Golden vectors: real test images with the expected output of every artifact.

An app's own unit test loads ``golden.json``, feeds each image through the file it ships (after
the manifest's preprocessing) and asserts the outputs match within ``atol``: proof that the
runtime, the preprocessing code and the file agree with what we verified here.

One image per digit (the first of each class in the MNIST test split), stored as raw uint8 pixels.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.data import Dataset
from edgedigits.errors import ModelFileError
from edgedigits.jsonfile import read_bounded, schema_violation

SCHEMA = "edgedigits.golden/1"


def golden_indices(dataset: Dataset) -> np.ndarray:
    """The first test image of each class 0-9."""
    labels = dataset.test_labels
    return np.array([int(np.flatnonzero(labels == c)[0]) for c in range(10) if np.any(labels == c)])


def golden_document(
    model: str, dataset: Dataset, reference: np.ndarray, entries: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """``golden.json``: the images, the Keras model's outputs, and one entry per artifact."""
    idx = golden_indices(dataset)
    return {
        "schema": SCHEMA,
        "model": model,
        "how_to_use": "feed each image's pixels through the manifest's preprocessing and the "
        "artifact, one image per call (batch 1, as the expected outputs were "
        "computed); expect |output - expected| <= atol elementwise and the same "
        "argmax. An entry's 'runtime' names the runtime that computed it when it is "
        "not the file's usual one: C arrays hold TensorFlow Lite Micro's outputs",
        "images": [
            {
                "test_index": int(i),
                "label": int(dataset.test_labels[i]),
                "pixels": dataset.test_images[i].reshape(-1).tolist(),
            }
            for i in idx
        ],
        "keras_reference": np.round(reference, 7).tolist(),
        "artifacts": dict(sorted(entries.items())),
    }


def schema() -> dict[str, Any]:
    """The JSON Schema every ``golden.json`` this version writes satisfies
    (``golden.schema.json``, shipped in the package beside the manifest's)."""
    import json
    from importlib import resources

    return json.loads(
        (resources.files("edgedigits.export") / "golden.schema.json").read_text(encoding="utf-8")
    )


@functools.lru_cache(maxsize=1)
def _schema_for_reading() -> dict[str, Any]:
    """The schema less its per-pixel rule, which ``_pixels_ok`` applies ~100x faster (jsonschema
    takes 0.3 s over 7,840 pixels; verify reads golden.json once per folder)."""
    relaxed = schema()
    pixels = relaxed["properties"]["images"]["items"]["properties"]["pixels"]
    rule = pixels.pop("items")
    assert rule == {"type": "integer", "minimum": 0, "maximum": 255}, rule
    return relaxed


def _pixels_ok(image: Any) -> bool:
    """golden.schema.json's rule for a pixel: an integer 0-255 (a bool is not one)."""
    pixels = image.get("pixels") if isinstance(image, dict) else None
    return isinstance(pixels, list) and all(type(p) is int and 0 <= p <= 255 for p in pixels)


def read_golden(path: Path) -> dict[str, Any] | None:
    """``golden.json`` at ``path``, None when there is none; a damaged one is an error."""
    if not path.exists():
        return None
    why = None
    try:  # a regular file, bounded in size and depth (jsonfile.py)
        data = read_bounded(
            path,
            lambda reason: ModelFileError(
                f"{path}: not valid golden vectors ({reason}); restore it, or move it aside and "
                "re-export to rebuild it"
            ),
        )
    except FileNotFoundError:
        return None
    if why is None:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            why = f"not an {SCHEMA} document"
        elif not isinstance(data.get("images"), list) or not isinstance(
            data.get("artifacts"), dict
        ):
            why = "'images' must be a list and 'artifacts' an object"
        elif not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str)
            for v in data["artifacts"].values()
        ):
            why = "every artifact entry needs its sha256"
        else:  # held to the schema this version publishes: no field of the wrong type gets in
            why = schema_violation(data, _schema_for_reading())
            why = why and f"does not match golden.schema.json {why}"
            bad = next((k for k, im in enumerate(data["images"]) if not _pixels_ok(im)), None)
            if why is None and bad is not None:
                why = f"does not match golden.schema.json at $.images[{bad}].pixels"
    if why:
        raise ModelFileError(
            f"{path}: not valid golden vectors ({why}); restore it, or move it "
            "aside and re-export to rebuild it"
        )
    return data


def golden_entry(
    outputs: np.ndarray,
    raw: np.ndarray | None,
    sha256: str,
    atol: float,
    runtime: str | None = None,
) -> dict[str, Any]:
    """One artifact's expected outputs on the golden images.

    ``runtime`` names the runtime that computed them when it is not the file's usual one: C
    arrays carry TensorFlow Lite Micro's outputs (``"tflm"``), what the firmware computes, not
    LiteRT's XNNPACK ones (those can sit a few int8 steps away; see ``runtimes/litert.py``).
    """
    entry: dict[str, Any] = {
        "sha256": sha256,
        "atol": atol,
        "expected": np.round(outputs, 7).tolist(),
        "predicted": np.argmax(outputs, axis=1).tolist(),
    }
    if runtime:
        entry["runtime"] = runtime
    if raw is not None and np.issubdtype(raw.dtype, np.integer):
        entry["expected_raw"] = raw.tolist()  # the int8 values, for apps that skip dequantizing
        entry["atol_raw"] = 1
    return entry
