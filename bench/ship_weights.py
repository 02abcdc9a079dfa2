"""Write the shipped weights and their index from a full-zoo training run.

    python bench/train_zoo.py --out /tmp/zoo          # every model, its recipe, seed 0
    python bench/ship_weights.py --trained /tmp/zoo   # -> edgedigits/zoo/weights/

Each trained model is read the safe way (``spec.build()`` plus its arrays) and its weights alone
are saved (``<name>.weights.h5``: tf_keras' weights-only layout, no architecture); ``--only``
re-ships some models and keeps the others' entries. The index
records each file's SHA-256 and size, the test accuracy, seed, recipe and time of the training
run, the machine and the package versions. Regenerate only when a recipe changes, in a commit of
its own: every artifact and the latency baselines follow from these weights.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from edgedigits import atomic
from edgedigits.benchmark import machine_info
from edgedigits.markdown import table as markdown_table
from edgedigits.model_files import file_sha256, load_trained_model, model_dir, model_path
from edgedigits.zoo import get_spec, list_models
from edgedigits.zoo.pretrained import index_document

WEIGHTS = Path(__file__).resolve().parents[1] / "edgedigits" / "zoo" / "weights"
VERSIONS = ("edgedigits", "tensorflow", "tf-keras", "numpy")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--trained", type=Path, required=True, help="the --out folder of a full-zoo training run"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="TRAIN_ZOO_JSON",
        help="an earlier bench/train_zoo.py result to set the accuracies beside",
    )
    parser.add_argument(
        "--compare-out",
        type=Path,
        default=Path("bench/results/shipped_weights_vs_earlier_training.md"),
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="NAME",
        help="re-ship just these models (their recipe changed); the others' entries stay",
    )
    args = parser.parse_args(argv)
    machine = machine_info()
    entries = {}
    if args.only:
        entries = json.loads((WEIGHTS / "index.json").read_text())["models"]
    for name in args.only or list_models():
        metrics = json.loads((model_dir(args.trained, name) / "metrics.json").read_text())
        if (
            metrics.get("weights", "trained") != "trained"
            or metrics["epochs_requested"] != get_spec(name).recipe.epochs
        ):
            raise SystemExit(f"{name}: not a full training run with its recipe")
        model = load_trained_model(model_path(args.trained, name), get_spec(name))
        target = WEIGHTS / f"{name}.weights.h5"
        with tempfile.TemporaryDirectory(dir=WEIGHTS) as tmp:
            staged = Path(tmp) / target.name  # ".weights.h5": tf_keras' weights-only layout
            model.save_weights(staged)
            os.replace(staged, target)
        entries[name] = {
            "file": target.name,
            "sha256": file_sha256(target),
            "size_bytes": target.stat().st_size,
            "test_accuracy": metrics["test_accuracy"],
            "seed": metrics["seed"],
            "recipe": get_spec(name).recipe.summary(),
            "train_seconds": metrics["train_seconds"],
            "trained_on": {k: machine.get(k) for k in ("cpu", "cpu_id", "cores")},
            "versions": {k: machine["packages"].get(k) for k in VERSIONS},
            "train_result": metrics,
        }
        print(
            f"{name}: {metrics['test_accuracy']:.2f}% -> {target} ({target.stat().st_size:,} bytes)"
        )
    atomic.write_text(WEIGHTS / "index.json", index_document(entries))
    if args.compare:
        atomic.write_text(args.compare_out, comparison(entries, args.compare))
        print(args.compare_out.read_text())
    return 0


def comparison(entries: dict, earlier_path: Path) -> str:
    """The shipped weights' accuracy beside an earlier full-zoo run's (same recipes and seed),
    per model: how far training moves between machines or versions."""
    earlier = json.loads(earlier_path.read_text())
    before = {r["model"]: r for r in earlier["results"]}
    machine = earlier["machine"]
    shipped_on = next(iter(entries.values()))["trained_on"]
    earlier_id = machine.get("cpu_id", "CPU id not recorded")
    earlier_tf = machine.get("packages", {}).get("tensorflow") or machine.get("tensorflow", "?")
    lines = [
        "# Shipped weights against an earlier training run",
        "",
        f"Shipped: trained by `python bench/train_zoo.py` (seed 0) on {shipped_on['cpu']} "
        f"({shipped_on.get('cpu_id')}). Earlier: `{earlier_path}`, {machine.get('cpu')} "
        f"({earlier_id}), TensorFlow {earlier_tf}.",
        "",
    ]
    diffs, rows = [], []
    for name, entry in entries.items():
        old = before.get(name)
        if old is None:
            rows.append([name, f"{entry['test_accuracy']:.2f}", "-", "-"])
            continue
        diff = entry["test_accuracy"] - old["test_accuracy"]
        diffs.append(abs(diff))
        rows.append(
            [name, f"{entry['test_accuracy']:.2f}", f"{old['test_accuracy']:.2f}", f"{diff:+.2f}"]
        )
    lines += markdown_table(["model", "shipped %", "earlier %", "difference (pts)"], rows, "lrrr")
    if diffs:
        lines += ["", f"Largest difference: {max(diffs):.2f} points over {len(diffs)} models."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
