"""The GPU runtimes, run on a GPU: what `litert-compiled-gpu` does on a real accelerator.

On a machine without a GPU the bench's GPU rows are `skipped` with the runtime's reason; this
script is the other half of that promise, run where a GPU is lent (the device tool's NVIDIA H200;
its results go to bench/results/gpu_check.{json,md}). For each ``.tflite`` of the model folders
given it loads the file in LiteRT's CompiledModel on the CPU and on the GPU accelerator, and
reports:

* what LiteRT says ran: the GPU accelerator compiled it, and ``is_fully_accelerated()``;
* the golden vectors replayed one image per call on the GPU through ``verify``'s own replay
  (the recipe's tolerance, the recorded classes);
* the test-set accuracy at batch 1 on both accelerators, and the share of images where they
  agree;
* latency at batch 1 and 256 in interleaved rounds (``benchmark.timing``): the full call an app
  makes (write input, run, read output; the read waits for the GPU) and the run alone, beside a
  bare Python call floor measured in the same process;

and, for the other GPU runtimes (``onnxruntime-cuda``, ``tensorflow-gpu``), the reason each
gives on that machine. Needs only NumPy, ai-edge-litert and this package (no TensorFlow).

    python bench/gpu_check.py exports/seed004_cnn --results bench/results/gpu_check
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgedigits.benchmark import TimingOptions, measure  # noqa: E402
from edgedigits.data import load_dataset  # noqa: E402
from edgedigits.markdown import table as markdown_table
from edgedigits.runtimes import RUNTIMES, RuntimeUnavailable, quantize  # noqa: E402
from edgedigits.verify import replay_golden  # noqa: E402

TIMING = TimingOptions(warmup=50, rounds=10, min_runs=200, min_seconds=0.5, max_seconds=10)
BATCHES = (1, 256)


def gpu_name() -> str:
    try:
        return (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout.strip()
            or "none"
        )
    except (OSError, subprocess.TimeoutExpired):
        return "none (no nvidia-smi)"


def images(manifest: dict, test_images: np.ndarray, shape: list[int]) -> np.ndarray:
    pre = manifest["preprocessing"]
    x = test_images.astype(np.float64) * pre["scale"] + pre["offset"]
    return x.astype(np.float32).reshape(len(test_images), *shape[1:])


def classes(runner, x: np.ndarray) -> np.ndarray:
    """Batch 1, as an app classifies one drawing at a time."""
    return np.array([int(np.argmax(runner.infer(x[k : k + 1])[0])) for k in range(len(x))])


def check_file(folder: Path, record: dict, manifest: dict, golden: dict, dataset) -> dict:
    path = folder / record["file"]
    row: dict = {
        "file": record["file"],
        "recipe": record["recipe"],
        "io": record.get("io"),
        "batch": record.get("batch"),
    }
    with RUNTIMES["litert-compiled"](path) as cpu:
        row["cpu_provider"] = cpu.provider
        x = images(manifest, dataset.test_images, [1, *cpu.inputs[0].shape[1:]])
        cpu_classes = classes(cpu, x)
        row["cpu_accuracy"] = round(100 * float(np.mean(cpu_classes == dataset.test_labels)), 2)
        row["cpu_us"] = {b: latency(cpu, x, b) for b in BATCHES if batchable(record, b)}
    try:
        gpu = RUNTIMES["litert-compiled-gpu"](path)
        gpu.__enter__()
    except RuntimeUnavailable as exc:
        row["gpu"] = f"skipped: {exc}"
        return row
    try:
        row["gpu"] = "ran"
        row["gpu_provider"] = gpu.provider
        row["gpu_fully_accelerated"] = gpu.fully_accelerated
        entry = golden["artifacts"].get(record["file"])
        row["gpu_golden_problems"] = [p.message for p in replay_golden(folder, record["file"], gpu)]
        expected = np.asarray(entry["expected"]) if entry else None
        if expected is not None:
            pixels = np.array([img["pixels"] for img in golden["images"]], dtype=np.float64)
            gx = images(manifest, pixels.reshape(-1, 28, 28), [1, *gpu.inputs[0].shape[1:]])
            got = np.concatenate([gpu.infer(gx[k : k + 1]) for k in range(len(gx))])
            row["gpu_golden_max_abs_diff"] = float(np.max(np.abs(got - expected)))
            row["golden_atol"] = entry["atol"]
        gpu_classes = classes(gpu, x)
        row["gpu_accuracy"] = round(100 * float(np.mean(gpu_classes == dataset.test_labels)), 2)
        row["agreement_with_cpu"] = round(100 * float(np.mean(gpu_classes == cpu_classes)), 2)
        row["gpu_us"] = {b: latency(gpu, x, b) for b in BATCHES if batchable(record, b)}
    finally:
        gpu.__exit__(None, None, None)
    return row


def batchable(record: dict, batch: int) -> bool:
    return record.get("batch") in ("dynamic", None) or record.get("batch") == batch


def latency(runner, x: np.ndarray, batch: int) -> dict:
    """p50 microseconds: the whole call (input written, run, output read: the read waits for the
    accelerator) and the run alone (what the bench's compute slot times)."""
    xb = np.ascontiguousarray(np.resize(x, (batch, *x.shape[1:])))
    call = measure(runner.infer_raw, quantize(xb, runner.inputs[0]), TIMING)
    run = measure(lambda f: f(), runner.bind(quantize(xb, runner.inputs[0])), TIMING)
    return {"call_p50": round(call.p50, 2), "run_p50": round(run.p50, 2)}


def other_gpu_runtimes() -> dict:
    out = {}
    for name in ("onnxruntime-cuda", "tensorflow-gpu"):
        try:
            out[name] = RUNTIMES[name].unavailable_reason() or "available"
        except Exception as exc:  # noqa: BLE001 - e.g. TensorFlow not installed there
            out[name] = f"cannot run here: {type(exc).__name__}: {str(exc)[:160]}"
    return out


def markdown(doc: dict) -> str:
    lines = [
        f"# GPU runtimes on a GPU: {doc['gpu']}",
        "",
        f"Run {doc['date']} on {doc['machine']} (Python {doc['python']}, ai-edge-litert "
        f"{doc['litert']}), `python bench/gpu_check.py {' '.join(doc['folders'])}`.",
        "",
        "Latency: p50 microseconds per call (whole call: input written, run, output read) "
        f"and the run alone; a bare Python call costs {doc['floor_us']} us here.",
        "",
    ]
    rows = []
    for r in doc["files"]:
        if r["gpu"] != "ran":
            rows.append(
                [r["file"], r["gpu"], "", "", "", f"{r['cpu_accuracy']} / -", "", "", "", ""]
            )
            continue
        golden = (
            "passed" if not r["gpu_golden_problems"] else "; ".join(r["gpu_golden_problems"])[:120]
        )
        diff = (
            f"{r['gpu_golden_max_abs_diff']:.2e} / {r['golden_atol']:g}"
            if "gpu_golden_max_abs_diff" in r
            else "-"
        )

        def pair(batch, key, r=r):
            c, g = r["cpu_us"].get(batch), r["gpu_us"].get(batch)
            return f"{c[key]:.1f} / {g[key]:.1f}" if c and g else "-"

        rows.append(
            [
                r["file"],
                "ran",
                "yes" if r["gpu_fully_accelerated"] else "no",
                golden,
                diff,
                f"{r['cpu_accuracy']} / {r['gpu_accuracy']}",
                r["agreement_with_cpu"],
                pair(1, "call_p50"),
                pair(1, "run_p50"),
                pair(256, "call_p50"),
            ]
        )
    lines += markdown_table(
        [
            "file",
            "GPU",
            "fully accelerated",
            "golden replay (GPU)",
            "max diff / atol",
            "accuracy CPU / GPU",
            "agree",
            "b1 call CPU / GPU",
            "b1 run CPU / GPU",
            "b256 call CPU / GPU",
        ],
        rows,
    )
    lines += ["", "Other GPU runtimes on this machine:", ""]
    lines += [f"* `{k}`: {v}" for k, v in doc["other_gpu_runtimes"].items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="exported model folders")
    parser.add_argument("--results", type=Path, required=True, help="prefix for .json and .md")
    args = parser.parse_args()
    from importlib import metadata

    import ai_edge_litert  # noqa: F401 - its version goes in the record

    dataset = load_dataset()
    floor = measure(lambda f: f(), lambda: None, TIMING).p50
    doc = {
        "schema": "edgedigits.gpu_check/1",
        "gpu": gpu_name(),
        "machine": f"{platform.machine()}, {platform.node()}",
        "python": platform.python_version(),
        "litert": metadata.version("ai-edge-litert"),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "folders": [str(f) for f in args.folders],
        "floor_us": round(floor, 3),
        "files": [],
        "other_gpu_runtimes": other_gpu_runtimes(),
    }
    for folder in args.folders:
        manifest = json.loads((folder / "manifest.json").read_text())
        golden = json.loads((folder / "golden.json").read_text())
        for record in manifest["artifacts"]:
            if record["status"] == "ok" and record["file"].endswith(".tflite"):
                print(f"{record['file']} ...", flush=True)
                doc["files"].append(check_file(folder, record, manifest, golden, dataset))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.results}.json").write_text(json.dumps(doc, indent=2) + "\n")
    Path(f"{args.results}.md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
