"""Condense a bench JSON report into one row per model, for the README.

    python bench/summarize.py bench/results/bench_zoo.json > bench/results/bench_zoo_summary.md
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def summarize(doc: dict) -> str:
    rows = defaultdict(dict)
    parity = defaultdict(lambda: [0, 0])
    for r in doc["results"]:
        if r["status"] != "ok" or r["batch"] != 1:
            continue
        rows[r["model"]][(Path(r["artifact"]).name.split(".", 1)[1], r["runtime"])] = r
        if r["parity"]:
            parity[r["model"]][0] += r["parity"] == "pass"
            parity[r["model"]][1] += 1

    def lat(model, key):
        r = rows[model].get(key)
        return f"{r['latency_us']['p50']:.1f} / {r['latency_us']['p99']:.1f}" if r else "n/a"

    m, s = doc["machine"], doc["settings"]
    out = [f"Batch 1, {s['threads']} thread, p50 / p99 latency in µs; machine: {m['cpu']}, "
           f"{m['cores']} cores, {m['os']}, Python {m['python']}. Parity = rows passing their "
           "family's tolerance on the full 10,000-image test set.", "",
           "| model | Keras acc % | keras call | keras predict | float32 .tflite (LiteRT) | "
           "int8 .tflite: acc %, µs, bytes | float32 .onnx (ORT) | int8 .onnx (ORT) | parity |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for model, found in rows.items():
        keras = found.get(("keras", "keras"))
        int8 = found.get(("int8.tflite", "litert"))
        int8_text = (f"{int8['accuracy']:.2f}, {int8['latency_us']['p50']:.1f}, "
                     f"{int8['size_bytes']:,}" if int8 else "n/a")
        passed, total = parity[model]
        out.append(
            f"| {model} | {keras['accuracy']:.2f} | {lat(model, ('keras', 'keras'))} | "
            f"{lat(model, ('keras', 'keras-predict'))} | "
            f"{lat(model, ('float32.tflite', 'litert'))} | {int8_text} | "
            f"{lat(model, ('float32.onnx', 'onnxruntime'))} | "
            f"{lat(model, ('int8.onnx', 'onnxruntime'))} | {passed}/{total} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(summarize(json.loads(Path(sys.argv[1]).read_text())), end="")
