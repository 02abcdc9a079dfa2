"""Bench: runners, parity numbers against an independent computation, schema, gate, bad input."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgedigits.benchmark import BenchOptions, TimingOptions, bench, check, load_tolerances
from edgedigits.benchmark import report as reports
from edgedigits.benchmark.gate import load_baseline
from edgedigits.benchmark.parity import DEFAULT_TOLERANCES
from edgedigits.cli import main
from edgedigits.data import load_dataset
from edgedigits.errors import UnknownNameError, UsageError
from edgedigits.export import export
from edgedigits.runtimes import RUNTIMES
from edgedigits.training import train
from edgedigits.zoo import get_spec

QUIET = dict(log=lambda _msg: None)
FAST = TimingOptions(warmup=1, min_runs=5, min_seconds=0.01)
TEST_LIMIT = 2000
MODELS = ("seed003_ann16_relu", "edge_cnn_tiny")


def fast_options(**kwargs) -> BenchOptions:
    return BenchOptions(timing=FAST, test_limit=TEST_LIMIT, batch_sizes=(1, 8), **kwargs)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    train(MODELS, out=out, epochs=1, limit=5000, verbose=0, **QUIET)
    export(MODELS, formats="tflite,onnx", recipes="float32,int8,dynamic", out=out,
           calibration_samples=100, **QUIET)
    return out


@pytest.fixture(scope="module")
def report(out):
    return bench(MODELS, out=out, options=fast_options(), **QUIET)


@pytest.fixture(scope="module")
def doc(report):
    return reports.to_document(report)


def _row(doc_or_report, artifact, runtime, batch=1):
    rows = doc_or_report["results"] if isinstance(doc_or_report, dict) else [
        r.to_json() for r in doc_or_report.results]
    return next(r for r in rows if Path(r["artifact"]).name == artifact
                and r["runtime"] == runtime and r["batch"] == batch)


def test_every_cpu_runner_measures_each_artifact(report):
    for name in MODELS:
        for artifact, runtime in [(f"{name}.keras", "keras"), (f"{name}.keras", "keras-predict"),
                                  (f"{name}.float32.tflite", "litert"),
                                  (f"{name}.int8.tflite", "litert"),
                                  (f"{name}.dynamic.tflite", "litert"),
                                  (f"{name}.float32.onnx", "onnxruntime"),
                                  (f"{name}.int8.onnx", "onnxruntime"),
                                  (f"{name}.dynamic.onnx", "onnxruntime")]:
            for batch in (1, 8):
                row = _row(report, artifact, runtime, batch)
                assert row["status"] == "ok", (artifact, runtime, row["reason"])
                lat = row["latency_us"]
                assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"]
                assert row["runs"] >= FAST.min_runs
                assert row["throughput_per_s"] == pytest.approx(batch / (lat["p50"] / 1e6),
                                                                rel=1e-3)
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


def test_onnxruntime_reports_the_provider_that_ran(report):
    row = _row(report, "edge_cnn_tiny.float32.onnx", "onnxruntime")
    assert row["provider"] == "CPUExecutionProvider"
    assert _row(report, "edge_cnn_tiny.float32.tflite", "litert")["provider"] == "XNNPACK delegate"


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
        100 * np.mean(keras_probs.argmax(1) == labels), abs=1e-4)
    assert row["agreement"] == pytest.approx(np.mean(probs.argmax(1) == keras_probs.argmax(1)),
                                             abs=1e-6)
    assert row["max_abs_diff"] == pytest.approx(np.abs(probs - keras_probs).max(), rel=1e-4)
    disagree = np.flatnonzero(probs.argmax(1) != keras_probs.argmax(1))
    assert row["disagreements"] == len(disagree)
    assert row["disagreement_indices"] == disagree[:100].tolist()
    assert np.sum(np.abs(row["confusion_delta"])) <= 2 * len(disagree)
    assert np.sum(row["confusion_delta"]) == 0  # same images, same labels: counts move, not vanish


def test_json_validates_against_the_schema(doc, tmp_path):
    import jsonschema

    jsonschema.validate(doc, reports.schema())
    assert doc["schema"] == "edgedigits.bench/1"
    assert doc["machine"]["cores"] and doc["machine"]["packages"]["tensorflow"] == "2.21.0"
    assert doc["settings"]["harness_overhead_us"]["p50"] > 0
    broken = copy.deepcopy(doc)
    del broken["results"][0]["latency_us"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, reports.schema())


def test_markdown_and_step_summary(doc, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    text = reports.write_markdown(doc, tmp_path / "bench.md")
    assert (tmp_path / "bench.md").read_text() == text
    appended = summary.read_text()
    assert appended.startswith("earlier step\n# edgedigits bench")  # appended, not replaced
    assert "edge_cnn_tiny.int8.tflite | litert | 1 |" in appended
    assert "skipped: " in text


def test_pareto_plots(doc, tmp_path):
    files = reports.write_plots(doc, tmp_path / "bench")
    assert [Path(f).name for f in files] == ["bench_accuracy_vs_latency.png",
                                             "bench_accuracy_vs_size.png"]
    assert reports.pareto_front([(1, 90), (2, 95), (3, 94), (0.5, 80)]) == [3, 0, 1]


# -- the gate --------------------------------------------------------------------------------

def _scaled(doc, factor, only=None):
    new = copy.deepcopy(doc)
    for row in new["results"]:
        if row["status"] == "ok" and (only is None or only(row)):
            row["latency_us"] = {k: v * factor for k, v in row["latency_us"].items()}
    return new


def test_gate_passes_against_itself_and_on_a_uniformly_slower_machine(doc):
    assert check(doc, doc).passed
    slower = _scaled(doc, 3.0)  # every row 3x slower: a slower CI machine
    result = check(slower, doc)
    assert result.passed and result.compared > 0


def test_gate_fails_on_an_injected_slowdown(doc):
    target = "edge_cnn_tiny.int8.onnx"
    slowed = _scaled(doc, 2.0, only=lambda r: Path(r["artifact"]).name == target)
    result = check(slowed, doc)
    assert not result.passed
    assert any(f.startswith(f"latency: {target} on onnxruntime (batch 1)") and "limit 1.5x" in f
               for f in result.failures)


def test_gate_fails_on_parity_failure_and_on_newly_failing_rows(doc):
    bad = copy.deepcopy(doc)
    row = next(r for r in bad["results"] if r["parity"] == "pass")
    row["parity"], row["parity_failures"] = "fail", ["agreement 90.00% < 98%"]
    assert any("parity: " in f and "agreement 90.00%" in f for f in check(bad, None).failures)
    broken = copy.deepcopy(doc)
    row = next(r for r in broken["results"] if r["status"] == "ok")
    row["status"], row["reason"] = "failed", "LiteRT cannot load it"
    assert any(f.startswith("now failing: ") for f in check(broken, doc).failures)


def test_gate_bad_baselines(tmp_path):
    with pytest.raises(UsageError, match=r"--baseline .*missing\.json: file not found"):
        load_baseline(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text('{"schema": "something/2"}')
    with pytest.raises(UsageError, match="not an edgedigits.bench/1 report"):
        load_baseline(tmp_path / "other.json")


def test_cli_check_exit_codes(out, doc, tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(_scaled(doc, 1.0)))
    args = ["bench", str(out / "edge_cnn_tiny" / "edge_cnn_tiny.float32.tflite"),
            str(out / "edge_cnn_tiny" / "edge_cnn_tiny.int8.tflite"), "--runtimes", "litert",
            "--test-limit", "500", "--min-runs", "5", "--min-seconds", "0.01", "--batch", "8",
            "--json", str(tmp_path / "now.json"), "--markdown", str(tmp_path / "now.md")]
    assert main(args + ["--baseline", str(baseline), "--check", "--max-slowdown", "100"]) == 0
    assert "gate: passed" in capsys.readouterr().out
    slowed = _scaled(doc, 1 / 500, only=lambda r: Path(r["artifact"]).name ==
                     "edge_cnn_tiny.int8.tflite")  # the baseline was 500x faster: a regression
    baseline.write_text(json.dumps(slowed))
    assert main(args + ["--baseline", str(baseline), "--check"]) == 1
    assert "gate failed: latency: edge_cnn_tiny.int8.tflite on litert" in capsys.readouterr().err
    assert main(args + ["--baseline", str(tmp_path / "nope.json"), "--check"]) == 1
    assert "nope.json: file not found" in capsys.readouterr().err


# -- options and bad input --------------------------------------------------------------------

def test_no_xnnpack_and_threads_are_recorded(out):
    result = bench([str(out / "edge_cnn_tiny" / "edge_cnn_tiny.float32.tflite")], out=out,
                   options=fast_options(runtimes=("litert",), xnnpack=False, threads=2), **QUIET)
    assert {r.provider for r in result.results} == {"builtin kernels (no XNNPACK)"}
    assert {r.threads for r in result.results} == {2}


def test_tolerances_file_and_overrides(tmp_path):
    path = tmp_path / "tol.json"
    path.write_text(json.dumps({"integer": {"max_accuracy_drop": 2.5}}))
    tolerances = load_tolerances(path)
    assert tolerances["integer"].max_accuracy_drop == 2.5
    assert tolerances["float"] == DEFAULT_TOLERANCES["float"]
    assert load_tolerances(None, {"min_agreement": 0.5})["float"].min_agreement == 0.5
    committed = load_tolerances(Path(__file__).parents[1] / "bench" / "tolerances.json")
    assert committed == DEFAULT_TOLERANCES  # the committed file documents the defaults
    path.write_text(json.dumps({"ints": {}}))
    with pytest.raises(UsageError, match="unknown family 'ints'"):
        load_tolerances(path)


def test_a_tolerance_exceeded_is_a_result(out):
    strict = dict(DEFAULT_TOLERANCES)
    strict["integer"] = DEFAULT_TOLERANCES["integer"].__class__(1.0, 0.0, 1e-9)
    result = bench([str(out / "edge_cnn_tiny" / "edge_cnn_tiny.int8.tflite")], out=out,
                   options=fast_options(runtimes=("litert",), tolerances=strict), **QUIET)
    assert {r.parity for r in result.results} == {"fail"}
    assert "max abs diff" in " ".join(result.results[0].parity_failures)


def test_bad_artifacts_fail_their_rows_and_the_rest_is_measured(out, tmp_path):
    folder = tmp_path / "edge_cnn_tiny"
    folder.mkdir()
    src = out / "edge_cnn_tiny"
    shutil.copy(src / "edge_cnn_tiny.keras", folder)
    shutil.copy(src / "edge_cnn_tiny.float32.tflite", folder)
    good = (src / "edge_cnn_tiny.int8.tflite").read_bytes()
    (folder / "edge_cnn_tiny.int8.tflite").write_bytes(good[: len(good) // 3])  # truncated
    (folder / "edge_cnn_tiny.dynamic.tflite").write_bytes(
        (src / "edge_cnn_tiny.float32.onnx").read_bytes())  # wrong format under a .tflite name
    (folder / "edge_cnn_tiny.float16.tflite").write_bytes(  # an MLP: input (784,), not 28x28x1
        (out / "seed003_ann16_relu" / "seed003_ann16_relu.float32.tflite").read_bytes())
    (folder / "edge_cnn_tiny.int8.onnx").write_bytes(b"\x08\x07garbage")
    result = bench(["edge_cnn_tiny"], out=tmp_path, options=fast_options(
        runtimes=("litert", "onnxruntime")), **QUIET)
    status = {(Path(r.artifact).name, r.batch): (r.status, r.reason) for r in result.results}
    assert status[("edge_cnn_tiny.float32.tflite", 1)][0] == "ok"
    for name in ("edge_cnn_tiny.int8.tflite", "edge_cnn_tiny.dynamic.tflite",
                 "edge_cnn_tiny.int8.onnx"):
        state, reason = status[(name, 1)]
        assert state == "failed" and name in reason and "cannot load it" in reason, reason
    state, reason = status[("edge_cnn_tiny.float16.tflite", 1)]
    assert state == "failed"
    assert reason == ("input shape (784,) does not match the data's (28, 28, 1) for "
                      "edge_cnn_tiny")


def test_bad_arguments(out, tmp_path):
    with pytest.raises(UnknownNameError, match="--runtimes tensorrt: unknown runtime; choose "
                                               "from keras, keras-predict, litert"):
        bench(["edge_cnn_tiny"], out=out, options=fast_options(runtimes=("tensorrt",)), **QUIET)
    with pytest.raises(UsageError, match=r"nothere\.tflite: no such file"):
        bench([str(tmp_path / "nothere.tflite")], out=out, **QUIET)
    (tmp_path / "model.tflite").write_bytes(b"x")
    with pytest.raises(UsageError, match=r"model\.tflite: cannot tell which zoo model"):
        bench([str(tmp_path / "model.tflite")], out=out, **QUIET)
    with pytest.raises(Exception, match="trained model not found; run 'edgedigits train "
                                        "seed004_cnn"):
        bench(["seed004_cnn"], out=out, **QUIET)


def test_pipeline_trains_exports_and_benches(tmp_path, capsys):
    args = ["pipeline", "seed003_ann16_relu", "--out", str(tmp_path), "--epochs", "1",
            "--quant", "float32,int8", "--test-limit", "500", "--min-runs", "5",
            "--min-seconds", "0.01", "--runtimes", "keras,litert,onnxruntime", "--batch", "4"]
    assert main(args) == 0
    out = capsys.readouterr().out
    report_dir = tmp_path / "report"
    assert f"report: {report_dir / 'bench.json'}" in out
    doc = json.loads((report_dir / "bench.json").read_text())
    files = {(Path(r["artifact"]).name, r["runtime"]) for r in doc["results"]}
    assert ("seed003_ann16_relu.int8.tflite", "litert") in files
    assert ("seed003_ann16_relu.int8.onnx", "onnxruntime") in files
    assert (report_dir / "bench_accuracy_vs_latency.png").is_file()
