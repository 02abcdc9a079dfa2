"""Re-timing a latency alarm: a model whose latency alarms is benched again after a pause, and
fails only if every measurement regressed (why: ``gate.py``'s module docstring)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edgedigits.benchmark.gate import (
    DEFAULT_MAX_SLOWDOWN,
    DEFAULT_RETRIES,
    RETRY_PAUSE_S,
    GateResult,
    Retiming,
    check,
    largest_growth,
    references,
)


def reference_speed(current: dict[str, Any], baseline: dict[str, Any], model: str) -> float | None:
    """How much slower (>1) this run's float32 LiteRT reference of ``model`` ran than the
    baseline's, in absolute terms (median over rounds, then over batch sizes). The gate does
    not judge it (a slower machine is allowed); it says whether the machine was busy."""

    def p50s(doc: dict[str, Any]) -> dict[int, float]:
        return {
            batch: float(np.median(row["round_p50_us"]))
            for (name, batch), row in references(doc).items()
            if name == model
        }

    now, before = p50s(current), p50s(baseline)
    shared = sorted(set(now) & set(before))
    return float(np.median([now[b] / before[b] for b in shared])) if shared else None


def check_and_retime(
    current: dict[str, Any],
    baseline: dict[str, Any] | None,
    retime: Callable[[list[str]], dict[str, Any]] | None,
    max_slowdown: float = DEFAULT_MAX_SLOWDOWN,
    include_references: bool = False,
    retries: int = DEFAULT_RETRIES,
    pause_s: float = RETRY_PAUSE_S,
    log: Callable[[str], None] = print,
) -> GateResult:
    """``check``, then: while some model's latency alarms, wait ``pause_s``, bench those models
    again (``retime(models)`` returns a bench document of them) and judge them on it. A model
    fails on latency only if every measurement regressed (see the module doc). Parity, integrity
    and budget verdicts are the first measurement's: re-timing is about the machine's noise."""
    result = check(current, baseline, max_slowdown, include_references)
    if baseline is None or retime is None:
        return result
    latest = current
    for attempt in range(1, retries + 1):
        models = sorted(result.latency)
        if not models:
            break
        speeds = {m: reference_speed(latest, baseline, m) for m in models}
        log(
            f"gate: latency alarm on {', '.join(models)} (reference "
            + ", ".join(f"{m} {speeds[m]:.2f}x" if speeds[m] else f"{m} -" for m in models)
            + f" the baseline's latency); benching again in {pause_s:g} s "
            f"(attempt {attempt} of {retries})"
        )
        time.sleep(pause_s)
        latest = retime(models)
        again = check(latest, baseline, max_slowdown, include_references)
        for model in models:
            fresh = [c for c in again.comparisons if c.model == model]
            if not fresh:  # nothing re-measured (it failed to load): the alarm stands
                result.notes.append(
                    f"{model}: re-timing compared nothing; its first measurement's verdict stands"
                )
                continue
            result.comparisons = [c for c in result.comparisons if c.model != model] + fresh
            confirmed = model in again.latency
            if confirmed:
                result.latency[model] = again.latency[model]
            else:
                del result.latency[model]
            result.retimings.append(
                Retiming(attempt, model, confirmed, largest_growth(fresh), speeds[model])
            )
            log(
                f"gate: {model}: re-timed, alarm {'confirmed' if confirmed else 'gone'}; "
                f"largest growth {largest_growth(fresh)}"
            )
    return result
