"""Baselines for the gate: read and checked (``load_baseline``), and chosen by CPU.

Why by CPU (``select_baseline``): relative latencies move with the machine's kernels,
persistently (see ``gate.py``). A bench report records its CPU (``machine.cpu_id``,
``machine.cpu_flags``); latency is judged only against a baseline from the run's own CPU, and is
reported, not judged, against one from another CPU or one that names none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgedigits.benchmark.report import SCHEMA, schema
from edgedigits.errors import UsageError
from edgedigits.jsonfile import list_of_objects, read_json, schema_violation


def _fail(path: str | Path, what: str) -> UsageError:
    return UsageError(f"--baseline {path}: {what}")


def validate_document(doc: Any, path: str | Path) -> dict[str, Any]:
    """The structure the gate reads, checked with a message that says what is wrong."""
    if not isinstance(doc, dict):
        raise _fail(path, "not a JSON object")
    if doc.get("schema") != SCHEMA:
        hint = (
            " (an older bench report: re-run 'edgedigits bench ... --json' to refresh it)"
            if str(doc.get("schema", "")).startswith("edgedigits.bench/")
            else ""
        )
        raise _fail(path, f"not an {SCHEMA} report (schema {doc.get('schema')!r}){hint}")
    results = list_of_objects(doc, "results", "rows", lambda what: _fail(path, what))
    for k, row in enumerate(results):
        missing = [f for f in ("model", "artifact", "runtime", "batch", "status") if f not in row]
        if missing:
            raise _fail(path, f"results[{k}] lacks {', '.join(missing)}")
        if row["status"] == "ok":
            rounds = row.get("round_p50_us")
            if (
                not isinstance(rounds, list)
                or not rounds
                or not all(isinstance(v, (int, float)) and v > 0 for v in rounds)
            ):
                raise _fail(
                    path,
                    f"results[{k}] ({Path(str(row['artifact'])).name}) needs "
                    "'round_p50_us', a list of positive latencies",
                )
    _check_schema(doc, path)
    return doc


def _check_schema(doc: dict[str, Any], path: str | Path) -> None:
    """The shipped JSON Schema (``schema.json``) is the contract; name the first violation."""
    why = schema_violation(doc, schema())
    if why is not None:
        raise _fail(path, f"does not match the bench report schema {why}")


def load_baseline(path: str | Path) -> dict[str, Any]:
    return validate_document(read_json(path, "--baseline"), path)


def _machine_key(doc: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    machine = doc.get("machine") or {}
    if not machine.get("cpu_id"):
        return None  # a report older than cpu_id
    return machine["cpu_id"], tuple(machine.get("cpu_flags") or ())


def different_cpu(current: dict[str, Any], baseline: dict[str, Any]) -> str | None:
    """Ratios between runtimes and recipes depend on the machine, not only on its speed: on one
    2-core "AMD EPYC" (family 25 model 1, AVX2) int8 XNNPACK rows ran 2.3x their float32
    reference at batch 32 where the committed baseline's machine ran them at 1.1x. So a
    baseline from another CPU is reported but not judged, and so is one that names no CPU."""
    now, before = _machine_key(current), _machine_key(baseline)
    if now is not None and now == before:
        return None
    if now is None or before is None:
        which = "this run" if now is None else "the baseline"
        return (
            f"{which} names no CPU (a report older than cpu_id): relative latencies move with "
            "the CPU's kernels, so latency is reported, not judged; re-measure the baseline"
        )
    flags = set(now[1]) ^ set(before[1])
    differ = f"; ISA flags that differ: {', '.join(sorted(flags))}" if flags else ""
    return (
        f"the baseline was measured on another CPU ({before[0]}) than this run "
        f"({now[0]}){differ}: relative latencies move with the CPU's kernels, so latency "
        "is reported, not judged; give --baseline a report from this CPU too"
    )


def select_baseline(
    current: dict[str, Any], baselines: list[tuple[str, dict[str, Any]]]
) -> tuple[str, dict[str, Any]] | None:
    """The baseline to gate ``current`` against, from (path, document) pairs: the first from the
    same CPU (``cpu_id`` and kernel flags), else the first, reported and not judged
    (``different_cpu``: another CPU, or one that names none, is never taken as comparable: on
    Intel family 6 model 167 an unnamed baseline made 4 false regressions of unchanged code)."""
    if not baselines:
        return None
    here = _machine_key(current)
    same = [b for b in baselines if here is not None and _machine_key(b[1]) == here]
    return (same or baselines)[0]
