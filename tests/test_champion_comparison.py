"""bench/champions.py's verdicts on a hand-made bench report: who dominates whom, and each goal."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "champions.py"


@pytest.fixture(scope="module")
def champions():
    spec = importlib.util.spec_from_file_location("bench_champions", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(
    model,
    runtime,
    accuracy=99.0,
    size=10_000,
    p50=5.0,
    reference=99.0,
    arena=None,
    status="ok",
    recipe="int8",
    batch=1,
):
    return {
        "model": model,
        "format": "tflite",
        "recipe": recipe,
        "runtime": runtime,
        "batch": batch,
        "status": status,
        "reason": None if status == "ok" else "boom",
        "accuracy": accuracy,
        "reference_accuracy": reference,
        "size_bytes": size,
        "latency_us": {"p50": p50},
        "parity": "pass",
        "arena_bytes": arena,
    }


def _doc(*rows):
    return {"created": "t", "settings": {"threads": 1}, "results": list(rows)}


def test_dominance_needs_all_three_axes_and_allows_ties(champions):
    doc = _doc(
        _row("edge_cnn_small", "litert", 99.3, 15_952, 4.0, reference=99.35),
        _row("edge_cnn_small", "tflm", 99.3, 15_952, 90.0, arena=6_416),
        _row("seed004_cnn", "litert", 96.8, 14_656, 7.0),  # smaller: not dominated
        _row("seed003_ann64_relu", "litert", 97.6, 62_192, 2.3),  # faster: not dominated
        _row("seed000_mlp256", "litert", 98.0, 206_000, 40.0),  # dominated
        _row("seed001_basic_cnn", "litert", 99.3, 1_200_000, 400.0),  # tie on accuracy
        _row("seed001_basic_cnn", "litert", 99.9, 1, 0.1, batch=32),  # another batch: ignored
        _row("seed002_mlp_logits", "litert", 99.9, 1, 0.1, recipe="float32"),  # not int8
    )
    result = champions.compare(doc)
    small = result["champions"]["edge_cnn_small"]
    assert small["dominates"] == ["seed000_mlp256", "seed001_basic_cnn"]
    assert small["not_dominated"] == {
        "seed004_cnn": "larger (15,952 > 14,656 bytes)",
        "seed003_ann64_relu": "slower (4.0 > 2.3 µs)",
    }
    assert small["goals"] == {
        "int8_within_float": True,
        "int8_bytes": True,
        "arena_bytes": True,
        "no_slower_than_seed004_cnn": True,
    }
    assert "seed002_mlp_logits" not in result["rows"]


def test_goals_fail_when_missed_or_unmeasured(champions):
    doc = _doc(
        _row("edge_cnn_micro", "litert", 98.0, 8_193, 8.0, reference=98.3),
        _row("seed004_cnn", "litert", 96.8, 14_656, 7.0),
    )
    goals = champions.compare(doc)["champions"]["edge_cnn_micro"]["goals"]
    assert goals == {
        "int8_within_float": False,  # 0.3 points > 0.2
        "int8_bytes": False,  # 8,193 > 8 KiB
        "arena_bytes": False,  # no TFLM row: not measured is not met
        "no_slower_than_seed004_cnn": False,
    }


def _probe_module():
    spec = importlib.util.spec_from_file_location(
        "bench_probe_recipe", SCRIPT.with_name("probe_recipe.py")
    )
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    return probe


def test_probe_layouts_rebuild_the_registered_champions_and_reject_typos():
    """bench/probe_recipe.py's layout strings: the registered layouts give the registered counts."""
    probe = _probe_module()
    from edgedigits.zoo import get_spec

    for name, layout in (
        ("edge_cnn_small", "C8/2-C16-C16-C16-C16"),
        ("edge_cnn_micro", "C6/2-C8-C8-MP-C9"),
    ):
        model = probe.layout_builder(layout, (28, 28, 1))()
        assert model.count_params() == get_spec(name).build().count_params()
    with pytest.raises(SystemExit, match="'X8' is neither"):
        probe.layout_builder("C8-X8", (28, 28, 1))
    with pytest.raises(SystemExit, match="'C8/2x' is neither"):
        probe.layout_builder("C8/2x-MP", (28, 28, 1))
    with pytest.raises(SystemExit, match="F only ends a layout"):
        probe.layout_builder("C8-F-C8", (28, 28, 1))


