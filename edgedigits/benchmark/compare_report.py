"""``compare()``: base against head in one run, and the report a reviewer reads in ten seconds.

The Markdown's first lines answer, in this order: did anything get slower, bigger or less
accurate, by how much, and which file does each target ship now. The tables follow for whoever
wants the evidence. ``CompareReport.to_json`` is the same content for machines (and the CI
history, ``ci_job.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgedigits.benchmark import compare as measure
from edgedigits.benchmark import instructions, shipping
from edgedigits.benchmark.compare import CONFIDENCE, CompareOptions, PairResult
from edgedigits.markdown import table

SCHEMA = "edgedigits.compare/1"
SIZE_NOTICE = 0.01  # a file 1% bigger or smaller is worth a line in the summary
ACCURACY_NOTICE = 0.1  # points
SHIP_HOW = (
    "parity passed; accuracy from each file's export check, latency from this comparison "
    "(batch 1, native runtime); size of a C array = the flash it takes"
)


@dataclass
class CompareReport:
    """Everything one comparison found; ``passed`` is the exit code's answer."""

    base: str
    head: str
    labels: tuple[str, str]
    options: CompareOptions
    pairs: list[PairResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ship_before: list[dict[str, Any]] = field(default_factory=list)
    ship_now: list[dict[str, Any]] = field(default_factory=list)
    instructions: str = ""  # what the instruction column is, or why there is none
    machine: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> list[str]:
        return [f"{p.model}: {p.file}: {v}" for p in self.pairs for v in p.verdicts]

    @property
    def passed(self) -> bool:
        return not self.failures

    def ship_changes(self) -> list[str]:
        before = {(c["model"], c["target"]): c["file"] for c in self.ship_before}
        return [
            f"{c['model']} {c['target']}: ship {c['file']} (was {before[key]})"
            for c in self.ship_now
            if (key := (c["model"], c["target"])) in before and before[key] != c["file"]
        ]

    def summary_lines(self) -> list[str]:
        """The first lines of the Markdown: the verdict, then what got worse, then what to ship."""
        base, head = self.labels
        lines = [
            f"**edgedigits: {head} vs {base}: "
            + (
                "no regression"
                if self.passed
                else f"{sum(p.regressed for p in self.pairs)} file(s) regressed"
            )
            + f"** ({len(self.pairs)} files compared in one run)",
            "",
        ]
        slower = sorted(
            (p for p in self.pairs if p.slower),
            key=lambda p: -max(p.growth or 0.0, p.instruction_growth or 0.0),
        )
        timed = [p for p in self.pairs if p.ci_low is not None]
        largest = max(timed, key=lambda p: p.ci_low, default=None)
        lines.append(
            "* Slower: "
            + (
                "; ".join(
                    f"{p.file} {p.growth:.2f}x ({CONFIDENCE:.0%} interval "
                    f"{p.ci_low:.2f}-{p.ci_high:.2f}"
                    + (
                        f"; instructions {p.instruction_growth:.3f}x"
                        if p.instruction_growth
                        else ""
                    )
                    + ")"
                    for p in slower[:5]
                )
                if slower
                else f"nothing beyond {self.options.max_slowdown:g}x"
                + (
                    f" (largest: {largest.file} {largest.growth:.2f}x, "
                    f"{largest.ci_low:.2f}-{largest.ci_high:.2f})"
                    if largest
                    else ""
                )
            )
        )
        bigger = [p for p in self.pairs if p.head_bytes > p.base_bytes * (1 + SIZE_NOTICE)]
        bigger.sort(key=lambda p: -p.head_bytes / p.base_bytes)
        lines.append(
            "* Bigger: "
            + (
                "; ".join(
                    f"{p.file} {p.base_bytes:,} -> {p.head_bytes:,} bytes "
                    f"({p.head_bytes / p.base_bytes - 1:+.1%})"
                    for p in bigger[:5]
                )
                if bigger
                else "nothing"
            )
        )
        worse = [
            p
            for p in self.pairs
            if (p.base_parity and not p.head_parity)
            or (
                p.base_accuracy is not None
                and p.head_accuracy is not None
                and p.head_accuracy < p.base_accuracy - ACCURACY_NOTICE
            )
        ]
        lines.append(
            "* Less accurate: "
            + (
                "; ".join(
                    f"{p.file} {p.base_accuracy:.2f}% -> {p.head_accuracy:.2f}%"
                    + ("" if p.head_parity else ", parity now FAILS")
                    for p in worse[:5]
                )
                if worse
                else "nothing"
            )
        )
        changes = self.ship_changes()
        now = ", ".join(f"{c['model']} {c['target']}: {c['file']}" for c in self.ship_now)
        lines.append(
            "* Ship now: "
            + ("; ".join(changes) + " (changed)" if changes else (now or "no file passed parity"))
            + ("" if changes else " (unchanged)" if now else "")
        )
        return lines

    def to_markdown(self) -> str:
        base, head = self.labels
        lines = self.summary_lines() + [""]
        lines += [f"* FAIL: {f}" for f in self.failures] + [f"* note: {n}" for n in self.notes]
        lines += [
            "",
            f"Latency: each pair timed in the same process in ABBA rounds ({self.options.rounds} "
            f"rounds, batch 1, one thread, the file's native runtime); growth = median of the "
            f"per-round ratios {head}/{base}, {CONFIDENCE:.0%} bootstrap interval; a file fails "
            f"when the interval lies above {self.options.max_slowdown:g}x"
            + (
                f", or its instructions grew beyond {self.options.max_instruction_growth:g}x"
                if self.instructions.startswith("instructions")
                else ""
            )
            + f". Instructions: {self.instructions}.",
            "",
            *table(
                [
                    "model",
                    "file",
                    "runtime",
                    f"{base} µs",
                    f"{head} µs",
                    "growth",
                    f"{CONFIDENCE:.0%} interval",
                    "instructions",
                    "size (bytes)",
                    "accuracy %",
                    "verdict",
                ],
                [_row(p) for p in self.pairs],
                "llllrrlrrll",
            ),
            "",
            *shipping.markdown(self.ship_now, SHIP_HOW),
        ]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "base": self.base,
            "head": self.head,
            "labels": list(self.labels),
            "passed": self.passed,
            "failures": self.failures,
            "summary": self.summary_lines(),
            "options": dataclasses.asdict(self.options),
            "instructions": self.instructions,
            "machine": self.machine,
            "notes": self.notes,
            "pairs": [
                {**dataclasses.asdict(p), "instruction_growth": p.instruction_growth}
                for p in self.pairs
            ],
            "ship_before": self.ship_before,
            "ship_now": self.ship_now,
        }


