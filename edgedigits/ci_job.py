"""``edgedigits ci``: a pull request's models against its base's, in one job, no baseline to commit.

Steps (what the GitHub Action ``action.yml`` runs, and what any CI can run):

1. read the project's configuration (``project_config.py``);
2. check out the merge base of HEAD and the base ref in a temporary ``git worktree``;
3. export the configured models from both trees with this same edgedigits (so the only
   difference is the project's own change: a model file, a config, a recipe);
4. ``compare`` the two exports in one process (``benchmark/compare_report.py``), check the head's
   files against the configured budgets;
5. write ``compare.md`` (its first lines are the verdict), ``compare.json`` and ``compare.png``;
   with ``history``, read the history file (JSON lines, one per run on the main branch) and draw
   latency and instructions per file over commits with this run's point; ``record`` appends it.

Where the history lives is the workflow's choice; ``action.yml`` keeps it in the Actions cache
(restored on every run, saved on the main branch), documented in docs/guides/ci-in-your-repo.md.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgedigits import atomic
from edgedigits.benchmark.compare import CompareOptions
from edgedigits.benchmark.compare_report import CompareReport, compare
from edgedigits.errors import UsageError
from edgedigits.project_config import ProjectConfig, check_names, is_file_name, load_config

__all__ = ["CiResult", "read_history", "run_ci"]

HISTORY_POINTS = 50  # commits drawn


@dataclass
class CiResult:
    report: CompareReport
    base_commit: str
    head_commit: str
    files: list[str]
    budget_failures: list[str]

    @property
    def passed(self) -> bool:
        return self.report.passed and not self.budget_failures


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise UsageError(f"git {' '.join(args)}: {tail}")
    return proc.stdout.strip()


def default_base() -> str:
    """The base ref: the pull request's target branch on GitHub, else the previous commit."""
    branch = os.environ.get("GITHUB_BASE_REF")
    return f"origin/{branch}" if branch else "HEAD~1"


def _options(config: ProjectConfig, overrides: dict[str, Any]) -> CompareOptions:
    fields = {f.name for f in dataclasses.fields(CompareOptions)}
    chosen = {k: v for k, v in config.gate.items() if k in fields}
    chosen.update({k: v for k, v in overrides.items() if v is not None})
    return CompareOptions(**chosen)


def _export(
    config: ProjectConfig, tree: Path, relative: Path, out: Path, log: Callable[[str], None]
) -> None:
    """Export the configured models of the checkout at ``tree`` (its configuration's folder:
    ``tree / relative``) into ``out``: with the installed edgedigits, or (``gate.export_with =
    "revision"``, for edgedigits' own CI, where the change under test is the exporter) with the
    edgedigits package at that checkout's root."""
    root = tree / relative
    names = []
    for name in config.models:
        if is_file_name(name):
            if not (root / name).is_file():
                log(f"ci: {name}: not in this revision, not exported")
                continue
            names.append(str(root / name))
        else:
            names.append(name)
    if not names:
        return
    flags = {
        "--target": ",".join(config.targets) or "web,mobile,server",
        "--format": ",".join(config.formats),
        "--quant": ",".join(config.recipes),
    }
    if config.gate.get("export_with") == "revision":
        import sys

        argv = [sys.executable, "-m", "edgedigits", "export", *names, "--out", str(out)]
        argv += [x for flag, value in flags.items() if value for x in (flag, value)]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
        if proc.returncode not in (0, 1) or not out.is_dir():  # 1: a parity note, files made
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise UsageError(f"export in {root}: {tail}")
        log(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "exported")
        return
    from edgedigits.export import ExportOptions, export

    options = ExportOptions(
        formats=flags["--format"] or None,
        recipes=flags["--quant"] or None,
        targets=flags["--target"],
    )
    export(names, out=out, options=options, log=log)


def _budgets(report: CompareReport, config: ProjectConfig) -> list[str]:
    limits = config.budgets
    out = []
    for p in report.pairs:
        where = f"{p.model}: {p.file}: budget"
        if "max_size_bytes" in limits and p.head_bytes > limits["max_size_bytes"]:
            out.append(f"{where}: {p.head_bytes:,} bytes > {limits['max_size_bytes']:,}")
        if "min_accuracy" in limits and (p.head_accuracy or 0.0) < limits["min_accuracy"]:
            out.append(f"{where}: accuracy {p.head_accuracy}% < {limits['min_accuracy']}%")
        if "max_latency_us" in limits and p.head_us and p.head_us > limits["max_latency_us"]:
            out.append(f"{where}: {p.head_us:.1f} µs > {limits['max_latency_us']} µs")
    return out


