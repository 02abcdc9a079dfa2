"""Bench: runners, parity numbers against an independent computation, schema, gate, bad input."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgedigits.benchmark import (
    BenchOptions,
    TimingOptions,
    Tolerance,
    bench,
    check,
    load_tolerances,
)
from edgedigits.benchmark import report as reports
from edgedigits.benchmark.benchmark import COMPUTE_BATCHES
from edgedigits.benchmark.gate import load_baseline
from edgedigits.cli import main
from edgedigits.contract import default_tolerances
from edgedigits.data import load_dataset
from edgedigits.errors import ModelFileError, UnknownNameError, UsageError
from edgedigits.export import export
from edgedigits.runtimes import RUNTIMES
from edgedigits.runtimes.base import Runner
from edgedigits.training import train
from edgedigits.zoo import get_spec

pytestmark = pytest.mark.integration  # trains or exports models

QUIET = dict(log=lambda _msg: None)
FAST = TimingOptions(warmup=1, rounds=4, min_runs=8, min_seconds=0.01)
TEST_LIMIT = 2000
MODELS = ("seed003_ann16_relu", "edge_cnn_tiny")


def fast_options(**kwargs) -> BenchOptions:
    return BenchOptions(
        **{"timing": FAST, "test_limit": TEST_LIMIT, "batch_sizes": (1, 8), **kwargs}
    )


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    train(MODELS, out=out, epochs=1, limit=5000, verbose=0, **QUIET)
    export(
        MODELS,
        formats="tflite,onnx",
        recipes="float32,int8,dynamic,int16x8",
        out=out,
        calibration_samples=100,
        **QUIET,
    )
    return out


@pytest.fixture(scope="module")
def report(out):
    return bench(MODELS, out=out, options=fast_options(), **QUIET)


@pytest.fixture(scope="module")
def doc(report):
    return reports.to_document(report)


@pytest.fixture(scope="module")
def gate_doc(doc):
    """``doc`` with every parity verdict a pass: the gate's latency tests judge real timings, and
    a 1-epoch toy model's int8 agreement sits near the 98% floor and moves with the CPU's
    kernels (97.7% on one AVX2 machine). Parity gating has its own test below."""
    clean = copy.deepcopy(doc)
    for row in clean["results"]:
        if row.get("parity") == "fail":
            row["parity"], row["parity_failures"] = "pass", []
    return clean


def _row(doc_or_report, artifact, runtime, batch=1):
    rows = (
        doc_or_report["results"]
        if isinstance(doc_or_report, dict)
        else [r.to_json() for r in doc_or_report.results]
    )
    return next(
        r
        for r in rows
        if Path(r["artifact"]).name == artifact and r["runtime"] == runtime and r["batch"] == batch
    )


def test_every_cpu_runner_measures_each_artifact(report):
    for name in MODELS:
        for artifact, runtime in [
            (f"{name}.keras", "keras"),
            (f"{name}.keras", "keras-predict"),
            (f"{name}.float32.tflite", "litert"),
            (f"{name}.int8.tflite", "litert"),
            (f"{name}.dynamic.tflite", "litert"),
            (f"{name}.int16x8.tflite", "litert"),
            (f"{name}.float32.tflite", "litert-compiled"),
            (f"{name}.int8.tflite", "litert-compiled"),
            (f"{name}.float32.onnx", "onnxruntime"),
            (f"{name}.int8.onnx", "onnxruntime"),
            (f"{name}.dynamic.onnx", "onnxruntime"),
        ]:
            for batch in (1, 8):
                row = _row(report, artifact, runtime, batch)
                if artifact.endswith(".tflite") and batch > 1:  # exported with a batch of 1
                    assert row["status"] == "skipped", (artifact, runtime, row["status"])
                    assert "fixed batch of 1" in row["reason"]
                    continue
                assert row["status"] == "ok", (artifact, runtime, row["reason"])
                lat = row["latency_us"]
                assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"]
                assert row["runs"] >= FAST.min_runs
                assert len(row["round_p50_us"]) == FAST.rounds  # one median per round
                if runtime == "keras-predict" or batch not in COMPUTE_BATCHES:
                    # one opaque call, or a batch where the call is the compute: none separated
                    assert row["compute_us"] is None and row["binding_us"] is None
                else:
                    assert 0 < row["compute_us"]["min"] <= row["compute_us"]["p50"]
                    assert row["binding_us"] == pytest.approx(
                        lat["p50"] - row["compute_us"]["p50"], abs=2e-3
                    )
                assert row["throughput_per_s"] == pytest.approx(
                    batch / (lat["p50"] / 1e6), rel=1e-3
                )
                assert row["size_bytes"] > 0 and row["load_ms"] > 0 and row["peak_rss_mb"] > 0


def test_gpu_runtimes_skip_with_a_reason_or_run(report):
    for runtime in ("onnxruntime-cuda", "tensorflow-gpu"):
        rows = [r for r in report.results if r.runtime == runtime]
        assert rows, runtime
        reason = RUNTIMES[runtime].unavailable_reason()
        for row in rows:
            if reason:
                assert row.status == "skipped" and row.reason == reason
            else:  # a GPU machine: the row must say what actually ran
                assert row.status == "ok" and row.provider


def test_rows_say_what_executed_as_the_runtime_reports_it(report):
    """Node placement is read from each runtime after loading, never assumed."""

    def provider(artifact, runtime):
        return _row(report, artifact, runtime)["provider"]

    assert re.fullmatch(
        r"CPUExecutionProvider (\d+)/\1 nodes",
        provider("edge_cnn_tiny.float32.onnx", "onnxruntime"),
    )
    assert re.fullmatch(
        r"XNNPACK (\d+)/\1 nodes", provider("edge_cnn_tiny.float32.tflite", "litert")
    )
    # XNNPACK has no int16x8 kernels: every node runs on LiteRT's builtin kernels.
    assert re.fullmatch(
        r"builtin kernels, XNNPACK took 0/\d+ nodes",
        provider("edge_cnn_tiny.int16x8.tflite", "litert"),
    )
    assert provider("edge_cnn_tiny.float32.tflite", "litert-compiled") == (
        "LiteRT CPU accelerator, fully accelerated: yes"
    )
    assert provider("edge_cnn_tiny.keras", "keras") == "CPU:0 (TensorFlow placement)"


def test_litert_node_count_comes_from_the_interpreter(out, monkeypatch):
    """A fake node list changes the label: the count is observed, not assumed."""
    from ai_edge_litert.interpreter import Interpreter

    from edgedigits.runtimes.litert import LiteRTRunner, delegated_nodes

    fake = [
        {"index": 0, "op_name": "CONV_2D", "inputs": [0, 1], "outputs": [2]},
        {"index": 1, "op_name": "RELU", "inputs": [2], "outputs": [3]},
        {"index": 2, "op_name": "SOFTMAX", "inputs": [3], "outputs": [4]},
        {"index": 3, "op_name": "DELEGATE", "inputs": [0], "outputs": [3]},
    ]
    assert delegated_nodes(fake) == (2, 3)  # the delegate took CONV_2D and RELU, not SOFTMAX
    assert delegated_nodes(fake[:3]) == (0, 3)
    monkeypatch.setattr(Interpreter, "_get_ops_details", lambda self: fake)
    with LiteRTRunner(out / "edge_cnn_tiny" / "edge_cnn_tiny.float32.tflite") as runner:
        assert runner.provider == "XNNPACK 2/3 nodes, builtin kernels 1"


def test_litert_compiled_gpu_and_npu_skip_with_the_reason_or_run(report):
    for runtime, accelerator in (("litert-compiled-gpu", "GPU"), ("litert-compiled-npu", "NPU")):
        rows = [r for r in report.results if r.runtime == runtime]
        assert rows, runtime
        for row in rows:
            if row.status == "skipped":
                assert row.reason.startswith(
                    f"LiteRT {accelerator} accelerator unavailable here: "
                ), row.reason
            else:
                assert row.status == "ok" and f"LiteRT {accelerator} accelerator" in row.provider


def test_batch_dependent_outputs_are_scored_at_batch_1(report):
    """ONNX dynamic quantization takes one activation scale per batch: scored one at a time."""
    for name in MODELS:
        dynamic = _row(report, f"{name}.dynamic.onnx", "onnxruntime")
        assert dynamic["parity_batch"] == 1
        assert dynamic["batch_invariance_max_diff"] > 1e-5
        row = _row(report, f"{name}.int8.onnx", "onnxruntime")
        assert row["parity_batch"] == 256 and row["batch_invariance_max_diff"] <= 1e-5
        # A .tflite with a fixed batch of 1 (export's default) takes nothing else: no probe.
        row = _row(report, f"{name}.float32.tflite", "litert")
        assert row["parity_batch"] == 1 and row["batch_invariance_max_diff"] == 0


def test_profile_breaks_down_onnxruntime_by_operator(out):
    result = bench(
        [
            str(out / "edge_cnn_tiny" / "edge_cnn_tiny.int8.onnx"),
            str(out / "edge_cnn_tiny" / "edge_cnn_tiny.int8.tflite"),
        ],
        out=out,
        options=fast_options(runtimes=("onnxruntime", "litert"), profile=True, batch_sizes=(1,)),
        **QUIET,
    )
    ort_row = next(r for r in result.results if r.runtime == "onnxruntime")
    ops = {o["op"] for o in ort_row.profile}
    assert "QLinearConv" in ops, ops
    assert sum(o["share"] for o in ort_row.profile) == pytest.approx(1.0, abs=0.01)
    assert all(
        o["us_per_run"] > 0 and o["provider"] == "CPUExecutionProvider" for o in ort_row.profile
    )
    litert_row = next(r for r in result.results if r.runtime == "litert")
    assert litert_row.profile is None and "no per-operator profiler" in litert_row.profile_note
    text = reports.to_markdown(reports.to_document(result))
    assert "## Where the time goes" in text and "QLinearConv" in text


def test_parity_equals_an_independent_computation(out, report):
    """Recompute accuracy, agreement and output differences without edgedigits' runners."""
    from ai_edge_litert.interpreter import Interpreter

    from edgedigits.training import load_trained_model

    name = "edge_cnn_tiny"
    spec = get_spec(name)
    ds = load_dataset()
    x = spec.preprocess(ds.test_images[:TEST_LIMIT])
    labels = ds.test_labels[:TEST_LIMIT]
    keras_probs = load_trained_model(out / name / f"{name}.keras")(x, training=False).numpy()
    interpreter = Interpreter(model_path=str(out / name / f"{name}.int8.tflite"))
    interpreter.allocate_tensors()
    inp, outp = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    (s_in, z_in), (s_out, z_out) = inp["quantization"], outp["quantization"]
    probs = []
    for image in x:
        q = np.clip(np.round(image / s_in) + z_in, -128, 127).astype(np.int8)[None]
        interpreter.set_tensor(inp["index"], q)
        interpreter.invoke()
        probs.append((interpreter.get_tensor(outp["index"]).astype(np.float32) - z_out) * s_out)
    probs = np.concatenate(probs)
    row = _row(report, f"{name}.int8.tflite", "litert")
    assert row["accuracy"] == pytest.approx(100 * np.mean(probs.argmax(1) == labels), abs=1e-4)
    assert row["reference_accuracy"] == pytest.approx(
        100 * np.mean(keras_probs.argmax(1) == labels), abs=1e-4
    )
    assert row["agreement"] == pytest.approx(
        np.mean(probs.argmax(1) == keras_probs.argmax(1)), abs=1e-6
    )
    assert row["max_abs_diff"] == pytest.approx(np.abs(probs - keras_probs).max(), rel=1e-4)
    disagree = np.flatnonzero(probs.argmax(1) != keras_probs.argmax(1))
    assert row["disagreements"] == len(disagree)
    assert row["disagreement_indices"] == disagree[:100].tolist()
    assert np.sum(np.abs(row["confusion_delta"])) <= 2 * len(disagree)
    assert np.sum(row["confusion_delta"]) == 0  # same images, same labels: counts move, not vanish


