"""What one CI comparison costs: 'edgedigits ci' on one notebook model for three targets.

A throwaway git repository (as in tests/test_ci_in_another_repo.py) with a Keras 3 notebook model
and ``[tool.edgedigits]`` naming the web, mobile and server targets with every recipe they take
(fine-tuned ones included), two commits; then ``run_ci`` with each stage's wall-clock time taken
from its progress lines. Target: at most 5 minutes on the 2-core machine.

    python bench/ci_cost.py --out /tmp/ci-cost

Writes bench/results/ci_cost.{json,md}.
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

from edgedigits.benchmark import machine_info
from edgedigits.ci_job import run_ci
from edgedigits.markdown import table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
NOTEBOOK = (ROOT / "tests" / "test_ci_in_another_repo.py").read_text().split('NOTEBOOK = """')[1]
NOTEBOOK = NOTEBOOK.split('"""')[0]
CONFIG = """[project]
name = "digit-app"
version = "0.1.0"

[tool.edgedigits]
models = ["models/digits.keras"]
targets = ["web", "mobile", "server"]
"""
STAGES = ("exporting the base", "exporting the head", "comparing")


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args()
    work = Path(args.out)
    shutil.rmtree(work, ignore_errors=True)
    repo = work / "repo"
    (repo / "models").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text(CONFIG)
    subprocess.run(
        [sys.executable, "-c", NOTEBOOK, "64", str(repo / "models/digits.keras")],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "model")
    git(repo, "commit", "-q", "--allow-empty", "-m", "change")
    marks: list[tuple[str, float]] = []

    def log(line: str) -> None:
        marks.append((line, time.perf_counter()))

    started = time.perf_counter()
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        result = run_ci(repo / "pyproject.toml", out=work / "ci", log=log)
    finally:
        os.chdir(cwd)
    total = time.perf_counter() - started
    starts = [next(t for line, t in marks if stage in line) for stage in STAGES]
    stages = {
        "checkout and base export": round(starts[1] - started, 1),
        "head export": round(starts[2] - starts[1], 1),
        "compare (timing, instructions, report)": round(started + total - starts[2], 1),
    }
    doc = {
        "command": "python bench/ci_cost.py --out DIR",
        "machine": machine_info(),
        "files_compared": len(result.report.pairs),
        "instructions": result.report.instructions,
        "passed": result.passed,
        "total_s": round(total, 1),
        "stages_s": stages,
        "target_s": 300,
    }
    results = Path(args.results)
    (results / "ci_cost.json").write_text(json.dumps(doc, indent=1) + "\n")
    md = [
        "# What one CI comparison costs",
        "",
        f"`{doc['command']}` on {doc['machine']['cpu']} ({doc['machine'].get('cpu_id')}, "
        f"{doc['machine']['cores']} cores): `edgedigits ci` on one Keras 3 notebook model "
        f"(Flatten-Dense(64)-Dense(10)) for the web, mobile and server targets, every recipe "
        f"they take; {doc['files_compared']} files compared; verdict "
        f"{'pass' if doc['passed'] else 'FAIL'} (the commit changed nothing).",
        "",
        *table(
            ["stage", "seconds"],
            [[k, v] for k, v in stages.items()] + [["total", doc["total_s"]]],
            "lr",
        ),
        "",
        f"Target: at most {doc['target_s']} s.",
        "",
    ]
    (results / "ci_cost.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
