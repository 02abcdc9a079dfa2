"""A fuzz campaign over every family edgedigits reads, with its table committed.

    python bench/fuzz.py                       # 2,000 cases a family, seed 35, 2 processes
    python bench/fuzz.py --families h5 --cases 200 --seed 7 --keep /tmp/failing
    python bench/fuzz.py --replay h5:7:123 --keep /tmp/case   # one case's bytes, to a file

Seeds are made from the shipped weights (``python -m edgedigits.fuzz.seeds``); each case is its
family, campaign seed and number, so any row of the table replays exactly. Accepted model files
(``keras``, ``h5``) are also sampled through the whole ``edgedigits import`` (``--deep``).
Writes ``bench/results/fuzz.json`` and ``fuzz.md``; exit 1 if any case failed (a traceback, a
signal, a hang, noise on stderr, or a peak over 1 GB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from edgedigits.fuzz import (
    FAMILIES,
    FuzzReport,
    case_bytes,
    corpus_name,
    deep_import,
    run_family,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DEEP_FAMILIES = ("keras", "h5")


def make_seeds(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "edgedigits.fuzz.seeds", str(where)], check=True)
    return where


def _one_family(name: str, root: str, seed: int, cases: int, keep: str | None):
    return run_family(
        FAMILIES[name],
        Path(root),
        seed=seed,
        cases=cases,
        keep_into=Path(keep) if keep else None,
        log=lambda line: print(line, flush=True),
    )


def markdown(report: FuzzReport, command: str, seconds: float) -> str:
    return (
        "# Fuzz campaign\n\n"
        f"`{command}`: campaign seed {report.seed}, {seconds / 60:.0f} min on this project's "
        "2-core machine. One forked process per case; a case is refused when it exits non-zero "
        "with only the CLI's own lines on stderr. Failing outcomes: traceback, noisy (anything "
        "else on stderr), signal, hang (over 60 s), memory (a peak over 1,024 MB beyond what "
        "the forked process started with, its children included); 'peak MB' is that growth.\n\n"
        + report.to_markdown()
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=35)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--deep", type=int, default=10, help="accepted files fully imported")
    parser.add_argument("--keep", help="write failing cases' bytes under this folder")
    parser.add_argument("--seeds", help="a seed folder made before (default: make one)")
    parser.add_argument("--replay", help="FAMILY:SEED:CASE: write that case's bytes to --keep")
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgedigits-fuzz-") as tmp:
        root = Path(args.seeds) if args.seeds else make_seeds(Path(tmp) / "seeds")
        if args.replay:
            name, seed, case = args.replay.split(":")
            source, data = case_bytes(FAMILIES[name], root, int(seed), int(case))
            out = Path(args.keep or ".") / corpus_name(f"{name}-s{seed}-c{case}", source)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            print(out)
            return 0
        names = args.families.split(",")
        started = time.perf_counter()
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            futures = [
                pool.submit(_one_family, n, str(root), args.seed, args.cases, args.keep)
                for n in names
            ]
            tallies = [f.result() for f in futures]
        for tally in tallies:
            print(f"{tally.family}: {tally.cases} cases {tally.outcomes}", flush=True)
        report = FuzzReport(args.seed, tallies)
        for tally in tallies:
            if tally.family not in DEEP_FAMILIES:
                continue
            for case in tally.accepted_sample[: args.deep]:
                source, data = case_bytes(FAMILIES[tally.family], root, args.seed, case)
                path = Path(tmp) / f"{tally.family}-{case}{source.suffix}"
                path.write_bytes(data)
                result = deep_import(path, Path(tmp))
                result.case, result.family = case, f"{tally.family} import"
                report.deep.append(result)
                print(f"  deep {tally.family} case {case}: {result.outcome} {result.said}")
        seconds = time.perf_counter() - started
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    command = "python bench/fuzz.py " + " ".join(argv if argv is not None else sys.argv[1:])
    doc = report.to_json() | {"command": command.strip(), "seconds": round(seconds, 1)}
    (results / "fuzz.json").write_text(json.dumps(doc, indent=1) + "\n")
    (results / "fuzz.md").write_text(markdown(report, command.strip(), seconds))
    print(report.to_markdown())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
