"""Condense a bench JSON report into one row per model and the ratios the benchmarks page
(docs/results/benchmarks.md) quotes.

    python bench/summarize.py bench/results/bench_zoo.json > bench/results/bench_zoo_summary.md

Every latency sentence in docs/results/benchmarks.md is one of the "Ratios" lines below,
computed from a committed report, so the prose cannot drift from the measurement.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from statistics import median

from edgedigits.markdown import table as markdown_table


def _rows(doc: dict, batch: int = 1) -> dict[str, dict[tuple[str, str], dict]]:
    rows: dict[str, dict[tuple[str, str], dict]] = defaultdict(dict)
    for r in doc["results"]:
        if r["status"] == "ok" and r["batch"] == batch:
            rows[r["model"]][(Path(r["artifact"]).name.split(".", 1)[1], r["runtime"])] = r
    return rows


def _p50(row: dict | None) -> float | None:
    return row["latency_us"]["p50"] if row else None


def _judged_by(settings: dict) -> str:
    """Reports before the contract (issue 29) recorded tolerances per family, later ones per
    recipe: say which the report was judged by."""
    return (
        "recipe's tolerance"
        if "float32" in settings.get("tolerances", {})
        else ("family's tolerance")
    )


def ratio_range(rows, top: tuple[str, str], bottom: tuple[str, str]) -> tuple[float, float, int]:
    """(min, max, count) over models of p50(top) / p50(bottom), batch 1."""
    ratios = [
        _p50(found[top]) / _p50(found[bottom])
        for found in rows.values()
        if top in found and bottom in found
    ]
    return (min(ratios), max(ratios), len(ratios)) if ratios else (float("nan"),) * 2 + (0,)


def _placement(provider: str) -> str:
    """'XNNPACK 3/4 nodes, builtin kernels 1' -> 'all but the last 1 of 4 nodes'-style words."""
    match = re.search(r"(\d+)/(\d+) nodes", provider)
    if not match:
        return provider
    taken, total = int(match[1]), int(match[2])
    if taken == total:
        return "all nodes"
    return "no node" if taken == 0 else f"{taken} of {total} nodes"


def summarize(doc: dict) -> str:
    rows = _rows(doc)
    parity = defaultdict(lambda: [0, 0])
    for r in doc["results"]:
        if r["status"] == "ok" and r["batch"] == 1 and r["parity"]:
            parity[r["model"]][0] += r["parity"] == "pass"
            parity[r["model"]][1] += 1

    def lat(model, key):
        r = rows[model].get(key)
        if not r:
            return "n/a"
        compute = f" ({r['compute_us']['p50']:.1f})" if r.get("compute_us") else ""
        return f"{r['latency_us']['p50']:.1f}{compute}"

    m, s = doc["machine"], doc["settings"]
    out = [
        f"Batch 1, {s['threads']} thread, p50 latency in µs of the app's call, with the "
        f"runtime's compute alone in brackets; {s['rounds']} interleaved rounds; machine: "
        f"{m['cpu']}, {m['cores']} cores, Python {m['python']}. Parity = batch-1 rows passing "
        f"their {_judged_by(s)} on the full 10,000-image test set.",
        "",
    ]
    table_rows = []
    for model, found in rows.items():
        keras = found.get(("keras", "keras"))
        int8 = found.get(("int8.tflite", "litert"))
        int8_text = (
            f"{int8['accuracy']:.2f}, {lat(model, ('int8.tflite', 'litert'))}, "
            f"{int8['size_bytes']:,}"
            if int8
            else "n/a"
        )
        passed, total = parity[model]
        table_rows.append(
            [
                model,
                f"{keras['accuracy']:.2f}",
                lat(model, ("keras", "keras")),
                lat(model, ("keras", "keras-predict")),
                lat(model, ("float32.tflite", "litert")),
                lat(model, ("float32.tflite", "litert-compiled")),
                int8_text,
                lat(model, ("float32.onnx", "onnxruntime")),
                lat(model, ("int8.onnx", "onnxruntime")),
                f"{passed}/{total}",
            ]
        )
    out += markdown_table(
        [
            "model",
            "Keras acc %",
            "keras call",
            "keras predict",
            "float32 .tflite (LiteRT)",
            "float32 .tflite (CompiledModel)",
            "int8 .tflite (LiteRT): acc %, µs, bytes",
            "float32 .onnx (ORT)",
            "int8 .onnx (ORT)",
            "parity",
        ],
        table_rows,
        "lrrrrrrrrr",
    )
    out += [
        "",
        "Ratios of batch-1 p50 latencies, per model, min-max over the models that have both rows:",
        "",
    ]
    claims = [
        (
            "ONNX Runtime float32 / LiteRT float32",
            ("float32.onnx", "onnxruntime"),
            ("float32.tflite", "litert"),
        ),
        ("LiteRT int8 / LiteRT float32", ("int8.tflite", "litert"), ("float32.tflite", "litert")),
        ("LiteRT int16x8 / LiteRT int8", ("int16x8.tflite", "litert"), ("int8.tflite", "litert")),
        (
            "ONNX Runtime int8 (QDQ) / ONNX Runtime float32",
            ("int8.onnx", "onnxruntime"),
            ("float32.onnx", "onnxruntime"),
        ),
        (
            "CompiledModel float32 / interpreter float32",
            ("float32.tflite", "litert-compiled"),
            ("float32.tflite", "litert"),
        ),
        ("Keras direct call / LiteRT float32", ("keras", "keras"), ("float32.tflite", "litert")),
        (
            "model.predict / LiteRT float32",
            ("keras", "keras-predict"),
            ("float32.tflite", "litert"),
        ),
    ]
    for label, top, bottom in claims:
        low, high, n = ratio_range(rows, top, bottom)
        if n:
            out.append(f"* {label}: {low:.2f}-{high:.2f}x ({n} models)")
    costs: dict[str, list[float]] = defaultdict(list)
    for found in rows.values():
        for (_, runtime), r in found.items():
            if r.get("binding_us") is not None:
                costs[runtime].append(r["binding_us"])
    if costs:
        out.append(
            "* Binding cost per call (latency - compute, median over artifacts): "
            + ", ".join(f"{rt} {median(v):.2f} µs" for rt, v in costs.items())
        )
    batch1 = sorted(
        {
            Path(r["artifact"]).name
            for r in doc["results"]
            if r["status"] == "ok" and r.get("parity_batch") == 1
        }
    )
    if batch1:
        kinds = "`, `".join(sorted({n.split(".", 1)[1] for n in batch1}))
        out.append(
            f"* Scored one image per call (outputs depend on the batch): {len(batch1)} "
            f"artifact(s), all `{kinds}`"
        )
    out += ort_lines(doc)
    placements: dict[str, set[str]] = defaultdict(set)
    for r in doc["results"]:
        if r["status"] == "ok" and r["runtime"] == "litert" and r["batch"] == 1:
            recipe = Path(r["artifact"]).name.split(".", 1)[1].removesuffix(".tflite")
            placements[recipe].add(_placement(r["provider"]))
    if placements:
        out.append(
            "* LiteRT node placement (XNNPACK delegate) by recipe: "
            + "; ".join(
                f"{recipe}: {', '.join(sorted(p))}" for recipe, p in sorted(placements.items())
            )
        )
    out += quantization_lines(rows, doc)
    return "\n".join(out) + "\n"


def ort_lines(doc: dict) -> list[str]:
    """ONNX Runtime Mobile's .ort against the .onnx it was converted from, same runtime."""
    rows = {
        Path(r["artifact"]).name: r
        for r in doc["results"]
        if r["status"] == "ok" and r["batch"] == 1 and r["runtime"] == "onnxruntime"
    }
    pairs = [
        (rows[n], rows[n[:-4] + ".onnx"])
        for n in rows
        if n.endswith(".ort") and n[:-4] + ".onnx" in rows
    ]
    if not pairs:
        return []
    load = [o["load_ms"] / x["load_ms"] for o, x in pairs]
    lat = [_p50(o) / _p50(x) for o, x in pairs]
    same = sum(o["accuracy"] == x["accuracy"] for o, x in pairs)
    return [
        f"* ONNX Runtime Mobile .ort / its .onnx (same runtime, batch 1): load time "
        f"{min(load):.2f}-{max(load):.2f}x, p50 latency {min(lat):.2f}-{max(lat):.2f}x, "
        f"accuracy identical on {same} of {len(pairs)} files"
    ]


