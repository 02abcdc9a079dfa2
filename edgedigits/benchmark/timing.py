"""Latency measurement: warm-up, then timed calls until a minimum count *and* duration are met.

Each call is timed on its own with ``time.perf_counter_ns`` so percentiles are real percentiles,
not averages of batches. The harness's own cost per timed call (loop, clock reads, the Python call
itself) is measured the same way on a no-op, so a 5 µs LiteRT figure can be read against a ~0.1 µs
floor rather than taken as pure runtime time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class TimingOptions:
    warmup: int = 10  # untimed calls first: caches, lazy init, XNNPACK weight packing
    min_runs: int = 50  # at least this many timed calls...
    min_seconds: float = 1.0  # ...and at least this long in total
    max_seconds: float = 30.0  # stop here even if min_runs is not reached (very slow runtimes)


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

    def to_json(self) -> dict[str, float]:
        return {k: round(getattr(self, k), 3) for k in ("p50", "p90", "p99", "mean", "std", "min")}

    def per_image(self, batch: int) -> dict[str, float]:
        return {k: round(v / batch, 3) for k, v in self.to_json().items()}


def stats_from_ns(samples_ns: np.ndarray) -> LatencyStats:
    us = np.asarray(samples_ns, dtype=np.float64) / 1000.0
    p50, p90, p99 = np.percentile(us, [50, 90, 99])
    return LatencyStats(mean=float(us.mean()), std=float(us.std()), min=float(us.min()),
                        p50=float(p50), p90=float(p90), p99=float(p99), runs=int(us.size))


def measure(call: Callable[[Any], Any], arg: Any, options: TimingOptions) -> LatencyStats:
    """Time ``call(arg)``: warm-up, then until min_runs and min_seconds are both met."""
    for _ in range(options.warmup):
        call(arg)
    samples: list[int] = []
    clock = time.perf_counter_ns
    started = clock()
    min_ns = int(options.min_seconds * 1e9)
    max_ns = int(options.max_seconds * 1e9)
    while True:
        t0 = clock()
        call(arg)
        t1 = clock()
        samples.append(t1 - t0)
        elapsed = t1 - started
        if (len(samples) >= options.min_runs and elapsed >= min_ns) or elapsed >= max_ns:
            break
    return stats_from_ns(np.array(samples))


def _noop(_arg: Any) -> None:
    return None


def harness_overhead(options: TimingOptions | None = None) -> LatencyStats:
    """The timing loop's own cost per call, measured on a no-op callable."""
    options = options or TimingOptions(warmup=100, min_runs=2000, min_seconds=0.2)
    return measure(_noop, None, options)
