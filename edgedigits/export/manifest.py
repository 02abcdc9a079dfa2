"""``manifest.json``: what a mobile app (or its CI) needs to trust the files beside it.

One manifest per model folder. Each artifact entry holds the file's SHA-256 and size, its format
and recipe, input and output tensors (name, shape, dtype, scale/zero-point when quantized), the
export-time parity check, and recipe details. The manifest holds the preprocessing, labels,
source-model hash, tool versions and the command that made it. ``artifact_store.py`` keeps it in
step with the files as each artifact lands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from edgedigits import __version__
from edgedigits.contract.preprocessing import from_image_contract
from edgedigits.errors import ModelFileError
from edgedigits.jsonfile import list_of_objects, read_bounded, schema_violation
from edgedigits.zoo import ModelSpec

SCHEMA = "edgedigits.manifest/2"
OLDER_SCHEMAS = ("edgedigits.manifest/1",)  # read, their records dropped as stale on export
LABELS = [str(d) for d in range(10)]
TOOL_PACKAGES = (
    "tensorflow",
    "tf-keras",
    "tensorflow-model-optimization",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "ai-edge-litert",
    "tflite-micro",
    "numpy",
)


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
    io: str | None = None  # input/output tensor type: int8, uint8 or float32
    batch: int | str | None = None  # the file's batch dimension: a number or "dynamic"
    targets: list[str] = field(default_factory=list)  # app runtimes that load it (targets.py)
    interface: dict[str, Any] | None = None  # names, numbers, oldest runtime (app_contract.py)

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
    """The whole input contract, in words an app developer can implement: the 28x28 pixels and
    their scaling, and ``from_image``, how a real picture becomes those pixels (the same in the
    manifest, the ``.tflite``'s metadata and ONNX ``metadata_props``)."""
    return {
        "pixels": "28x28 grayscale, uint8 0-255, light digit on dark background (MNIST: "
        "0 = background)",
        "formula": (
            "x = pixel / 255"
            if (spec.input_scale, spec.input_offset) == (1 / 255, 0.0)
            else "x = pixel * scale + offset"
        ),
        "scale": spec.input_scale,
        "offset": spec.input_offset,
        "layout": spec.input_layout,
        "input_shape": [None, *spec.input_shape],
        "integer_inputs": "for an integer input tensor: q = clamp(round_half_away_from_zero("
        "x / scale) + zero_point, min, max) with the tensor's quantization "
        "(each artifact's interface.input.quantize has the numbers)",
        "from_image": from_image_contract(),
    }


def file_preprocessing(spec: ModelSpec) -> dict[str, Any]:
    """What a ``.tflite`` and an ONNX file carry about their input (their metadata): the numbers
    of :func:`preprocessing` without its prose, and the preprocessing contract by name (its
    steps are in the manifest and the package). Kept short because a microcontroller's file is
    counted in bytes: ``edge_cnn_micro``'s int8 file has an 8 KB budget."""
    full = preprocessing(spec)
    return {
        **{key: full[key] for key in ("formula", "scale", "offset", "layout", "input_shape")},
        "from_image": full["from_image"]["name"],
    }


def schema() -> dict[str, Any]:
    """The JSON Schema every manifest this version writes satisfies (``manifest.schema.json``,
    shipped in the package: an app's CI can validate against it)."""
    from importlib import resources

    return json.loads(
        (resources.files("edgedigits.export") / "manifest.schema.json").read_text(encoding="utf-8")
    )


def output_kind(spec: ModelSpec) -> str:
    return "logits" if spec.recipe.from_logits else "probabilities"


def _invalid(path: Path, what: str) -> ModelFileError:
    return ModelFileError(
        f"{path}: not a valid edgedigits manifest ({what}); restore it, or move "
        "it aside and re-export to rebuild it"
    )


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path``, None when there is none; a damaged one is an error.

    A manifest is the app's contract, so a damaged one is never silently replaced (that would
    drop the records of every artifact this export does not touch).
    """
    if not path.exists():
        return None
    try:  # a regular file, bounded in size and depth (jsonfile.py)
        data = read_bounded(path, lambda why: _invalid(path, why))
    except FileNotFoundError:
        return None
    if not isinstance(data, dict):
        raise _invalid(path, "not a JSON object")
    if data.get("schema") != SCHEMA and data.get("schema") not in OLDER_SCHEMAS:
        raise _invalid(path, f"schema {data.get('schema')!r}, expected {SCHEMA!r}")
    source = data.get("source_model")
    if not isinstance(source, dict) or not isinstance(source.get("sha256"), str):
        raise _invalid(path, "'source_model' lacks its sha256")
    companions = data.get("companions", {})
    if not isinstance(companions, dict) or any(plain_name_problem(n) for n in companions):
        raise _invalid(path, "'companions' must map plain file names to records")
    artifacts = list_of_objects(data, "artifacts", "records", lambda what: _invalid(path, what))
    for k, entry in enumerate(artifacts):
        for key in ("file", "format", "recipe", "status"):
            if not isinstance(entry.get(key), str):
                raise _invalid(path, f"artifacts[{k}] lacks a string {key!r}")
        details = entry.get("details")
        header = [details["header"]] if isinstance(details, dict) and "header" in details else []
        for name in [entry["file"], *header]:
            why = plain_name_problem(name)
            if why:
                shown = repr(name) if len(str(name)) <= 60 else repr(str(name)[:60]) + "..."
                raise _invalid(path, f"artifacts[{k}] file {shown} {why}")
        if entry["status"] == "ok":
            for key, kind in (
                ("sha256", str),
                ("size_bytes", int),
                ("inputs", list),
                ("outputs", list),
            ):
                if not isinstance(entry.get(key), kind):
                    raise _invalid(path, f"artifacts[{k}] ({entry['file']}) lacks {key!r}")
    if data["schema"] == SCHEMA:  # held to the schema this version publishes (older: re-export)
        why = schema_violation(data, schema())
        if why:
            raise _invalid(path, f"does not match manifest.schema.json {why}")
    return data


MAX_NAME_BYTES = 255  # NAME_MAX on Linux, macOS and Windows filesystems


def plain_name_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a file in a model folder (None when it can): a record names a file
    beside the manifest, never a path, and never one the filesystem would refuse."""
    if not isinstance(name, str):
        return "is not a string"
    if "/" in name or "\\" in name or "\0" in name or name in ("", ".", ".."):
        return "is not a plain file name"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes"
    return None


def manifest_document(
    spec: ModelSpec, source: dict[str, Any], artifacts: list[dict[str, Any]], extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "model": spec.name,
        "source_model": source,
        "labels": LABELS,
        "output": output_kind(spec),
        "preprocessing": preprocessing(spec),
        "tools": tool_versions(),
        **extra,
        "artifacts": sorted(artifacts, key=lambda a: (a["format"], a["recipe"])),
    }