# -- timing truth: the runner's timed call against a bare loop written here ----------------------

TIMED_TOLERANCE = 1.3  # the runner's call may cost at most 1.3x a hand-written loop's


def _bare_litert(path, x):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    i = interpreter.get_input_details()[0]["index"]
    o = interpreter.get_output_details()[0]["index"]

    def call():
        interpreter.set_tensor(i, x)
        interpreter.invoke()
        return interpreter.get_tensor(o)

    return call


def _bare_onnxruntime(path, x):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name, out_names = session.get_inputs()[0].name, [session.get_outputs()[0].name]
    return lambda: session.run(out_names, {name: x})[0]


@pytest.mark.parametrize(
    "artifact, runtime, bare",
    [
        ("seed003_ann16_relu.float32.tflite", "litert", _bare_litert),
        ("edge_cnn_tiny.int8.tflite", "litert", _bare_litert),
        ("seed003_ann16_relu.float32.onnx", "onnxruntime", _bare_onnxruntime),
        ("edge_cnn_tiny.int8.onnx", "onnxruntime", _bare_onnxruntime),
    ],
)
def test_runner_call_costs_what_a_bare_loop_costs(out, artifact, runtime, bare):
    from functools import partial

    from edgedigits.benchmark.timing import compare_calls
    from edgedigits.runtimes import quantize

    path = out / artifact.split(".")[0] / artifact
    with RUNTIMES[runtime](path) as runner:
        x = quantize(
            get_spec(artifact.split(".")[0]).preprocess(load_dataset().test_images[:1]),
            runner.inputs[0],
        )
        bare_call = bare(path, x)
        np.testing.assert_array_equal(runner.infer_raw(x), bare_call())
        ratio = compare_calls(partial(runner.infer_raw, x), bare_call)
    assert ratio < TIMED_TOLERANCE, f"{artifact} on {runtime}: {ratio:.2f}x a bare loop"


