"""The CI gate: compare a bench run with a committed baseline, with the machine's noise in view.

Fails on (1) any parity failure in the current run, (2) a row that ran in the baseline and now
fails, (3) a latency regression: a row whose latency, *relative to its model's float32 LiteRT row
in the same run and the same round*, grew beyond ``max_slowdown`` against the baseline's, with
95% confidence, (4) the reference row itself getting slower, seen as most rows of its model
getting faster relative to it, (5) a baseline that shares no row with the run (nothing was
checked).

Why this shape. A single p50 ratio moves by 20-60% between two runs on a shared 2-core machine
(seen: a model that did not change "regressed" 1.63x). So the bench times every row of a model
in interleaved, shuffled rounds; each round gives a paired ratio (row / reference, timed within
milliseconds of each other); the gate bootstraps those per-round ratios, in the run and in the
baseline, into a 95% confidence interval on the growth, and fails a row only when the interval's
*lower* bound is above ``max_slowdown``. A uniformly slower machine moves row and reference alike
and passes; a slowdown of everything at once, the reference included, is indistinguishable from a
slower machine and is not caught. ``bench/gate_noise.py`` measures the false-alarm and detection
rates of this rule on this machine (``bench/results/gate_noise.md``).

Why latency alarms are re-timed (``retiming.py``). The bootstrap sees only the noise *within*
a run. A busy spell on a shared host can last minutes and slow some kernels more than others in
every round of one model's bench: CI once saw every row of one model 1.2-1.7x slower than in
the baseline, its ONNX Runtime rows most, while the model benched just before it matched
the baseline to 3% (``bench/results/gate_under_load.md`` shows the same with a second job on the
machine). Such an alarm is in the machine, not in the artifact, and it does not survive a fresh
measurement; a real regression does. So a model whose latency alarms is benched again after a
pause, up to ``retries`` times, and fails only if every measurement fails.

Why the baseline is chosen by CPU (``baselines.py``). Relative latencies also move with the
machine's kernels, persistently: on one CPU the int8 XNNPACK rows ran twice as slow relative to
float32 as on the committed baseline's, idle, in every measurement. Bench reports record the
CPU (``machine.cpu_id``, ``machine.cpu_flags``); the gate takes a baseline from the run's CPU,
and against a baseline from another CPU, or one that names none, it reports latency without
judging it. Parity, integrity, budgets and newly failing rows are judged on any machine.

The trained model's own runtimes (``keras``, ``keras-predict``, ``tensorflow-gpu``) are context,
not deployment targets: their latency is judged only with ``include_references``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.benchmark.baselines import (  # noqa: F401 - part of the gate's API
    different_cpu,
    load_baseline,
    select_baseline,
    validate_document,
)
from edgedigits.errors import UsageError
from edgedigits.markdown import table
from edgedigits.runtimes import REFERENCE_RUNTIMES

DEFAULT_MAX_SLOWDOWN = 1.3  # relative latency may grow by 30% before the gate fails (measured:
# bench/results/gate_noise.md: the largest A/A lower bound was 1.18x; every injected 1.5x slowdown
# had a row at 1.42x or more)
REFERENCE_RECIPE, REFERENCE_FORMAT, REFERENCE_RUNTIME = "float32", "tflite", "litert"
# The reference of a (model, batch) group: the first of these the run has. The .tflite files are
# batch 1 since apps call them one image at a time, so batch 32 has no LiteRT row; there ONNX
# Runtime's float32 .onnx (dynamic batch) is the reference, and the batch-32 rows are gated too.
REFERENCES = (
    (REFERENCE_RECIPE, REFERENCE_FORMAT, REFERENCE_RUNTIME),
    ("float32", "onnx", "onnxruntime"),
)
CONFIDENCE = 0.95
BOOTSTRAP_SAMPLES = 2000
REFERENCE_CONSENSUS = 0.75  # share of a model's rows that must speed up to blame the reference
DEFAULT_RETRIES = 2  # fresh measurements of a model whose latency alarms (0: judge the first)
RETRY_PAUSE_S = 60.0  # wait before each, so that a busy spell on the machine can pass


@dataclass(frozen=True)
class Comparison:
    """One row's relative latency now and in the baseline, with the growth's interval."""

    model: str
    artifact: str
    runtime: str
    batch: int
    ratio: float  # median over rounds of row p50 / reference p50, this run
    baseline_ratio: float
    growth: float  # ratio / baseline_ratio
    ci_low: float  # 95% bootstrap interval on the growth
    ci_high: float
    regressed: bool  # ci_low > max_slowdown


@dataclass(frozen=True)
class Retiming:
    """One fresh measurement of a model whose latency alarmed, and what it showed."""

    attempt: int
    model: str
    confirmed: bool  # the fresh measurement regressed too
    worst: str  # its largest growth interval, in words
    reference_speed: float | None  # the measurement before it: reference latency now/baseline


@dataclass
class GateResult:
    problems: list[str] = field(default_factory=list)  # parity, integrity, budgets, coverage
    latency: dict[str, list[str]] = field(default_factory=dict)  # model -> latency failures
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    retimings: list[Retiming] = field(default_factory=list)
    max_slowdown: float = DEFAULT_MAX_SLOWDOWN

    @property
    def failures(self) -> list[str]:
        return self.problems + [
            line for model in sorted(self.latency) for line in self.latency[model]
        ]

    @property
    def compared(self) -> int:
        return len(self.comparisons)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "max_slowdown": self.max_slowdown,
            "failures": self.failures,
            "notes": self.notes,
            "retimings": [asdict(r) for r in self.retimings],
            "comparisons": [asdict(c) for c in self.comparisons],
        }

    def to_markdown(self) -> str:
        verdict = "passed" if self.passed else f"FAILED ({len(self.failures)})"
        lines = [
            f"## Gate: {verdict}",
            "",
            f"Latency relative to its model's reference row at the same batch in the same "
            f"round (float32 .tflite on LiteRT at batch 1, float32 .onnx on ONNX Runtime at "
            f"batch 32); a row "
            f"fails when the {CONFIDENCE:.0%} interval of its growth lies above "
            f"{self.max_slowdown:g}x.",
            "",
        ]
        lines += [f"* {f}" for f in self.failures] + [f"* note: {n}" for n in self.notes]
        if self.retimings:
            lines += [
                "",
                "A model whose latency alarmed was benched again; it fails only if "
                "every measurement regressed. The table below holds the last one.",
                "",
                *table(
                    [
                        "model",
                        "attempt",
                        "reference latency before it vs baseline",
                        "largest growth",
                        "alarm",
                    ],
                    [
                        [
                            r.model,
                            r.attempt,
                            "" if r.reference_speed is None else f"{r.reference_speed:.2f}x",
                            r.worst,
                            "confirmed" if r.confirmed else "gone",
                        ]
                        for r in self.retimings
                    ],
                    "lrrll",
                ),
            ]
        if self.comparisons:
            lines += [
                "",
                *table(
                    [
                        "artifact",
                        "runtime",
                        "batch",
                        "relative now",
                        "baseline",
                        "growth",
                        f"{CONFIDENCE:.0%} interval",
                        "verdict",
                    ],
                    [
                        [
                            c.artifact,
                            c.runtime,
                            c.batch,
                            f"{c.ratio:.3f}",
                            f"{c.baseline_ratio:.3f}",
                            f"{c.growth:.3f}x",
                            f"{c.ci_low:.3f}-{c.ci_high:.3f}",
                            "REGRESSED" if c.regressed else "ok",
                        ]
                        for c in sorted(self.comparisons, key=lambda c: -c.ci_low)
                    ],
                    "llrrrrll",
                ),
            ]
        return "\n".join(lines) + "\n"


def _key(row: dict[str, Any]) -> tuple[str, str, str, int]:
    return (row["model"], Path(row["artifact"]).name, row["runtime"], int(row["batch"]))


def references(doc: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """(model, batch) -> its reference row: the first of ``REFERENCES`` present and ok."""
    rows = [r for r in doc["results"] if r["status"] == "ok" and r.get("round_p50_us")]
    chosen: dict[tuple[str, int], dict[str, Any]] = {}
    for kind in reversed(REFERENCES):  # the first in REFERENCES wins
        for r in rows:
            if (r["recipe"], r["format"], r["runtime"]) == kind:
                chosen[(r["model"], int(r["batch"]))] = r
    return chosen


def _reference_name(refs: dict[tuple[str, int], dict[str, Any]], model: str, batch: int) -> str:
    row = refs.get((model, batch))
    return f"{Path(row['artifact']).name} on {row['runtime']}" if row else "none"


def round_ratios(doc: dict[str, Any], include_references: bool = False) -> dict[tuple, np.ndarray]:
    """Per ok row, its per-round p50 divided by its (model, batch) reference row's, round by
    round (``references``)."""
    rows = [r for r in doc["results"] if r["status"] == "ok" and r.get("round_p50_us")]
    refs = references(doc)
    out = {}
    for r in rows:
        ref_row = refs.get((r["model"], int(r["batch"])))
        if (
            ref_row is None
            or ref_row is r
            or (r["runtime"] in REFERENCE_RUNTIMES and not include_references)
        ):
            continue
        ref = np.asarray(ref_row["round_p50_us"], float)
        mine = np.asarray(r["round_p50_us"], float)
        n = min(len(mine), len(ref))
        out[_key(r)] = mine[:n] / ref[:n]
    return out


def growth_interval(
    now: np.ndarray, before: np.ndarray, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES
) -> tuple[float, float, float]:
    """(point, low, high): growth of the median per-round ratio, with a percentile bootstrap
    over rounds in both runs."""
    rng = np.random.default_rng(seed)
    a = np.median(now[rng.integers(0, len(now), (samples, len(now)))], axis=1)
    b = np.median(before[rng.integers(0, len(before), (samples, len(before)))], axis=1)
    growth = a / b
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(growth, [tail, 100 - tail])
    return float(np.median(now) / np.median(before)), float(low), float(high)


def _check_references(result: GateResult, current: dict[str, Any]) -> None:
    """The reference row cannot be judged against itself; its own slowdown shows as every other
    row of its model getting *faster* relative to it. Fail when at least three quarters of a
    model's rows (three or more) are faster beyond 1/max_slowdown with 95% confidence."""
    by_group: dict[tuple[str, int], list[Comparison]] = {}
    for comparison in result.comparisons:
        by_group.setdefault((comparison.model, comparison.batch), []).append(comparison)
    floor = 1 / result.max_slowdown
    for (model, batch), group in sorted(by_group.items()):
        faster = [c for c in group if c.ci_high < floor]
        if len(group) >= 3 and len(faster) >= REFERENCE_CONSENSUS * len(group):
            median_growth = float(np.median([c.growth for c in group]))
            ref_row = references(current).get((model, batch))
            reference = Path(ref_row["artifact"]).name if ref_row else model
            runtime = ref_row["runtime"] if ref_row else REFERENCE_RUNTIME
            result.latency.setdefault(model, []).append(
                f"latency: {reference} on {runtime} (batch {batch}), the reference, "
                f"looks {1 / median_growth:.2f}x slower: {len(faster)} of {len(group)} rows of "
                f"{model} got faster relative to it (median growth {median_growth:.2f}x; each "
                f"{CONFIDENCE:.0%} interval below {floor:.2f}x)"
            )


