"""Benchmark: every file of a pipeline run in the runtime an app ships, per target.

    python bench/app_runtimes.py --out <pipeline --out folder> [MODEL ...]

For each model folder (default: every folder with a manifest under ``--out``) and each target
its manifest lists files for:

- web: LiteRT.js (.tflite) and ONNX Runtime Web (.onnx) in headless Chromium
  (``examples/web/golden.mjs``; run ``npm ci`` in ``examples/web`` first);
- mcu: ``examples/mcu`` built against TensorFlow Lite Micro (``--tflm``, default
  ``../shared/tflm``) and run on the golden images, 100 calls per image;
- mobile and server: LiteRT's and ONNX Runtime's Python packages run the same C++ runtimes an
  Android/iOS app or a server links (the ``litert`` and ``onnxruntime`` runners).

Each file: does it load, do its outputs on the golden images (one image per call) match its
golden entry (atol and digit), the time per call in that runtime, and beside it the native
runtime's batch-1 latency from the pipeline's ``report/bench.json`` (LiteRT for .tflite and C
arrays' bytes, ONNX Runtime for .onnx/.ort). Writes ``bench/results/app_runtimes.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from edgedigits.markdown import table as markdown_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WEB, MCU = ROOT / "examples" / "web", ROOT / "examples" / "mcu"
NATIVE = {"tflite": "litert", "onnx": "onnxruntime", "ort": "onnxruntime", "c": "litert"}


def golden_ok(outputs: np.ndarray, entry: dict) -> bool:
    expected = np.asarray(entry["expected"])
    return bool(
        outputs.shape == expected.shape
        and np.max(np.abs(outputs - expected)) <= entry["atol"]
        and outputs.argmax(1).tolist() == entry["predicted"]
    )


def web_rows(folder: Path, golden: dict) -> list[dict]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    run = subprocess.run(
        ["node", "golden.mjs", str(folder), "--chromium", chromium],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if run.returncode != 0:
        raise SystemExit(f"web: {run.stderr[-500:]}")
    result = json.loads(run.stdout)
    rows = []
    for r in result["results"]:
        ok = "error" not in r
        rows.append(
            {
                "target": "web",
                "file": r["file"],
                "app_runtime": r.get("runtime"),
                "loads": ok,
                "golden_ok": ok and golden_ok(np.array(r["outputs"]), golden[r["file"]]),
                "app_us_per_call": round(r["call_us_p50"], 1) if ok else None,
                "error": r.get("error"),
                "browser": result.get("browser"),
            }
        )
    return rows


def mcu_rows(folder: Path, golden: dict, manifest: dict, tflm: Path, build: Path) -> list[dict]:
    rows = []
    for entry in manifest["artifacts"]:
        if "mcu" not in entry["targets"]:
            continue
        model = entry["file"].removesuffix(".cc")
        run = subprocess.run(
            [
                "make",
                "-s",
                "-C",
                str(MCU),
                f"TFLM={tflm}",
                f"MODEL_DIR={folder}",
                f"MODEL={model}",
                f"BUILD={build}",
                "run",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        row = {
            "target": "mcu",
            "file": entry["file"],
            "app_runtime": f"TensorFlow Lite Micro ({tflm}, examples/mcu)",
            "loads": run.returncode == 0,
            "golden_ok": False,
            "app_us_per_call": None,
            "arena_used_bytes": None,
            "arena_measured_bytes": entry["details"]["tflm"]["arena_bytes"],
            "error": run.stderr[-300:] or None,
        }
        if run.returncode == 0:
            lines = run.stdout.strip().splitlines()
            gold = golden[entry["file"]]
            scores = np.array([list(map(int, line.split()))[3:] for line in lines[:-1]])
            raw = np.asarray(gold["expected_raw"]).reshape(scores.shape)
            tail = lines[-1].split()
            row.update(
                golden_ok=bool(np.max(np.abs(scores - raw)) <= gold["atol_raw"]),
                calls=int(tail[1]),
                arena_used_bytes=int(tail[3]),
                app_us_per_call=float(tail[5]),
                error=None,
            )
        rows.append(row)
    return rows


def python_rows(folder: Path, golden: dict, manifest: dict, images: np.ndarray) -> list[dict]:
    from edgedigits.runtimes import infer_one_at_a_time, runner_for
    from edgedigits.zoo import get_spec

    spec = get_spec(manifest["model"])
    x = spec.preprocess(images)
    rows = []
    for entry in manifest["artifacts"]:
        for target in ("mobile", "server"):
            if target not in entry["targets"]:
                continue
            with runner_for(folder / entry["file"]) as runner:
                outputs = infer_one_at_a_time(runner, x)
                name = runner.name
            rows.append(
                {
                    "target": target,
                    "file": entry["file"],
                    "app_runtime": {
                        "litert": "LiteRT (the C++ runtime Android/iOS link)",
                        "onnxruntime": "ONNX Runtime",
                    }.get(name, name),
                    "loads": True,
                    "golden_ok": golden_ok(outputs, golden[entry["file"]]),
                    "app_us_per_call": None,
                }
            )
    return rows


def _app_row(r: dict) -> list:
    extra = (
        f" (arena {r['arena_used_bytes']:,} B; pip TFLM measured {r['arena_measured_bytes']:,})"
        if r.get("arena_used_bytes")
        else ""
    )
    return [
        r["model"],
        r["file"],
        f"{r['app_runtime']}{extra}",
        "yes" if r["loads"] else "NO",
        "ok" if r["golden_ok"] else "NO",
        "" if r["app_us_per_call"] is None else f"{r['app_us_per_call']:.1f}",
        "" if r["native_us_p50"] is None else f"{r['native_us_p50']:.1f}",
        f"{r['size_bytes']:,}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tflm", type=Path, default=ROOT.parent / "shared" / "tflm")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from edgedigits.benchmark import machine_info

    bench = json.loads((args.out / "report" / "bench.json").read_text())
    native = {
        (Path(r["artifact"]).name, r["runtime"]): r["latency_us"]["p50"]
        for r in bench["results"]
        if r["status"] == "ok" and r["batch"] == 1
    }
    folders = (
        [args.out / m for m in args.models]
        if args.models
        else sorted(p.parent for p in args.out.glob("*/manifest.json"))
    )
    rows = []
    for folder in folders:
        manifest = json.loads((folder / "manifest.json").read_text())
        gold = json.loads((folder / "golden.json").read_text())
        images = np.array([i["pixels"] for i in gold["images"]], np.uint8).reshape(-1, 28, 28)
        model_rows = (
            web_rows(folder, gold["artifacts"])
            + mcu_rows(
                folder, gold["artifacts"], manifest, args.tflm, args.results.parent / ".mcu-build"
            )
            + python_rows(folder, gold["artifacts"], manifest, images)
        )
        for row in model_rows:
            entry = next(a for a in manifest["artifacts"] if a["file"] == row["file"])
            fmt = entry["format"]
            tflite = row["file"].removesuffix(".cc") + ".tflite" if fmt == "c" else row["file"]
            size = entry["details"].get("tflite_bytes") if fmt == "c" else None
            row.update(
                model=manifest["model"],
                format=fmt,
                recipe=entry["recipe"],
                size_bytes=size or entry["size_bytes"],
                native_runtime=NATIVE[fmt],
                native_us_p50=native.get((tflite, NATIVE[fmt])),
            )
            print(json.dumps(row), flush=True)
        rows += model_rows
    shutil.rmtree(args.results.parent / ".mcu-build", ignore_errors=True)
    document = {
        "command": "python bench/app_runtimes.py " + " ".join(sys.argv[1:]),
        "machine": machine_info(),
        "rows": rows,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "app_runtimes.json").write_text(json.dumps(document, indent=1) + "\n")
    lines = [
        "# Every pipeline file in the runtime an app ships it in",
        "",
        f"`{document['command']}` on {document['machine']['cpu']}, "
        f"{document['machine']['cores']} cores. Golden: the file's outputs on golden.json's "
        "10 images, one image per call, within its entry's atol and with the same digit. "
        "*app µs/call*: measured in that runtime (web: in the page, blocks of 100 calls; "
        "mcu: the host build of examples/mcu, reference kernels). *native µs*: the "
        "pipeline's batch-1 latency p50 in LiteRT (.tflite; a C array's .tflite bytes when "
        "benched) or ONNX Runtime (.onnx/.ort), 1 thread. *size*: the file; for a C array "
        "the flash it takes (its .tflite bytes).",
        "",
    ]
    for target in ("web", "mobile", "mcu", "server"):
        mine = [r for r in rows if r["target"] == target]
        if not mine:
            continue
        loads, good = sum(r["loads"] for r in mine), sum(r["golden_ok"] for r in mine)
        lines += [
            f"## {target}: {loads}/{len(mine)} load, {good}/{len(mine)} match golden",
            "",
            *markdown_table(
                [
                    "model",
                    "file",
                    "app runtime",
                    "loads",
                    "golden",
                    "app µs/call",
                    "native µs",
                    "size (bytes)",
                ],
                [_app_row(r) for r in mine],
                "lllllrrr",
            ),
            "",
        ]
    lines.append(
        f"Python {platform.python_version()}; browser: "
        f"{next((r['browser'] for r in rows if r.get('browser')), 'not run')}."
    )
    (args.results / "app_runtimes.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:4]))
    bad = [r for r in rows if not (r["loads"] and r["golden_ok"])]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