def test_an_injected_per_call_overhead_is_caught(out):
    """The check above can fail: a runner that looks its tensors up per call (as the first
    LiteRT runner did) costs well over 1.3x the bare loop."""
    from functools import partial

    from edgedigits.benchmark.timing import compare_calls
    from edgedigits.runtimes.litert import LiteRTRunner

    class LookupPerCall(LiteRTRunner):
        def infer_raw(self, x):
            interpreter = self._interpreter
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
            interpreter.invoke()
            return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    path = out / "seed003_ann16_relu" / "seed003_ann16_relu.float32.tflite"
    with LookupPerCall(path) as runner:
        x = get_spec("seed003_ann16_relu").preprocess(load_dataset().test_images[:1])
        ratio = compare_calls(partial(runner.infer_raw, x), _bare_litert(path, x))
    assert ratio > TIMED_TOLERANCE, ratio


def test_compute_is_the_runtimes_own_call(out):
    """bind() leaves only invoke() / run_with_iobinding, and gives the same answer."""
    for artifact, runtime in (
        ("edge_cnn_tiny.float32.tflite", "litert"),
        ("edge_cnn_tiny.float32.tflite", "litert-compiled"),
        ("edge_cnn_tiny.float32.onnx", "onnxruntime"),
    ):
        with RUNTIMES[runtime](out / "edge_cnn_tiny" / artifact) as runner:
            # The .tflite has a fixed batch of 1 (LiteRT's CompiledModel cannot resize it).
            n = 1 if artifact.endswith(".tflite") else 3
            x = get_spec("edge_cnn_tiny").preprocess(load_dataset().test_images[:n])
            expected = runner.infer_raw(x)
            call = runner.bind(x)
            result = call()
            if runtime == "onnxruntime":
                assert result is None  # run_with_iobinding copies nothing back
            np.testing.assert_array_equal(runner.infer_raw(x), expected)


