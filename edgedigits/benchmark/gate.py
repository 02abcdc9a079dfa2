"""The CI gate: compare a bench run with a committed baseline.

Fails on (1) any parity failure in the current run, (2) a row that ran in the baseline and now
fails, (3) a latency regression beyond ``max_slowdown``. Latency is judged as a *ratio* to a
reference row from the *same run* (by default the model's float32 artifact in LiteRT at the same
batch size), so a uniformly slower CI machine does not trip the gate and a real regression of one
artifact or runtime does. The flip side, stated plainly: a slowdown of every artifact at once
(the reference included) is indistinguishable from a slower machine and is not caught.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgedigits.errors import UsageError
from edgedigits.jsonfile import read_json

DEFAULT_MAX_SLOWDOWN = 1.5  # relative latency may grow by half before the gate fails
REFERENCE_RECIPE, REFERENCE_FORMAT, REFERENCE_RUNTIME = "float32", "tflite", "litert"


@dataclass
class GateResult:
    failures: list[str] = field(default_factory=list)
    compared: int = 0  # rows whose relative latency was compared
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def load_baseline(path: str | Path) -> dict[str, Any]:
    doc = read_json(path, "--baseline")
    if not isinstance(doc, dict) or doc.get("schema") != "edgedigits.bench/1":
        raise UsageError(f"--baseline {path}: not an edgedigits.bench/1 report "
                         f"(schema {doc.get('schema') if isinstance(doc, dict) else None!r})")
    return doc


def _key(row: dict[str, Any]) -> tuple[str, str, str, int]:
    return (row["model"], Path(row["artifact"]).name, row["runtime"], int(row["batch"]))


def relative_latencies(doc: dict[str, Any]) -> dict[tuple, float]:
    """p50 of each ok row divided by the p50 of its model's reference row at the same batch."""
    rows = [r for r in doc["results"] if r["status"] == "ok" and r.get("latency_us")]
    refs = {(r["model"], int(r["batch"])): r["latency_us"]["p50"] for r in rows
            if (r["recipe"], r["format"], r["runtime"]) ==
            (REFERENCE_RECIPE, REFERENCE_FORMAT, REFERENCE_RUNTIME)}
    return {_key(r): r["latency_us"]["p50"] / refs[(r["model"], int(r["batch"]))]
            for r in rows if (r["model"], int(r["batch"])) in refs}


def check(current: dict[str, Any], baseline: dict[str, Any] | None,
          max_slowdown: float = DEFAULT_MAX_SLOWDOWN) -> GateResult:
    if max_slowdown <= 1.0:
        raise UsageError(f"--max-slowdown {max_slowdown}: must be greater than 1")
    result = GateResult()
    for row in current["results"]:
        if row.get("parity") == "fail":
            result.failures.append(f"parity: {Path(row['artifact']).name} on {row['runtime']} "
                                   f"(batch {row['batch']}): {'; '.join(row['parity_failures'])}")
    if baseline is None:
        return result
    now = {_key(r): r for r in current["results"]}
    for key, before in ((_key(r), r) for r in baseline["results"]):
        row = now.get(key)
        if before["status"] == "ok" and row is not None and row["status"] == "failed":
            result.failures.append(f"now failing: {key[1]} on {key[2]} (batch {key[3]}): "
                                   f"{row['reason']}")
    rel_now, rel_before = relative_latencies(current), relative_latencies(baseline)
    for key in sorted(set(rel_now) & set(rel_before)):
        result.compared += 1
        growth = rel_now[key] / rel_before[key]
        if growth > max_slowdown:
            model, artifact, runtime, batch = key
            result.failures.append(
                f"latency: {artifact} on {runtime} (batch {batch}) is {rel_now[key]:.2f}x its "
                f"float32 LiteRT reference, was {rel_before[key]:.2f}x in the baseline "
                f"({growth:.2f}x worse; limit {max_slowdown:g}x)")
    missing = set(rel_before) - set(rel_now)
    if missing:
        result.notes.append(f"{len(missing)} baseline row(s) not in this run were not compared")
    return result
