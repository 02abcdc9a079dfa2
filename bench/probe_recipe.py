"""Benchmark helper: train one champion with a changed recipe or layout, and record the result.

    python bench/probe_recipe.py edge_cnn_small --seed 2 --out /tmp/probe --clean-epochs 0
    python bench/probe_recipe.py edge_cnn_small --seed 2 --out /tmp/probe \\
        --layout C8/2-C16-MP-C22-C20 --epochs 40                  # the earlier small layout
    python bench/probe_recipe.py edge_cnn_micro --seed 0 --out /tmp/probe --clean-epochs 24 \\
        --rotation 6 --shift 0.06 --zoom 0.05 --learning-rate 0.01 --label-smoothing 0
    python bench/probe_recipe.py edge_cnn_small --seed 2 --out /tmp/probe --optimizer sgd \\
        --learning-rate 0.1 --momentum 0.9 --weight-decay 0.005 --elastic-alpha 16

How the champions' recipes were chosen, kept reproducible: each probe is
``edgedigits.training.train_model`` with the registered recipe, only the overridden fields
changed, on the full data, so its accuracy is comparable with ``bench/train_champions.py``'s
runs of the same seed. ``--layout`` rebuilds the model from a layout string: conv blocks
(``C<filters>`` or ``C<filters>/<stride>``, each conv + BatchNorm + ReLU, 3x3 unless
``k<size>`` follows the filters, as in ``C8k5/2``; a trailing ``s`` pads the conv to keep its
input's size) and ``MP`` (2x2 max pool), then global average pooling, or a
flatten where the layout ends in ``-F``, and Dense 10. Each run appends a row to
``bench/results/champion_probes.json`` and rewrites ``champion_probes.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

from edgedigits import atomic, training
from edgedigits.data import load_dataset
from edgedigits.markdown import table as markdown_table
from edgedigits.zoo import OPTIMIZERS, ModelSpec, conv_bn_relu, get_spec, tf_keras

RESULTS = Path(__file__).resolve().parent / "results"
CHAMPIONS = ("edge_cnn_small", "edge_cnn_micro")


def layout_builder(layout: str, input_shape: tuple[int, ...]):
    """A build function for ``C8/2-C16-MP-C24``-style layouts (see the module docstring)."""
    blocks = []
    tokens = layout.split("-")
    flatten = tokens[-1] == "F"
    for token in tokens[:-1] if flatten else tokens:
        if token == "MP":
            blocks.append(("pool",))
        elif match := re.fullmatch(r"C(\d+)(?:k(\d+))?(?:/(\d+))?(s?)", token):
            filters, kernel, stride, same = match.groups()
            blocks.append(
                (
                    "conv",
                    int(filters),
                    int(kernel or 3),
                    int(stride or 1),
                    "same" if same else "valid",
                )
            )
        else:
            raise SystemExit(
                f"--layout {layout}: {token!r} is neither "
                "C<filters>[k<kernel>][/<stride>][s] nor MP "
                "(and F only ends a layout)"
            )

    def build():
        layers = tf_keras().layers
        stack = [layers.Input(shape=input_shape)]
        for block in blocks:
            stack += (
                [layers.MaxPooling2D(2)]
                if block[0] == "pool"
                else conv_bn_relu(block[1], kernel=block[2], strides=block[3], padding=block[4])
            )
        stack += [
            layers.Flatten() if flatten else layers.GlobalAveragePooling2D(),
            layers.Dense(10, activation="softmax"),
        ]
        return tf_keras().Sequential(stack)

    return build


def probe_spec(
    spec: ModelSpec,
    layout: str | None = None,
    epochs: int | None = None,
    learning_rate: float | None = None,
    label_smoothing: float | None = None,
    batch_size: int | None = None,
    optimizer: str | None = None,
    weight_decay: float | None = None,
    momentum: float | None = None,
    **augmentation,
) -> ModelSpec:
    """``spec`` with only the given recipe fields (and ``Augmentation`` fields, by their names)
    replaced; ``None`` keeps the registered value."""
    aug = dataclasses.replace(
        spec.recipe.augmentation, **{k: v for k, v in augmentation.items() if v is not None}
    )
    fields = {
        "epochs": epochs,
        "learning_rate": learning_rate,
        "label_smoothing": label_smoothing,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "weight_decay": weight_decay,
        "momentum": momentum,
    }
    recipe = dataclasses.replace(
        spec.recipe, augmentation=aug, **{k: v for k, v in fields.items() if v is not None}
    )
    build_fn = layout_builder(layout, spec.input_shape) if layout else spec.build_fn
    return dataclasses.replace(spec, recipe=recipe, build_fn=build_fn)


def markdown(rows: list[dict]) -> str:
    lines = [
        "# Champion recipe probes",
        "",
        "Each row: `python bench/probe_recipe.py MODEL --seed K --out DIR [overrides]` "
        "(`edgedigits.training.train_model`, registered recipe with the overrides shown, "
        "full data; test accuracy of the float model after the last epoch). Rows noted "
        "'scratch' ran through this script's uncommitted predecessor (the same trainer and "
        "overrides); 'registered' and 'edgedigits train' ones trained the recipe registered "
        "at the time (`bench/train_champions.py`, `edgedigits train`).",
        "",
        *markdown_table(
            ["model", "layout", "recipe", "seed", "params", "test %", "train s", "how it ran"],
            [
                [
                    r["model"],
                    r["layout"],
                    r["recipe"],
                    r["seed"],
                    f"{r['params']:,}",
                    f"{r['test_accuracy']:.2f}",
                    f"{r['train_seconds']:.0f}",
                    r["note"],
                ]
                for r in rows
            ],
            "lllrrrrl",
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=CHAMPIONS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="where the probe's model is written")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--clean-epochs", type=int, help="Augmentation.clean_final_epochs")
    parser.add_argument("--label-smoothing", type=float)
    parser.add_argument("--rotation", type=float, help="Augmentation.rotation_degrees")
    parser.add_argument("--shift", type=float, help="Augmentation.shift_fraction")
    parser.add_argument("--zoom", type=float, help="Augmentation.zoom_fraction")
    parser.add_argument("--elastic-alpha", type=float, help="Augmentation.elastic_alpha")
    parser.add_argument("--elastic-sigma", type=float, help="Augmentation.elastic_sigma")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--optimizer", choices=OPTIMIZERS)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--momentum", type=float, help="SGD's (Nesterov)")
    parser.add_argument("--layout", help="e.g. C8/2-C16-MP-C22-C20 (default: the registered one)")
    parser.add_argument("--note", default="alone", help="e.g. 'two runs at a time'")
    args = parser.parse_args(argv)

    spec = get_spec(args.model)
    probe = probe_spec(
        spec,
        layout=args.layout,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        label_smoothing=args.label_smoothing,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        weight_decay=args.weight_decay,
        momentum=args.momentum,
        clean_final_epochs=args.clean_epochs,
        rotation_degrees=args.rotation,
        shift_fraction=args.shift,
        zoom_fraction=args.zoom,
        elastic_alpha=args.elastic_alpha,
        elastic_sigma=args.elastic_sigma,
    )
    recipe = probe.recipe
    result = training.train_model(
        args.model, dataset=load_dataset(), out=args.out, seed=args.seed, verbose=0, spec=probe
    )

    path = RESULTS / "champion_probes.json"
    rows = json.loads(path.read_text()) if path.is_file() else []
    rows.append(
        {
            "model": args.model,
            "layout": args.layout or spec.architecture.split("-GAP")[0],
            "recipe": recipe.summary(),
            "seed": args.seed,
            "params": result.params,
            "test_accuracy": result.test_accuracy,
            "train_seconds": result.train_seconds,
            "note": args.note,
        }
    )
    atomic.write_json(path, rows)
    atomic.write_text(RESULTS / "champion_probes.md", markdown(rows))
    print(markdown(rows[-1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
