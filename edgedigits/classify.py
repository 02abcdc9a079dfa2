"""Any exported file, run on pictures: the digit an app's user would see.

``classify(pictures, artifact)`` reads each picture (``preprocess.pictures``: PNG, JPEG, ...),
turns it into the 28x28 image the model sees with the preprocessing contract
(``edgedigits.preprocess``), scales it as the artifact's manifest says (``from_pixels``), runs
the file in the runtime an app loads it in (LiteRT for ``.tflite``, ONNX Runtime for ``.onnx``
and ``.ort``) and returns the digit and the ten scores per picture; softmax is applied where the
file outputs logits, so the scores are always probabilities. ``save_inputs`` writes the 28x28
each picture became, as PNG: what to look at when a digit comes out wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.contract.recipes import host_runnable_suffixes
from edgedigits.errors import UsageError

RUNNABLE = host_runnable_suffixes()  # the contract's formats a host runtime loads


@dataclass
class Classified:
    picture: str
    digit: int | None  # None: the picture holds no ink
    scores: list[float]
    inverted: bool  # the picture was dark ink on a light ground
    saved_input: str | None = None

    def line(self) -> str:
        if self.digit is None:
            return f"{self.picture}: no ink (an empty picture; nothing to classify)"
        ranked = sorted(range(10), key=lambda k: -self.scores[k])[:3]
        top = ", ".join(f"{k}: {self.scores[k]:.3f}" for k in ranked)
        return f"{self.picture}: {self.digit}  ({top})"


@dataclass
class ClassifyReport:
    artifact: str
    runtime: str
    contract: str
    results: list[Classified] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "results": [asdict(r) for r in self.results]}


def _manifest_entry(artifact: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from edgedigits.export.manifest import read_manifest

    manifest = read_manifest(artifact.parent / "manifest.json")
    if manifest is None:
        raise UsageError(
            f"--artifact {artifact}: no manifest.json beside it (classify reads the file's "
            "preprocessing and labels there; give a file from an 'edgedigits export' folder)"
        )
    for entry in manifest["artifacts"]:
        if entry["file"] == artifact.name and entry["status"] == "ok":
            return manifest, entry
    raise UsageError(
        f"--artifact {artifact}: not an exported file of {artifact.parent}/manifest.json"
    )


def check_artifact(artifact: str | Path) -> Path:
    """The pre-flight: a runnable exported file with its manifest record."""
    path = Path(artifact)
    if path.suffix.lower() not in RUNNABLE:
        raise UsageError(
            f"--artifact {path}: classify runs {', '.join(RUNNABLE)} files (a C array's "
            "bytes are its .tflite; run that)"
        )
    if not path.is_file():
        raise UsageError(f"--artifact {path}: no such file")
    _manifest_entry(path)
    return path


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()


def classify(
    pictures: Sequence[str | Path],
    artifact: str | Path,
    save_inputs: str | Path | None = None,
) -> ClassifyReport:
    """Each picture through the contract and the artifact; see the module docstring."""
    from edgedigits.contract.preprocessing import NAME
    from edgedigits.preprocess import prepare
    from edgedigits.preprocess.pictures import read_gray
    from edgedigits.runtimes import runner_for

    path = check_artifact(artifact)
    manifest, entry = _manifest_entry(path)
    grays = [read_gray(p) for p in pictures]  # every picture is read before any is run
    rule = entry["interface"]["input"]["from_pixels"]
    logits = entry["interface"]["output"]["values"] == "logits"
    runner = runner_for(path)
    report = ClassifyReport(str(path), runner.name, NAME)
    if save_inputs is not None:
        Path(save_inputs).mkdir(parents=True, exist_ok=True)
    with runner:
        shape = [1 if d is None or d < 1 else int(d) for d in runner.inputs[0].shape]
        for picture, gray in zip(pictures, grays, strict=True):
            prepared = prepare(gray)
            saved = None
            if save_inputs is not None:
                from PIL import Image

                saved = str(Path(save_inputs) / f"{Path(picture).stem}.28x28.png")
                Image.fromarray(prepared.pixels).save(saved)
            if prepared.empty:
                report.results.append(Classified(str(picture), None, [], prepared.inverted, saved))
                continue
            x = prepared.pixels.astype(np.float32) * float(rule["scale"]) + float(rule["offset"])
            values = runner.infer(x.reshape(shape))[0].astype(np.float64)
            scores = _softmax(values) if logits else values
            report.results.append(
                Classified(
                    str(picture),
                    int(np.argmax(scores)),
                    [round(float(s), 6) for s in scores],
                    prepared.inverted,
                    saved,
                )
            )
    return report


def default_artifact(out: str | Path) -> Path:
    """With no ``--artifact``: the float32 ``.tflite`` of the first default model exported
    under ``out`` (the file a web or phone app would start from)."""
    from edgedigits.model_files import DEFAULT_MODELS

    for name in DEFAULT_MODELS:
        candidate = Path(out) / name / f"{name}.float32.tflite"
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"--out {out}: no default model's float32 .tflite there; pass --artifact FILE, or "
        f"export first ('edgedigits export {DEFAULT_MODELS[0]} --format tflite --out {out}')"
    )
