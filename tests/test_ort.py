"""ONNX Runtime Mobile: .ort artifacts converted from each .onnx, their operator config, bench and
verify."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgedigits.export import export, to_ort

from conftest import train_and_export

pytestmark = pytest.mark.integration  # trains or exports models

M = "seed003_ann64_relu"
QUIET = dict(log=lambda _msg: None)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    report, folder = train_and_export(
        tmp_path_factory.mktemp("ort"), M, formats="onnx,ort", recipes="float32,int8,dynamic"
    )
    assert all(r.ok and r.parity["passed"] for r in report.records)
    return folder


def _ops_in(path) -> set[str]:
    """Operator types of an .ort file, read from its flatbuffer with ONNX Runtime's schema."""
    from onnxruntime.tools.ort_format_model.ort_flatbuffers_py import fbs

    graph = fbs.InferenceSession.InferenceSession.GetRootAs(path.read_bytes(), 0).Model().Graph()
    return {
        f"{(graph.Nodes(i).Domain() or b'').decode() or 'ai.onnx'}:"
        f"{graph.Nodes(i).OpType().decode()}"
        for i in range(graph.NodesLength())
    }


def test_ort_records_are_conversions_of_their_onnx(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    golden = json.loads((folder / "golden.json").read_text())
    ort = {r["recipe"]: r for r in manifest["artifacts"] if r["format"] == "ort"}
    assert set(ort) == {"float32", "int8", "dynamic"}
    for recipe, record in ort.items():
        onnx_bytes = (folder / f"{M}.{recipe}.onnx").read_bytes()
        import hashlib

        assert record["details"]["onnx_sha256"] == hashlib.sha256(onnx_bytes).hexdigest()
        assert record["details"]["onnx_max_abs_diff"] <= to_ort.CONVERSION_ATOL
        assert record["details"]["optimization_style"] == "fixed"
        assert record["reproducible"] is False and record["details"]["not_reproducible"]
        assert record["file"] in golden["artifacts"]
        assert (folder / record["file"]).read_bytes()[4:8] == b"ORTM"  # the ORT file identifier


def test_operator_config_lists_exactly_the_operators_of_the_ort_files(folder):
    text = (folder / to_ort.CONFIG_NAME).read_text()
    listed = {
        f"{line.split(';')[0]}:{op}"
        for line in text.splitlines()
        if line and not line.startswith("#")
        for op in line.split(";")[2].split(",")
    }
    used = set().union(*(_ops_in(p) for p in sorted(folder.glob("*.ort"))))
    assert listed == used
    manifest = json.loads((folder / "manifest.json").read_text())
    info = manifest["companions"][to_ort.CONFIG_NAME]
    assert info["covers"] == sorted(p.name for p in folder.glob("*.ort"))
    import hashlib

    assert info["sha256"] == hashlib.sha256(text.encode()).hexdigest()


def test_an_ort_that_is_not_the_conversion_of_its_onnx_fails(folder, monkeypatch):
    other = (folder / f"{M}.dynamic.onnx").read_bytes()
    real = to_ort.convert
    monkeypatch.setattr(to_ort, "convert", lambda _onnx, style="fixed": real(other, style))
    report = export(
        [M], formats="ort", recipes="float32", out=folder.parent, calibration_samples=200, **QUIET
    )
    (record,) = report.records
    assert record.status == "failed" and "not the conversion of its .onnx" in record.reason


def test_verify_and_bench_take_ort_files(folder, capsys):
    from edgedigits.benchmark import BenchOptions, bench
    from edgedigits.benchmark.timing import TimingOptions
    from edgedigits.cli import main

    assert main(["verify", str(folder)]) == 0
    config = folder / to_ort.CONFIG_NAME
    original = config.read_text()
    config.write_text(original + "ai.onnx;13;Conv\n")
    assert main(["verify", str(folder)]) == 1
    assert "required_operators.config: companion:" in capsys.readouterr().err
    config.write_text(original)

    options = BenchOptions(
        runtimes=("onnxruntime",),
        batch_sizes=(1,),
        test_limit=300,
        timing=TimingOptions(rounds=2, min_seconds=0.01),
    )
    result = bench([str(folder / f"{M}.int8.ort")], options=options, **QUIET)
    (row,) = result.results
    assert row.status == "ok" and row.format == "ort" and row.parity == "pass"
    assert np.isfinite(row.load_ms)
    import jsonschema

    from edgedigits.benchmark import report as reports

    jsonschema.validate(reports.to_document(result), reports.schema())  # usable as a baseline


def test_runtime_style_is_recorded(folder):
    report = export(
        [M],
        formats="ort",
        recipes="float32",
        out=folder.parent,
        calibration_samples=200,
        ort_style="runtime",
        **QUIET,
    )
    (record,) = report.records
    assert record.ok and record.details["optimization_style"] == "runtime"


def test_dynamic_batch_files_carry_onnx_runtimes_no_verdict(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    record = next(r for r in manifest["artifacts"] if r["file"] == f"{M}.float32.onnx")
    assert record["details"]["batch"] == "dynamic"
    for ep in ("nnapi", "coreml_neuralnetwork", "coreml_mlprogram"):
        verdict = record["details"]["mobile_usability"][ep]
        assert verdict["verdict"] == "no" and "lost to a dynamic shape" in verdict["reason"]


def test_fixed_batch_files_refuse_batch_2_and_are_usable_by_nnapi(folder, tmp_path):
    import shutil

    import onnxruntime as ort
    from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

    from edgedigits.benchmark import BenchOptions, bench
    from edgedigits.benchmark.timing import TimingOptions

    (tmp_path / M).mkdir()
    shutil.copy(folder / f"{M}.keras", tmp_path / M)
    shutil.copy(folder / "metrics.json", tmp_path / M)
    report = export(
        [M],
        formats="onnx,ort",
        recipes="float32,int8",
        out=tmp_path,
        calibration_samples=200,
        onnx_batch=1,
        **QUIET,
    )
    assert all(r.ok and r.parity["passed"] and r.parity["batch"] == 1 for r in report.records)
    for record in report.records:
        assert record.inputs[0]["shape"][0] == 1 and record.details["batch"] == 1
        session = ort.InferenceSession(str(tmp_path / M / record.file))
        session.run(None, {"input": np.zeros((1, 784), np.float32)})
        with pytest.raises(InvalidArgument, match="Got: 2 Expected: 1"):
            session.run(None, {"input": np.zeros((2, 784), np.float32)})
    usability = {r.file: r.details["mobile_usability"] for r in report.records}
    assert usability[f"{M}.float32.ort"]["nnapi"]["verdict"] == "yes"
    assert usability[f"{M}.float32.onnx"]["coreml_mlprogram"]["verdict"] == "yes"
    assert usability[f"{M}.int8.onnx"]["nnapi"]["verdict"] == "yes"

    options = BenchOptions(
        runtimes=("onnxruntime",),
        batch_sizes=(1, 8),
        test_limit=200,
        timing=TimingOptions(rounds=2, min_seconds=0.01),
    )
    rows = bench([str(tmp_path / M / f"{M}.int8.ort")], options=options, **QUIET).results
    by_batch = {r.batch: r for r in rows}
    assert by_batch[1].status == "ok" and by_batch[1].parity_batch == 1
    assert by_batch[8].status == "skipped"
    assert by_batch[8].reason == "the file's input has a fixed batch of 1; only batch 1 is timed"