def _row(p: PairResult) -> list[Any]:
    def fmt(v: float | None, spec: str) -> str:
        return "" if v is None else format(v, spec)

    accuracy = f"{fmt(p.base_accuracy, '.2f')} -> {fmt(p.head_accuracy, '.2f')}"
    return [
        p.model,
        p.file,
        p.runtime,
        fmt(p.base_us, ".1f"),
        fmt(p.head_us, ".1f"),
        "" if p.growth is None else f"{p.growth:.3f}x",
        "" if p.ci_low is None else f"{p.ci_low:.3f}-{p.ci_high:.3f}",
        "" if p.instruction_growth is None else f"{p.instruction_growth:.4f}x",
        f"{p.base_bytes:,} -> {p.head_bytes:,}",
        accuracy,
        "; ".join(p.verdicts) or (p.error and f"not timed: {p.error}") or "ok",
    ]


def _judge(pair: PairResult, options: CompareOptions) -> None:
    if pair.ci_low is not None and pair.ci_low > options.max_slowdown:
        pair.slower = True
        pair.verdicts.append(
            f"{pair.growth:.2f}x slower on {pair.runtime} ({CONFIDENCE:.0%} interval "
            f"{pair.ci_low:.2f}-{pair.ci_high:.2f}; limit {options.max_slowdown:g}x)"
        )
    growth = pair.instruction_growth
    if growth is not None and growth > options.max_instruction_growth:
        pair.slower = True
        pair.verdicts.append(
            f"{growth:.3f}x the instructions per inference ({pair.base_instructions:,.0f} -> "
            f"{pair.head_instructions:,.0f}; limit {options.max_instruction_growth:g}x)"
        )
    if pair.base_parity and not pair.head_parity:
        pair.verdicts.append("parity passed in the base and fails in the head")


