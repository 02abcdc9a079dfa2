"""The report's first answer: which file to ship, per model and target.

For each model folder the bench touched and each target its manifest lists files for (web,
mobile, mcu, server), the candidates are that target's files whose parity passed. The choice:
the smallest file within ``ACCURACY_MARGIN`` points of the most accurate candidate, ties broken by
latency. Accuracy and latency come from the bench (batch 1, full test set, the file's native
runtime: LiteRT for ``.tflite``, ONNX Runtime for ``.onnx``/``.ort``); a C array is not benched
itself (its ``.tflite`` bytes are), so its accuracy is the export check's, on fewer images, and
its size is the flash it takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgedigits.markdown import table

ACCURACY_MARGIN = 0.5  # points: a smaller file that loses less than this is the better ship
NATIVE_RUNTIME = {"tflite": "litert", "onnx": "onnxruntime", "ort": "onnxruntime"}
TARGET_ORDER = ("web", "mobile", "mcu", "server")


def _manifests(results: list[dict[str, Any]]) -> dict[str, tuple[Path, dict[str, Any]]]:
    from edgedigits.errors import ModelFileError
    from edgedigits.jsonfile import read_bounded

    folders = {}
    for r in results:
        folder = Path(r["artifact"]).parent
        if r["model"] in folders:
            continue
        try:  # bounded like every JSON the toolkit reads (jsonfile.py)
            manifest = read_bounded(folder / "manifest.json", ModelFileError)
        except (FileNotFoundError, ModelFileError):
            continue  # no manifest, or a damaged one bench reported already
        if isinstance(manifest, dict):
            folders[r["model"]] = (folder, manifest)
    return folders


def _measured(
    results: list[dict[str, Any]], folder: Path, entry: dict[str, Any]
) -> tuple[float | None, float | None, str]:
    """(accuracy, latency p50 µs, where the accuracy comes from) for one manifest entry."""
    runtime = NATIVE_RUNTIME.get(entry["format"])
    row = next(
        (
            r
            for r in results
            if r["status"] == "ok"
            and r["batch"] == 1
            and r["runtime"] == runtime
            and Path(r["artifact"]).name == entry["file"]
            and Path(r["artifact"]).parent == folder
        ),
        None,
    )
    if row is not None:
        return row["accuracy"], row["latency_us"]["p50"], f"bench, {runtime}"
    parity = entry.get("parity") or {}
    return parity.get("accuracy"), None, f"export check, {parity.get('images', '?')} images"


def which_file_to_ship(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One choice per (model, target); see the module docstring."""
    choices = []
    for model, (folder, manifest) in _manifests(results).items():
        for target in TARGET_ORDER:
            candidates = []
            for entry in manifest.get("artifacts", []):
                if (
                    entry.get("status") != "ok"
                    or target not in entry.get("targets", [])
                    or not (entry.get("parity") or {}).get("passed")
                ):
                    continue
                accuracy, latency, source = _measured(results, folder, entry)
                if accuracy is None:
                    continue
                size = (entry.get("details") or {}).get("tflite_bytes") or entry["size_bytes"]
                candidates.append(
                    {
                        "model": model,
                        "target": target,
                        "file": entry["file"],
                        "format": entry["format"],
                        "recipe": entry["recipe"],
                        "io": entry.get("io"),
                        "size_bytes": size,
                        "accuracy": accuracy,
                        "accuracy_from": source,
                        "latency_us_p50": latency,
                    }
                )
            if not candidates:
                continue
            best = max(c["accuracy"] for c in candidates)
            good = [c for c in candidates if c["accuracy"] >= best - ACCURACY_MARGIN]
            pick = min(good, key=lambda c: (c["size_bytes"], c["latency_us_p50"] or 0.0))
            pick["command"] = (
                f"edgedigits export {model} --target {target} "
                f"--format {pick['format']} --quant {pick['recipe']}"
            )
            pick["candidates"] = len(candidates)
            choices.append(pick)
    return choices


BENCH_HOW = (
    "parity passed; accuracy on the full test set in the file's native runtime, batch 1; a C "
    "array's from the export check; size of a C array = the flash it takes"
)


def markdown(choices: list[dict[str, Any]], how: str = BENCH_HOW) -> list[str]:
    """The table; ``how`` says where its accuracy and latency come from."""
    if not choices:
        return []
    lines = [
        "## Which file do I ship?",
        "",
        f"Per target, the smallest file within {ACCURACY_MARGIN} points of that target's "
        f"most accurate one ({how}).",
        "",
        *table(
            ["model", "target", "file", "size (bytes)", "accuracy %", "latency p50 µs", "command"],
            [
                [
                    c["model"],
                    c["target"],
                    c["file"],
                    f"{c['size_bytes']:,}",
                    f"{c['accuracy']:.2f}",
                    "" if c["latency_us_p50"] is None else f"{c['latency_us_p50']:.1f}",
                    f"`{c['command']}`",
                ]
                for c in choices
            ],
            "lllrrrl",
        ),
    ]
    return lines + [""]
