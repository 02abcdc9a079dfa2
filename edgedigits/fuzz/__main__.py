"""``python -m edgedigits.fuzz``: a campaign, or one kept case, in a fresh process.

The runner forks one process per case, so the process it forks from must not have run
TensorFlow (its thread pools do not survive a fork) and should be small (a forked case's peak
memory counts the pages it shares with its parent). A test session has usually run TensorFlow;
the tests therefore start this module:

    python -m edgedigits.fuzz --seeds DIR --family h5 --seconds 12 --seed 2026 --json out.json
    python -m edgedigits.fuzz --seeds DIR --file tests/fuzz_corpus/h5/LABEL--tf_keras.h5

It prints one JSON object: the family's tally, or the kept case's outcome.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from edgedigits.fuzz.families import FAMILIES
from edgedigits.fuzz.runner import corpus_seed, run_family, run_in_child


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgedigits.fuzz", description=__doc__)
    parser.add_argument("--seeds", required=True, help="made by python -m edgedigits.fuzz.seeds")
    parser.add_argument("--family", choices=sorted(FAMILIES))
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, help="stop starting cases after this long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="write failing cases here")
    parser.add_argument("--file", help="one kept case (tests/fuzz_corpus/FAMILY/LABEL--SEED)")
    args = parser.parse_args(argv)
    root = Path(args.seeds)
    if args.file:
        path = Path(args.file)
        family = FAMILIES[path.parent.name]
        family.warm(root)
        with tempfile.TemporaryDirectory(prefix="edgedigits-case-") as tmp:
            entry = family.stage(
                path.read_bytes(), corpus_seed(path, family, root), root, Path(tmp)
            )
            outcome, stderr, peak_mb = run_in_child(entry, Path(tmp))
        answer = {"outcome": outcome, "stderr": stderr, "peak_mb": peak_mb}
    else:
        if not args.family:
            parser.error("name a --family, or a --file")
        tally = run_family(
            FAMILIES[args.family],
            root,
            seed=args.seed,
            cases=args.cases,
            budget_s=args.seconds,
            keep_into=Path(args.keep) if args.keep else None,
            log=lambda _line: None,
        )
        answer = asdict(tally)
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
