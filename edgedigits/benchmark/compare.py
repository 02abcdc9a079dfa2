"""Two exports of the same models, base and head, measured against each other in one run.

Why this and not a committed baseline. A latency figure from another job is from another
machine, another load and often another CPU kind: ratios between runs drift by 20-60% on shared
2-core runners, so a gate against them either cries wolf or is set too loose to catch anything
(hosted-runner projects with plain ratio thresholds end at 400-500%). ``asv continuous`` times
the base and the head in the same job; this goes one step further and times them in the same
process, in the same rounds: for each pair of files (the base's and the head's of the same name)
a round visits A, B, B, A (B, A, A, B in every other round), so drift within a round cancels and
each round gives one paired ratio, head over base. The growth is the median of those ratios with
a 95% bootstrap interval over rounds, and a pair regresses when the interval's *lower* bound is
above ``max_slowdown``: proof that the head is slower, not a single slow reading.

Beside wall-clock time, the deterministic measure: instructions per inference counted under
Valgrind (``instructions.py``), which do not move with the machine's load at all.

What else changes between two revisions is read from their manifests: each file's size, its
export-time accuracy and parity, and which file each target should ship (``shipping.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.benchmark.gate import BOOTSTRAP_SAMPLES, CONFIDENCE  # the gate's interval
from edgedigits.benchmark.shipping import NATIVE_RUNTIME  # the runtime an app loads each in
from edgedigits.benchmark.timing import Slot
from edgedigits.errors import UsageError, first_line
from edgedigits.jsonfile import read_bounded
from edgedigits.runtimes import quantize, runner_for

DEFAULT_MAX_SLOWDOWN = 1.10  # the interval's lower bound above this fails (bench/ci_noise.py)
DEFAULT_MAX_INSTRUCTION_GROWTH = 1.01  # instructions: deterministic, so a tight limit
DEFAULT_ROUNDS = 30
VISIT_SECONDS = 0.004  # timed per visit (four visits per pair per round)
VISIT_MIN_CALLS = 5
WARMUP_CALLS = 50  # untimed calls per file first (lazy init, XNNPACK weight packing)


@dataclass(frozen=True)
class CompareOptions:
    """Flags of ``edgedigits compare`` (and of a project's ``[tool.edgedigits.gate]``)."""

    max_slowdown: float = DEFAULT_MAX_SLOWDOWN
    max_instruction_growth: float = DEFAULT_MAX_INSTRUCTION_GROWTH
    rounds: int = DEFAULT_ROUNDS
    instructions: str = "auto"  # "auto" (when Valgrind is installed), "yes" or "no"
    seed: int = 0
    labels: tuple[str, str] = ("base", "head")

    def validate(self) -> None:
        if not self.max_slowdown > 1.0:
            raise UsageError(f"--max-slowdown {self.max_slowdown:g}: must be greater than 1")
        if not self.max_instruction_growth > 1.0:
            raise UsageError(
                f"--max-instruction-growth {self.max_instruction_growth:g}: must be greater than 1"
            )
        if self.rounds < 5:
            raise UsageError(f"--rounds {self.rounds}: at least 5 (the interval needs them)")
        if self.instructions not in ("auto", "yes", "no"):
            raise UsageError(f"--instructions {self.instructions}: choose from auto, yes, no")


@dataclass
class PairResult:
    """One file name present in both revisions, and how it changed."""

    model: str
    file: str
    format: str
    recipe: str
    runtime: str
    base_bytes: int
    head_bytes: int
    base_accuracy: float | None  # export-time accuracy on the manifest's parity images
    head_accuracy: float | None
    base_parity: bool
    head_parity: bool
    base_us: float | None = None  # median over rounds of the round's median call, batch 1
    head_us: float | None = None
    growth: float | None = None  # head / base, median of per-round paired ratios
    ci_low: float | None = None
    ci_high: float | None = None
    rounds: int = 0
    base_instructions: float | None = None  # per inference, batch 1, under Valgrind
    head_instructions: float | None = None
    error: str | None = None  # why it was not timed (a file that would not load)
    verdicts: list[str] = field(default_factory=list)  # failures, in words
    slower: bool = False  # a latency or instruction verdict among them
    retime_note: str | None = None  # an alarm re-timed in a fresh process, and what came first

    @property
    def instruction_growth(self) -> float | None:
        if self.base_instructions and self.head_instructions:
            return self.head_instructions / self.base_instructions
        return None

    @property
    def regressed(self) -> bool:
        return bool(self.verdicts)


def manifests(out: Path, flag: str) -> dict[str, tuple[Path, dict[str, Any]]]:
    """model name -> (folder, manifest) for every model folder under an export folder."""
    from edgedigits.errors import ModelFileError

    if not out.is_dir():
        raise UsageError(f"{flag} {out}: not a folder of exported models")
    found = {}
    for path in sorted(out.glob("*/manifest.json")):
        manifest = read_bounded(path, ModelFileError)
        if isinstance(manifest, dict) and isinstance(manifest.get("artifacts"), list):
            found[str(manifest.get("model") or path.parent.name)] = (path.parent, manifest)
    if not found:
        raise UsageError(f"{flag} {out}: no model folder with a manifest.json (run export first)")
    return found


def _timeable(entry: dict[str, Any]) -> bool:
    return entry.get("status") == "ok" and entry.get("format") in NATIVE_RUNTIME


def pair_files(
    base: dict[str, tuple[Path, dict[str, Any]]], head: dict[str, tuple[Path, dict[str, Any]]]
) -> tuple[list[tuple[PairResult, Path, Path, dict[str, Any]]], list[str]]:
    """(pairs with both paths and the head's manifest, notes on what is in one side only)."""
    pairs, notes = [], []
    for model in sorted(set(base) | set(head)):
        if model not in base or model not in head:
            side = "head" if model in head else "base"
            notes.append(f"{model}: only in the {side}, not compared")
            continue
        (bdir, bman), (hdir, hman) = base[model], head[model]
        bfiles = {e["file"]: e for e in bman["artifacts"] if _timeable(e)}
        for entry in (e for e in hman["artifacts"] if _timeable(e)):
            before = bfiles.pop(entry["file"], None)
            if before is None:
                notes.append(f"{model}: {entry['file']} is new in the head")
                continue
            pair = PairResult(
                model,
                entry["file"],
                entry["format"],
                entry["recipe"],
                NATIVE_RUNTIME[entry["format"]],
                int(before["size_bytes"]),
                int(entry["size_bytes"]),
                (before.get("parity") or {}).get("accuracy"),
                (entry.get("parity") or {}).get("accuracy"),
                bool((before.get("parity") or {}).get("passed")),
                bool((entry.get("parity") or {}).get("passed")),
            )
            pairs.append((pair, bdir / entry["file"], hdir / entry["file"], hman))
        notes += [f"{model}: {name} is gone from the head" for name in sorted(bfiles)]
    return pairs, notes


def one_image(manifest: dict[str, Any], runner: Any) -> np.ndarray:
    """A real test digit, preprocessed as the manifest says and shaped as the file takes it."""
    from edgedigits.data import load_dataset

    pre = manifest.get("preprocessing") or {}
    pixels = load_dataset(None).test_images[:1].astype(np.float32)
    x = pixels * float(pre.get("scale", 1 / 255)) + float(pre.get("offset", 0.0))
    shape = [1 if d is None or d < 1 else int(d) for d in runner.inputs[0].shape]
    shape[0] = 1
    return quantize(x.reshape(shape), runner.inputs[0])


def _visit(call: Callable[[], Any]) -> list[int]:
    import time

    clock, samples = time.perf_counter_ns, []
    budget = VISIT_SECONDS * 1e9
    started = clock()
    while len(samples) < VISIT_MIN_CALLS or clock() - started < budget:
        t0 = clock()
        call()
        samples.append(clock() - t0)
    return samples


def time_pairs(calls: list[tuple[Slot, Slot]], rounds: int, seed: int) -> list[np.ndarray]:
    """Per pair, the per-round ratios head/base, timed in ABBA order (BAAB every other round);
    the pairs' order is shuffled each round so that no pair always runs after the same one."""
    order = list(range(len(calls)))
    shuffle = random.Random(seed).shuffle
    ratios: list[list[float]] = [[] for _ in calls]
    per_file_us: list[tuple[list[float], list[float]]] = [([], []) for _ in calls]
    bound = [(a.prepare(), b.prepare()) for a, b in calls]
    for a_call, b_call in bound:
        for _ in range(WARMUP_CALLS):
            a_call()
            b_call()
    for k in range(rounds):
        shuffle(order)
        for i in order:
            a_call, b_call = bound[i]
            first, second = (a_call, b_call) if k % 2 == 0 else (b_call, a_call)
            s1, s2 = _visit(first), _visit(second)
            s2 += _visit(second)
            s1 += _visit(first)
            a, b = (s1, s2) if k % 2 == 0 else (s2, s1)
            ratios[i].append(float(np.median(b)) / float(np.median(a)))
            per_file_us[i][0].append(float(np.median(a)) / 1000)
            per_file_us[i][1].append(float(np.median(b)) / 1000)
    for i, (a_slot, b_slot) in enumerate(calls):
        a_slot.round_p50, b_slot.round_p50 = per_file_us[i]
    return [np.asarray(r) for r in ratios]


def growth_interval(ratios: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """(median, low, high) of the per-round paired ratios; percentile bootstrap over rounds."""
    rng = np.random.default_rng(seed)
    picks = ratios[rng.integers(0, len(ratios), (BOOTSTRAP_SAMPLES, len(ratios)))]
    medians = np.median(picks, axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(np.median(ratios)), float(low), float(high)


def measure_latency(
    pairs: list[tuple[PairResult, Path, Path, dict[str, Any]]], options: CompareOptions
) -> None:
    """Open both files of every pair in its native runtime (one thread, as on a phone), time
    them in ABBA rounds and fill each pair's latency and growth."""
    import contextlib

    with contextlib.ExitStack() as stack:
        timed = []
        for pair, base_path, head_path, manifest in pairs:
            try:
                runners = [
                    stack.enter_context(runner_for(p, threads=1)) for p in (base_path, head_path)
                ]
                xs = [one_image(manifest, r) for r in runners]
                for r, x in zip(runners, xs, strict=True):
                    r.infer_raw(x)  # sets the batch size; fails here, not mid-round
            except Exception as exc:  # noqa: BLE001 - one file that will not run is one note
                pair.error = first_line(exc)
                continue
            slots = tuple(
                Slot(side, (lambda r=r, x=x: lambda: r.infer_raw(x)))
                for side, r, x in zip(options.labels, runners, xs, strict=True)
            )
            timed.append((pair, slots))
        ratios = time_pairs([s for _, s in timed], options.rounds, options.seed)
        for (pair, (a, b)), r in zip(timed, ratios, strict=True):
            pair.base_us = round(float(np.median(a.round_p50)), 3)
            pair.head_us = round(float(np.median(b.round_p50)), 3)
            pair.growth, pair.ci_low, pair.ci_high = growth_interval(r, options.seed)
            pair.rounds = len(r)


def retime_in_child(
    pairs: list[tuple[PairResult, Path, Path, dict[str, Any]]], options: CompareOptions
) -> None:
    """Time ``pairs`` again in a fresh Python process and keep that measurement.

    Why: ABBA rounds cancel drift in time, not a bias that lasts a whole process. One
    ``edgedigits ci`` run (TensorFlow loaded and busy from the exports it had just made) timed an
    int8 ``.tflite`` 1.28x slower than a byte-for-byte equivalent one, interval 1.28-1.28, with
    identical instruction counts; a fresh process measured 1.00x. So an alarm is re-timed where
    nothing else runs, as an app's process would be, and only that measurement is judged."""
    import json
    import subprocess
    import sys

    if not pairs:
        return
    spec = [[str(b), str(h), m.get("preprocessing") or {}] for _, b, h, m in pairs]
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from edgedigits.benchmark.compare import CompareOptions, PairResult, measure_latency\n"
        "spec, rounds, seed = json.loads(sys.stdin.read())\n"
        "pairs = [(PairResult('', '', '', '', '', 0, 0, None, None, True, True), Path(b), Path(h),"
        " {'preprocessing': pre}) for b, h, pre in spec]\n"
        "measure_latency(pairs, CompareOptions(rounds=rounds, seed=seed))\n"
        "print(json.dumps([[p.base_us, p.head_us, p.growth, p.ci_low, p.ci_high, p.rounds,"
        " p.error] for p, *_ in pairs]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps([spec, options.rounds, options.seed + 1]),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        for pair, *_ in pairs:
            pair.retime_note = "re-timing in a fresh process failed: " + first_line(
                RuntimeError((proc.stderr.strip().splitlines() or ["no output"])[-1])
            )
        return
    for (pair, *_), fresh in zip(pairs, json.loads(proc.stdout.splitlines()[-1]), strict=True):
        first = f"{pair.growth:.2f}x ({pair.ci_low:.2f}-{pair.ci_high:.2f})"
        pair.base_us, pair.head_us, pair.growth, pair.ci_low, pair.ci_high, pair.rounds, err = fresh
        pair.retime_note = f"re-timed in a fresh process (first measurement {first})"
        if err:
            pair.error = err
