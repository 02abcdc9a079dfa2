"""Benchmark: train the whole zoo with each seed's recipe on the full data, and commit the table.

    python bench/train_zoo.py            # ~35 min on 2 CPU cores
    python bench/train_zoo.py --only seed003_ann16_relu seed004_cnn

Writes ``bench/results/train_zoo.{md,json}`` and ``bench/results/zoo_accuracy.png`` (trained models
go to ``--out``, default ``exports/``, which git ignores; ``--results`` moves the files). Each
model's test accuracy is set beside the accuracy its shipped weights recorded
(``edgedigits.zoo.pretrained``): training is seeded and deterministic on one CPU kind, not
bit-identical across kinds. ``--check POINTS`` exits 1 when a model lands further than that from
its shipped weights: ``.ci/run`` retrains one model this way, so a broken recipe cannot hide
behind shipped weights.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

from edgedigits import atomic
from edgedigits.benchmark import machine_info
from edgedigits.markdown import table as markdown_table
from edgedigits.training import train, write_summary
from edgedigits.zoo.pretrained import pretrained

RESULTS = Path(__file__).resolve().parent / "results"


def table(results, info) -> str:
    rows = []
    for r in results:
        ours = (
            r.final_val_accuracy
            if (r.reported_metric or "").startswith("validation")
            else r.test_accuracy
        )
        diff = f"{ours - r.reported_percent:+.2f}" if r.reported_percent is not None else ""
        reported = f"{r.reported_percent:.2f} ({r.reported_metric})" if r.reported_percent else ""
        val = f"{r.final_val_accuracy:.2f}" if r.final_val_accuracy is not None else ""
        entry = pretrained(r.model)
        shipped = f"{entry.test_accuracy:.2f}" if entry else ""
        vs = f"{r.test_accuracy - entry.test_accuracy:+.2f}" if entry else ""
        rows.append(
            [
                r.model,
                f"{r.params:,}",
                f"{r.epochs_run}/{r.epochs_requested}",
                f"{r.test_accuracy:.2f}",
                shipped,
                vs,
                val,
                reported,
                diff,
                f"{r.train_seconds:.0f}",
            ]
        )
    head = markdown_table(
        [
            "model",
            "params",
            "epochs run",
            "test acc %",
            "shipped weights %",
            "vs shipped (pts)",
            "final val acc %",
            "seed reported %",
            "diff (pts)",
            "train s",
        ],
        rows,
        "lrrrrrrrrr",
    )
    note = (
        f"\nMachine: {info['cpu']}, {info['cores']} cores, {info['os']}, Python "
        f"{info['python']}, TensorFlow {info['packages']['tensorflow']}. Seed 0, full "
        "60,000/10,000 MNIST, each seed's own recipe (`edgedigits zoo`). 'diff' compares "
        "like with like: our final validation accuracy where the seed reports validation "
        "accuracy, else our test accuracy.\n"
    )
    return "\n".join(head) + "\n" + note


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="train just these models")
    parser.add_argument("--out", default="exports")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="where the table, JSON and chart go (default bench/results)",
    )
    parser.add_argument(
        "--check",
        type=float,
        default=None,
        metavar="POINTS",
        help="exit 1 if a model's test accuracy is further than POINTS from its shipped weights'",
    )
    args = parser.parse_args(argv)
    results = train(
        args.only or (), all_models=not args.only, out=args.out, seed=args.seed, verbose=2
    )
    results = write_summary(args.out)  # everything trained under --out, in zoo order
    info = machine_info()
    args.results.mkdir(parents=True, exist_ok=True)
    atomic.write_text(
        args.results / "train_zoo.md", "# Full-zoo training\n\n" + table(results, info)
    )
    atomic.write_json(
        args.results / "train_zoo.json", {"machine": info, "results": [asdict(r) for r in results]}
    )
    shutil.copyfile(Path(args.out) / "zoo_accuracy.png", args.results / "zoo_accuracy.png")
    print(table(results, info))
    if args.check is not None:
        shipped = {r.model: pretrained(r.model) for r in results}
        far = [
            f"{r.model} {r.test_accuracy:.2f}% vs shipped {shipped[r.model].test_accuracy:.2f}%"
            for r in results
            if shipped[r.model]
            and abs(r.test_accuracy - shipped[r.model].test_accuracy) > args.check
        ]
        missing = [r.model for r in results if shipped[r.model] is None]
        for line in far + [f"{m}: no shipped weights to compare with" for m in missing]:
            print(f"train_zoo: check failed: {line} (limit {args.check:g} points)", file=sys.stderr)
        if far or missing:
            return 1
        print(
            f"train_zoo: check passed: {len(results)} model(s) within {args.check:g} points "
            "of their shipped weights"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