# -- parity as a deployed app runs it -----------------------------------------------------------


class _FakeRunner:
    """Outputs that depend on the other images in the batch when ``batch_dependent``."""

    single_image = False  # as Runner: takes batches

    def __init__(self, batch_dependent):
        self.batch_dependent = batch_dependent
        self.calls = []

    def infer(self, x):
        self.calls.append(len(x))
        out = x[:, :10].astype(np.float32)
        return out - out.mean(axis=0) if self.batch_dependent else out * 2

    infer_in_batches = Runner.infer_in_batches


def test_infer_as_deployed_checks_batch_invariance():
    from edgedigits.runtimes.batching import LARGE_BATCH, infer_as_deployed

    x = np.random.default_rng(0).random((300, 12)).astype(np.float32)
    steady = infer_as_deployed(_FakeRunner(False), x)
    assert steady.batch == LARGE_BATCH and steady.invariance_max_diff == 0
    np.testing.assert_array_equal(steady.outputs, x[:, :10] * 2)
    runner = _FakeRunner(True)
    moving = infer_as_deployed(runner, x)
    assert moving.batch == 1 and moving.invariance_max_diff > 0.1
    np.testing.assert_array_equal(moving.outputs, np.zeros((300, 10)))  # each image alone
    assert runner.calls.count(1) == 300

    class Rounding(_FakeRunner):  # logits up to 20 that move by float rounding only (1e-6)
        def infer(self, x):
            out = 20 * x[:, :10].astype(np.float64)
            return out * (1 + 1e-6) if len(x) > 1 else out

    rounding = infer_as_deployed(Rounding(False), x)
    assert rounding.batch == LARGE_BATCH and rounding.invariance_max_diff > 1e-5


def test_json_validates_against_the_schema(doc, tmp_path):
    import jsonschema

    jsonschema.validate(doc, reports.schema())
    assert doc["schema"] == "edgedigits.bench/2"
    assert doc["machine"]["cores"] and doc["machine"]["packages"]["tensorflow"] == "2.21.0"
    assert doc["settings"]["rounds"] == FAST.rounds
    broken = copy.deepcopy(doc)
    del broken["results"][0]["latency_us"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, reports.schema())


