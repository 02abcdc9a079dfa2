"""Benchmark: export the whole trained zoo with every format and recipe; commit the size table.

    python bench/train_zoo.py --out exports     # first, once (trains the zoo)
    python bench/export_zoo.py --out exports    # ~20 min on 2 CPU cores (with --auto-fix)
    python bench/export_zoo.py --out exports --only seed004_cnn   # refresh one model's rows
    python bench/export_zoo.py --out exports --formats c   # refresh one format's artifacts

Writes ``bench/results/export_zoo.{md,json}``: per artifact its size, gzip size, ratio to the
float32 artifact of the same model and format, and the export-time parity check. ``edgedigits
bench`` extends these with accuracy on the full test set and latency.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from edgedigits import atomic
from edgedigits.export import ArtifactRecord, ExportReport, export, read_manifest
from edgedigits.zoo import list_models

RESULTS = Path(__file__).resolve().parent / "results"


def records_on_disk(out: Path) -> list[ArtifactRecord]:
    """Every artifact record in the manifests under ``out``, in zoo order."""
    records = []
    for name in list_models():
        manifest = read_manifest(out / name / "manifest.json")
        for entry in (manifest or {}).get("artifacts", []):
            records.append(ArtifactRecord(**entry))
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="exports", help="folder holding the trained zoo")
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="re-export just these models (the table still covers every manifest under --out)",
    )
    parser.add_argument(
        "--formats",
        default="all",
        help="formats to (re-)export; the table covers every format on disk",
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    names = args.only or [n for n in list_models() if (out / n / f"{n}.keras").is_file()]
    report = export(names, formats=args.formats, recipes="all", out=out, auto_fix=True)
    table = ExportReport(records_on_disk(out))
    text = (
        "# Full-zoo export\n\n`python bench/export_zoo.py` after `bench/train_zoo.py`: every "
        "trained zoo model, every format and recipe, with default flags (500 calibration "
        "images, 1 fine-tuning epoch on all 60,000 training images, sparsity 0.5, 16 "
        "clusters, ONNX opset 17) and `--auto-fix` (an int8 file that fails parity gets a "
        "repaired `int8-fixed` or `int8-mixed` sibling). Agreement is top-1 agreement with "
        "the Keras reference on "
        "the first 1,000 test images, checked at export time (the fine-tuned Keras model "
        "for qat, pruned, clustered). `.cc` sizes are C source text; the array inside is the "
        "`.tflite`.\n\n" + table.to_markdown()
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic.write_text(RESULTS / "export_zoo.md", text)
    atomic.write_json(RESULTS / "export_zoo.json", {"records": [asdict(r) for r in table.records]})
    print(text)
    return 0 if not report.failed else 1


if __name__ == "__main__":
    sys.exit(main())
