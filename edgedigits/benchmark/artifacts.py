"""What ``edgedigits bench`` measures: resolve model names or files into artifacts.

A model name means its trained ``.keras`` (the reference, benched too) plus every ``.tflite`` and
``.onnx`` that ``export`` wrote beside it. A file means that file; its zoo model is read from its
name (``<model>.<recipe>.<ext>``), and the ``<model>.keras`` beside it, if any, is its reference.
C sources are not benched: they hold the ``.tflite`` bytes, which are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgedigits.contract.recipes import Recipe, artifact_suffixes, host_runnable_suffixes
from edgedigits.contract.targets import is_variant_tag
from edgedigits.errors import ModelFileError, UsageError
from edgedigits.imported import RECORD, load_imported, resolve_names
from edgedigits.model_files import model_path
from edgedigits.zoo import list_models

BENCHED_SUFFIXES = (".keras", *host_runnable_suffixes())
RECIPE_ORDER = ["keras"] + [r.value for r in Recipe]


@dataclass(frozen=True)
class Artifact:
    model: str  # zoo model name
    format: str  # "keras", "tflite" or "onnx"
    recipe: str  # "keras" for the trained model itself, else the export recipe
    path: Path
    reference: Path | None  # the trained .keras to compare with (None: accuracy only)

    @property
    def file(self) -> str:
        return self.path.name

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def _looks_like_file(target: str) -> bool:
    return Path(target).suffix.lower() in BENCHED_SUFFIXES + artifact_suffixes() or "/" in target


def parse_artifact_name(path: Path) -> tuple[str, str, str]:
    """``seed004_cnn.int8.tflite`` -> (model, recipe, format); ``seed004_cnn.keras`` too."""
    suffix = path.suffix.lower()
    stem = path.name[: -len(suffix)]
    tags: list[str] = []
    if suffix == ".keras":
        model, recipe = stem, "keras"
    else:  # <model>.<recipe>[.<variant tag>...]: export's artifact_name
        parts = stem.split(".")
        while len(parts) > 2 and is_variant_tag(parts[-1]):
            tags.insert(0, parts.pop())
        model, _, recipe = ".".join(parts).rpartition(".")
    known = model in list_models() or (
        (path.parent / RECORD).is_file()
        and path.parent.name == model
        and load_imported(path.parent.parent, model) is not None
    )
    if not known or recipe not in RECIPE_ORDER:
        raise UsageError(
            f"{path}: cannot tell which zoo model and recipe it is; bench expects "
            "files named <model>.<recipe>[.io-...][.batch-...].tflite|onnx|ort or "
            "<model>.keras, as 'edgedigits export' writes them"
        )
    return model, recipe, suffix.lstrip(".")


def artifact_from_file(path: Path) -> Artifact:
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.suffix.lower() not in BENCHED_SUFFIXES:
        raise UsageError(
            f"{path}: not a benchable artifact (expected .tflite, .onnx, .ort or "
            ".keras;"
            " C sources are benched through their .tflite)"
        )
    model, recipe, fmt = parse_artifact_name(path)
    reference = path.with_name(f"{model}.keras")
    return Artifact(model, fmt, recipe, path, reference if reference.is_file() else None)


def artifacts_for_model(name: str, out: Path) -> list[Artifact]:
    from edgedigits.model_files.shipped import materialize
    from edgedigits.zoo.pretrained import pretrained

    keras_path = model_path(out, name)
    if not keras_path.is_file() and pretrained(name) is not None:
        materialize(out, name)  # not trained there: the shipped weights, saying so
    if not keras_path.is_file():
        raise ModelFileError(
            f"{keras_path}: trained model not found; run 'edgedigits train "
            f"{name} --out {out}' (or 'edgedigits pipeline {name}')"
        )
    found = [Artifact(name, "keras", "keras", keras_path, keras_path)]
    for suffix in host_runnable_suffixes():
        for path in sorted(keras_path.parent.glob(f"{name}.*{suffix}")):
            if path.name.startswith("."):
                continue  # a temporary file of an export in progress
            found.append(artifact_from_file(path))
    return sorted(found, key=lambda a: (RECIPE_ORDER.index(a.recipe), a.format))


def resolve_artifacts(targets: Sequence[str], all_models: bool, out: str | Path) -> list[Artifact]:
    out = Path(out)
    files = [t for t in targets if _looks_like_file(t)]
    names = [t for t in targets if not _looks_like_file(t)]
    artifacts: list[Artifact] = []
    if names or all_models or not files:
        for name in resolve_names(names, all_models, out):
            artifacts.extend(artifacts_for_model(name, out))
    artifacts.extend(artifact_from_file(Path(f)) for f in files)
    return list({a.path.resolve(): a for a in artifacts}.values())


INTEGRITY_OK = "matches manifest"
INTEGRITY_MODIFIED = "MODIFIED since export"


@functools.lru_cache(maxsize=64)
def _manifest(folder: Path, mtime_ns: int) -> dict[str, Any] | None:
    from edgedigits.export.manifest import read_manifest

    return read_manifest(folder / "manifest.json")


def integrity(artifact: Artifact) -> str | None:
    """The file against the manifest beside it: ``matches manifest``, ``MODIFIED since export
    (...)``, ``no manifest record``, or None without a manifest. A damaged manifest is an error.

    Parity alone does not catch tampering: one flipped weight byte can keep every prediction.
    """
    from edgedigits.model_files import file_sha256

    manifest_path = artifact.path.parent / "manifest.json"
    if not manifest_path.is_file():
        return None
    manifest = _manifest(manifest_path.parent.resolve(), manifest_path.stat().st_mtime_ns)
    if artifact.format == "keras":
        recorded = manifest["source_model"].get("sha256")
        what = "the model the manifest's artifacts were exported from"
    else:
        entry = next(
            (
                a
                for a in manifest["artifacts"]
                if a["file"] == artifact.file and a["status"] == "ok"
            ),
            None,
        )
        if entry is None:
            return "no manifest record"
        recorded, what = entry["sha256"], "its manifest record"
    actual = file_sha256(artifact.path)
    if actual == recorded:
        return INTEGRITY_OK
    if artifact.format == "keras":
        return f"not {what} (retrained since export?)"
    return f"{INTEGRITY_MODIFIED} (sha256 {actual[:12]}..., {what} says {recorded[:12]}...)"


def benched_artifacts(
    targets: Sequence[str],
    all_models: bool,
    out: str | Path,
    data: str | Path | None,
    log: Callable[[str], None],
    workspace: Any = None,  # an export.workspace.Workspace (not imported: a light import)
) -> list[Artifact]:
    """What ``bench`` runs: a workspace's models' artifacts (its pre-flight already run), or the
    targets resolved here, each model folder's records checked before any work."""
    if workspace is not None:
        return [a for n in workspace.names for a in artifacts_for_model(n, workspace.out)]
    from edgedigits.export.artifact_store import check_model_folder
    from edgedigits.model_import import import_files  # a user's .keras/.h5: import it first

    artifacts = resolve_artifacts(
        import_files(list(targets), out=out, data=data, log=log), all_models, out
    )
    for folder in dict.fromkeys(a.path.parent for a in artifacts):
        check_model_folder(folder)  # a damaged record: one line, before any work
    return artifacts
