"""Condense a TensorFlow Lite Micro bench report into the microcontroller lines docs/results quotes.

    python bench/summarize_mcu.py bench/results/bench_zoo_tflm.json bench/results/bench_zoo.json \
        > bench/results/bench_zoo_tflm_summary.md

The first report holds the ``tflm`` rows (``edgedigits bench --runtimes tflm``); the optional
second one the LiteRT rows of the same artifacts, for TFLM's accuracy against LiteRT's. Every
sentence is computed from the committed JSON, so the docs cannot drift from the measurement.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from edgedigits.markdown import table as markdown_table

# Round budgets to say what fits where: a small part (Cortex-M0+/M4 class, 32 KB of RAM for the
# arena, 128 KB of flash for the model) and a mid-range one (256 KB / 1 MB).
BUDGETS = (
    ("32 KB arena, 128 KB flash", 32 * 1024, 128 * 1024),
    ("256 KB arena, 1 MB flash", 256 * 1024, 1024 * 1024),
)


def _key(row: dict) -> str:
    return Path(row["artifact"]).name


def summarize(tflm_doc: dict, litert_doc: dict | None = None) -> str:
    rows = [r for r in tflm_doc["results"] if r["runtime"] == "tflm" and r["batch"] == 1]
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] == "failed"]
    lines = [
        "# TensorFlow Lite Micro on the zoo",
        "",
        f"`edgedigits bench --runtimes tflm` of {tflm_doc.get('created', '')}: TFLM's host "
        "build (reference kernels), batch 1, "
        "one image per invoke(), full test set. Latency is host time, not MCU time.",
        "",
        "## Per recipe",
        "",
    ]
    by_recipe: dict[str, list[dict]] = defaultdict(list)
    for r in ok:
        by_recipe[r["recipe"]].append(r)
    table_rows = []
    for recipe, group in sorted(
        by_recipe.items(), key=lambda kv: min(r["arena_bytes"] for r in kv[1])
    ):
        arena = [r["arena_bytes"] for r in group]
        flash = [r["flash_bytes"] for r in group]
        delta = [r["accuracy_delta"] for r in group if r.get("accuracy_delta") is not None]
        passed = sum(r.get("parity") == "pass" for r in group)
        table_rows.append(
            [
                recipe,
                len(group),
                f"{min(arena):,}-{max(arena):,}",
                f"{min(flash):,}-{max(flash):,}",
                f"{min(delta):+.2f} to {max(delta):+.2f}",
                f"{passed}/{len(group)}",
            ]
        )
    lines += markdown_table(
        [
            "recipe",
            "artifacts",
            "arena bytes (min-max)",
            "flash bytes (min-max)",
            "accuracy change vs Keras, points (min-max)",
            "parity",
        ],
        table_rows,
        "lrrrrr",
    )
    lines += ["", "## Findings", ""]
    reasons = defaultdict(list)
    for r in failed:
        reasons[(r["recipe"], r["reason"])].append(r["model"])
    for (recipe, reason), models in sorted(reasons.items()):
        lines.append(f"* {len(models)} `{recipe}` file(s) cannot run in TFLM: {reason}")
    for label, arena_max, flash_max in BUDGETS:
        fits = [r for r in ok if r["arena_bytes"] <= arena_max and r["flash_bytes"] <= flash_max]
        models = sorted({r["model"] for r in fits})
        lines.append(
            f"* Fit {label}: {len(fits)} of {len(ok)} runnable files, from {len(models)} model(s)"
        )
    int8 = sorted((r for r in ok if r["recipe"] == "int8"), key=lambda r: r["arena_bytes"])
    if int8:
        lines.append(
            "* int8 arena per model: "
            + ", ".join(f"{r['model']} {r['arena_bytes']:,}" for r in int8)
        )
    float32 = {r["model"]: r for r in ok if r["recipe"] == "float32"}
    shrink = [
        float32[r["model"]]["arena_bytes"] / r["arena_bytes"] for r in int8 if r["model"] in float32
    ]
    if shrink:
        lines.append(
            f"* float32 arena / int8 arena: {min(shrink):.2f}-{max(shrink):.2f}x "
            f"({len(shrink)} models)"
        )
    if litert_doc is not None:
        litert = {
            _key(r): r
            for r in litert_doc["results"]
            if r["runtime"] == "litert" and r["batch"] == 1 and r["status"] == "ok"
        }
        diffs = [
            (abs(r["accuracy"] - litert[_key(r)]["accuracy"]), _key(r))
            for r in ok
            if _key(r) in litert and r.get("accuracy") is not None
        ]
        if diffs:
            worst = max(diffs)
            same = sum(d == 0 for d, _ in diffs)
            lines.append(
                f"* Accuracy in TFLM against LiteRT (XNNPACK) on the same file, full test "
                f"set: identical on {same} of {len(diffs)} files, at most "
                f"{worst[0]:.2f} points apart ({worst[1]})"
            )
    slow = sorted(ok, key=lambda r: r["latency_us"]["p50"])
    if slow:
        lines.append(
            f"* Host latency, batch 1: {slow[0]['latency_us']['p50']:.1f} µs "
            f"({_key(slow[0])}) to {slow[-1]['latency_us']['p50']:.1f} µs "
            f"({_key(slow[-1])})"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    docs = [json.loads(Path(p).read_text()) for p in argv]
    print(summarize(docs[0], docs[1] if len(docs) > 1 else None), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