def test_markdown_report(doc, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    text = reports.write_markdown(doc, tmp_path / "bench.md")
    assert (tmp_path / "bench.md").read_text() == text
    assert not summary.exists()  # the CI workflow appends the file itself, explicitly
    assert "edge_cnn_tiny.int8.tflite | litert | 1 |" in text
    assert "skipped: " in text and "Binding cost per call at batch 1" in text
    assert "XNNPACK" in text and "compute p50 µs" in text


def test_pareto_plots(doc, tmp_path):
    files = reports.write_plots(doc, tmp_path / "bench")
    assert [Path(f).name for f in files] == [
        "bench_accuracy_vs_latency.png",
        "bench_accuracy_vs_size.png",
    ]
    assert reports.pareto_front([(1, 90), (2, 95), (3, 94), (0.5, 80)]) == [3, 0, 1]


# -- the gate --------------------------------------------------------------------------------


def _scaled(doc, factor, only=None):
    new = copy.deepcopy(doc)
    for row in new["results"]:
        if row["status"] == "ok" and (only is None or only(row)):
            row["latency_us"] = {k: v * factor for k, v in row["latency_us"].items()}
            row["round_p50_us"] = [v * factor for v in row["round_p50_us"]]
    return new


def _named(name):
    return lambda r: Path(r["artifact"]).name == name


def _steady(doc):
    """The same report with every round at its row's p50: a baseline without round noise."""
    new = copy.deepcopy(doc)
    for row in new["results"]:
        if row["status"] == "ok":
            row["round_p50_us"] = [row["latency_us"]["p50"]] * len(row["round_p50_us"])
    return new


def test_gate_passes_against_itself_and_on_a_uniformly_slower_machine(gate_doc):
    assert check(gate_doc, gate_doc).passed
    slower = _scaled(gate_doc, 3.0)  # every row 3x slower: a slower CI machine
    result = check(slower, gate_doc)
    assert result.passed and result.compared > 0
    assert all(c.growth == pytest.approx(1.0) for c in result.comparisons)


def test_gate_fails_on_an_injected_slowdown_with_its_interval(gate_doc):
    target = "edge_cnn_tiny.int8.onnx"
    steady = _steady(gate_doc)  # rounds without noise: the interval is the point, testably
    result = check(_scaled(steady, 2.0, only=_named(target)), steady)
    assert not result.passed
    assert any(
        f.startswith(f"latency: {target} on onnxruntime (batch 1)")
        and "95% interval" in f
        and "limit 1.3x" in f
        for f in result.failures
    )
    hit = next(c for c in result.comparisons if c.artifact == target and c.batch == 1)
    assert hit.regressed and hit.ci_low > 1.3 and hit.growth == pytest.approx(2.0)
    assert "REGRESSED" in result.to_markdown() and "95% interval" in result.to_markdown()


def test_gate_judges_the_interval_not_the_point(gate_doc):
    """A 1.4x median growth whose rounds scatter widely has an interval reaching below the
    limit and passes; the same growth measured in steady rounds fails."""
    target = "edge_cnn_tiny.int8.tflite"
    baseline = _steady(gate_doc)
    noisy = copy.deepcopy(baseline)
    for row in noisy["results"]:
        if Path(row["artifact"]).name == target and row["status"] == "ok":
            assert len(row["round_p50_us"]) == 4
            row["round_p50_us"] = [v * f for v, f in zip(row["round_p50_us"], (0.9, 1.4, 1.4, 2.4))]
    hit = next(
        c for c in check(noisy, baseline).comparisons if c.artifact == target and c.batch == 1
    )
    assert hit.growth == pytest.approx(1.4)
    assert hit.ci_low < 1.3 < hit.ci_high and not hit.regressed
    steady = _scaled(baseline, 1.4, only=_named(target))
    hit = next(
        c for c in check(steady, baseline).comparisons if c.artifact == target and c.batch == 1
    )
    assert hit.ci_low == pytest.approx(1.4) and hit.regressed


def test_gate_catches_a_slower_reference_by_its_model_getting_faster(gate_doc):
    """The float32 LiteRT row is what every ratio divides by: its own slowdown makes every other
    row of the model look faster, and the gate names the reference."""
    reference = "edge_cnn_tiny.float32.tflite"
    result = check(
        _scaled(
            _steady(gate_doc), 1.5, only=lambda r: _named(reference)(r) and r["runtime"] == "litert"
        ),
        _steady(gate_doc),
    )
    assert not result.passed
    assert any(
        f.startswith(f"latency: {reference} on litert (batch 1), the reference, looks 1.50x slower")
        for f in result.failures
    ), result.failures
    assert not any("seed003_ann16_relu" in f for f in result.failures)


def test_gate_leaves_reference_runtimes_out_unless_asked(gate_doc):
    slow_keras = _scaled(gate_doc, 5.0, only=lambda r: r["runtime"] in ("keras", "keras-predict"))
    result = check(slow_keras, gate_doc)
    assert result.passed
    assert not any(c.runtime.startswith("keras") for c in result.comparisons)
    assert any("not gated" in n for n in result.notes)
    gated = check(slow_keras, gate_doc, include_references=True)
    assert any(f.startswith("latency: edge_cnn_tiny.keras on keras") for f in gated.failures)


def test_gate_fails_when_the_baseline_covers_nothing(gate_doc):
    other = copy.deepcopy(gate_doc)
    for row in other["results"]:
        row["model"] = "somebody_else"
    result = check(gate_doc, other)
    assert not result.passed and result.compared == 0
    assert "the baseline shares no row with this run" in result.failures[0]


def test_gate_fails_on_parity_failure_and_on_newly_failing_rows(gate_doc):
    bad = copy.deepcopy(gate_doc)
    row = next(r for r in bad["results"] if r["parity"] == "pass")
    row["parity"], row["parity_failures"] = "fail", ["agreement 90.00% < 98%"]
    assert any("parity: " in f and "agreement 90.00%" in f for f in check(bad, None).failures)
    broken = copy.deepcopy(gate_doc)
    row = next(r for r in broken["results"] if r["status"] == "ok")
    row["status"], row["reason"] = "failed", "LiteRT cannot load it"
    assert any(f.startswith("now failing: ") for f in check(broken, gate_doc).failures)


def test_gate_bad_baselines(doc, tmp_path):
    with pytest.raises(UsageError, match=r"--baseline .*missing\.json: file not found"):
        load_baseline(tmp_path / "missing.json")
    path = tmp_path / "b.json"

    def rejected(content, message):
        path.write_text(json.dumps(content))
        with pytest.raises(UsageError, match=message):
            load_baseline(path)

    rejected({"schema": "something/2"}, "not an edgedigits.bench/2 report")
    rejected({"schema": "edgedigits.bench/1", "results": []}, "re-run 'edgedigits bench")
    rejected({"schema": "edgedigits.bench/2"}, "'results' must be a list of rows")
    rejected({"schema": "edgedigits.bench/2", "results": {}}, "'results' must be a list")
    rejected(
        {"schema": "edgedigits.bench/2", "results": [{"model": "m"}]},
        r"results\[0\] lacks artifact, runtime, batch, status",
    )
    zero = copy.deepcopy(doc)
    next(r for r in zero["results"] if r["status"] == "ok")["round_p50_us"] = [0.0]
    rejected(zero, r"needs 'round_p50_us', a list of positive latencies")


def test_cli_check_exit_codes(out, doc, tmp_path, capsys, monkeypatch):
    from edgedigits.benchmark import gate

    monkeypatch.setattr(gate, "RETRY_PAUSE_S", 0.0)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(_scaled(doc, 1.0)))
    args = [
        "bench",
        str(out / "edge_cnn_tiny" / "edge_cnn_tiny.float32.tflite"),
        str(out / "edge_cnn_tiny" / "edge_cnn_tiny.int8.tflite"),
        "--runtimes",
        "litert",
        "--test-limit",
        "500",
        "--rounds",
        "4",
        "--min-runs",
        "8",
        "--min-seconds",
        "0.01",
        "--batch",
        "8",
        "--gate-markdown",
        str(tmp_path / "gate.md"),
        "--json",
        str(tmp_path / "now.json"),
        "--markdown",
        str(tmp_path / "now.md"),
    ]
    assert main(args + ["--baseline", str(baseline), "--check", "--max-slowdown", "100"]) == 0
    assert "gate: passed" in capsys.readouterr().out
    assert "## Gate: passed" in (tmp_path / "gate.md").read_text()
    slowed = _scaled(
        doc, 1 / 500, only=lambda r: Path(r["artifact"]).name == "edge_cnn_tiny.int8.tflite"
    )  # the baseline was 500x faster: a regression
    baseline.write_text(json.dumps(slowed))
    assert main(args + ["--baseline", str(baseline), "--check"]) == 1
    printed = capsys.readouterr()
    assert "gate failed: latency: edge_cnn_tiny.int8.tflite on litert" in printed.err
    # the alarm was benched again, for real, twice (the default), and held both times
    assert printed.out.count("gate: edge_cnn_tiny: re-timed, alarm confirmed") == 2
    assert "(attempt 2 of 2)" in printed.out
    assert "| edge_cnn_tiny | 2 |" in (tmp_path / "gate.md").read_text()
    assert main(args + ["--baseline", str(baseline), "--check", "--gate-retries", "0"]) == 1
    assert "re-timed" not in capsys.readouterr().out
    assert main(args + ["--baseline", str(tmp_path / "nope.json"), "--check"]) == 1
    assert "nope.json: file not found" in capsys.readouterr().err


