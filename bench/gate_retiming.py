"""Benchmark: does re-timing clear a busy machine's latency alarm, and still catch a real one?

    python bench/gate_retiming.py --out exports      # ~15 min on 2 CPU cores, idle otherwise

Needs one model's exported artifacts under ``--out`` (``edgedigits pipeline --out exports``).
Three scenarios, each benching ``--model`` (default ``edge_cnn_micro``) with the bench's default
timing in every runtime but keras-predict (as ``gate_noise.py``; 1,000 test images, parity is not
the point), gated the way ``--check`` gates: first measurement, then up to the default number of
re-timings after the default pause (``edgedigits.benchmark.gate.check_and_retime``):

1. **baseline**: the machine idle;
2. **busy**: the first measurement runs while a training job (``edgedigits train``, nice 19)
   works on the other vCPU, as in ``gate_under_load.md``; the job is stopped when that
   measurement ends, so the re-timings see an idle machine again. The alarm, if the load raised
   one, should be gone;
3. **injected**: one artifact (``--inject``, default the model's int8 ONNX file) is made exactly
   1.5x slower in the first measurement *and* in every re-timing (``gate_noise.slowed_runner``):
   a real regression, which every re-timing must confirm.

Writes ``bench/results/gate_retiming.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gate_noise import SLOWDOWN, slowed_runner  # noqa: E402 - a sibling script

RESULTS = Path(__file__).resolve().parent / "results"
LOAD_WARMUP_S = 20.0  # TensorFlow's import and the data load, before the training job is busy


def _bench_doc(out: str, model: str) -> dict:
    from edgedigits.benchmark import BenchOptions, bench
    from edgedigits.benchmark import report as reports
    from edgedigits.runtimes import RUNTIMES

    options = BenchOptions(runtimes=tuple(n for n in RUNTIMES if n != "keras-predict"),
                           test_limit=1000)
    return reports.to_document(bench([model], out=out, options=options, log=lambda _m: None))


def _gated(first: dict, baseline: dict, out: str, model: str, log) -> dict:
    """The gate's verdict on ``first`` with re-timing, and the first verdict without it."""
    from edgedigits.benchmark.gate import check, check_and_retime, reference_speed

    def worst(result):
        c = max(result.comparisons, key=lambda c: c.ci_low)
        return {"row": f"{c.artifact} on {c.runtime} (batch {c.batch})",
                "growth": round(c.growth, 3), "ci_low": round(c.ci_low, 3),
                "ci_high": round(c.ci_high, 3)}

    alone = check(first, baseline)
    final = check_and_retime(first, baseline, lambda _models: _bench_doc(out, model), log=log)
    return {"reference_speed": round(reference_speed(first, baseline, model), 3),
            "first": {"passed": alone.passed, "failures": alone.failures, "worst": worst(alone)},
            "retimings": [vars(r) for r in final.retimings],
            "final": {"passed": final.passed, "failures": final.failures, "worst": worst(final)}}


def run(out: str, model: str, inject: str, log=print) -> dict:
    from edgedigits.runtimes import RUNTIMES

    log(f"baseline: benching {model}, machine idle")
    baseline = _bench_doc(out, model)

    log("busy: starting a training job at nice 19 on the other vCPU")
    with tempfile.TemporaryDirectory() as scratch:
        load = subprocess.Popen(
            ["nice", "-n", "19", sys.executable, "-m", "edgedigits", "train", "seed004_cnn",
             "--out", scratch, "--epochs", "50"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(LOAD_WARMUP_S)
            if load.poll() is not None:
                raise SystemExit(f"the load job exited early (code {load.returncode})")
            busy_doc = _bench_doc(out, model)
        finally:
            load.terminate()
            load.wait()
    log("busy: load stopped; gating with re-timing")
    busy = _gated(busy_doc, baseline, out, model, log)

    log(f"injected: {inject} {SLOWDOWN}x slower in every measurement")
    saved = dict(RUNTIMES)
    try:
        for name, cls in saved.items():
            RUNTIMES[name] = slowed_runner(cls, inject, SLOWDOWN)
        injected = _gated(_bench_doc(out, model), baseline, out, model, log)
    finally:
        RUNTIMES.update(saved)
    return {"model": model, "inject": inject, "slowdown_injected": SLOWDOWN,
            "busy": busy, "injected": injected}


def write_report(summary: dict, command: str) -> str:
    from edgedigits.benchmark.gate import DEFAULT_MAX_SLOWDOWN, DEFAULT_RETRIES, RETRY_PAUSE_S
    from edgedigits.benchmark.report import machine_info

    info = machine_info()
    summary = {"machine": info, "command": command, "max_slowdown": DEFAULT_MAX_SLOWDOWN,
               "retries": DEFAULT_RETRIES, "pause_s": RETRY_PAUSE_S, **summary}

    def verdict(v):
        w = v["worst"]
        return (f"{'passed' if v['passed'] else 'FAILED'}; largest interval {w['row']} "
                f"{w['growth']:.2f}x ({w['ci_low']:.2f}-{w['ci_high']:.2f})")

    lines = ["# Gate re-timing: a busy spell against a real regression", "",
             f"`{command}` on {info['cpu']} ({info.get('cpu_id', '?')}), {info['cores']} cores. "
             f"Model {summary['model']}, every runtime but keras-predict, default timing, "
             f"limit {DEFAULT_MAX_SLOWDOWN}x, up to {DEFAULT_RETRIES} re-timings after "
             f"{RETRY_PAUSE_S:g} s each. Busy: a training job at nice 19 ran beside the first "
             f"measurement only. Injected: {summary['inject']} {SLOWDOWN}x slower in every "
             "measurement.", "",
             "| scenario | reference vs baseline | first measurement alone | re-timings "
             "| verdict with re-timing |", "|---|---:|---|---|---|"]
    for name in ("busy", "injected"):
        s = summary[name]
        attempts = "; ".join(f"{r['attempt']}: {'confirmed' if r['confirmed'] else 'gone'} "
                             f"({r['worst']})" for r in s["retimings"]) or "none (no alarm)"
        lines.append(f"| {name} | {s['reference_speed']:.2f}x | {verdict(s['first'])} | "
                     f"{attempts} | {verdict(s['final'])} |")
    for name in ("busy", "injected"):
        if summary[name]["first"]["failures"]:
            lines += ["", f"First-measurement failures, {name}:", ""]
            lines += [f"* {f}" for f in summary[name]["first"]["failures"]]
    (RESULTS / "gate_retiming.json").write_text(json.dumps(summary, indent=1) + "\n")
    text = "\n".join(lines) + "\n"
    (RESULTS / "gate_retiming.md").write_text(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="exports")
    parser.add_argument("--model", default="edge_cnn_micro")
    parser.add_argument("--inject", default=None,
                        help="the artifact file made 1.5x slower (default: MODEL.int8.onnx)")
    args = parser.parse_args(argv)
    inject = args.inject or f"{args.model}.int8.onnx"
    if not (Path(args.out) / args.model / inject).is_file():
        parser.error(f"--inject {inject}: not found under {Path(args.out) / args.model}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = run(args.out, args.model, inject)
    command = "python bench/gate_retiming.py" + "".join(
        f" {flag} {value}" for flag, value in (("--model", args.model), ("--inject", args.inject))
        if value and value != parser.get_default(flag.lstrip("-")))
    print(write_report(summary, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
