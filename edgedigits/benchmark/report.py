"""Bench reports: versioned JSON (``edgedigits.bench/2``), Markdown, and Pareto plots.

JSON and Markdown come from the same records. The JSON schema ships as ``schema.json`` beside
this file and is documented in docs/reference/cli.md.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits import atomic
from edgedigits.benchmark import app_path, shipping
from edgedigits.benchmark.results import BenchReport
from edgedigits.markdown import table

PROFILE_TOP = 5  # operators listed per artifact in the Markdown profile section


KERNEL_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_int8",
    "amx_bf16",
)
# the ISA features that pick XNNPACK's and ONNX Runtime's CPU kernels: two machines that differ
# here can rank runtimes differently, so the gate notes it (baselines.different_cpu)


def machine_info() -> dict[str, Any]:
    """The machine, as /proc/cpuinfo names it. A hypervisor may mask the model name ("AMD
    EPYC"), so ``cpu_id`` adds vendor, family, model and stepping, and ``cpu_flags`` the
    kernel-relevant ISA flags."""
    from edgedigits.export.manifest import tool_versions

    cpu = platform.processor() or platform.machine()
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if not key:
                break  # the first processor's block is enough
            info.setdefault(key, value.strip())
    except OSError:
        pass
    cpu = info.get("model name", cpu)
    doc: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": tool_versions(),
    }
    if "cpu family" in info:
        doc["cpu_id"] = (
            f"{info.get('vendor_id', '?')} family {info['cpu family']} model "
            f"{info.get('model', '?')} stepping {info.get('stepping', '?')}"
        )
        flags = set(info.get("flags", "").split())
        doc["cpu_flags"] = [f for f in KERNEL_FLAGS if f in flags]
    return doc


def to_document(report: BenchReport) -> dict[str, Any]:
    options = report.options
    return {
        "schema": SCHEMA,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": {
            "runtimes": list(options.runtimes),
            "threads": options.threads,
            "batch_sizes": list(options.batch_sizes),
            "xnnpack": options.xnnpack,
            "warmup": options.timing.warmup,
            "rounds": options.timing.rounds,
            "min_runs": options.timing.min_runs,
            "min_seconds": options.timing.min_seconds,
            "timing_seed": options.timing.seed,
            "profile": options.profile,
            "test_images": options.test_limit or 10000,
            "tolerances": {k: vars(v) for k, v in options.tolerances.items()},
            "max_arena_bytes": options.max_arena_bytes,
            "max_flash_bytes": options.max_flash_bytes,
        },
        "results": [r.to_json() for r in report.results],
        "shipping": shipping.which_file_to_ship([r.to_json() for r in report.results]),
    }


SCHEMA = "edgedigits.bench/2"  # the report document's version; schema.json is its contract


def schema() -> dict[str, Any]:
    return json.loads((resources.files("edgedigits.benchmark") / "schema.json").read_text())


def write_json(report: BenchReport, path: str | Path) -> dict[str, Any]:
    doc = to_document(report)
    atomic.write_json(path, doc)
    return doc


def _fmt(value: Any, spec: str = "") -> str:
    return "" if value is None else format(value, spec)


def binding_costs(doc: dict[str, Any], batch: int = 1) -> dict[str, float]:
    """Median per-call binding cost (latency - compute, µs) per runtime at ``batch``."""
    costs: dict[str, list[float]] = {}
    for r in doc["results"]:
        if r["status"] == "ok" and r["batch"] == batch and r.get("binding_us") is not None:
            costs.setdefault(r["runtime"], []).append(r["binding_us"])
    return {k: float(np.median(v)) for k, v in costs.items()}


def to_markdown(doc: dict[str, Any]) -> str:
    m, s = doc["machine"], doc["settings"]
    lines = [
        f"# edgedigits bench ({doc['created']})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['os']}, Python {m['python']}; "
        f"threads {s['threads']}, XNNPACK {'on' if s['xnnpack'] else 'off'}, "
        f"{s['test_images']} test images; latency from {s['rounds']} interleaved rounds.",
        "",
        "*latency* is the call an app makes (set input, run, read output; bindings "
        "cached at load); *compute* is the runtime's work alone on an input already bound "
        "(batch 1); "
        "*executed* is what the runtime reports it ran. *par. batch*: the batch the test set "
        "was scored at (1 when an artifact's outputs depend on the batch).",
        "",
    ]
    lines[2:2] = shipping.markdown(doc.get("shipping") or [])  # the first answer a user wants
    lines += app_path.markdown(doc)  # the accuracy an app's users see
    costs = binding_costs(doc)
    if costs:
        lines += [
            "Binding cost per call at batch 1 (median latency - compute, µs): "
            + ", ".join(f"{rt} {v:.2f}" for rt, v in costs.items())
            + ".",
            "",
        ]
    rows = []
    for r in doc["results"]:
        name = Path(r["artifact"]).name
        if r["status"] != "ok":
            rows.append(
                [
                    r["model"],
                    name,
                    r["runtime"],
                    r["batch"],
                    *[""] * 13,
                    f"{r['status']}: {r['reason']}",
                ]
            )
            continue
        lat = r["latency_us"]
        parity = r["parity"] or "n/a"
        if r["parity"] == "fail":
            parity = "FAIL: " + "; ".join(r["parity_failures"])
        if str(r.get("integrity") or "").startswith("MODIFIED"):
            parity = f"{r['integrity']}; {parity}"
        rows.append(
            [
                r["model"],
                name,
                r["runtime"],
                r["batch"],
                _fmt(r["accuracy"], ".2f"),
                _fmt(r["accuracy_delta"], "+.2f"),
                "" if r["agreement"] is None else f"{100 * r['agreement']:.2f}",
                _fmt(r["max_abs_diff"], ".1e"),
                _fmt(r.get("parity_batch")),
                f"{lat['p50']:.1f}",
                f"{lat['p99']:.1f}",
                "" if not r.get("compute_us") else f"{r['compute_us']['p50']:.1f}",
                f"{r['latency_per_image_us']['p50']:.2f}",
                f"{r['throughput_per_s']:,.0f}",
                f"{r['load_ms']:.1f}",
                f"{r['size_bytes']:,}",
                r.get("provider") or "",
                parity,
            ]
        )
    lines += table(
        [
            "model",
            "artifact",
            "runtime",
            "batch",
            "acc %",
            "Δ pts",
            "agree %",
            "max abs diff",
            "par. batch",
            "latency p50 µs",
            "p99 µs",
            "compute p50 µs",
            "µs/img",
            "img/s",
            "load ms",
            "size",
            "executed",
            "parity",
        ],
        rows,
        "lllrrrrrrrrrrrrrll",
    )
    lines += mcu_fit(doc)
    profiled = [
        r
        for r in doc["results"]
        if r["status"] == "ok" and r["batch"] == 1 and r.get("profile_note")
    ]
    if profiled:
        lines += ["", "## Where the time goes (batch 1, the runtime's own profiler)", ""]
        without: dict[str, str] = {}
        for r in profiled:
            if not r.get("profile"):
                without[r["runtime"]] = r["profile_note"]
                continue
            top = ", ".join(
                f"{o['op']} {o['us_per_run']:.1f} µs ({100 * o['share']:.0f}%, "
                f"{o['nodes']} node{'s' if o['nodes'] != 1 else ''})"
                for o in r["profile"][:PROFILE_TOP]
            )
            lines.append(f"* {Path(r['artifact']).name} on {r['runtime']} ({r['provider']}): {top}")
        lines += [f"* {runtime}: {note}" for runtime, note in without.items()]
    return "\n".join(lines) + "\n"


def mcu_fit(doc: dict[str, Any]) -> list[str]:
    """The "MCU fit" table: flash and measured arena of every file a microcontroller runtime
    loaded (batch 1), against the budgets when given."""
    rows = [
        r
        for r in doc["results"]
        if r["status"] == "ok" and r["batch"] == 1 and r.get("arena_bytes") is not None
    ]
    if not rows:
        return []
    s = doc["settings"]
    budget = ", ".join(
        f"{k.replace('max_', '').replace('_bytes', '')} <= {s[k]:,} bytes"
        for k in ("max_flash_bytes", "max_arena_bytes")
        if s.get(k)
    )
    lines = [
        "",
        "## MCU fit (TensorFlow Lite Micro, measured)",
        "",
        f"Budgets: {budget or 'none given (--max-flash-bytes, --max-arena-bytes)'}.",
        "",
        "Accuracy on the full test set; latency is the host build's, batch 1: it ranks files, "
        "it is not the time on a microcontroller.",
        "",
        *table(
            [
                "model",
                "recipe",
                "runtime",
                "flash bytes",
                "arena bytes",
                "acc %",
                "host µs p50",
                "fits",
            ],
            [
                _fit_row(r, budget)
                for r in sorted(rows, key=lambda r: (r["model"], r["flash_bytes"] or 0))
            ],
            "lllrrrrl",
        ),
    ]
    return lines


def _fit_row(r: dict[str, Any], budget: str) -> list[Any]:
    fits = (
        "NO: " + "; ".join(r["budget_failures"])
        if r.get("budget_failures")
        else ("yes" if budget else "")
    )
    return [
        r["model"],
        r["recipe"],
        r["runtime"],
        f"{r['flash_bytes']:,}",
        f"{r['arena_bytes']:,}",
        "" if r.get("accuracy") is None else f"{r['accuracy']:.2f}",
        f"{r['latency_us']['p50']:.1f}" if r.get("latency_us") else "",
        fits,
    ]


def write_markdown(doc: dict[str, Any], path: str | Path | None) -> str:
    """The Markdown report, written to ``path`` when given. (A CI job appends the file to its
    step summary itself: see .github/workflows/edgedigits-bench.yml.)"""
    text = to_markdown(doc)
    if path:
        atomic.write_text(path, text)
    return text


def terminal_summary(doc: dict[str, Any]) -> str:
    """A short batch-1 table for the terminal; the full one is in the Markdown report."""
    rows = [r for r in doc["results"] if r["batch"] == 1]
    lines = [
        f"{'artifact':36s} {'runtime':19s} {'acc %':>6s} {'p50 us':>9s} {'compute':>9s} "
        f"{'parity':>7s}  executed"
    ]
    for r in rows:
        name = r["artifact"].rsplit("/", 1)[-1]
        if r["status"] != "ok":
            lines.append(f"{name:36s} {r['runtime']:19s} {r['status']}: {r['reason'][:70]}")
            continue
        acc = "" if r["accuracy"] is None else f"{r['accuracy']:.2f}"
        compute = f"{r['compute_us']['p50']:9.1f}" if r.get("compute_us") else f"{'':9s}"
        lines.append(
            f"{name:36s} {r['runtime']:19s} {acc:>6s} {r['latency_us']['p50']:9.1f} "
            f"{compute} {r['parity'] or 'n/a':>7s}  {r.get('provider') or ''}"
        )
    return "\n".join(lines)


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points no other point beats on both cost (lower) and accuracy (higher)."""
    front = []
    for i, (cost, acc) in enumerate(points):
        dominated = any(
            (c <= cost and a >= acc) and (c < cost or a > acc)
            for j, (c, a) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def best_rows(doc: dict[str, Any], batch: int = 1) -> list[dict[str, Any]]:
    """One row per artifact: its fastest successful runtime at ``batch`` (keras-predict aside)."""
    best: dict[str, dict[str, Any]] = {}
    for r in doc["results"]:
        if (
            r["status"] == "ok"
            and r["batch"] == batch
            and r["accuracy"] is not None
            and r["runtime"] != "keras-predict"
        ):
            key = r["artifact"]
            if key not in best or r["latency_us"]["p50"] < best[key]["latency_us"]["p50"]:
                best[key] = r
    return list(best.values())


def write_plots(doc: dict[str, Any], stem: str | Path) -> list[str]:
    """Accuracy vs latency and vs size, one point per artifact, Pareto front marked."""
    from edgedigits.plots import pyplot, save_figure

    rows = best_rows(doc)
    if not rows:
        return []
    plt = pyplot()
    written = []
    for axis, label, cost_of in (
        ("latency", "batch-1 latency, p50 (µs, log scale)", lambda r: r["latency_us"]["p50"]),
        ("size", "file size (bytes, log scale)", lambda r: r["size_bytes"]),
    ):
        points = [(float(cost_of(r)), float(r["accuracy"])) for r in rows]
        front = pareto_front(points)
        fig, ax = plt.subplots(figsize=(8, 5))
        recipes = sorted({r["recipe"] for r in rows})
        colors = dict(zip(recipes, plt.cm.tab10(np.linspace(0, 1, max(len(recipes), 2)))))
        markers = {"keras": "s", "tflite": "o", "onnx": "^"}
        for (cost, acc), r in zip(points, rows):
            ax.scatter(
                cost,
                acc,
                color=colors[r["recipe"]],
                marker=markers.get(r["format"], "o"),
                s=30,
                alpha=0.8,
            )
        fx = [points[i][0] for i in front]
        fy = [points[i][1] for i in front]
        ax.plot(fx, fy, "k--", lw=1, label="Pareto front")
        for i in front:
            ax.annotate(
                f"{rows[i]['model']}.{rows[i]['recipe']}.{rows[i]['format']}",
                points[i],
                fontsize=6,
                xytext=(3, 3),
                textcoords="offset points",
            )
        for recipe in recipes:  # colour = recipe, marker = file format
            ax.scatter(
                [],
                [],
                color=colors[recipe],
                s=20,
                label="trained model" if recipe == "keras" else recipe,
            )
        for fmt, marker in markers.items():
            ax.scatter([], [], color="gray", marker=marker, label=f".{fmt} file", s=20)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2)
        ax.set_title(f"accuracy vs {axis} ({len(rows)} artifacts, fastest runtime each)")
        path = Path(f"{stem}_accuracy_vs_{axis}.png")
        save_figure(fig, path)
        written.append(str(path))
    return written