# -- options and bad input --------------------------------------------------------------------


def test_no_xnnpack_and_threads_are_recorded(out):
    result = bench(
        [str(out / "edge_cnn_tiny" / "edge_cnn_tiny.float32.tflite")],
        out=out,
        options=fast_options(runtimes=("litert",), xnnpack=False, threads=2),
        **QUIET,
    )
    assert {r.provider for r in result.results} == {"builtin kernels, 7 nodes (XNNPACK off)"}
    assert {r.threads for r in result.results} == {2}


def test_tolerances_file_and_overrides(tmp_path):
    """A family's entry applies to each of its recipes, a recipe's own entry wins over it."""
    defaults = default_tolerances()
    path = tmp_path / "tol.json"
    path.write_text(
        json.dumps(
            {
                "int8": {"min_agreement": 0.5},
                "integer": {"max_accuracy_drop": 2.5, "min_agreement": 0.9},
            }
        )
    )
    tolerances = load_tolerances(path)
    assert tolerances["dynamic"].max_accuracy_drop == tolerances["int8"].max_accuracy_drop == 2.5
    assert tolerances["int8"].min_agreement == 0.5 and tolerances["dynamic"].min_agreement == 0.9
    assert tolerances["float32"] == defaults["float32"]
    assert load_tolerances(None, {"min_agreement": 0.5})["float16"].min_agreement == 0.5
    committed = load_tolerances(Path(__file__).parents[1] / "bench" / "tolerances.json")
    assert committed["int8"].max_accuracy_drop < defaults["int8"].max_accuracy_drop  # stricter
    path.write_text(json.dumps({"ints": {}}))
    with pytest.raises(UsageError, match="unknown family or recipe 'ints'"):
        load_tolerances(path)