def _ship_rows(pairs: list[PairResult], side: int, folders: dict[str, Path]) -> list[dict]:
    """Rows in the bench report's shape for ``shipping.which_file_to_ship``: batch 1 in the
    native runtime, accuracy from the export check (both sides measured alike)."""
    rows = []
    for p in pairs:
        us = (p.base_us, p.head_us)[side]
        accuracy = (p.base_accuracy, p.head_accuracy)[side]
        if accuracy is None:
            continue
        rows.append(
            {
                "model": p.model,
                "artifact": str(folders[p.model] / p.file),
                "status": "ok",
                "batch": 1,
                "runtime": p.runtime,
                "accuracy": accuracy,
                "latency_us": {"p50": us or 0.0},
            }
        )
    return rows


def compare(
    base_out: str | Path, head_out: str | Path, options: CompareOptions | None = None
) -> CompareReport:
    """Measure the head's exported files against the base's of the same names (see
    ``compare.py``); nothing is written, the caller writes the report."""
    from edgedigits.benchmark.report import machine_info

    options = options or CompareOptions()
    options.validate()
    base_out, head_out = Path(base_out), Path(head_out)
    base = measure.manifests(base_out, options.labels[0])
    head = measure.manifests(head_out, options.labels[1])
    staged, notes = measure.pair_files(base, head)
    report = CompareReport(str(base_out), str(head_out), options.labels, options, notes=notes)
    report.pairs = [p for p, *_ in staged]
    report.machine = machine_info()
    measure.measure_latency(staged, options)
    alarmed = [s for s in staged if s[0].ci_low is not None and s[0].ci_low > options.max_slowdown]
    measure.retime_in_child(alarmed, options)
    report.notes += [f"{p.model}: {p.file}: {p.retime_note}" for p, *_ in alarmed if p.retime_note]
    reason = instructions.unavailable_reason()
    if options.instructions == "yes" and reason:
        from edgedigits.errors import UsageError

        raise UsageError(f"--instructions yes: {reason}")
    if options.instructions == "no" or reason:
        report.instructions = (
            "not counted (" + ("--instructions no" if not reason else reason) + ")"
        )
    else:
        _count_instructions(staged)
        report.instructions = instructions.LABEL
    for pair in report.pairs:
        _judge(pair, options)
    for side, folders in ((0, base), (1, head)):
        rows = _ship_rows(report.pairs, side, {m: f for m, (f, _) in folders.items()})
        picks = shipping.which_file_to_ship(rows)
        (report.ship_before if side == 0 else report.ship_now).extend(picks)
    return report


def _count_instructions(staged: list) -> None:
    """One Valgrind process counts both sides of every pair that was timed."""
    from edgedigits.runtimes import runner_for

    work = []
    for pair, base_path, head_path, manifest in staged:
        if pair.error:
            continue
        for path in (base_path, head_path):
            with runner_for(path) as runner:
                work.append((path, measure.one_image(manifest, runner)))
    counts = instructions.count(work)
    timed = [p for p, *_ in staged if not p.error]
    for k, pair in enumerate(timed):
        pair.base_instructions = round(counts[2 * k], 1)
        pair.head_instructions = round(counts[2 * k + 1], 1)