def quantization_lines(rows, doc: dict) -> list[str]:
    """Accuracy change against the trained Keras model (LiteRT, batch 1, full test set) of the
    integer and fine-tuned .tflite recipes: the figures issue-style goals are stated in."""

    def deltas(recipe: str) -> dict[str, float]:
        return {
            model: found[(f"{recipe}.tflite", "litert")]["accuracy_delta"]
            for model, found in rows.items()
            if (f"{recipe}.tflite", "litert") in found
        }

    out = [
        "",
        "Accuracy change against the trained Keras model, points (LiteRT, batch 1, full test set):",
        "",
    ]
    int8, repaired = deltas("int8"), {**deltas("int8-mixed"), **deltas("int8-fixed")}
    effective = {m: repaired.get(m, d) for m, d in int8.items()}
    for label, values in (
        ("int8", int8),
        ("int8, repaired by --auto-fix where it failed parity", effective),
        ("qat", deltas("qat")),
        ("pruned", deltas("pruned")),
    ):
        if values:
            worst = min(values, key=values.get)
            out.append(
                f"* {label}: {min(values.values()):+.2f} to {max(values.values()):+.2f} "
                f"({len(values)} models; worst {worst})"
            )
    qat = deltas("qat")
    if qat:
        close = [m for m, d in qat.items() if d >= -0.1 - 1e-9]
        out.append(
            f"* qat at most 0.1 points below its Keras model: {len(close)} of {len(qat)}"
            + (
                f" (not: {', '.join(f'{m} {qat[m]:+.2f}' for m in qat if m not in close)})"
                if len(close) < len(qat)
                else ""
            )
        )
    for model, fixed in sorted(repaired.items()):
        out.append(f"* {model}: int8 {int8.get(model, float('nan')):+.2f} -> repaired {fixed:+.2f}")
    failing = sorted(
        {
            f"{Path(r['artifact']).name} ({r['runtime']})"
            for r in doc["results"]
            if r["batch"] == 1 and r.get("parity") == "fail"
        }
    )
    out.append(
        f"* Batch-1 rows failing parity: {len(failing)}"
        + (f": {', '.join(failing)}" if failing else "")
    )
    return out


if __name__ == "__main__":
    print(summarize(json.loads(Path(sys.argv[1]).read_text())), end="")
