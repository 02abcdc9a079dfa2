"""The fast tier: the comparator, quantization arithmetic, the timing loop, the gate's ratios and
atomic writes on tiny arrays, with no model and no runtime (Polygraphy tests its comparator the
same way). ``pytest -m unit`` runs these with the other model-free tests."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgedigits import atomic
from edgedigits.benchmark.gate import growth_interval, round_ratios
from edgedigits.benchmark.timing import TimingOptions, measure
from edgedigits.comparator import Tolerance, compare
from edgedigits.runtimes.base import TensorInfo, dequantize, quantize


def _one_hot(classes: list[int]) -> np.ndarray:
    return np.eye(10, dtype=np.float32)[classes]


def test_compare_counts_disagreements_and_judges_each_bound():
    labels = np.arange(100) % 10
    reference = _one_hot(list(labels))
    outputs = reference.copy()
    outputs[[3, 7]] = _one_hot([0, 0])  # two images change class (3->0, 7->0): both now wrong
    outputs[5, 5] = 0.7  # a probability moves without changing the class
    loose = compare(outputs, reference, labels, Tolerance(0.98, 2.0, None))
    assert loose.passed and loose.disagreements == 2 and loose.disagreement_indices == [3, 7]
    assert loose.agreement == 0.98 and loose.accuracy == 98.0 and loose.accuracy_delta == -2.0
    assert loose.max_abs_diff == 1.0
    assert np.asarray(loose.confusion_delta).sum() == 0  # images move between cells, none vanish
    strict = compare(outputs, reference, labels, Tolerance(0.99, 1.0, 0.5))
    assert not strict.passed
    assert strict.failures == [
        "agreement 98.00% < 99%",
        "accuracy drop 2.00 pts > 1",
        "max abs diff 1 > 0.5",
    ]


def test_a_figure_exactly_at_its_bound_passes():
    """500 images, one of them flipped from right to wrong: agreement 99.8% and a 0.2-point drop
    sit exactly on a 99.8% / 0.2 tolerance and pass (in floats the drop is 0.20000000000000284)."""
    labels = np.arange(500) % 10
    reference = _one_hot(list(labels))
    outputs = reference.copy()
    outputs[13] = _one_hot([0])[0]  # label 3, now 0
    labels = labels.copy()
    labels[100:103] = (labels[100:103] + 1) % 10  # the reference is not perfect either
    result = compare(outputs, reference, labels, Tolerance(0.998, 0.2, None))
    assert 100 * 496 / 500 - 100 * 497 / 500 != -0.2  # the float noise this test is about
    assert result.passed, result.failures
    assert not compare(outputs, reference, labels, Tolerance(0.9981, 0.2, None)).passed
    assert not compare(outputs, reference, labels, Tolerance(0.998, 0.19, None)).passed


def test_compare_fails_non_finite_outputs_even_where_their_argmax_agrees():
    """A NaN row argmaxes to class 0 in both models: parity must not call that agreement (a
    clustering fine-tune that diverged once passed the export-time check this way)."""
    labels = np.zeros(4, dtype=np.int64)
    broken = np.full((4, 10), np.nan, np.float32)
    result = compare(broken, broken.copy(), labels, Tolerance(0.98, 2.0, None))
    assert result.agreement == 1.0 and not result.passed
    assert result.failures == [
        "outputs: 4 of 4 rows not finite (NaN or inf)",
        "reference outputs: 4 of 4 rows not finite (NaN or inf)",
    ]
    one_inf = _one_hot([0, 0, 0, 0])
    one_inf[2, 3] = np.inf
    assert compare(
        one_inf, _one_hot([0, 0, 0, 0]), labels, Tolerance(0.5, 100.0, None)
    ).failures == ["outputs: 1 of 4 rows not finite (NaN or inf)"]


def test_finetuning_drops_momentum_and_keeps_the_rest_of_the_recipe():
    """Fine-tuning runs at the recipe's finetune_learning_rate, else 0.1x its rate, without
    momentum (which made tfmot's clustering diverge on edge_cnn_small)."""
    from edgedigits.export.model_optimization import finetuning_spec
    from edgedigits.zoo import get_spec

    small = get_spec("edge_cnn_small")
    assert small.recipe.momentum == 0.9
    tuned = finetuning_spec(small).recipe
    assert tuned.momentum == 0.0 and tuned.optimizer == "sgd"
    assert tuned.weight_decay == small.recipe.weight_decay
    assert tuned.learning_rate == small.recipe.finetune_learning_rate == 1e-3
    micro = get_spec("edge_cnn_micro")
    assert micro.recipe.finetune_learning_rate is None
    assert finetuning_spec(micro).recipe.learning_rate == pytest.approx(0.1 * 1e-2)
    assert finetuning_spec(micro).recipe.optimizer == "adam"


def test_quantize_rounds_half_away_from_zero_and_saturates():
    info = TensorInfo("x", (None, 4), "int8", scale=0.5, zero_point=-3)
    x = np.array([[0.25, -0.25, 0.75, 1000.0]], np.float32)  # /0.5: 0.5, -0.5, 1.5, 2000
    np.testing.assert_array_equal(quantize(x, info), [[-2, -4, -1, 127]])
    back = dequantize(quantize(np.array([[1.0, -2.0, 0.1]], np.float32), info), info)
    np.testing.assert_allclose(back, [[1.0, -2.0, 0.0]])  # within half a step in range
    assert quantize(x, TensorInfo("x", (None, 4), "float32")).dtype == np.float32


def test_measure_times_exactly_the_calls_it_reports():
    calls = []
    options = TimingOptions(warmup=3, rounds=4, min_runs=8, min_seconds=1e-9)
    stats = measure(calls.append, 1, options)
    assert stats.runs == 8  # two timed calls per round
    assert len(calls) == options.warmup + options.rounds + stats.runs  # + one re-warm per round
    assert len(stats.round_p50) == options.rounds and stats.min <= stats.p50 <= stats.p99


def test_gate_ratios_are_per_round_against_the_models_reference_row():
    def row(recipe, fmt, runtime, rounds):
        return {
            "model": "m",
            "artifact": f"m.{recipe}.{fmt}",
            "recipe": recipe,
            "format": fmt,
            "runtime": runtime,
            "batch": 1,
            "status": "ok",
            "round_p50_us": rounds,
        }

    doc = {
        "results": [
            row("float32", "tflite", "litert", [10.0, 20.0, 10.0]),
            row("int8", "tflite", "litert", [5.0, 10.0, 6.0]),
            row("float32", "onnx", "onnxruntime", [20.0, 40.0]),
        ]
    }
    ratios = round_ratios(doc)
    np.testing.assert_allclose(ratios[("m", "m.int8.tflite", "litert", 1)], [0.5, 0.5, 0.6])
    np.testing.assert_allclose(ratios[("m", "m.float32.onnx", "onnxruntime", 1)], [2.0, 2.0])
    assert ("m", "m.float32.tflite", "litert", 1) not in ratios  # the reference itself
    same = np.array([1.0, 1.1, 0.9, 1.0])
    assert growth_interval(same, same)[0] == 1.0
    point, low, high = growth_interval(same * 2, same)
    assert point == 2.0 and low > 1.5 and high < 2.7


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "m.json"
    atomic.write_json(target, {"v": 1})
    with pytest.raises(TypeError):
        atomic.write_json(target, {"v": object()})  # not JSON: fails before the rename
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary file left
    with atomic.StagedFile(tmp_path / "a.bin") as staged:
        staged.write_bytes(b"new")
        assert not (tmp_path / "a.bin").exists()  # staged beside, not in place
        staged.commit()
    assert (tmp_path / "a.bin").read_bytes() == b"new"


def test_one_comma_list_parser_for_formats_recipes_and_runtimes():
    from edgedigits.contract.recipes import parse_formats
    from edgedigits.names import split_names
    from edgedigits.runtimes import parse_runtimes

    assert split_names(" TFLite, onnx,,") == ["tflite", "onnx"]
    assert split_names(["tflite", "onnx,c"]) == ["tflite", "onnx", "c"]
    assert [f.value for f in parse_formats("TFLITE, ort")] == ["tflite", "ort"]
    assert parse_runtimes(["litert,tflm", "litert"]) == ["litert", "tflm"]


def test_export_workers_follow_the_work_and_the_flag():
    """One process per core only when several models are fine-tuned; --jobs overrides, capped
    at the number of models; a bad --jobs is one line."""
    import os

    from edgedigits.errors import UsageError
    from edgedigits.export import ExportOptions
    from edgedigits.export.exporter import export_workers

    cores = os.cpu_count() or 1
    assert export_workers(ExportOptions(recipes="float32,int8"), 5) == 1
    assert export_workers(ExportOptions(recipes="qat"), 1) == 1
    assert export_workers(ExportOptions(recipes="qat"), 5) == min(cores, 5)
    assert export_workers(ExportOptions(recipes="float32", jobs=3), 2) == 2
    assert export_workers(ExportOptions(recipes="pruned", jobs=1), 5) == 1
    for bad in (0, -1, True, 1.5):
        with pytest.raises(UsageError, match="--jobs"):
            ExportOptions(jobs=bad).validate()


def test_targets_plan_the_files_each_app_runtime_takes():
    """--target picks formats, recipes, I/O and batch; two targets that take one file share it."""
    from edgedigits.contract.recipes import artifact_name
    from edgedigits.export import ExportOptions

    def names(**kw):
        options = ExportOptions(**kw)
        options.validate()
        return [artifact_name("m", j.format, j.recipe, j.variant) for j in options.plan]

    assert names() == ["m.float32.tflite"]
    assert names(targets="mcu") == ["m.int8.cc", "m.qat.cc"]
    web = names(targets="web")
    assert "m.int8.io-float32.tflite" in web and "m.int8.tflite" not in web
    assert {n.rsplit(".", 1)[1] for n in web} == {"tflite", "onnx"}
    assert names(targets="server") == ["m.float32.onnx", "m.dynamic.onnx", "m.int8.onnx"]
    both = names(targets="web,mobile")
    assert len(both) == len(set(both)) and "m.float32.ort" in both
    assert names(targets="all", formats="c") == ["m.int8.cc", "m.qat.cc"]
    assert names(formats="tflite", recipes="int8", io="uint8") == ["m.int8.io-uint8.tflite"]
    assert names(formats="tflite", recipes="float32", batch="dynamic") == [
        "m.float32.batch-dynamic.tflite"
    ]
    assert names(formats="tflite", recipes="float32", batch="8") == ["m.float32.batch-8.tflite"]


@pytest.mark.parametrize(
    "options, message",
    [
        (
            dict(targets="nope"),
            "--target nope: unknown target; choose from web, mobile, mcu, server",
        ),
        (dict(formats="tflite", recipes="float32", io="float32"), "--io float32: applies to"),
        (dict(formats="tflite", recipes="int8", io="int4"), "--io int4: choose from"),
        (dict(formats="tflite", batch="0"), "--batch 0: must be at least 1"),
        (dict(formats="tflite", batch="many"), "--batch many: a whole number"),
        (dict(formats="onnx", batch="1"), "--batch 1: shapes TFLite files"),
        (dict(formats="tflite,c", recipes="int8", batch="dynamic"), "C arrays are batch 1"),
        (dict(targets="mcu", formats="onnx"), "--target mcu: no file left after --format/--quant"),
    ],
)
def test_target_io_and_batch_mistakes_are_one_line(options, message):
    from edgedigits.errors import EdgeDigitsError
    from edgedigits.export import ExportOptions

    with pytest.raises(EdgeDigitsError) as info:
        ExportOptions(**options).validate()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_artifact_names_with_variants_parse_back():
    """bench reads model and recipe back from a variant's name."""
    from pathlib import Path

    from edgedigits.benchmark.artifacts import parse_artifact_name

    for name, want in [
        ("seed004_cnn.int8.io-float32.tflite", ("seed004_cnn", "int8", "tflite")),
        ("seed004_cnn.float32.batch-dynamic.tflite", ("seed004_cnn", "float32", "tflite")),
        ("seed004_cnn.qat.io-uint8.batch-8.tflite", ("seed004_cnn", "qat", "tflite")),
        ("seed004_cnn.int8.onnx", ("seed004_cnn", "int8", "onnx")),
    ]:
        assert parse_artifact_name(Path("/nowhere") / name) == want


def test_which_file_to_ship_prefers_the_smallest_that_keeps_accuracy(tmp_path):
    import json

    from edgedigits.benchmark.shipping import which_file_to_ship

    folder = tmp_path / "m"
    folder.mkdir()

    def entry(file, fmt, recipe, size, targets):
        return {
            "file": file,
            "format": fmt,
            "recipe": recipe,
            "status": "ok",
            "io": "float32",
            "size_bytes": size,
            "targets": targets,
            "parity": {"passed": True, "accuracy": 90.0},
        }

    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": [
                    entry("m.float32.tflite", "tflite", "float32", 4000, ["web", "mobile"]),
                    entry("m.int8.io-float32.tflite", "tflite", "int8", 1200, ["web", "mobile"]),
                    entry("m.dynamic.tflite", "tflite", "dynamic", 1000, ["web", "mobile"]),
                ]
            }
        )
    )

    def row(file, accuracy, p50):
        return {
            "model": "m",
            "artifact": str(folder / file),
            "runtime": "litert",
            "batch": 1,
            "status": "ok",
            "accuracy": accuracy,
            "latency_us": {"p50": p50},
        }

    choices = which_file_to_ship(
        [
            row("m.float32.tflite", 98.0, 10.0),
            row("m.int8.io-float32.tflite", 97.8, 6.0),
            row("m.dynamic.tflite", 97.0, 8.0),
        ]
    )  # 1.0 point lost: no
    assert [(c["target"], c["file"]) for c in choices] == [
        ("web", "m.int8.io-float32.tflite"),
        ("mobile", "m.int8.io-float32.tflite"),
    ]
    assert choices[0]["command"] == (
        "edgedigits export m --target web --format tflite --quant int8"
    )
