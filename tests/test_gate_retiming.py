"""The gate's re-timing of a latency alarm, and its machine notes, on small hand-made reports
(fast tier: no model is trained). The gate itself is pinned on real bench runs in test_bench.py.
"""

from __future__ import annotations

import copy

import pytest

from edgedigits.benchmark.gate import check, check_and_retime, reference_speed


def _row(model, recipe, fmt, runtime, rounds, batch=1):
    return {"model": model, "artifact": f"/x/{model}/{model}.{recipe}.{fmt}", "recipe": recipe,
            "format": fmt, "runtime": runtime, "batch": batch, "status": "ok",
            "round_p50_us": list(rounds)}


def _doc(int8_factor=1.0, reference_us=10.0, other_factor=1.0, machine=None):
    """Two models; ``int8_factor`` slows model a's int8 ONNX row against its reference."""
    ref = [reference_us * f for f in (1.0, 1.02, 0.98, 1.01, 0.99, 1.0)]
    results = [_row("a", "float32", "tflite", "litert", ref),
               _row("a", "int8", "onnx", "onnxruntime", [2 * int8_factor * v for v in ref]),
               _row("a", "int8", "tflite", "litert", [0.6 * v for v in ref]),
               _row("b", "float32", "tflite", "litert", ref),
               _row("b", "int8", "onnx", "onnxruntime", [3 * other_factor * v for v in ref])]
    return {"machine": machine or {}, "results": results}


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
        "latency: a.int8.onnx on onnxruntime (batch 1) is 3.00x its float32 LiteRT reference")
    assert "confirmed" in result.to_markdown()


def test_retiming_stops_once_the_alarm_is_gone_and_never_runs_without_one():
    baseline = _doc()
    retime = _Retimer(_doc(), _doc(int8_factor=9.0))
    assert check_and_retime(_doc(int8_factor=1.5), baseline, retime, retries=2, pause_s=0,
                            log=lambda s: None).passed
    assert len(retime.calls) == 1  # the second prepared report was never asked for
    idle = _Retimer()
    assert check_and_retime(_doc(), baseline, idle, pause_s=0).passed and idle.calls == []
    off = check_and_retime(_doc(int8_factor=1.5), baseline, idle, retries=0, pause_s=0)
    assert not off.passed and idle.calls == [] and off.retimings == []


def test_retiming_keeps_the_first_verdict_when_nothing_could_be_measured_again():
    baseline = _doc()
    empty = {"machine": {}, "results": [dict(r, status="failed", reason="gone")
                                        for r in _doc()["results"] if r["model"] == "a"]}
    result = check_and_retime(_doc(int8_factor=1.5), baseline, _Retimer(empty), retries=1,
                              pause_s=0, log=lambda s: None)
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


def test_the_gate_notes_a_baseline_from_another_cpu():
    here = {"cpu": "AMD EPYC", "cpu_id": "AuthenticAMD family 25 model 1 stepping 1",
            "cpu_flags": ["avx2", "fma"]}
    there = dict(here, cpu_id="AuthenticAMD family 25 model 17 stepping 1",
                 cpu_flags=["avx2", "avx512_vnni", "avx512f", "fma"])
    notes = check(_doc(machine=here), _doc(machine=there)).notes
    assert any("another CPU (AuthenticAMD family 25 model 17 stepping 1)" in n
               and "avx512_vnni, avx512f" in n for n in notes), notes
    for same in (here, {"cpu": "AMD EPYC"}):  # the same CPU, or a report older than cpu_id
        assert not any("another CPU" in n
                       for n in check(_doc(machine=here), _doc(machine=same)).notes)
