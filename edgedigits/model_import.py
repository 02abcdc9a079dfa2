"""``edgedigits import``: a user's ``.keras``/``.h5`` digit classifier, read as data, rebuilt in
tf_keras, proven equivalent, and written as a model folder every other command takes.

The flow (each step one function, each refusal one line naming the file):

1. ``open_model_file``: a private copy, the zip or HDF5 read through byte caps;
2. ``parse_keras_config``: the architecture as JSON through the allowlist (nothing imported);
3. ``build_model`` + ``read_weights``: tf_keras layers from our own constructors, every array
   checked against the shape the architecture implies before it is read;
4. ``infer_preprocessing``: the file does not say how pixels were scaled, so each candidate is
   scored on the test set and the best taken (``--preprocessing`` overrides);
5. ``check_equivalence``: the original file loaded in the Keras that wrote it, in a subprocess
   (only now, after the allowlist passed it), against the rebuilt model on test images;
6. the folder ``<out>/<name>/``: ``<name>.keras`` (the tf_keras model), ``metrics.json`` and
   ``import.json`` (this record, with the architecture the model is rebuilt from), each written
   atomically, ``import.json`` last: a folder without it is not an imported model.

From then on ``imported_spec`` turns the record into a ``ModelSpec``, so export, bench, doctor
and verify treat the model like a zoo one.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits import __version__, atomic, folder_commit
from edgedigits.errors import ModelFileError, UsageError
from edgedigits.imported import (
    PREPROCESSING,
    RECORD,
    SCHEMA,
    check_name,
    default_name,
    imported_spec,
    is_model_folder_file,
    looks_like_model_file,
)
from edgedigits.model_files import (
    DEFAULT_OUT,
    check_model_folders,
    ensure_writable_dir,
    file_sha256,
    model_dir,
    model_path,
)
from edgedigits.model_files.architecture import Architecture
from edgedigits.model_files.keras_json import parse_keras_config
from edgedigits.model_files.shapes import batch_for
from edgedigits.model_files.weights import ModelFile, open_model_file, read_weights
from edgedigits.zoo.registry import (
    IMPORTED,
    register_imported,
    scale_pixels,
)

__all__ = ["Equivalence", "ImportRecord", "import_files", "import_model"]

# Below this, no candidate is how the model was trained (chance is 10%): refuse, show scores.
MIN_ACCURACY = 50.0
# A ReLU network without normalization scores almost the same at any input scale (only the
# biases break the symmetry), so accuracies this close are a tie, decided by the test set's
# cross-entropy: at the wrong scale a model is confidently wrong.
TIE_POINTS = 1.0
EQUIVALENCE_IMAGES = 256
EQUIVALENCE_MAX_ABS_DIFF = 1e-5
REFERENCE_TIMEOUT_S = 180  # TensorFlow's start, the file's load and 256 images: ~10 s
# The line keras_reference.py marks Keras' own refusal with (kept equal by a test).
REFUSED = "edgedigits-reference-refused: "
# Run as a script in a subprocess, never imported here (see its docstring).
REFERENCE_SCRIPT = Path(__file__).with_name("model_files") / "keras_reference.py"


@dataclass(frozen=True)
class Equivalence:
    """The rebuilt model against the file in the Keras that wrote it."""

    checked: bool
    reason: str | None = None  # why not checked
    keras: str | None = None  # "keras 3.15.1" or "tf_keras 2.21.0": what ran the original
    images: int = 0
    max_abs_diff: float | None = None
    classes_identical: bool | None = None
    max_abs_diff_allowed: float = EQUIVALENCE_MAX_ABS_DIFF

    @property
    def passed(self) -> bool:
        return bool(
            self.checked
            and self.classes_identical
            and self.max_abs_diff is not None
            and self.max_abs_diff <= self.max_abs_diff_allowed
        )

    def line(self) -> str:
        if not self.checked:
            return f"equivalence: not checked ({self.reason})"
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"equivalence: {verdict} against {self.keras} on {self.images} test images "
            f"(max abs diff {self.max_abs_diff:.2e}, classes "
            f"{'identical' if self.classes_identical else 'differ'})"
        )


@dataclass(frozen=True)
class ImportRecord:
    """``import.json``: what was imported, from where, and how it was proven."""

    name: str
    source_file: str
    source_sha256: str
    source_bytes: int
    file_format: str  # "keras" (zip) or "h5"
    keras_writer: str  # "keras" (Keras 3) or "tf_keras" (Keras 2)
    keras_version: str | None  # as the file records it
    architecture: dict[str, Any]  # Architecture.to_json(): what the model is built from
    layers: list[str]  # "name: Class" per layer, for people
    params: int
    input_shape: list[int]
    num_classes: int
    output_kind: str  # "probabilities" (ends in softmax) or "logits", read from the graph
    preprocessing: dict[str, Any]  # name, scale, offset, chosen_by, scores
    equivalence: dict[str, Any]
    test_accuracy: float  # percent, full test split, chosen preprocessing
    data_source: str
    model_sha256: str  # the tf_keras .keras written into the folder
    import_seconds: float
    edgedigits_version: str = __version__
    schema: str = SCHEMA
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- steps ---------------------------------------------------------------------------------------


def read_as_data(held: ModelFile, where: str) -> tuple[Architecture, dict[str, list[np.ndarray]]]:
    """The checked architecture and every weight array, read as data: what a model file must
    pass before anything is built from it (no TensorFlow is touched; the fuzz tier's entry)."""
    arch = parse_keras_config(held.config_text, where)
    arrays = read_weights(
        held, [(layer.class_name, layer.name) for layer in arch.layers], arch.weight_shapes, where
    )
    return arch, arrays


def rebuild(held: ModelFile, where: str) -> tuple[Architecture, Any]:
    """The checked architecture and the tf_keras model with the file's weights in it."""
    from edgedigits.model_files.rebuild import build_model, set_weights

    arch, arrays = read_as_data(held, where)
    return arch, set_weights(build_model(arch), arrays)


def infer_preprocessing(
    model: Any, input_shape: tuple[int, ...], images: np.ndarray, labels: np.ndarray, logits: bool
) -> dict[str, dict[str, float]]:
    """Test accuracy (percent) and mean cross-entropy of ``model`` under each candidate."""
    scores = {}
    for name, (scale, offset) in PREPROCESSING.items():
        x = scale_pixels(images, scale, offset, input_shape)
        outputs = model.predict(x, batch_size=batch_for(model), verbose=0).astype(np.float64)
        if logits:
            outputs = np.exp(outputs - outputs.max(axis=1, keepdims=True))
            outputs /= outputs.sum(axis=1, keepdims=True)
        truth = np.clip(outputs[np.arange(len(labels)), labels], 1e-12, 1.0)
        scores[name] = {
            "accuracy": round(100.0 * float(np.mean(outputs.argmax(axis=1) == labels)), 4),
            "cross_entropy": round(float(-np.mean(np.log(truth))), 6),
        }
    return scores


def best_preprocessing(scores: dict[str, dict[str, float]]) -> str:
    """The most accurate candidate; within ``TIE_POINTS`` of it, the lowest cross-entropy."""
    top = max(s["accuracy"] for s in scores.values())
    tied = [k for k, s in scores.items() if s["accuracy"] >= top - TIE_POINTS]
    return min(tied, key=lambda k: scores[k]["cross_entropy"])


def check_equivalence(
    held: ModelFile, model: Any, x: np.ndarray, where: str | Path = "model file"
) -> Equivalence:
    """The file in the Keras that wrote it (a subprocess) against the rebuilt model on ``x``.

    Not checked only when that Keras is not installed; when it is and cannot load or run the
    file (or takes over ``REFERENCE_TIMEOUT_S``), the file is refused (``ModelFileError``)."""
    script = REFERENCE_SCRIPT
    with tempfile.TemporaryDirectory(prefix="edgedigits-reference-") as tmp:
        x_path, y_path = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(x_path, x, allow_pickle=False)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": tmp,
            "KERAS_HOME": tmp,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "KERAS_BACKEND": "tensorflow",
            "CUDA_VISIBLE_DEVICES": "",
            "TMPDIR": tmp,
        }
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-I",
                    str(script),
                    held.writer,
                    str(held.path),
                    str(x_path),
                    str(y_path),
                ],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=REFERENCE_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise ModelFileError(
                f"{where}: {held.writer} took over {REFERENCE_TIMEOUT_S} s to load "
                "and run the file; not imported"
            ) from None
        if done.returncode == 3:
            return Equivalence(
                False,
                f"the file was written by {held.writer} "
                f"{held.keras_version or ''}, which is not installed".replace("  ", " "),
            )
        if done.returncode != 0 or not y_path.is_file():
            # The Keras that wrote the file is here and refuses it: a damaged file, not an
            # unverifiable one.
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            said = next(
                (ln.split(REFUSED, 1)[1] for ln in reversed(lines) if REFUSED in ln),
                lines[-1][:200] if lines else f"exit {done.returncode}",
            )
            raise ModelFileError(
                f"{where}: {held.writer} cannot load or run the file ({said}); not imported"
            )
        reference = np.load(y_path, allow_pickle=False)
        version = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "?"
    ours = model.predict(x, batch_size=batch_for(model), verbose=0)
    if reference.shape != ours.shape:
        return Equivalence(
            True,
            keras=f"{held.writer} {version}",
            images=len(x),
            max_abs_diff=float("inf"),
            classes_identical=False,
        )
    return Equivalence(
        True,
        keras=f"{held.writer} {version}",
        images=len(x),
        max_abs_diff=float(np.max(np.abs(reference - ours))),
        classes_identical=bool(np.array_equal(reference.argmax(1), ours.argmax(1))),
    )


