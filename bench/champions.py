"""Benchmark: the champions against every seed model, from one bench run of every int8 .tflite.

    edgedigits bench --out exports --runtimes litert,tflm --batch 1 \\
        --json bench/results/champions_bench.json \\
        $(ls exports/*/*.int8.tflite)                    # ~5 min: every model's int8 file
    python bench/champions.py bench/results/champions_bench.json

A deployer picks one int8 file: a champion *dominates* a seed model when its int8 .tflite is at
least as accurate (LiteRT, full test set), no larger (bytes on disk) and no slower (LiteRT batch-1
p50, same run). Writes ``bench/results/champions.{md,json}`` (the per-model table, which seed
models each champion dominates, each goal met or not) and two plots with the Pareto front marked:
``champions_accuracy_vs_int8_size.png`` and ``champions_accuracy_vs_latency.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgedigits import atomic
from edgedigits.benchmark import pareto_front
from edgedigits.markdown import table as markdown_table

RESULTS = Path(__file__).resolve().parent / "results"
CHAMPIONS = ("edge_cnn_small", "edge_cnn_micro")
LATENCY_REFERENCE = "seed004_cnn"  # the issue: no slower than its int8 file in the same run
# Deployment goals per champion (int8 accuracy is judged against the float model's).
GOALS = {
    "edge_cnn_small": {"int8_drop_pts": 0.1, "int8_bytes": 16 * 1024, "arena_bytes": 12 * 1024},
    "edge_cnn_micro": {"int8_drop_pts": 0.2, "int8_bytes": 8 * 1024, "arena_bytes": 6 * 1024},
}


def int8_rows(doc: dict) -> dict[str, dict]:
    """Per model: its int8 .tflite in LiteRT at batch 1, with TFLM's arena where measured."""
    models: dict[str, dict] = {}
    for r in doc["results"]:
        if r["format"] != "tflite" or r["recipe"] != "int8" or r["batch"] != 1:
            continue
        row = models.setdefault(r["model"], {"model": r["model"]})
        if r["status"] != "ok":
            row.setdefault("failed", []).append(f"{r['runtime']}: {r['reason']}")
            continue
        if r["runtime"] == "litert":
            row.update(
                accuracy=r["accuracy"],
                float_accuracy=r["reference_accuracy"],
                size_bytes=r["size_bytes"],
                latency_us=r["latency_us"]["p50"],
                parity=r["parity"],
            )
        elif r["runtime"] == "tflm":
            row.update(arena_bytes=r.get("arena_bytes"), tflm_accuracy=r["accuracy"])
    return {m: r for m, r in models.items() if "accuracy" in r}


def dominates(a: dict, b: dict) -> bool:
    """At least as accurate, no larger, no slower (ties allowed on every axis)."""
    return (
        a["accuracy"] >= b["accuracy"]
        and a["size_bytes"] <= b["size_bytes"]
        and a["latency_us"] <= b["latency_us"]
    )


def compare(doc: dict) -> dict:
    rows = int8_rows(doc)
    seeds = [m for m in rows if m.startswith("seed")]
    reference = rows.get(LATENCY_REFERENCE)
    champions = {}
    for name in CHAMPIONS:
        if name not in rows:
            continue
        c, goal = rows[name], GOALS[name]
        champions[name] = {
            "dominates": [s for s in seeds if dominates(c, rows[s])],
            "not_dominated": {s: _why_not(c, rows[s]) for s in seeds if not dominates(c, rows[s])},
            "goals": {
                "int8_within_float": c["float_accuracy"] - c["accuracy"] <= goal["int8_drop_pts"],
                "int8_bytes": c["size_bytes"] <= goal["int8_bytes"],
                "arena_bytes": c.get("arena_bytes") is not None
                and c["arena_bytes"] <= goal["arena_bytes"],
                "no_slower_than_" + LATENCY_REFERENCE: reference is not None
                and c["latency_us"] <= reference["latency_us"],
            },
            "goal_values": goal,
        }
    return {
        "rows": rows,
        "champions": champions,
        "bench_created": doc.get("created"),
        "bench_settings": doc.get("settings"),
    }


