"""Bring-your-own-model benchmark: each test notebook model, saved by Keras 3 (and tf_keras) as
``.keras`` and ``.h5``, imported and exported in every format and recipe; the time each step
took and parity per artifact.

    python bench/import_notebooks.py --out /tmp/byom --results bench/results

writes ``import_notebooks.json`` (every record) and ``import_notebooks.md`` (the tables the
docs/results/benchmarks.md quotes). The models are the ones ``tests/test_import_flow.py`` builds
(``tests/notebook_models.py``: trained for two short epochs, as in the tests), so the benchmark
measures what the tests hold. Exports use the CLI's defaults except for smaller calibration,
verification and fine-tuning sets, as the tests do.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the notebook models

from edgedigits import atomic  # noqa: E402
from edgedigits.export import FinetuneOptions, export  # noqa: E402
from edgedigits.markdown import table as markdown_table  # noqa: E402
from edgedigits.model_import import import_model  # noqa: E402
from edgedigits.verify import verify  # noqa: E402

from notebook_models import NOTEBOOKS, save_notebook_model  # noqa: E402

EXPORT = dict(
    formats="all",
    recipes="all",
    calibration_samples=200,
    verify_samples=500,
    finetune=FinetuneOptions(samples=3000),
)
QUIET = dict(log=lambda _msg: None)


def run(out: Path) -> dict:
    rows, artifacts = [], []
    files = out / "files"
    for writer in ("keras", "tf_keras"):
        for kind in NOTEBOOKS:
            saved = save_notebook_model(kind, files, writer)
            for suffix, path in saved.items():
                name = f"{kind}_{writer}_{suffix.lstrip('.')}"
                started = time.perf_counter()
                record = import_model(path, name=name, out=out, **QUIET)
                import_s = time.perf_counter() - started
                row = {
                    "model": kind,
                    "writer": writer,
                    "file": suffix,
                    "name": name,
                    "import_s": round(import_s, 2),
                    "params": record.params,
                    "preprocessing": record.preprocessing["name"],
                    "output": record.output_kind,
                    "test_accuracy": record.test_accuracy,
                    "equivalence": record.equivalence,
                }
                if writer == "keras" and suffix == ".keras":  # every recipe, once per model
                    started = time.perf_counter()
                    report = export([name], out=out, **EXPORT, **QUIET)
                    row["export_s"] = round(time.perf_counter() - started, 2)
                    row["artifacts_ok"] = sum(r.ok and r.parity_passed for r in report.records)
                    row["artifacts"] = len(report.records)
                    row["verify_passed"] = verify([name], out=out).passed
                    artifacts += [
                        {
                            "model": kind,
                            "file": r.file,
                            "format": r.format,
                            "recipe": r.recipe,
                            "ok": r.ok,
                            "reason": r.reason,
                            "size_bytes": r.size_bytes,
                            "agreement": (r.parity or {}).get("agreement"),
                            "max_abs_diff": (r.parity or {}).get("max_abs_diff"),
                            "parity_passed": r.parity_passed,
                        }
                        for r in report.records
                    ]
                rows.append(row)
                print(json.dumps(row), flush=True)
    return {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "command": "python bench/import_notebooks.py " + " ".join(sys.argv[1:]),
        "imports": rows,
        "artifacts": artifacts,
    }


def markdown(doc: dict) -> str:
    lines = [
        "# Bring your own model: import and export of the notebook test models",
        "",
        f"`{doc['command']}`",
        "",
    ]
    rows = []
    for r in doc["imports"]:
        eq = r["equivalence"]
        equivalence = (
            f"passed ({eq['max_abs_diff']:.1e}, {eq['keras']})"
            if eq["passed"]
            else eq.get("reason") or "FAILED"
        )
        exported = f"{r['artifacts_ok']}/{r['artifacts']}" if "artifacts" in r else ""
        verified = ("passed" if r.get("verify_passed") else "FAILED") if "artifacts" in r else ""
        rows.append(
            [
                r["model"],
                r["writer"],
                r["file"],
                f"{r['params']:,}",
                f"{r['import_s']:.1f}",
                r["preprocessing"],
                r["output"],
                f"{r['test_accuracy']:.2f}",
                equivalence,
                r.get("export_s", ""),
                exported,
                verified,
            ]
        )
    lines += markdown_table(
        [
            "model",
            "written by",
            "file",
            "params",
            "import s",
            "preprocessing",
            "output",
            "test acc %",
            "equivalence (max abs diff)",
            "export s",
            "artifacts ok (parity)",
            "verify",
        ],
        rows,
        "lllrrllrlrrl",
    )
    lines += [
        "",
        "## Artifacts that did not pass (Keras 3 `.keras` imports, every recipe)",
        "",
        *markdown_table(
            ["model", "file", "reason or parity"],
            [
                [
                    a["model"],
                    a["file"],
                    a["reason"]
                    or (
                        f"agreement {100 * a['agreement']:.2f}%, max abs diff "
                        f"{a['max_abs_diff']:.3g}"
                    ),
                ]
                for a in doc["artifacts"]
                if not (a["ok"] and a["parity_passed"])
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="a scratch folder")
    parser.add_argument("--results", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    doc = run(args.out)
    atomic.write_json(args.results / "import_notebooks.json", doc)
    atomic.write_text(args.results / "import_notebooks.md", markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