# -- the whole import ----------------------------------------------------------------------------


def import_model(
    path: str | Path,
    *,
    name: str | None = None,
    out: str | Path = DEFAULT_OUT,
    data: str | Path | None = None,
    preprocessing: str | None = None,
    log: Callable[[str], None] = print,
) -> ImportRecord:
    """Import one model file into ``<out>/<name>/`` (see the module docstring).

    Refused with one line (nothing written): a file outside the allowlist, an unsupported input
    or output, weights that do not fit the architecture, a preprocessing under which no
    candidate reaches ``MIN_ACCURACY``, or a rebuilt model that differs from the original.
    """
    with contextlib.ExitStack() as stack:  # the work folder beside the model folder, removed
        return _import_model(path, name, out, data, preprocessing, log, stack)


def _import_model(path, name, out, data, preprocessing, log, stack) -> ImportRecord:
    from edgedigits.data import load_dataset
    from edgedigits.model_files import save_model

    started = time.perf_counter()
    source = Path(path)
    name = check_name(name or default_name(source))
    if preprocessing is not None and preprocessing not in PREPROCESSING:
        raise UsageError(f"--preprocessing {preprocessing}: choose from {', '.join(PREPROCESSING)}")
    dataset = load_dataset(data)
    with open_model_file(source) as held:
        sha = file_sha256(held.path)
        size = held.path.stat().st_size
        arch, model = rebuild(held, str(source))  # a hostile or broken file stops here
        classes = int(dataset.test_labels.max()) + 1
        if arch.num_classes != classes:
            raise ModelFileError(
                f"{source}: the model scores {arch.num_classes} classes, the "
                f"data ({dataset.source}) has {classes}"
            )
        scores = infer_preprocessing(
            model, arch.input_shape, dataset.test_images, dataset.test_labels, arch.emits_logits
        )
        chosen = preprocessing or best_preprocessing(scores)
        if preprocessing is None and scores[chosen]["accuracy"] < MIN_ACCURACY:
            shown = ", ".join(f"{k} {v['accuracy']:.1f}%" for k, v in scores.items())
            raise ModelFileError(
                f"{source}: no input scaling gives a working classifier on "
                f"{dataset.source} ({shown}); is it a digit classifier of "
                "28x28 images? --preprocessing chooses one anyway"
            )
        scale, offset = PREPROCESSING[chosen]
        x = scale_pixels(dataset.test_images[:EQUIVALENCE_IMAGES], scale, offset, arch.input_shape)
        equivalence = check_equivalence(held, model, x, source)
        if equivalence.checked and not equivalence.passed:
            raise ModelFileError(
                f"{source}: the rebuilt model differs from the file as "
                f"{equivalence.keras} runs it (max abs diff "
                f"{equivalence.max_abs_diff:.3g}, allowed "
                f"{EQUIVALENCE_MAX_ABS_DIFF:g}; classes "
                f"{'identical' if equivalence.classes_identical else 'differ'})"
                "; not imported"
            )
        writer, version, file_format = held.writer, held.keras_version, held.format
    # Only now, seconds in: a refused file leaves no folder behind.
    out = ensure_writable_dir(out)
    check_model_folders(out, [name])
    log(f"{source}: {equivalence.line()}")
    model._name = name  # noqa: SLF001 - tf_keras has no public setter for the name
    target = model_path(out, name)
    folder = model_dir(out, name)
    work = stack.enter_context(folder_commit.work_dir(folder))
    save_model(model, work / target.name)
    record = ImportRecord(
        name=name,
        source_file=str(source),
        source_sha256=sha,
        source_bytes=size,
        file_format=file_format,
        keras_writer=writer,
        keras_version=version,
        architecture=arch.to_json(),
        layers=[f"{layer.name}: {layer.class_name}" for layer in arch.layers],
        params=arch.params,
        input_shape=list(arch.input_shape),
        num_classes=arch.num_classes,
        output_kind="logits" if arch.emits_logits else "probabilities",
        preprocessing={
            "name": chosen,
            "scale": scale,
            "offset": offset,
            "chosen_by": (
                "--preprocessing"
                if preprocessing
                else f"inferred: best test accuracy, ties (within {TIE_POINTS:g} "
                "points) to the lowest cross-entropy"
            ),
            "scores": scores,
        },
        equivalence=asdict(equivalence) | {"passed": equivalence.passed},
        test_accuracy=scores[chosen]["accuracy"],
        data_source=dataset.source,
        model_sha256=file_sha256(work / target.name),
        import_seconds=0.0,
        notes=[
            "fine-tuning recipes (qat, pruned, clustered) use Adam at 1e-3 (0.1x for "
            "fine-tuning) with sparse cross-entropy: the file's training recipe is not read"
        ],
    )
    record = ImportRecord(
        **{**asdict(record), "import_seconds": round(time.perf_counter() - started, 2)}
    )
    folder_commit.commit_files(
        folder,
        {
            target.name: work / target.name,
            "metrics.json": atomic.json_bytes(
                {
                    "model": name,
                    "source": IMPORTED.id,
                    "params": record.params,
                    "test_accuracy": record.test_accuracy,
                    "data_source": record.data_source,
                    "model_path": str(target),
                    "model_sha256": record.model_sha256,
                    "weights": "imported",
                    "imported_from": record.source_file,
                    "imported_sha256": record.source_sha256,
                    # carried into every manifest: "not checked (...)" stays visible to verify
                    "equivalence": equivalence.line().removeprefix("equivalence: "),
                }
            ),
            RECORD: atomic.json_bytes(record.to_json()),
        },
        what=f"the imported {name}",
    )
    register_imported(imported_spec(record.to_json(), folder / RECORD))
    log(
        f"{source}: imported as {name} ({record.params:,} params, {arch.summary()}; "
        f"{record.output_kind}; preprocessing {chosen}: test accuracy "
        f"{record.test_accuracy:.2f}%) -> {folder}"
    )
    return record


def import_files(
    targets: Iterable[str],
    *,
    out: str | Path,
    data: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> list[str]:
    """``targets`` with each ``.keras``/``.h5`` path replaced by the name it was imported as
    (the file name's stem), saying so in one line: what export, bench, doctor and pipeline do
    with a file named where a model name goes."""
    names = []
    for target in targets:
        if looks_like_model_file(target) and not is_model_folder_file(Path(target)):
            name = default_name(target)
            log(
                f"{target}: importing as {name} (name from the file; 'edgedigits import "
                f"{target} --name NAME' to choose)"
            )
            names.append(import_model(target, name=name, out=out, data=data, log=log).name)
        else:
            names.append(target)
    return names
