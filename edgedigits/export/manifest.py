"""``manifest.json``: what a mobile app (or its CI) needs to trust the files beside it.

One manifest per model folder. Each artifact entry holds the file's SHA-256 and size, its format
and recipe, input and output tensors (name, shape, dtype, scale/zero-point when quantized), the
export-time parity check, and recipe details. The manifest holds the preprocessing, labels,
source-model hash, tool versions and the command that made it. Re-exporting some recipes keeps the
entries of the others, as long as their files are still there with the same hash.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from edgedigits import __version__, atomic
from edgedigits.zoo import ModelSpec

SCHEMA = "edgedigits.manifest/1"
LABELS = [str(d) for d in range(10)]
TOOL_PACKAGES = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "tf2onnx", "onnx",
                 "onnxruntime", "ai-edge-litert", "numpy")


@dataclass
class ArtifactRecord:
    """One exported file (or one that failed to export, with the reason)."""

    model: str
    file: str  # name inside the model folder
    format: str
    recipe: str
    status: str  # "ok" or "failed"
    reason: str | None = None  # why it failed
    sha256: str | None = None
    size_bytes: int | None = None
    gzip_size_bytes: int | None = None  # what an app download or OTA update actually costs
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    output_kind: str | None = None  # "probabilities" or "logits"
    parity: dict[str, Any] | None = None  # export-time check against the Keras reference
    details: dict[str, Any] = field(default_factory=dict)  # recipe facts, companion files
    reproducible: bool | None = None  # same inputs -> byte-identical file (tested)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def parity_passed(self) -> bool:
        return bool(self.parity and self.parity.get("passed"))


def tool_versions() -> dict[str, str]:
    versions = {"edgedigits": __version__}
    for name in TOOL_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def preprocessing(spec: ModelSpec) -> dict[str, Any]:
    """The whole input contract, in words an app developer can implement."""
    return {
        "pixels": "28x28 grayscale, uint8 0-255, light digit on dark background (MNIST: "
                  "0 = background)",
        "formula": "x = pixel / 255",
        "scale": 1.0 / 255.0,
        "offset": 0.0,
        "layout": spec.input_layout,
        "input_shape": [None, *spec.input_shape],
        "integer_inputs": "for an int8 input tensor: q = round(x / scale) + zero_point, clamped "
                          "to [-128, 127], with the tensor's quantization below",
    }


def output_kind(spec: ModelSpec) -> str:
    return "logits" if spec.recipe.from_logits else "probabilities"


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None


def write_manifest(folder: Path, spec: ModelSpec, source: dict[str, Any],
                   records: list[ArtifactRecord], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge ``records`` into ``folder/manifest.json`` and write it atomically."""
    from edgedigits.training import file_sha256

    path = folder / "manifest.json"
    previous = read_manifest(path) or {}
    new_files = {r.file for r in records}
    kept = []
    for entry in previous.get("artifacts", []):
        file = folder / entry.get("file", "")
        if (entry.get("file") not in new_files and entry.get("status") == "ok" and file.is_file()
                and file_sha256(file) == entry.get("sha256")
                and previous.get("source_model", {}).get("sha256") == source["sha256"]):
            kept.append(entry)
    artifacts = kept + [asdict(r) for r in records]
    artifacts.sort(key=lambda a: (a["format"], a["recipe"]))
    manifest = {
        "schema": SCHEMA,
        "model": spec.name,
        "source_model": source,
        "labels": LABELS,
        "output": output_kind(spec),
        "preprocessing": preprocessing(spec),
        "tools": tool_versions(),
        **extra,
        "artifacts": artifacts,
    }
    atomic.write_json(path, manifest)
    return manifest
