"""ONNX Runtime Mobile: .ort artifacts converted from each .onnx, their operator config, bench and
verify."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgedigits.export import export, to_ort
from edgedigits.training import train

M = "seed003_ann64_relu"
QUIET = dict(log=lambda _msg: None)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("ort")
    train([M], out=out, epochs=1, limit=3000, verbose=0, **QUIET)
    report = export([M], formats="onnx,ort", recipes="float32,int8,dynamic", out=out,
                    calibration_samples=200, **QUIET)
    assert all(r.ok and r.parity["passed"] for r in report.records)
    return out / M


def _ops_in(path) -> set[str]:
    """Operator types of an .ort file, read from its flatbuffer with ONNX Runtime's schema."""
    from onnxruntime.tools.ort_format_model.ort_flatbuffers_py import fbs

    graph = fbs.InferenceSession.InferenceSession.GetRootAs(path.read_bytes(), 0).Model().Graph()
    return {f"{(graph.Nodes(i).Domain() or b'').decode() or 'ai.onnx'}:"
            f"{graph.Nodes(i).OpType().decode()}" for i in range(graph.NodesLength())}


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
    listed = {f"{line.split(';')[0]}:{op}" for line in text.splitlines()
              if line and not line.startswith("#") for op in line.split(";")[2].split(",")}
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
    report = export([M], formats="ort", recipes="float32", out=folder.parent,
                    calibration_samples=200, **QUIET)
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

    options = BenchOptions(runtimes=("onnxruntime",), batch_sizes=(1,), test_limit=300,
                           timing=TimingOptions(rounds=2, min_seconds=0.01))
    result = bench([str(folder / f"{M}.int8.ort")], options=options, **QUIET)
    (row,) = result.results
    assert row.status == "ok" and row.format == "ort" and row.parity == "pass"
    assert np.isfinite(row.load_ms)


def test_runtime_style_is_recorded(folder):
    report = export([M], formats="ort", recipes="float32", out=folder.parent,
                    calibration_samples=200, ort_style="runtime", **QUIET)
    (record,) = report.records
    assert record.ok and record.details["optimization_style"] == "runtime"
