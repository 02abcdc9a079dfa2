"""How sure is 'edgedigits compare'? False alarms and detections on this machine, measured.

Three notebook models (Keras 3, Flatten-Dense(W)-Dense(10), as in the CI test): W=64 (A), W=75
(B: its float32 .tflite runs ~1.15-1.2x slower), and A with one more Dense(16) layer (C: its
files execute 1-11% more instructions; calibrated under Valgrind, a width that is not a multiple
of 16 costs XNNPACK far more than its arithmetic).
Each is exported for tflite and onnx, float32 and int8 (three files: float32.tflite,
int8.io-float32.tflite, float32.onnx). Then:

- A/A: ``--aa`` comparisons of A against a copy of itself, with instruction counts: alarms must
  be 0, and the instruction counts of the two sides must agree within 0.5%;
- A/B: ``--ab`` comparisons of A against B on latency alone (``instructions="no"``, so the
  detection is the timing's own): at least 19 of 20 must fail;
- A/C: ``--ac`` comparisons of A against C with instructions: each file whose instructions
  moved by more than the 1% limit must be flagged every time, the ~1-3% changes included
  (latency alone would not see them: they are inside the timing's noise).

    python bench/ci_noise.py --out /tmp/ci-noise   # ~15 min on the 2-core machine

Writes bench/results/ci_noise.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from edgedigits.benchmark import CompareOptions, compare, machine_info
from edgedigits.export import ExportOptions, export
from edgedigits.markdown import table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
NOTEBOOK = (ROOT / "tests" / "test_ci_in_another_repo.py").read_text().split('NOTEBOOK = """')[1]
NOTEBOOK = NOTEBOOK.split('"""')[0]
WIDTHS = {"A": "64", "B": "75", "C": "64+16"}  # C: an extra Dense(16), a few % of the work


def make_exports(work: Path) -> dict[str, Path]:
    outs = {}
    for label, width in WIDTHS.items():
        model = work / label / "digits.keras"
        model.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-c", NOTEBOOK, str(width), str(model)],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        out = work / label / "out"
        options = ExportOptions(formats="tflite,onnx", recipes="float32,int8")
        export([str(model)], out=out, options=options, log=lambda _: None)
        outs[label] = out
    shutil.copytree(outs["A"], work / "A-copy")
    outs["A-copy"] = work / "A-copy"
    return outs


def run(base: Path, head: Path, n: int, instructions: str, seed0: int) -> list[dict]:
    runs = []
    for k in range(n):
        started = time.perf_counter()
        report = compare(base, head, CompareOptions(instructions=instructions, seed=seed0 + k))
        runs.append(
            {
                "failed": not report.passed,
                "flagged": sorted(p.file for p in report.pairs if p.slower),
                "seconds": round(time.perf_counter() - started, 1),
                "pairs": {
                    p.file: {
                        "growth": round(p.growth, 4),
                        "ci_low": round(p.ci_low, 4),
                        "ci_high": round(p.ci_high, 4),
                        "instruction_growth": p.instruction_growth
                        and round(p.instruction_growth, 5),
                    }
                    for p in report.pairs
                },
            }
        )
        print(
            f"{base.parent.name} vs {head.parent.name} #{k + 1}: "
            f"{'ALARM' if runs[-1]['failed'] else 'pass'}",
            flush=True,
        )
    return runs


def summarize(name: str, runs: list[dict]) -> dict:
    files = sorted(runs[0]["pairs"])
    per_file = {}
    for f in files:
        growth = [r["pairs"][f]["growth"] for r in runs]
        low = [r["pairs"][f]["ci_low"] for r in runs]
        instr = [r["pairs"][f]["instruction_growth"] for r in runs]
        instr = [i for i in instr if i is not None]
        per_file[f] = {
            "flagged": sum(f in r["flagged"] for r in runs),
            "median_growth": round(float(np.median(growth)), 3),
            "max_ci_low": round(float(max(low)), 3),
            "min_ci_low": round(float(min(low)), 3),
            "instruction_growth_min": round(min(instr), 5) if instr else None,
            "instruction_growth_max": round(max(instr), 5) if instr else None,
        }
    return {
        "comparison": name,
        "runs": len(runs),
        "failed": sum(r["failed"] for r in runs),
        "median_seconds": float(np.median([r["seconds"] for r in runs])),
        "files": per_file,
    }


def markdown(doc: dict) -> str:
    lines = [
        "# CI comparison noise: false alarms and detections",
        "",
        f"`python bench/ci_noise.py` on {doc['machine']['cpu']} ({doc['machine'].get('cpu_id')}, "
        f"{doc['machine']['cores']} cores). Limits: latency {doc['max_slowdown']}x (the 95% "
        f"interval's lower bound), instructions {doc['max_instruction_growth']}x. Models: "
        + ", ".join(f"{k} = Dense({v.replace('+', ')-Dense(')})" for k, v in doc["widths"].items())
        + ".",
        "",
        *table(
            [
                "comparison",
                "runs",
                "failed",
                "file",
                "file flagged",
                "median growth",
                "lowest CI low",
                "highest CI low",
                "instructions min-max",
            ],
            [
                [
                    s["comparison"],
                    s["runs"],
                    s["failed"],
                    f,
                    v["flagged"],
                    v["median_growth"],
                    v["min_ci_low"],
                    v["max_ci_low"],
                    ""
                    if v["instruction_growth_min"] is None
                    else f"{v['instruction_growth_min']}-{v['instruction_growth_max']}",
                ]
                for s in doc["studies"]
                for f, v in s["files"].items()
            ],
            "lrrlrrrrl",
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--aa", type=int, default=20)
    parser.add_argument("--ab", type=int, default=20)
    parser.add_argument("--ac", type=int, default=5)
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--render", action="store_true", help="rewrite the .md from the .json")
    args = parser.parse_args()
    results = Path(args.results)
    if args.render:
        doc = json.loads((results / "ci_noise.json").read_text())
        (results / "ci_noise.md").write_text(markdown(doc))
        print(markdown(doc))
        return 0
    work = Path(args.out)
    shutil.rmtree(work, ignore_errors=True)
    outs = make_exports(work)
    options = CompareOptions()
    studies = [
        summarize("A/A", run(outs["A"], outs["A-copy"], args.aa, "yes", 0)),
        summarize("A/B (latency only)", run(outs["A"], outs["B"], args.ab, "no", 100)),
        summarize("A/C (instructions)", run(outs["A"], outs["C"], args.ac, "yes", 200)),
    ]
    doc = {
        "command": "python bench/ci_noise.py --out DIR",
        "machine": machine_info(),
        "max_slowdown": options.max_slowdown,
        "max_instruction_growth": options.max_instruction_growth,
        "widths": WIDTHS,
        "studies": studies,
    }
    (results / "ci_noise.json").write_text(json.dumps(doc, indent=1) + "\n")
    (results / "ci_noise.md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
