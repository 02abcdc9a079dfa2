"""The gate's re-timing of a latency alarm and its choice of baseline by CPU, on small hand-made
reports (fast tier: no model is trained). The gate itself is pinned on real bench runs in
test_bench.py.
"""

from __future__ import annotations

import copy

import pytest

from edgedigits.benchmark.gate import check, select_baseline
from edgedigits.benchmark.retiming import check_and_retime, reference_speed


def _row(model, recipe, fmt, runtime, rounds, batch=1):
    return {
        "model": model,
        "artifact": f"/x/{model}/{model}.{recipe}.{fmt}",
        "recipe": recipe,
        "format": fmt,
        "runtime": runtime,
        "batch": batch,
        "status": "ok",
        "round_p50_us": list(rounds),
    }


SAME = {"cpu": "test CPU", "cpu_id": "TestVendor family 1 model 1 stepping 1", "cpu_flags": []}


def _doc(int8_factor=1.0, reference_us=10.0, other_factor=1.0, machine=None):
    """Two models; ``int8_factor`` slows model a's int8 ONNX row against its reference."""
    ref = [reference_us * f for f in (1.0, 1.02, 0.98, 1.01, 0.99, 1.0)]
    results = [
        _row("a", "float32", "tflite", "litert", ref),
        _row("a", "int8", "onnx", "onnxruntime", [2 * int8_factor * v for v in ref]),
        _row("a", "int8", "tflite", "litert", [0.6 * v for v in ref]),
        _row("b", "float32", "tflite", "litert", ref),
        _row("b", "int8", "onnx", "onnxruntime", [3 * other_factor * v for v in ref]),
    ]
    return {"machine": machine or SAME, "results": results}


class _Retimer:
    """Stands in for benching again: hands out the next prepared report, records the models."""

    def __init__(self, *docs):
        self.docs, self.calls = list(docs), []

    def __call__(self, models):
        self.calls.append(models)
        return self.docs.pop(0)


def test_an_alarm_that_a_fresh_measurement_does_not_repeat_passes():
    baseline = _doc()
    busy = _doc(int8_factor=1.6, reference_us=13.0)  # a busy spell: int8 kernels hit hardest
    assert not check(busy, baseline).passed
    retime = _Retimer(_doc(int8_factor=1.02))
    result = check_and_retime(busy, baseline, retime, pause_s=0, log=lambda s: None)
    assert result.passed and retime.calls == [["a"]]  # only the model that alarmed
    [retiming] = result.retimings
    assert (retiming.attempt, retiming.model, retiming.confirmed) == (1, "a", False)
    assert retiming.reference_speed == pytest.approx(1.3)  # the busy run's reference, absolute
    assert "a.int8.onnx on onnxruntime (batch 1) 1.02x" in retiming.worst
    growth = {c.artifact: c.growth for c in result.comparisons}
    assert growth["a.int8.onnx"] == pytest.approx(1.02)  # the fresh measurement replaced it
    assert "gone" in result.to_markdown() and "benched again" in result.to_markdown()


def test_a_regression_that_every_measurement_repeats_fails():
    baseline, slow = _doc(), _doc(int8_factor=1.5)
    retime = _Retimer(copy.deepcopy(slow), copy.deepcopy(slow))
    result = check_and_retime(slow, baseline, retime, retries=2, pause_s=0, log=lambda s: None)
    assert not result.passed and retime.calls == [["a"], ["a"]]
    assert [r.confirmed for r in result.retimings] == [True, True]
    assert len(result.failures) == 1 and result.failures[0].startswith(
        "latency: a.int8.onnx on onnxruntime (batch 1) is 3.00x its reference "
        "(a.float32.tflite on litert)"
    )
    assert "confirmed" in result.to_markdown()


def test_retiming_stops_once_the_alarm_is_gone_and_never_runs_without_one():
    baseline = _doc()
    retime = _Retimer(_doc(), _doc(int8_factor=9.0))
    assert check_and_retime(
        _doc(int8_factor=1.5), baseline, retime, retries=2, pause_s=0, log=lambda s: None
    ).passed
    assert len(retime.calls) == 1  # the second prepared report was never asked for
    idle = _Retimer()
    assert check_and_retime(_doc(), baseline, idle, pause_s=0).passed and idle.calls == []
    off = check_and_retime(_doc(int8_factor=1.5), baseline, idle, retries=0, pause_s=0)
    assert not off.passed and idle.calls == [] and off.retimings == []


def test_retiming_keeps_the_first_verdict_when_nothing_could_be_measured_again():
    baseline = _doc()
    empty = {
        "machine": {},
        "results": [
            dict(r, status="failed", reason="gone") for r in _doc()["results"] if r["model"] == "a"
        ],
    }
    result = check_and_retime(
        _doc(int8_factor=1.5), baseline, _Retimer(empty), retries=1, pause_s=0, log=lambda s: None
    )
    assert not result.passed and result.retimings == []
    assert any("re-timing compared nothing" in n for n in result.notes)