def test_probe_layouts_pad_with_s_and_flatten_with_f():
    """'s' pads a conv to keep its size (28 -> 14 at stride 2); a final F flattens instead of
    global average pooling, so the head sees every position (14, 12, 10, 5, 3: 3x3x20 -> 180)."""
    model = _probe_module().layout_builder("C8/2s-C16-C20-MP-C20-F", (28, 28, 1))()
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert shapes[0] == (14, 14, 8) and (3, 3, 20) in shapes and shapes[-2] == (3 * 3 * 20,)
    assert model.layers[-1].count_params() == 180 * 10 + 10


def test_probe_layouts_take_a_kernel_size_after_k():
    """'C8k5/2' is a 5x5 conv at stride 2 (28 -> 12), the rest stay 3x3 (12 -> 10 -> 8)."""
    model = _probe_module().layout_builder("C8k5/2-C16-C16", (28, 28, 1))()
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [c.kernel_size for c in convs] == [(5, 5), (3, 3), (3, 3)]
    assert [tuple(c.output.shape[1:]) for c in convs] == [(12, 12, 8), (10, 10, 16), (8, 8, 16)]
    assert convs[0].count_params() == 5 * 5 * 8


def test_probe_overrides_only_the_fields_given():
    """A probe's recipe is the registered one with the given fields replaced, nothing else."""
    from edgedigits.zoo import get_spec

    registered = get_spec("edge_cnn_micro")
    spec = _probe_module().probe_spec(
        registered,
        epochs=7,
        clean_final_epochs=3,
        zoom_fraction=0.0,
        rotation_degrees=None,
        learning_rate=None,
        batch_size=64,
    )
    recipe, aug = spec.recipe, spec.recipe.augmentation
    assert (recipe.epochs, recipe.batch_size, aug.clean_final_epochs, aug.zoom_fraction) == (
        7,
        64,
        3,
        0.0,
    )
    kept = registered.recipe
    assert (recipe.learning_rate, recipe.label_smoothing, recipe.schedule) == (
        kept.learning_rate,
        kept.label_smoothing,
        kept.schedule,
    )
    assert (aug.rotation_degrees, aug.shift_fraction) == (
        kept.augmentation.rotation_degrees,
        kept.augmentation.shift_fraction,
    )
    assert spec.build_fn is registered.build_fn and registered.recipe.epochs != 7
    sgd = (
        _probe_module()
        .probe_spec(
            registered, optimizer="sgd", momentum=0.9, weight_decay=0.005, elastic_alpha=16.0
        )
        .recipe
    )
    assert (
        sgd.optimizer,
        sgd.momentum,
        sgd.weight_decay,
        sgd.augmentation.elastic_alpha,
        sgd.epochs,
    ) == ("sgd", 0.9, 0.005, 16.0, kept.epochs)


def test_training_summary_judges_the_mean_and_says_how_the_runs_were_made():
    """bench/train_champions.py: the goal is on the mean over the seeds (99.47, 99.54, 99.51 pass
    99.5 where their worst seed alone would not), and ``--how`` replaces the --jobs wording."""
    spec = importlib.util.spec_from_file_location(
        "bench_train_champions", SCRIPT.with_name("train_champions.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    runs = [
        {
            "model": "edge_cnn_small",
            "seed": k,
            "params": 8_594,
            "test_accuracy": a,
            "train_seconds": t,
        }
        for k, a, t in ((0, 99.47, 363), (1, 99.54, 357), (2, 99.51, 401))
    ]
    small = module.summarize(runs)["edge_cnn_small"]
    assert small["mean"] == pytest.approx(99.5067, abs=1e-4)
    assert small["std"] == pytest.approx(0.0351, abs=1e-4)
    assert small["goals"] == {"params": True, "accuracy": True, "train_seconds": True}
    info = {"cores": 2, "cpu": "cpu", "packages": {"tensorflow": "2.21.0"}}
    assert "2 runs at a time" in module.table({"edge_cnn_small": small}, info, jobs=2)
    text = module.table({"edge_cnn_small": small}, info, jobs=2, how="one at a time, by hand")
    assert "one at a time, by hand" in text and "2 runs at a time" not in text
    assert "| 99.51 ± 0.04 | 99.5 | yes | 401 | yes |" in text