def _why_not(c: dict, s: dict) -> str:
    reasons = []
    if c["accuracy"] < s["accuracy"]:
        reasons.append(f"less accurate ({c['accuracy']:.2f} < {s['accuracy']:.2f} %)")
    if c["size_bytes"] > s["size_bytes"]:
        reasons.append(f"larger ({c['size_bytes']:,} > {s['size_bytes']:,} bytes)")
    if c["latency_us"] > s["latency_us"]:
        reasons.append(f"slower ({c['latency_us']:.1f} > {s['latency_us']:.1f} µs)")
    return "; ".join(reasons)


def markdown(result: dict) -> str:
    rows = result["rows"]
    lines = markdown_table(
        [
            "model",
            "float acc %",
            "int8 acc %",
            "int8 bytes",
            "LiteRT int8 p50 µs",
            "TFLM arena bytes",
            "parity",
        ],
        [
            [
                f"**{name}**" if name in CHAMPIONS else name,
                f"{r['float_accuracy']:.2f}",
                f"{r['accuracy']:.2f}",
                f"{r['size_bytes']:,}",
                f"{r['latency_us']:.1f}",
                f"{r['arena_bytes']:,}" if r.get("arena_bytes") else "",
                r["parity"],
            ]
            for name, r in sorted(rows.items(), key=lambda kv: kv[1]["size_bytes"])
        ],
        "lrrrrrl",
    )
    for name, c in result["champions"].items():
        seeds = len(c["dominates"]) + len(c["not_dominated"])
        lines += [
            "",
            f"## {name}",
            "",
            f"Dominates ({len(c['dominates'])} of {seeds} seed "
            f"models): {', '.join(c['dominates']) or 'none'}.",
            "",
        ]
        if c["not_dominated"]:
            lines.append(
                "Not dominated: "
                + "; ".join(f"{s} ({why})" for s, why in c["not_dominated"].items())
                + "."
            )
            lines.append("")
        lines += markdown_table(
            ["goal", "met"], [[goal, "yes" if ok else "**no**"] for goal, ok in c["goals"].items()]
        )
    settings = result.get("bench_settings") or {}
    lines += [
        "",
        f"From one bench run ({result.get('bench_created')}; threads "
        f"{settings.get('threads')}): every model's int8 .tflite in LiteRT at batch 1 "
        "(accuracy on the full test set, latency p50) and in TFLM (arena). A champion "
        "dominates a seed model when it is at least as accurate, no larger and no "
        "slower.",
    ]
    return "\n".join(lines) + "\n"


def plots(result: dict, stem: Path) -> list[str]:
    from edgedigits.plots import pyplot, save_figure

    plt = pyplot()
    rows = list(result["rows"].values())
    written = []
    for axis, label, cost in (
        ("int8_size", "int8 .tflite size (bytes, log scale)", "size_bytes"),
        ("latency", "LiteRT int8 batch-1 latency p50 (µs, log scale)", "latency_us"),
    ):
        points = [(float(r[cost]), float(r["accuracy"])) for r in rows]
        front = set(pareto_front(points))
        fig, ax = plt.subplots(figsize=(8, 5))
        for i, ((x, y), r) in enumerate(zip(points, rows)):
            ours = r["model"] in CHAMPIONS
            ax.scatter(
                x,
                y,
                marker="*" if ours else "o",
                s=140 if ours else 30,
                color="tab:red" if ours else ("black" if i in front else "tab:gray"),
                zorder=3,
            )
            ax.annotate(r["model"], (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ordered = sorted(front, key=lambda i: points[i][0])
        ax.plot(
            [points[i][0] for i in ordered],
            [points[i][1] for i in ordered],
            "k--",
            lw=1,
            label="Pareto front",
        )
        ax.scatter([], [], marker="*", color="tab:red", s=80, label="champions")
        ax.scatter(
            [],
            [],
            marker="o",
            color="tab:gray",
            s=20,
            label="other zoo models (black: on the front)",
        )
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("int8 test accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
        ax.set_title(f"int8 .tflite: accuracy vs {axis.replace('_', ' ')} ({len(rows)} models)")
        path = Path(f"{stem}_accuracy_vs_{axis}.png")
        save_figure(fig, path)
        written.append(str(path))
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_json", help="the bench report (edgedigits.bench/2)")
    args = parser.parse_args(argv)
    result = compare(json.loads(Path(args.bench_json).read_text()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = "# Champions against the seed models (int8 .tflite)\n\n" + markdown(result)
    atomic.write_text(RESULTS / "champions.md", text)
    atomic.write_json(RESULTS / "champions.json", result)
    plots(result, RESULTS / "champions")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
