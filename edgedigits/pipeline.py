"""One command from nothing to a verified, benchmarked set of edge artifacts.

``pipeline()`` trains the models that have no trained ``.keras`` yet (with their seed's recipe),
exports them (TFLite and ONNX, every recipe by default), benches everything, and writes the
report (JSON, Markdown, plots) to ``<out>/report/``. The default subset finishes in a few
minutes on 2 CPU cores; ``all_models=True`` runs the whole zoo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from edgedigits.benchmark import BenchOptions, BenchReport, bench
from edgedigits.benchmark import report as reports
from edgedigits.export import ExportReport, FinetuneOptions, export
from edgedigits.data import load_dataset
from edgedigits.errors import UsageError
from edgedigits.export.artifact_store import check_export_folders
from edgedigits.export.recipes import parse_formats, parse_recipes
from edgedigits.outputs import writable_dir
from edgedigits.model_files import DEFAULT_MODELS, DEFAULT_OUT, model_path, resolve_names
from edgedigits.training import TrainResult, train


@dataclass
class PipelineResult:
    trained: list[TrainResult]
    exported: ExportReport
    benched: BenchReport
    document: dict[str, Any]
    files: list[str] = field(default_factory=list)  # report files written


def pipeline(names: Sequence[str] = (), *, all_models: bool = False,
             out: str | Path = DEFAULT_OUT, data: str | Path | None = None,
             formats: str = "tflite,onnx,ort", recipes: str = "all", epochs: int | None = None,
             finetune: FinetuneOptions | None = None, bench_options: BenchOptions | None = None,
             report_dir: str | Path | None = None, command: str | None = None,
             log: Callable[[str], None] = print) -> PipelineResult:
    chosen = resolve_names(names or ([] if all_models else list(DEFAULT_MODELS)), all_models)
    # Everything that can be wrong with the request fails here, before minutes of training.
    parse_recipes(recipes, parse_formats(formats))
    if epochs is not None and epochs < 1:
        raise UsageError(f"--epochs {epochs}: must be at least 1")
    (finetune or FinetuneOptions()).validate()
    out = check_export_folders(out, chosen)
    report_dir = writable_dir(report_dir or out / "report",
                              f"--report-dir {report_dir}" if report_dir else f"--out {out}")
    (bench_options or BenchOptions()).validate(load_dataset(data).num_test)
    missing = [n for n in chosen if not model_path(out, n).is_file()]
    trained = train(missing, out=out, data=data, epochs=epochs, log=log) if missing else []
    exported = export(chosen, formats=formats, recipes=recipes, out=out, data=data,
                      finetune=finetune, command=command, log=log)
    options = bench_options or BenchOptions()
    if options.plots_dir is None:
        from dataclasses import replace

        options = replace(options, plots_dir=report_dir / "disagreements")
    benched = bench(chosen, out=out, data=data, options=options, log=log)
    doc = reports.write_json(benched, report_dir / "bench.json")
    reports.write_markdown(doc, report_dir / "bench.md")
    files = [str(report_dir / "bench.json"), str(report_dir / "bench.md")]
    files += reports.write_plots(doc, report_dir / "bench")
    return PipelineResult(trained, exported, benched, doc, files)
