"""One command from nothing to a verified, benchmarked set of edge artifacts.

``pipeline()`` starts each model that has no trained ``.keras`` yet from the weights that ship
with the package (``train_missing``: trains it with its seed's recipe instead), exports them
(every target by default: web, mobile, microcontroller and server files), benches everything,
and writes the report (JSON, Markdown, plots) to ``<out>/report/``. ``all_models=True`` runs the
whole zoo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgedigits.benchmark import BenchOptions, BenchReport, bench
from edgedigits.benchmark import report as reports
from edgedigits.data import load_dataset
from edgedigits.errors import UsageError
from edgedigits.export import ExportOptions, ExportReport, export
from edgedigits.export.workspace import Workspace
from edgedigits.model_files import DEFAULT_MODELS, DEFAULT_OUT, model_path
from edgedigits.outputs import writable_dir
from edgedigits.training import TrainResult, train
from edgedigits.zoo.pretrained import pretrained

PIPELINE_EXPORT = {"targets": "all"}  # every file an app runtime takes (contract/targets.py)


@dataclass
class PipelineResult:
    trained: list[TrainResult]
    exported: ExportReport
    benched: BenchReport
    document: dict[str, Any]
    files: list[str] = field(default_factory=list)  # report files written


def pipeline(
    names: Sequence[str] = (),
    *,
    all_models: bool = False,
    out: str | Path = DEFAULT_OUT,
    data: str | Path | None = None,
    epochs: int | None = None,
    export_options: ExportOptions | None = None,
    bench_options: BenchOptions | None = None,
    report_dir: str | Path | None = None,
    command: str | None = None,
    train_missing: bool = False,
    log: Callable[[str], None] = print,
) -> PipelineResult:
    """Start from the shipped weights (or train, when asked), export, bench, write the report.

    Args:
        names: zoo model names (default: the default subset, ``DEFAULT_MODELS``).
        all_models: the whole zoo.
        out: the folder models and artifacts land in; the report goes to ``out/report``.
        data: the data source (default: the embedded MNIST).
        epochs: training epochs instead of each recipe's count.
        export_options: what to export (default: ``PIPELINE_EXPORT``, every target: web,
            mobile, microcontroller and server files).
        bench_options: how to bench (default: ``BenchOptions()``).
        report_dir: where ``bench.json``, ``bench.md`` and the plots go.
        command: the command line recorded in the manifests.
        train_missing: train the models not yet trained under ``out`` with their recipes,
            instead of starting from the weights that ship with the package (``epochs``
            implies it; a model without shipped weights is always trained).
        log: where progress lines go.

    Returns:
        A ``PipelineResult``: what was trained, exported and benched, the report document and
        the files written. Every option and output folder is checked before any training.
    """
    # Everything that can be wrong with the request fails here, before minutes of training:
    # the options, then the one pre-flight (the workspace), which export and bench then take.
    export_options = export_options or ExportOptions(**PIPELINE_EXPORT)
    export_options.validate()
    if epochs is not None and epochs < 1:
        raise UsageError(f"--epochs {epochs}: must be at least 1")
    workspace = Workspace.open(
        names, out=out, all_models=all_models, data=data, default=DEFAULT_MODELS, log=log
    )
    out, chosen = workspace.out, list(workspace.names)
    report_dir = writable_dir(
        report_dir or out / "report", f"--report-dir {report_dir}" if report_dir else f"--out {out}"
    )
    (bench_options or BenchOptions()).validate(load_dataset(data).num_test)
    missing = [n for n in chosen if not model_path(out, n).is_file()]
    if not (train_missing or epochs is not None):  # the rest start from the shipped weights
        missing = [n for n in missing if pretrained(n) is None]
    trained = train(missing, out=out, data=data, epochs=epochs, log=log) if missing else []
    exported = export(
        data=data, options=export_options, command=command, log=log, workspace=workspace
    )
    options = bench_options or BenchOptions()
    if options.plots_dir is None:
        from dataclasses import replace

        options = replace(options, plots_dir=report_dir / "disagreements")
    benched = bench(data=data, options=options, log=log, workspace=workspace)
    doc = reports.write_json(benched, report_dir / "bench.json")
    reports.write_markdown(doc, report_dir / "bench.md")
    files = [str(report_dir / "bench.json"), str(report_dir / "bench.md")]
    files += reports.write_plots(doc, report_dir / "bench")
    return PipelineResult(trained, exported, benched, doc, files)
