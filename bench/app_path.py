"""The accuracy an app's users see, for every default model: MNIST's test digits redrawn as a
canvas or a camera frame gives them, through the preprocessing contract, with the naive
whole-frame resize beside it.

    python bench/app_path.py --out /tmp/app-path                 # the shipped weights
    python bench/app_path.py --out /tmp/zoo --label retrained    # models trained in /tmp/zoo

Exports each default model's float32 and int8 ``.tflite`` (from the models under ``--out``, else
the shipped weights), runs them in LiteRT on all 10,000 test digits three ways (as MNIST has
them; drawn by ``edgedigits/data/drawn.py`` with seed 37 and prepared by ``edgedigits.preprocess``;
drawn and squashed whole to 28x28), and breaks the contract's accuracy down by stroke and
polarity. Writes bench/results/app_path.{json,md}; ``--compare`` an earlier JSON to show both.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edgedigits import atomic, load_dataset
from edgedigits.benchmark import machine_info
from edgedigits.benchmark.app_path import APP_PATH_SEED, AppPath
from edgedigits.contract.preprocessing import NAME
from edgedigits.export import export
from edgedigits.markdown import table
from edgedigits.model_files import DEFAULT_MODELS
from edgedigits.runtimes import runner_for
from edgedigits.zoo import get_spec

RESULTS = Path(__file__).resolve().parent / "results"
RECIPES = ("float32", "int8")
MAX_GAP = 1.0  # points: the bar for the contract against MNIST's own pixels


def _pct(hits: np.ndarray) -> float:
    return round(100.0 * float(np.mean(hits)), 2) if len(hits) else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--label", default="shipped weights")
    parser.add_argument("--compare", type=Path, default=None, help="an earlier app_path.json")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = time.time()
    export(list(DEFAULT_MODELS), out=args.out, formats="tflite", recipes=",".join(RECIPES))
    data = load_dataset()
    path = AppPath(data.test_images, data.test_labels, n=args.images)
    labels = path.prepared()[3]
    strokes, inverted = np.array(path.strokes), np.array(path.inverted)
    kinds = sorted(set(path.strokes))
    rows = []
    for name in DEFAULT_MODELS:
        spec = get_spec(name)
        for recipe in RECIPES:
            file = args.out / name / f"{name}.{recipe}.tflite"
            with runner_for(file) as runner:
                digits = path.predictions(spec, runner, batch=1)
            hits = {k: v == labels for k, v in digits.items()}
            row = {
                "model": name,
                "file": file.name,
                "mnist": _pct(hits["mnist"]),
                "contract": _pct(hits["contract"]),
                "naive": _pct(hits["naive"]),
                "by_stroke": {s: _pct(hits["contract"][strokes == s]) for s in kinds},
                "dark_on_light": _pct(hits["contract"][inverted]),
                "light_on_dark": _pct(hits["contract"][~inverted]),
            }
            row["gap"] = round(row["contract"] - row["mnist"], 2)
            rows.append(row)
            print(
                f"{file.name}: MNIST {row['mnist']}%, contract {row['contract']}%, "
                f"naive {row['naive']}%"
            )
    widths = np.array([w if w is not None else np.nan for w in path.stroke_widths])
    doc = {
        "label": args.label,
        "contract": NAME,
        "images": int(len(labels)),
        "seed": APP_PATH_SEED,
        "strokes": {s: int((strokes == s).sum()) for s in sorted(set(strokes))},
        "dark_on_light": int(inverted.sum()),
        # the stroke widths the contract measured at its 80-px fit, before correcting them:
        # 10th, 50th and 90th percentiles per pen (MNIST's own strokes are the "as drawn" ones)
        "stroke_width_percentiles": {
            s: [round(float(v), 2) for v in np.nanpercentile(widths[strokes == s], [10, 50, 90])]
            for s in kinds
        },
        "rows": rows,
        "seconds": round(time.time() - started, 1),
        "machine": machine_info(),
    }
    earlier = json.loads(args.compare.read_text()) if args.compare else None
    args.results.mkdir(parents=True, exist_ok=True)
    if earlier:  # one level back is enough
        earlier = {k: v for k, v in earlier.items() if k != "earlier"}
    atomic.write_json(args.results / "app_path.json", {**doc, "earlier": earlier})
    atomic.write_text(args.results / "app_path.md", markdown(doc, earlier))
    worst = min(r["gap"] for r in rows if r["file"].endswith(".float32.tflite"))
    print(f"worst float32 gap {worst:+.2f} points (bar: -{MAX_GAP})")
    return 0


def markdown(doc: dict, earlier: dict | None) -> str:
    before = {r["file"]: r for r in (earlier or {}).get("rows", [])}
    strokes = list(doc["strokes"])
    header = ["file", "MNIST %", "app path %", "Δ pts"]
    header += [f"before: Δ pts ({earlier['contract']}, {earlier['label']})"] if earlier else []
    header += ["naive resize %", *(f"{s} %" for s in strokes), "dark on light %"]
    body = []
    for r in doc["rows"]:
        line = [r["file"], f"{r['mnist']:.2f}", f"{r['contract']:.2f}", f"{r['gap']:+.2f}"]
        if earlier:
            old = before.get(r["file"])
            line.append(f"{old['gap']:+.2f}" if old else "")
        line += [f"{r['naive']:.2f}", *(f"{r['by_stroke'][s]:.2f}" for s in strokes)]
        line.append(f"{r['dark_on_light']:.2f}")
        body.append(line)
    m = doc["machine"]
    counts = ", ".join(f"{n:,} {s}" for s, n in doc["strokes"].items())
    return "\n".join(
        [
            "# The app path: drawn digits through the preprocessing contract",
            "",
            f"Every default model's `.tflite` ({doc['label']}) in LiteRT, on all "
            f"{doc['images']:,} MNIST test digits three ways: as MNIST has them; redrawn as an "
            "app gets them (`edgedigits/data/drawn.py`, seed "
            f"{doc['seed']}: 35-90% of a 280x280, 240x320, 320x240, 200x400 or 360x480 "
            f"frame's shorter side, anywhere in it, strokes {counts}, "
            f"{doc['dark_on_light']:,} dark ink on a grey, noisy ground) and prepared by "
            f"`{doc['contract']}` (`edgedigits.preprocess`); and redrawn and squashed whole to "
            "28x28, as an app without the contract feeds it. *Δ pts*: app path minus MNIST, "
            f"the bar is -{MAX_GAP:.1f}. The stroke and polarity columns are the app path's.",
            "",
            *_widths(doc),
            *table(header, body, align="l" + "r" * (len(header) - 1)),
            "",
            f"Run with `python bench/app_path.py --out <folder>` in {doc['seconds']:.0f} s on "
            f"{m['cpu']}, {m['cores']} cores.",
            "",
        ]
    )


def _widths(doc: dict) -> list[str]:
    """The stroke widths the contract measured before correcting them, per pen."""
    found = doc.get("stroke_width_percentiles")
    if not found:
        return []
    parts = "; ".join(f"{s}: {p[0]:g}, {p[1]:g}, {p[2]:g}" for s, p in found.items())
    return [
        f"Stroke widths the contract measured at its 80-px fit, before bringing them into its "
        f"range (10th, 50th and 90th percentile; the as-drawn pictures are MNIST's own strokes): "
        f"{parts}.",
        "",
    ]


if __name__ == "__main__":
    raise SystemExit(main())
