"""Benchmark: how many training images the fine-tuning recipes (qat, pruned, clustered) need.

    python bench/finetune_samples.py [--samples 60000,20000,10000] [MODEL ...]  # default models

Exports each model's ``qat``, ``pruned`` and ``clustered`` TFLite files once per sample count
(one epoch over that many training images, the same seed), from the shipped weights, in a
temporary folder, and scores every file on the full 10,000-image test set in LiteRT, beside the
model's own float accuracy. It also records each recipe's export time, which the fine-tuning
dominates. The default of ``edgedigits export --finetune-samples`` is chosen from this table:
the fewest images whose files stay within ``--max-drop`` points of the whole training split's.
Writes ``bench/results/finetune_samples.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edgedigits.markdown import table as markdown_table

RESULTS = Path(__file__).resolve().parent / "results"
RECIPES = ("qat", "pruned", "clustered")


def tflite_accuracy(path: Path, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of a .tflite file on the whole set in one batch, quantizing the input the
    way the file's input tensor says (full-integer files)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    given, taken = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(given["index"], [len(images), *given["shape"][1:]])
    interpreter.allocate_tensors()
    x = images.reshape(len(images), *given["shape"][1:]).astype(np.float32)
    if given["dtype"] != np.float32:
        scale, zero = given["quantization"]
        info = np.iinfo(given["dtype"])
        x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(given["dtype"])
    interpreter.set_tensor(given["index"], x)
    interpreter.invoke()
    predicted = interpreter.get_tensor(taken["index"]).argmax(1)
    return round(float((predicted == labels).mean() * 100), 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*")
    parser.add_argument("--samples", default="60000,20000,10000")
    parser.add_argument(
        "--max-drop",
        type=float,
        default=0.1,
        help="points a file may lose against the whole split's (default 0.1)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from edgedigits.data import load_dataset
    from edgedigits.export import ExportOptions, FinetuneOptions, export
    from edgedigits.model_files import DEFAULT_MODELS
    from edgedigits.zoo import get_spec
    from edgedigits.zoo.pretrained import pretrained

    data = load_dataset()
    models = args.models or list(DEFAULT_MODELS)
    counts = [int(s) for s in args.samples.split(",")]
    rows = []
    for samples in counts:
        with tempfile.TemporaryDirectory() as out:
            options = ExportOptions(
                formats="tflite",
                recipes=",".join(RECIPES),
                finetune=FinetuneOptions(samples=samples),
            )
            for model in models:
                spec = get_spec(model)
                images = spec.preprocess(data.test_images).astype(np.float32)
                started = time.perf_counter()
                report = export([model], out=out, options=options, log=lambda line: None)
                total = time.perf_counter() - started
                for record in report.records:
                    if not record.ok:
                        raise SystemExit(f"{model} {record.recipe}: {record.reason}")
                    rows.append(
                        {
                            "model": model,
                            "recipe": record.recipe,
                            "samples": samples,
                            "float_accuracy": pretrained(model).test_accuracy,
                            "accuracy": tflite_accuracy(
                                Path(out) / model / record.file, images, data.test_labels
                            ),
                            "export_seconds_all_three": round(total, 1),
                        }
                    )
                    print(json.dumps(rows[-1]), flush=True)
    whole = max(counts)
    for row in rows:
        base = next(
            r["accuracy"]
            for r in rows
            if r["model"] == row["model"] and r["recipe"] == row["recipe"] and r["samples"] == whole
        )
        row["drop_vs_whole"] = round(base - row["accuracy"], 2)
    chosen = min(
        (
            n
            for n in counts
            if all(r["drop_vs_whole"] <= args.max_drop for r in rows if r["samples"] == n)
        ),
        default=whole,
    )
    seconds = {
        n: round(
            sum(
                {
                    r["model"]: r["export_seconds_all_three"] for r in rows if r["samples"] == n
                }.values()
            ),
            1,
        )
        for n in counts
    }
    document = {
        "command": "python bench/finetune_samples.py " + " ".join(sys.argv[1:]),
        "cpu": platform.processor() or platform.machine(),
        "models": models,
        "samples": counts,
        "max_drop": args.max_drop,
        "chosen": chosen,
        "export_seconds": seconds,
        "rows": rows,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "finetune_samples.json").write_text(json.dumps(document, indent=2) + "\n")
    lines = [
        "# Fine-tuning images for qat, pruned and clustered",
        "",
        f"`{document['command']}`. One epoch over the first N shuffled training images "
        "(seed 0) from the shipped weights; each file scored in LiteRT on the full "
        "10,000-image test set. Drop: points lost against the whole training split "
        f"({whole} images).",
        "",
    ]
    table_rows = []
    for model in models:
        for recipe in RECIPES:
            mine = {r["samples"]: r for r in rows if r["model"] == model and r["recipe"] == recipe}
            drops = max(mine[n]["drop_vs_whole"] for n in counts)
            table_rows.append(
                [
                    model,
                    recipe,
                    f"{mine[whole]['float_accuracy']:.2f}",
                    *(f"{mine[n]['accuracy']:.2f}" for n in counts),
                    f"{drops:+.2f}",
                ]
            )
    lines += markdown_table(
        ["model", "recipe", "float %", *(f"{n} images %" for n in counts), "largest drop"],
        table_rows,
        "llr" + "r" * (len(counts) + 1),
    )
    lines += [
        "",
        "Export time of the three recipes for all models: "
        + ", ".join(f"{n} images {seconds[n]} s" for n in counts)
        + ".",
        "",
        f"Fewest images within {args.max_drop} points of the whole split on every file: "
        f"**{chosen}**.",
        "",
    ]
    (args.results / "finetune_samples.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