def run_ci(
    config_path: str | Path,
    *,
    out: str | Path,
    base: str | None = None,
    history: str | Path | None = None,
    record: bool = False,
    overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> CiResult:
    """The steps in the module docstring; ``out`` receives ``base/``, ``head/`` and ``report/``."""
    config = load_config(config_path)
    check_names(config)
    options = _options(config, overrides or {})
    options.validate()
    root = Path(_git(config.root, "rev-parse", "--show-toplevel"))
    ref = base or config.gate.get("base") or default_base()
    head_commit = _git(root, "rev-parse", "HEAD")
    base_commit = _git(root, "merge-base", "HEAD", ref)
    out = Path(out)
    report_dir = out / "report"
    for sub in ("base", "head"):
        shutil.rmtree(out / sub, ignore_errors=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    relative = config.root.resolve().relative_to(root.resolve())
    log(f"ci: base {ref} = {base_commit[:12]}, head {head_commit[:12]}")
    with tempfile.TemporaryDirectory(prefix="edgedigits-ci-") as tmp:
        tree = Path(tmp) / "base"
        _git(root, "worktree", "add", "--detach", str(tree), base_commit)
        try:
            log("ci: exporting the base's models")
            _export(config, tree, relative, out / "base", log)
        finally:
            _git(root, "worktree", "remove", "--force", str(tree))
    log("ci: exporting the head's models")
    _export(config, root, relative, out / "head", log)
    log("ci: comparing (ABBA rounds, then instruction counts)")
    report = compare(out / "base", out / "head", options)
    budget_failures = _budgets(report, config)
    files = _write(report, budget_failures, report_dir, base_commit, head_commit, history, record)
    return CiResult(report, base_commit, head_commit, files, budget_failures)


def _point(report: CompareReport, commit: str) -> dict[str, Any]:
    return {
        "commit": commit,
        "files": {
            f"{p.model}/{p.file}": {"us": p.head_us, "instructions": p.head_instructions}
            for p in report.pairs
        },
        "ship": [c["file"] for c in report.ship_now],
    }


def _write(
    report: CompareReport,
    budget_failures: list[str],
    report_dir: Path,
    base_commit: str,
    head_commit: str,
    history: str | Path | None,
    record: bool,
) -> list[str]:
    doc = report.to_json()
    doc.update(base_commit=base_commit, head_commit=head_commit, budget_failures=budget_failures)
    doc["passed"] = report.passed and not budget_failures
    markdown = report.to_markdown()
    if budget_failures:
        first, rest = markdown.split("\n", 1)
        first = first.replace("no regression", "over budget")
        markdown = first + "\n" + "".join(f"* FAIL: {b}\n" for b in budget_failures) + rest
    paths = [report_dir / "compare.md", report_dir / "compare.json"]
    atomic.write_text(paths[0], markdown)
    atomic.write_text(paths[1], json.dumps(doc, indent=1) + "\n")
    from edgedigits.ci_charts import growth_chart, history_chart

    charts = [growth_chart(report, report_dir / "compare.png")]
    if history is not None:
        history = Path(history)
        points = read_history(history)
        this = _point(report, head_commit)
        charts.append(history_chart(points, this, report_dir / "history.png"))
        if record:
            history.parent.mkdir(parents=True, exist_ok=True)
            with history.open("a") as f:
                f.write(json.dumps(this) + "\n")
    return [str(p) for p in paths + [c for c in charts if c]]


def read_history(path: Path) -> list[dict[str, Any]]:
    """The history file's points, oldest first; a damaged line is skipped (a history is a
    convenience, never a reason to fail a pull request)."""
    if not path.is_file():
        return []
    points = []
    for line in path.read_text(errors="replace").splitlines()[-HISTORY_POINTS:]:
        try:
            point = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(point, dict) and isinstance(point.get("files"), dict):
            points.append(point)
    return points