def test_a_tolerance_exceeded_is_a_result(out):
    strict = {**default_tolerances(), "int8": Tolerance(1.0, 0.0, 1e-9)}
    result = bench(
        [str(out / "edge_cnn_tiny" / "edge_cnn_tiny.int8.tflite")],
        out=out,
        options=fast_options(runtimes=("litert",), tolerances=strict),
        **QUIET,
    )
    assert {r.parity for r in result.results if r.status == "ok"} == {"fail"}
    assert "max abs diff" in " ".join(result.results[0].parity_failures)


def test_export_and_bench_judge_an_artifact_the_same_way(out):
    """One contract: on export's verify images, bench's parity of each file (in the runtime its
    format runs in) has the figures and the verdict export recorded in the manifest."""
    verify_images = 1000  # export's default --verify-samples
    report = bench(
        list(MODELS),
        out=out,
        options=fast_options(
            runtimes=("litert", "onnxruntime"), test_limit=verify_images, batch_sizes=(1,)
        ),
        **QUIET,
    )
    compared = 0
    for name in MODELS:
        manifest = json.loads((out / name / "manifest.json").read_text())
        for entry in manifest["artifacts"]:
            row = next(
                r
                for r in report.results
                if Path(r.artifact).name == entry["file"] and r.status == "ok"
            )
            exported = entry["parity"]
            assert exported["images"] == verify_images
            assert row.agreement == exported["agreement"], entry["file"]
            assert row.accuracy == exported["accuracy"], entry["file"]
            assert row.max_abs_diff == pytest.approx(exported["max_abs_diff"], rel=1e-5)
            assert (row.parity == "pass") == exported["passed"], entry["file"]
            assert row.parity_failures == exported["failures"], entry["file"]
            assert exported["tolerance"] == vars(default_tolerances()[entry["recipe"]])
            compared += 1
    assert compared == 2 * (4 + 3)  # two models: four .tflite recipes, three .onnx (no int16x8)


