"""Latency measurement in interleaved rounds, so that noise hits every row alike.

A *slot* is one thing to time (one artifact in one runtime at one batch size, either the call an
app makes or the runtime's compute alone). All slots of a group (one model's artifacts, with their
in-run reference) are timed in ``rounds`` rounds; each round visits every slot once in a freshly
shuffled order (as LiteRT's ``benchmark_model`` does with its performance options), so a burst of
machine noise lands on every slot instead of on whichever happened to run then. Within a round a
slot's calls are timed one by one with ``time.perf_counter_ns``; percentiles come from all the
individual calls, and each round's median is kept so the gate can compute paired ratios per round
and bootstrap them.

``compare_calls`` times two calls against each other the same way; tests use it to hold every
runner's timed call against a bare loop written by hand.
"""

from __future__ import annotations

import math
import os
import resource
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgedigits.errors import first_line


@dataclass(frozen=True)
class TimingOptions:
    warmup: int = 10  # untimed calls per slot before the first round (caches, weight packing)
    rounds: int = 20  # interleaved rounds; each slot is timed once per round, order shuffled
    min_runs: int = 20  # timed calls per slot at least, over all rounds (one per round)...
    min_seconds: float = 0.2  # ...and at least this many timed seconds per slot
    max_seconds: float = 30.0  # per slot, whatever min_runs says (very slow runtimes)
    seed: int = 0  # the order shuffle

    def per_round(self) -> tuple[int, int, int]:
        """(calls at least, ns at least, ns at most) per slot per round."""
        return (
            max(1, math.ceil(self.min_runs / self.rounds)),
            int(self.min_seconds * 1e9 / self.rounds),
            int(self.max_seconds * 1e9 / self.rounds),
        )


@dataclass(frozen=True)
class LatencyStats:
    """Microseconds per call (one batch)."""

    mean: float
    std: float
    min: float
    p50: float
    p90: float
    p99: float
    runs: int
    round_p50: tuple[float, ...] = ()  # the median of each round, in round order

    def to_json(self) -> dict[str, float]:
        return {k: round(getattr(self, k), 3) for k in ("p50", "p90", "p99", "mean", "std", "min")}

    def per_image(self, batch: int) -> dict[str, float]:
        return {k: round(v / batch, 3) for k, v in self.to_json().items()}


def stats_from_ns(samples_ns: np.ndarray, round_p50_ns: Sequence[float] = ()) -> LatencyStats:
    us = np.asarray(samples_ns, dtype=np.float64) / 1000.0
    p50, p90, p99 = np.percentile(us, [50, 90, 99])
    return LatencyStats(
        mean=float(us.mean()),
        std=float(us.std()),
        min=float(us.min()),
        p50=float(p50),
        p90=float(p90),
        p99=float(p99),
        runs=int(us.size),
        round_p50=tuple(round(float(v) / 1000.0, 3) for v in round_p50_ns),
    )


@dataclass
class Slot:
    """One thing to time. ``prepare`` runs untimed before each round's calls (it may resize or
    re-bind the runtime, which other slots of the same runner changed) and returns the
    zero-argument call to time."""

    key: Hashable
    prepare: Callable[[], Callable[[], Any]]
    samples: list[int] = field(default_factory=list)
    round_p50: list[float] = field(default_factory=list)
    error: str | None = None


def _time_calls(call: Callable[[], Any], min_calls: int, min_ns: int, max_ns: int) -> list[int]:
    clock = time.perf_counter_ns
    samples: list[int] = []
    append = samples.append
    started = clock()
    while True:
        t0 = clock()
        call()
        t1 = clock()
        append(t1 - t0)
        elapsed = t1 - started
        if (len(samples) >= min_calls and elapsed >= min_ns) or elapsed >= max_ns:
            return samples


def run_rounds(slots: Sequence[Slot], options: TimingOptions) -> dict[Hashable, LatencyStats]:
    """Time every slot in interleaved, shuffled rounds; a slot that raises keeps its ``error``."""
    rng = np.random.default_rng(options.seed)
    min_calls, min_ns, max_ns = options.per_round()

    def visit(slot: Slot, warm: int, timed: bool = True) -> list[int] | None:
        try:
            call = slot.prepare()
            for _ in range(warm):
                call()
            return _time_calls(call, min_calls, min_ns, max_ns) if timed else None
        except Exception as exc:  # noqa: BLE001 - one failing slot must not stop the others
            slot.error = first_line(exc)
            return None

    for slot in slots:  # warm-up: first calls pay for lazy init and XNNPACK weight packing
        visit(slot, options.warmup, timed=False)
    for _ in range(options.rounds):
        for i in rng.permutation(len(slots)):
            slot = slots[i]
            if slot.error is not None:
                continue
            samples = visit(slot, 1)  # one untimed call re-warms caches other slots used
            if samples is not None:
                slot.samples.extend(samples)
                slot.round_p50.append(float(np.median(samples)))
    return {
        s.key: stats_from_ns(np.array(s.samples), s.round_p50)
        for s in slots
        if s.error is None and s.samples
    }


def measure(call: Callable[[Any], Any], arg: Any, options: TimingOptions) -> LatencyStats:
    """Time ``call(arg)`` alone (one slot)."""
    slot = Slot("only", lambda: lambda: call(arg))
    stats = run_rounds([slot], options)
    if slot.error:
        raise RuntimeError(slot.error)
    return stats["only"]


def compare_calls(
    call_a: Callable[[], Any],
    call_b: Callable[[], Any],
    *,
    rounds: int = 21,
    seconds: float = 0.05,
    seed: int = 0,
) -> float:
    """How many times slower ``call_a`` is than ``call_b``: the median over interleaved rounds of
    (median time of a) / (median time of b) in the same round. Robust to machine noise that
    lasts longer than a round, which is most of it on a shared machine."""
    options = TimingOptions(
        warmup=100, rounds=rounds, min_runs=100 * rounds, min_seconds=seconds * rounds, seed=seed
    )
    a, b = Slot("a", lambda: call_a), Slot("b", lambda: call_b)
    run_rounds([a, b], options)
    for slot in (a, b):
        if slot.error:
            raise RuntimeError(slot.error)
    return float(np.median(np.array(a.round_p50) / np.array(b.round_p50)))


# -- memory, beside the time: the resident set of this process ------------------------------------


def current_rss_mb() -> float:
    """Resident memory now (MB), from /proc; NaN where there is none."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB
