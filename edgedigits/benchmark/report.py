"""Bench reports: versioned JSON (``edgedigits.bench/1``), Markdown, and Pareto plots.

JSON and Markdown come from the same records. The JSON schema ships as ``schema.json`` beside
this file and is documented in the README.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits import atomic
from edgedigits.benchmark.benchmark import BenchReport

SCHEMA = "edgedigits.bench/1"


def machine_info() -> dict[str, Any]:
    from edgedigits.export.manifest import tool_versions

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version(), "packages": tool_versions()}


def to_document(report: BenchReport) -> dict[str, Any]:
    options = report.options
    return {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": {
            "runtimes": list(options.runtimes), "threads": options.threads,
            "batch_sizes": list(options.batch_sizes), "xnnpack": options.xnnpack,
            "warmup": options.timing.warmup, "min_runs": options.timing.min_runs,
            "min_seconds": options.timing.min_seconds, "test_images": options.test_limit or 10000,
            "tolerances": {k: vars(v) for k, v in options.tolerances.items()},
            "harness_overhead_us": report.harness_overhead_us,
        },
        "results": [r.to_json() for r in report.results],
    }


def schema() -> dict[str, Any]:
    return json.loads((resources.files("edgedigits.benchmark") / "schema.json").read_text())


def write_json(report: BenchReport, path: str | Path) -> dict[str, Any]:
    doc = to_document(report)
    atomic.write_json(path, doc)
    return doc


def _fmt(value: Any, spec: str = "") -> str:
    return "" if value is None else format(value, spec)


def to_markdown(doc: dict[str, Any]) -> str:
    m, s = doc["machine"], doc["settings"]
    lines = [f"# edgedigits bench ({doc['created']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['os']}, Python {m['python']}; "
             f"threads {s['threads']}, XNNPACK {'on' if s['xnnpack'] else 'off'}, "
             f"{s['test_images']} test images. Harness overhead per timed call: "
             f"{s['harness_overhead_us']['p50']:.2f} us (p50).", "",
             "| model | artifact | runtime | batch | acc % | Δ pts | agree % | max abs diff "
             "| p50 µs | p99 µs | µs/img | img/s | load ms | size | parity |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in doc["results"]:
        name = Path(r["artifact"]).name
        if r["status"] != "ok":
            lines.append(f"| {r['model']} | {name} | {r['runtime']} | {r['batch']} | "
                         f"| | | | | | | | | | {r['status']}: {r['reason']} |")
            continue
        lat = r["latency_us"]
        parity = r["parity"] or "n/a"
        if r["parity"] == "fail":
            parity = "FAIL: " + "; ".join(r["parity_failures"])
        agree = "" if r["agreement"] is None else f"{100 * r['agreement']:.2f}"
        lines.append(
            f"| {r['model']} | {name} | {r['runtime']} | {r['batch']} | "
            f"{_fmt(r['accuracy'], '.2f')} | {_fmt(r['accuracy_delta'], '+.2f')} | {agree} | "
            f"{_fmt(r['max_abs_diff'], '.1e')} | {lat['p50']:.1f} | {lat['p99']:.1f} | "
            f"{r['latency_per_image_us']['p50']:.2f} | {r['throughput_per_s']:,.0f} | "
            f"{r['load_ms']:.1f} | {r['size_bytes']:,} | {parity} |")
    return "\n".join(lines) + "\n"


def write_markdown(doc: dict[str, Any], path: str | Path | None) -> str:
    text = to_markdown(doc)
    if path:
        atomic.write_text(path, text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return text


def terminal_summary(doc: dict[str, Any]) -> str:
    """A short batch-1 table for the terminal; the full one is in the Markdown report."""
    rows = [r for r in doc["results"] if r["batch"] == 1]
    lines = [f"{'artifact':36s} {'runtime':15s} {'acc %':>6s} {'p50 us':>9s} {'parity':>7s}"]
    for r in rows:
        name = r["artifact"].rsplit("/", 1)[-1]
        if r["status"] != "ok":
            lines.append(f"{name:36s} {r['runtime']:15s} {r['status']}: {r['reason'][:60]}")
            continue
        acc = "" if r["accuracy"] is None else f"{r['accuracy']:.2f}"
        lines.append(f"{name:36s} {r['runtime']:15s} {acc:>6s} {r['latency_us']['p50']:9.1f} "
                     f"{r['parity'] or 'n/a':>7s}")
    return "\n".join(lines)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both cost (lower) and accuracy (higher)."""
    front = []
    for i, (cost, acc) in enumerate(points):
        dominated = any((c <= cost and a >= acc) and (c < cost or a > acc)
                        for j, (c, a) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def best_rows(doc: dict[str, Any], batch: int = 1) -> list[dict[str, Any]]:
    """One row per artifact: its fastest successful runtime at ``batch`` (keras-predict aside)."""
    best: dict[str, dict[str, Any]] = {}
    for r in doc["results"]:
        if (r["status"] == "ok" and r["batch"] == batch and r["accuracy"] is not None
                and r["runtime"] != "keras-predict"):
            key = r["artifact"]
            if key not in best or r["latency_us"]["p50"] < best[key]["latency_us"]["p50"]:
                best[key] = r
    return list(best.values())


def write_plots(doc: dict[str, Any], stem: str | Path) -> list[str]:
    """Accuracy vs latency and vs size, one point per artifact, Pareto front marked."""
    from edgedigits.plots import _pyplot, _save

    rows = best_rows(doc)
    if not rows:
        return []
    plt = _pyplot()
    written = []
    for axis, label, cost_of in (
            ("latency", "batch-1 latency, p50 (µs, log scale)", lambda r: r["latency_us"]["p50"]),
            ("size", "file size (bytes, log scale)", lambda r: r["size_bytes"])):
        points = [(float(cost_of(r)), float(r["accuracy"])) for r in rows]
        front = pareto_front(points)
        fig, ax = plt.subplots(figsize=(8, 5))
        recipes = sorted({r["recipe"] for r in rows})
        colors = dict(zip(recipes, plt.cm.tab10(np.linspace(0, 1, max(len(recipes), 2)))))
        markers = {"keras": "s", "tflite": "o", "onnx": "^"}
        for (cost, acc), r in zip(points, rows):
            ax.scatter(cost, acc, color=colors[r["recipe"]], marker=markers.get(r["format"], "o"),
                       s=30, alpha=0.8)
        fx = [points[i][0] for i in front]
        fy = [points[i][1] for i in front]
        ax.plot(fx, fy, "k--", lw=1, label="Pareto front")
        for i in front:
            ax.annotate(f"{rows[i]['model']}.{rows[i]['recipe']}.{rows[i]['format']}",
                        points[i], fontsize=6, xytext=(3, 3), textcoords="offset points")
        for recipe in recipes:  # colour = recipe, marker = file format
            ax.scatter([], [], color=colors[recipe], s=20,
                       label="trained model" if recipe == "keras" else recipe)
        for fmt, marker in markers.items():
            ax.scatter([], [], color="gray", marker=marker, label=f".{fmt} file", s=20)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2)
        ax.set_title(f"accuracy vs {axis} ({len(rows)} artifacts, fastest runtime each)")
        path = Path(f"{stem}_accuracy_vs_{axis}.png")
        _save(fig, path)
        written.append(str(path))
    return written