def test_bad_artifacts_fail_their_rows_and_the_rest_is_measured(out, tmp_path):
    folder = tmp_path / "edge_cnn_tiny"
    folder.mkdir()
    src = out / "edge_cnn_tiny"
    shutil.copy(src / "edge_cnn_tiny.keras", folder)
    shutil.copy(src / "edge_cnn_tiny.float32.tflite", folder)
    good = (src / "edge_cnn_tiny.int8.tflite").read_bytes()
    (folder / "edge_cnn_tiny.int8.tflite").write_bytes(good[: len(good) // 3])  # truncated
    (folder / "edge_cnn_tiny.dynamic.tflite").write_bytes(
        (src / "edge_cnn_tiny.float32.onnx").read_bytes()
    )  # wrong format under a .tflite name
    (folder / "edge_cnn_tiny.float16.tflite").write_bytes(  # an MLP: input (784,), not 28x28x1
        (out / "seed003_ann16_relu" / "seed003_ann16_relu.float32.tflite").read_bytes()
    )
    (folder / "edge_cnn_tiny.int8.onnx").write_bytes(b"\x08\x07garbage")
    result = bench(
        ["edge_cnn_tiny"],
        out=tmp_path,
        options=fast_options(runtimes=("litert", "onnxruntime")),
        **QUIET,
    )
    status = {(Path(r.artifact).name, r.batch): (r.status, r.reason) for r in result.results}
    assert status[("edge_cnn_tiny.float32.tflite", 1)][0] == "ok"
    for name in (
        "edge_cnn_tiny.int8.tflite",
        "edge_cnn_tiny.dynamic.tflite",
        "edge_cnn_tiny.int8.onnx",
    ):
        state, reason = status[(name, 1)]
        # The row names the file; its reason does not repeat the path.
        assert state == "failed" and reason.startswith(
            ("LiteRT cannot load it", "ONNX Runtime cannot load it")
        ), reason
    state, reason = status[("edge_cnn_tiny.float16.tflite", 1)]
    assert state == "failed"
    assert reason == ("input shape (784,) does not match the data's (28, 28, 1) for edge_cnn_tiny")


def test_bad_arguments(out, tmp_path, monkeypatch):
    from edgedigits.zoo import pretrained as shipped

    monkeypatch.setattr(shipped, "index", dict)  # as if no weights shipped
    with pytest.raises(
        UnknownNameError,
        match="--runtimes tensorrt: unknown runtime; choose from keras, keras-predict, litert",
    ):
        bench(["edge_cnn_tiny"], out=out, options=fast_options(runtimes=("tensorrt",)), **QUIET)
    with pytest.raises(UsageError, match=r"nothere\.tflite: no such file"):
        bench([str(tmp_path / "nothere.tflite")], out=out, **QUIET)
    (tmp_path / "model.tflite").write_bytes(b"x")
    with pytest.raises(UsageError, match=r"model\.tflite: cannot tell which zoo model"):
        bench([str(tmp_path / "model.tflite")], out=out, **QUIET)
    with pytest.raises(
        ModelFileError, match="trained model not found; run 'edgedigits train seed004_cnn"
    ):
        bench(["seed004_cnn"], out=out, **QUIET)


def test_pipeline_trains_exports_and_benches(tmp_path, capsys, monkeypatch):
    """...and its pre-flight (the workspace: names, folders, records) runs once: each model
    folder's records are read once before any work, not again by export and by bench."""
    from edgedigits.export import artifact_store

    checked: list[str] = []
    check_model_folder = artifact_store.check_model_folder

    def counted(folder):
        checked.append(Path(folder).name)
        return check_model_folder(folder)

    monkeypatch.setattr(artifact_store, "check_model_folder", counted)
    args = [
        "pipeline",
        "seed003_ann16_relu",
        "--out",
        str(tmp_path),
        "--epochs",
        "1",
        "--quant",
        "float32,int8",
        "--test-limit",
        "500",
        "--min-runs",
        "5",
        "--min-seconds",
        "0.01",
        "--runtimes",
        "keras,litert,onnxruntime",
        "--batch",
        "4",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    report_dir = tmp_path / "report"
    assert f"report: {report_dir / 'bench.json'}" in out
    doc = json.loads((report_dir / "bench.json").read_text())
    files = {(Path(r["artifact"]).name, r["runtime"]) for r in doc["results"]}
    # The pipeline covers every target: the int8 .tflite is the web/phone one (float32 I/O).
    assert ("seed003_ann16_relu.int8.io-float32.tflite", "litert") in files
    assert ("seed003_ann16_relu.int8.onnx", "onnxruntime") in files
    assert (report_dir / "bench_accuracy_vs_latency.png").is_file()
    assert checked == ["seed003_ann16_relu"]  # once (it was three times: pipeline, export, bench)
    from edgedigits.export.workspace import Workspace
    from edgedigits.verify import verify

    verified = verify(workspace=Workspace(tmp_path, ("seed003_ann16_relu",)))
    assert verified.passed and verified.folders == [str(tmp_path / "seed003_ann16_relu")]


def test_the_app_path_is_scored_once_per_file_and_reported(report, doc):
    """Drawn digits (benchmark/app_path.py): each file in its first runtime, three ways on the
    same digits; the naive resize far below the contract; the report's own section."""
    ok = [r for r in report.results if r.status == "ok"]
    scored = [r for r in ok if r.app_path_accuracy is not None]
    runtimes: dict[str, set[str]] = {}
    for r in scored:  # one runtime's rows per file (its batch sizes share the scoring)
        runtimes.setdefault(r.artifact, set()).add(r.runtime)
    assert set(runtimes) == {r.artifact for r in ok}
    assert all(len(names) == 1 for names in runtimes.values()), runtimes
    for r in scored:
        assert r.app_path_images == TEST_LIMIT or r.app_path_images == 1000
        assert r.naive_path_accuracy < r.app_path_accuracy - 20, r.artifact
        assert r.app_path_mnist_accuracy > 50
    text = reports.to_markdown(doc)
    assert "## The app path: drawn digits" in text and "naive resize %" in text
