"""Benchmark: how often does the latency gate cry wolf, and how often does it catch a real 1.5x?

    python bench/gate_noise.py --out exports --keep runs/   # ~45 min on 2 CPU cores
    python bench/gate_noise.py --out exports --runs 5        # a quick look
    python bench/gate_noise.py --reanalyze runs/             # the same runs, gated again

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

Writes ``bench/results/gate_noise.{md,json}``. Workers bench with the default timing settings, as
the CI gate does, in every runtime but ``keras-predict``: at ~50 ms a call it is half of a
worker's time, and the gate does not judge it (the ``keras`` rows, not judged either, stay in the
rounds so TensorFlow's threads run beside the timed rows as they do in CI). Parity is not the
point here, so workers score 1,000 test images.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgedigits.markdown import table as markdown_table

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("seed003_ann64_relu", "seed004_cnn", "edge_cnn_tiny")  # the default pipeline
SLOWDOWN = 1.5


def worker(out: str, json_path: str, inject: str | None) -> int:
    """One bench run in this process; ``inject`` = an artifact file name to slow down 1.5x."""
    from edgedigits.benchmark import BenchOptions, bench
    from edgedigits.benchmark import report as reports
    from edgedigits.runtimes import RUNTIMES as registry

    if inject:
        for name, cls in list(registry.items()):
            registry[name] = _slowed(cls, inject, SLOWDOWN)
    runtimes = tuple(name for name in registry if name != "keras-predict")
    options = BenchOptions(runtimes=runtimes, test_limit=1000)  # default timing, as CI
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


def detected_in(result, target: str) -> tuple[bool, list]:
    """Did the gate catch a slowdown of ``target``? Its own rows regressing, or, when the target
    is a model's float32 .tflite (the reference every ratio divides by), the reference failure
    that names it."""
    hits = [c for c in result.comparisons if c.artifact == target]
    blamed = any(
        f.startswith(f"latency: {target} on litert") and "the reference" in f
        for f in result.failures
    )
    return any(c.regressed for c in hits) or blamed, hits


def run_all(out: str, folder: Path, runs: int) -> None:
    """The bench runs: baseline, then A/A and injected runs alternating (drift hits both)."""
    from edgedigits.benchmark import check

    baseline = run_worker(out, folder, "baseline", None)
    gated = sorted(
        {c.artifact for c in check(baseline, baseline).comparisons}
        | {
            Path(r["artifact"]).name
            for r in baseline["results"]
            if r["runtime"] == "litert" and r["recipe"] == "float32"
        }
    )
    # Rotate through the artifacts model by model in turn, so every model is targeted.
    by_model: dict[str, list[str]] = {}
    for name in gated:
        by_model.setdefault(name.split(".")[0], []).append(name)
    order = [
        names[i]
        for i in range(max(map(len, by_model.values())))
        for names in by_model.values()
        if i < len(names)
    ]
    for k in range(runs):
        run_worker(out, folder, f"aa{k}", None)
        target = order[k % len(order)]
        run_worker(out, folder, f"inj{k}", target)
        (folder / f"inj{k}.target").write_text(target)
        print(f"run {k + 1}/{runs} done (injected: {target})", flush=True)


def analyze(folder: Path) -> dict:
    """Gate every saved run against the baseline: false alarms and detections."""
    from edgedigits.benchmark import DEFAULT_MAX_SLOWDOWN, check

    baseline = json.loads((folder / "baseline.json").read_text())
    runs = len(list(folder.glob("aa*.json")))
    aa, injected = [], []
    for k in range(runs):
        result = check(json.loads((folder / f"aa{k}.json").read_text()), baseline)
        aa.append(
            {
                "run": k,
                "passed": result.passed,
                "failures": result.failures,
                "compared": result.compared,
                "max_ci_low": max(c.ci_low for c in result.comparisons),
                "max_growth": max(c.growth for c in result.comparisons),
            }
        )
        target = (folder / f"inj{k}.target").read_text().strip()
        result = check(json.loads((folder / f"inj{k}.json").read_text()), baseline)
        detected, hits = detected_in(result, target)
        others = [f for f in result.failures if target not in f]
        injected.append(
            {
                "run": k,
                "target": target,
                "detected": detected,
                "rows_detected": sum(c.regressed for c in hits),
                "rows": len(hits),
                "target_growth": [round(c.growth, 3) for c in hits],
                "target_ci_low": [round(c.ci_low, 3) for c in hits],
                "other_failures": others,
            }
        )
    return {
        "max_slowdown": DEFAULT_MAX_SLOWDOWN,
        "slowdown_injected": SLOWDOWN,
        "runs": runs,
        "models": list(MODELS),
        "rows_gated_per_run": aa[0]["compared"] if aa else 0,
        "false_alarms": sum(not r["passed"] for r in aa),
        "detected": sum(r["detected"] for r in injected),
        "injected_runs_with_other_failures": sum(bool(r["other_failures"]) for r in injected),
        "aa": aa,
        "injected": injected,
    }


def write_report(summary: dict, command: str) -> str:
    from edgedigits.benchmark import machine_info

    info = machine_info()
    summary = {"machine": info, "command": command, **summary}
    runs, aa, injected = summary["runs"], summary["aa"], summary["injected"]
    detected = summary["detected"]
    refs = [r for r in injected if r["target"].endswith(".float32.tflite")]
    lines = [
        "# Gate noise: false alarms and detection",
        "",
        f"`{command}` on {info['cpu']}, {info['cores']} cores, an otherwise idle machine. Each "
        "run is a fresh process benching the default pipeline's artifacts "
        f"({', '.join(MODELS)}) in every runtime but keras-predict, with the default timing "
        f"settings, gated against one baseline run at --max-slowdown {summary['max_slowdown']}"
        f" ({summary['rows_gated_per_run']} rows gated per run).",
        "",
        *markdown_table(
            ["experiment", "runs", "outcome", "target"],
            [
                [
                    "A/A (nothing changed)",
                    runs,
                    f"{summary['false_alarms']} false alarm(s)",
                    "at most 1",
                ],
                [
                    f"one artifact {SLOWDOWN}x slower",
                    runs,
                    f"detected in {detected} ({100 * detected / max(runs, 1):.0f}%)",
                    "at least 95%",
                ],
                [
                    "same runs, failures naming another artifact",
                    runs,
                    f"{summary['injected_runs_with_other_failures']} run(s)",
                    "(false alarms)",
                ],
            ],
            "lrll",
        ),
        "",
        f"Largest A/A interval lower bound: {max(r['max_ci_low'] for r in aa):.3f}x; largest "
        f"A/A point growth: {max(r['max_growth'] for r in aa):.3f}x (limit "
        f"{summary['max_slowdown']}x).",
        f"Injected artifacts: {', '.join(r['target'] for r in injected)}.",
        f"{len(refs)} of them are a model's float32 .tflite, the reference every ratio divides "
        "by: its LiteRT row cannot regress against itself, and its CompiledModel row, slowed by "
        "the same 1.5x, keeps its ratio; the gate catches it because every other row of the "
        "model gets relatively faster (the reference rule)."
        if refs
        else "",
    ]
    (RESULTS / "gate_noise.json").write_text(json.dumps(summary, indent=1) + "\n")
    text = "\n".join(line for line in lines if line is not None) + "\n"
    (RESULTS / "gate_noise.md").write_text(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="exports")
    parser.add_argument("--runs", type=int, default=20, help="A/A runs and injected runs each")
    parser.add_argument(
        "--keep",
        metavar="DIR",
        default=None,
        help="keep every run's bench JSON here (default: a temporary folder)",
    )
    parser.add_argument(
        "--reanalyze",
        metavar="DIR",
        default=None,
        help="gate the runs saved in DIR again (after a change to the gate's "
        "rule) without benching anything",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    parser.add_argument("--inject", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.out, args.json, args.inject)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.reanalyze:
        folder = Path(args.reanalyze)
    else:
        folder = Path(args.keep or tempfile.mkdtemp(prefix="gate-noise-"))
        folder.mkdir(parents=True, exist_ok=True)
        run_all(args.out, folder, args.runs)
    print(
        write_report(
            analyze(folder),
            f"python bench/gate_noise.py --out <pipeline exports> --runs {args.runs}",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
