"""Benchmark: how often does the latency gate cry wolf, and how often does it catch a real 1.5x?

    python bench/gate_noise.py --out exports          # ~45 min on 2 CPU cores
    python bench/gate_noise.py --out exports --runs 5  # a quick look

Needs the default pipeline's artifacts under ``--out`` (``edgedigits pipeline --out exports``).
Every bench below runs in a fresh process (``--worker``), as CI does, with the bench's default
timing settings:

1. one bench run is the baseline;
2. ``--runs`` A/A runs: the same artifacts benched again and gated against the baseline. Every
   failure is a false alarm (target: at most 1 in 20 runs);
3. ``--runs`` injected runs: one artifact at a time (rotating through the gated rows' artifacts)
   is made exactly 1.5x slower by spinning after each of its calls for half the call's own
   duration; a run *detects* it when the gate fails that artifact (target: at least 95%). Other
   rows failing in such a run are counted as false alarms too.

Writes ``bench/results/gate_noise.{md,json}``. Parity is not the point here: workers score on
1,000 test images and skip the Keras runtimes, which the gate does not judge by default.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("seed003_ann64_relu", "seed004_cnn", "edge_cnn_tiny")  # the default pipeline
RUNTIMES = "litert,litert-compiled,onnxruntime"
SLOWDOWN = 1.5


def worker(out: str, json_path: str, inject: str | None) -> int:
    """One bench run in this process; ``inject`` = an artifact file name to slow down 1.5x."""
    import numpy as np  # noqa: F401 - imported before the runtimes, like the CLI

    from edgedigits.benchmark import BenchOptions, bench
    from edgedigits.benchmark import report as reports
    from edgedigits.runtimes import RUNTIMES as registry

    if inject:
        for name in RUNTIMES.split(","):
            registry[name] = _slowed(registry[name], inject, SLOWDOWN)
    options = BenchOptions(runtimes=tuple(RUNTIMES.split(",")), test_limit=1000)
    result = bench(list(MODELS), out=out, options=options, log=lambda _m: None)
    reports.write_json(result, json_path)
    return 0


def _slowed(cls, target: str, factor: float):
    """``cls`` whose app call on the file named ``target`` takes ``factor`` times as long."""
    clock = time.perf_counter_ns

    class Slowed(cls):
        def infer_raw(self, x):
            if self.path.name != target:
                return super().infer_raw(x)
            t0 = clock()
            out = super().infer_raw(x)
            end = t0 + int((clock() - t0) * factor)
            while clock() < end:
                pass
            return out

    Slowed.__name__ = cls.__name__
    return Slowed


def run_worker(out: str, folder: Path, tag: str, inject: str | None) -> dict:
    path = folder / f"{tag}.json"
    cmd = [sys.executable, __file__, "--worker", "--out", out, "--json", str(path)]
    if inject:
        cmd += ["--inject", inject]
    subprocess.run(cmd, check=True)
    return json.loads(path.read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="exports")
    parser.add_argument("--runs", type=int, default=20, help="A/A runs and injected runs each")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    parser.add_argument("--inject", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.out, args.json, args.inject)

    from edgedigits.benchmark.gate import DEFAULT_MAX_SLOWDOWN, check
    from edgedigits.benchmark.report import machine_info

    started = time.time()
    folder = Path(tempfile.mkdtemp(prefix="gate-noise-"))
    baseline = run_worker(args.out, folder, "baseline", None)
    gated = sorted({Path(c.artifact).name for c in check(baseline, baseline).comparisons})
    aa, injected = [], []
    for k in range(args.runs):  # A/A and injected runs alternate, so drift hits both alike
        doc = run_worker(args.out, folder, f"aa{k}", None)
        result = check(doc, baseline)
        aa.append({"run": k, "passed": result.passed, "failures": result.failures,
                   "compared": result.compared,
                   "max_ci_low": max(c.ci_low for c in result.comparisons),
                   "max_growth": max(c.growth for c in result.comparisons)})
        target = gated[k % len(gated)]
        doc = run_worker(args.out, folder, f"inj{k}", target)
        result = check(doc, baseline)
        hits = [c for c in result.comparisons if c.artifact == target]
        others = [c for c in result.comparisons if c.artifact != target and c.regressed]
        injected.append({"run": k, "target": target,
                         "detected": any(c.regressed for c in hits),
                         "rows_detected": sum(c.regressed for c in hits), "rows": len(hits),
                         "target_growth": [round(c.growth, 3) for c in hits],
                         "target_ci_low": [round(c.ci_low, 3) for c in hits],
                         "other_rows_failed": [f"{c.artifact} on {c.runtime} b{c.batch}"
                                               for c in others]})
        print(f"run {k + 1}/{args.runs}: A/A {'pass' if aa[-1]['passed'] else 'FALSE ALARM'}; "
              f"{target} x{SLOWDOWN}: {'detected' if injected[-1]['detected'] else 'MISSED'}",
              flush=True)
    false_alarms = sum(not r["passed"] for r in aa)
    detected = sum(r["detected"] for r in injected)
    rows_detected = sum(r["rows_detected"] for r in injected)
    rows_total = sum(r["rows"] for r in injected)
    info = machine_info()
    summary = {
        "machine": info, "max_slowdown": DEFAULT_MAX_SLOWDOWN, "slowdown_injected": SLOWDOWN,
        "runs": args.runs, "models": list(MODELS), "runtimes": RUNTIMES,
        "rows_gated_per_run": aa[0]["compared"] if aa else 0,
        "false_alarms": false_alarms, "detected": detected,
        "rows_detected": rows_detected, "rows_injected": rows_total,
        "injected_runs_with_other_rows_failing": sum(bool(r["other_rows_failed"])
                                                      for r in injected),
        "minutes": round((time.time() - started) / 60, 1), "aa": aa, "injected": injected}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gate_noise.json").write_text(json.dumps(summary, indent=1) + "\n")
    worst = max(aa, key=lambda r: r["max_ci_low"]) if aa else None
    lines = [
        "# Gate noise: false alarms and detection", "",
        f"`python bench/gate_noise.py --out <pipeline exports> --runs {args.runs}` on "
        f"{info['cpu']}, {info['cores']} cores ({summary['minutes']} min). Each run is a fresh "
        f"process benching the default pipeline's artifacts ({', '.join(MODELS)}) on "
        f"{RUNTIMES} with the default timing settings, gated against one baseline run at "
        f"--max-slowdown {DEFAULT_MAX_SLOWDOWN} ({summary['rows_gated_per_run']} rows gated "
        "per run).", "",
        "| experiment | runs | outcome | target |", "|---|---:|---|---|",
        f"| A/A (nothing changed) | {args.runs} | {false_alarms} false alarm(s) | at most 1 |",
        f"| one artifact {SLOWDOWN}x slower | {args.runs} | detected in {detected} "
        f"({100 * detected / max(args.runs, 1):.0f}%); {rows_detected}/{rows_total} of its rows "
        f"(batch 1 and 32, every runtime) | at least 95% |",
        f"| same runs, other rows failing | {args.runs} | "
        f"{summary['injected_runs_with_other_rows_failing']} run(s) | (false alarms) |", ""]
    if worst:
        lines.append(f"Largest A/A interval lower bound: {worst['max_ci_low']:.3f}x (run "
                     f"{worst['run']}); largest A/A point growth over all runs: "
                     f"{max(r['max_growth'] for r in aa):.3f}x.")
    lows = [v for r in injected for v in r["target_ci_low"]]
    if lows:
        lines.append(f"Injected rows' interval lower bounds: min {min(lows):.3f}x, median "
                     f"{sorted(lows)[len(lows) // 2]:.3f}x.")
    (RESULTS / "gate_noise.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