def check(
    current: dict[str, Any],
    baseline: dict[str, Any] | None,
    max_slowdown: float = DEFAULT_MAX_SLOWDOWN,
    include_references: bool = False,
) -> GateResult:
    if not max_slowdown > 1.0:
        raise UsageError(f"--max-slowdown {max_slowdown}: must be greater than 1")
    result = GateResult(max_slowdown=max_slowdown)
    modified = sorted(
        {
            Path(r["artifact"]).name + ": " + r["integrity"]
            for r in current["results"]
            if str(r.get("integrity") or "").startswith("MODIFIED")
        }
    )
    result.problems += [f"integrity: {m}" for m in modified]
    result.problems += sorted(
        {
            f"budget: {Path(r['artifact']).name} on {r['runtime']}: "
            f"{'; '.join(r['budget_failures'])}"
            for r in current["results"]
            if r.get("budget_failures")
        }
    )
    for row in current["results"]:
        if row.get("parity") == "fail":
            result.problems.append(
                f"parity: {Path(row['artifact']).name} on {row['runtime']} "
                f"(batch {row['batch']}): {'; '.join(row['parity_failures'])}"
            )
    if baseline is None:
        return result
    now = {_key(r): r for r in current["results"]}
    overlap = [k for k in map(_key, baseline["results"]) if k in now]
    if not overlap:
        result.problems.append(
            "the baseline shares no row with this run (no model, artifact, "
            "runtime and batch in common): nothing was checked"
        )
        return result
    for key, before in ((_key(r), r) for r in baseline["results"]):
        row = now.get(key)
        if before["status"] == "ok" and row is not None and row["status"] == "failed":
            result.problems.append(
                f"now failing: {key[1]} on {key[2]} (batch {key[3]}): {row['reason']}"
            )
    rel_now = round_ratios(current, include_references)
    rel_before = round_ratios(baseline, include_references)
    kind = lambda r: (r["recipe"], r["format"], r["runtime"])  # noqa: E731
    refs_now, refs_before = references(current), references(baseline)
    unlike = sorted(
        g for g in set(refs_now) & set(refs_before) if kind(refs_now[g]) != kind(refs_before[g])
    )
    for model, batch in unlike:  # ratios to different references cannot be compared
        rel_before = {k: v for k, v in rel_before.items() if (k[0], k[3]) != (model, batch)}
        result.notes.append(
            f"{model} (batch {batch}): the baseline's reference is "
            f"{'/'.join(kind(refs_before[(model, batch)]))}, this run's "
            f"{'/'.join(kind(refs_now[(model, batch)]))}: not compared (re-measure the baseline)"
        )
    for key in sorted(set(rel_now) & set(rel_before)):
        model, artifact, runtime, batch = key
        point, low, high = growth_interval(rel_now[key], rel_before[key])
        comparison = Comparison(
            model,
            artifact,
            runtime,
            batch,
            float(np.median(rel_now[key])),
            float(np.median(rel_before[key])),
            point,
            low,
            high,
            regressed=low > max_slowdown,
        )
        result.comparisons.append(comparison)
        if comparison.regressed:
            result.latency.setdefault(model, []).append(
                f"latency: {artifact} on {runtime} (batch {batch}) is {comparison.ratio:.2f}x "
                f"its reference ({_reference_name(refs_now, model, batch)}), was "
                f"{comparison.baseline_ratio:.2f}x in the "
                f"baseline: {point:.2f}x worse ({CONFIDENCE:.0%} interval {low:.2f}-{high:.2f}; "
                f"limit {max_slowdown:g}x)"
            )
    _check_references(result, current)
    cpu_note = different_cpu(current, baseline)
    if cpu_note:  # ratios measured on two CPUs: reported, not judged
        result.notes.append(cpu_note)
        if result.latency:
            alarms = sum(map(len, result.latency.values()))
            result.notes.append(
                f"latency not judged: {alarms} row(s) beyond "
                f"{max_slowdown:g}x against this baseline from another CPU "
                f"(largest: {largest_growth(result.comparisons)})"
            )
            result.latency = {}
    missing = set(rel_before) - set(rel_now)
    if missing:
        result.notes.append(f"{len(missing)} baseline row(s) not in this run were not compared")
    if not include_references:
        result.notes.append(
            "reference runtimes (" + ", ".join(REFERENCE_RUNTIMES) + ") are "
            "reported, not gated (--gate-references to gate them)"
        )
    return result


def largest_growth(comparisons: list[Comparison]) -> str:
    """The comparison with the highest interval lower bound, in words (logs, notes)."""
    if not comparisons:
        return "nothing compared"
    c = max(comparisons, key=lambda c: c.ci_low)
    return (
        f"{c.artifact} on {c.runtime} (batch {c.batch}) {c.growth:.2f}x "
        f"({c.ci_low:.2f}-{c.ci_high:.2f})"
    )