def test_parity_failures_are_not_retimed_away():
    bad = _doc()
    bad["results"][1].update(parity="fail", parity_failures=["agreement 90.00% < 98%"])
    retime = _Retimer()
    result = check_and_retime(bad, _doc(), retime, pause_s=0)
    assert not result.passed and retime.calls == []
    assert result.failures[0].startswith("parity: a.int8.onnx on onnxruntime")


def test_reference_speed_is_the_absolute_reference_latency_against_the_baseline():
    assert reference_speed(_doc(reference_us=15.0), _doc(), "a") == pytest.approx(1.5)
    assert reference_speed(_doc(), _doc(), "nobody") is None


HERE = {
    "cpu": "AMD EPYC",
    "cpu_id": "AuthenticAMD family 25 model 1 stepping 1",
    "cpu_flags": ["avx2", "fma"],
}
THERE = dict(
    HERE,
    cpu_id="AuthenticAMD family 25 model 17 stepping 1",
    cpu_flags=["avx2", "avx512_vnni", "avx512f", "fma"],
)
UNNAMED = {"cpu": "AMD EPYC"}  # a report older than cpu_id


def test_a_baseline_from_another_cpu_is_reported_not_judged():
    result = check(_doc(int8_factor=2.3, machine=HERE), _doc(machine=THERE))
    assert result.passed and result.comparisons  # compared, shown, not judged
    assert any(
        "another CPU (AuthenticAMD family 25 model 17 stepping 1)" in n
        and "avx512_vnni, avx512f" in n
        for n in result.notes
    ), result.notes
    assert any(
        n.startswith("latency not judged: 1 row(s) beyond 1.3x")
        and "a.int8.onnx on onnxruntime (batch 1) 2.30x" in n
        for n in result.notes
    )
    bad = _doc(int8_factor=2.3, machine=HERE)
    bad["results"][2].update(parity="fail", parity_failures=["agreement 90.00% < 98%"])
    assert not check(bad, _doc(machine=THERE)).passed  # parity is judged on any machine
    judged = check(_doc(int8_factor=2.3, machine=HERE), _doc(machine=HERE))  # same CPU: judged
    assert not judged.passed and not any("another CPU" in n for n in judged.notes)


def test_a_baseline_that_names_no_cpu_is_reported_not_judged():
    """It used to be taken as comparable: on Intel family 6 model 167 the shipped workflow then
    failed unchanged code (4 'regressions' of dynamic-range .tflite files, 1.32-2.14x)."""
    result = check(_doc(int8_factor=2.3, machine=HERE), _doc(machine=UNNAMED))
    assert result.passed and result.comparisons
    assert any(n.startswith("the baseline names no CPU") for n in result.notes), result.notes
    assert any(n.startswith("latency not judged: 1 row(s)") for n in result.notes)


def test_the_baseline_is_chosen_by_the_runs_cpu():
    run = _doc(machine=HERE)
    there, unnamed, here = (
        ("there.json", _doc(machine=THERE)),
        ("old.json", _doc(machine=UNNAMED)),
        ("here.json", _doc(machine=HERE)),
    )
    assert select_baseline(run, [there, unnamed, here])[0] == "here.json"
    assert select_baseline(run, [there, unnamed])[0] == "there.json"  # reported, not judged
    assert select_baseline(run, [unnamed, there])[0] == "old.json"  # reported, not judged
    assert select_baseline(_doc(machine=UNNAMED), [here, unnamed])[0] == "here.json"
    assert select_baseline(run, []) is None


def test_batch_32_rows_are_gated_against_the_float32_onnx_reference():
    """The .tflite files are batch 1, so a batch-32 group has no LiteRT row; its reference is the
    float32 .onnx on ONNX Runtime, and its rows are judged like batch 1's."""

    def doc(factor):
        ref = [20.0, 20.4, 19.6, 20.2, 19.8, 20.0]
        return {
            "machine": SAME,
            "results": [
                _row("a", "float32", "onnx", "onnxruntime", ref, batch=32),
                _row("a", "int8", "onnx", "onnxruntime", [1.5 * factor * v for v in ref], 32),
                _row("a", "dynamic", "ort", "onnxruntime", [1.1 * v for v in ref], batch=32),
            ],
        }

    assert check(doc(1.0), doc(1.0)).passed
    result = check(doc(1.6), doc(1.0))
    assert {(c.artifact, c.batch) for c in result.comparisons} == {
        ("a.int8.onnx", 32),
        ("a.dynamic.ort", 32),
    }
    assert not result.passed
    assert result.failures[0].startswith("latency: a.int8.onnx on onnxruntime (batch 32)")
