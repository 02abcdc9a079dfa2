"""The README's promise, case by case: a bad input is one line naming the flag or file, a non-zero
exit, no traceback, and no good file changed, removed or half-written beside it.

Every case runs the real CLI (``edgedigits.cli.main``) in a fresh copy of a small trained and
exported tree, after the case's own damage is done; the SHA-256 of every file is taken before and
after the call and must be identical (no file changed, removed or added). Exit code 2 is a flag
argparse rejects, 1 a user error the library rejects; both must name the culprit.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgedigits.cli import main
from edgedigits.zoo import pretrained as shipped

from conftest import idx_bytes, write_idx_folder

# Each case runs on a copy of one trained and exported model folder (made once per module).
pytestmark = pytest.mark.integration

M = "seed004_mlp12"  # the tree's trained and exported model
QUIET = dict(log=lambda _msg: None)


@pytest.fixture(scope="module")
def good_tree(tmp_path_factory) -> Path:
    """``ex/seed004_mlp12``: trained (1 epoch) and exported as float32 .tflite, .onnx and C."""
    from edgedigits.export import export
    from edgedigits.training import train

    root = tmp_path_factory.mktemp("good")
    train([M], out=root / "ex", epochs=1, limit=3000, verbose=0, **QUIET)
    report = export([M], formats="all", recipes="float32", out=root / "ex", **QUIET)
    assert report.all_good
    return root


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# -- damage: each takes the work folder and breaks something in it ------------------------------


def _write(rel: str, data: bytes | str) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    return setup


def _json(rel: str, obj) -> Callable[[Path], None]:
    return _write(rel, json.dumps(obj))


def _edit_json(rel: str, edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        path = work / rel
        doc = json.loads(path.read_text())
        edit(doc)
        path.write_text(json.dumps(doc))

    return setup


def _idx(mutate: Callable[[Path], None] | None = None, gz: bool = False) -> Callable[[Path], None]:
    """A small valid IDX folder ``idx/``, then ``mutate`` breaks it."""

    def setup(work: Path) -> None:
        write_idx_folder(work / "idx", n_train=40, n_test=10, gz=gz)
        if mutate:
            mutate(work / "idx")

    return setup


def _npz(**arrays) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        np.savez(work / "d.npz", **arrays)

    return setup


def _npz_member_not_npy(work: Path) -> None:
    with zipfile.ZipFile(work / "d.npz", "w") as z:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            z.writestr(f"{key}.npy", b"this is not an npy file")


def _copy_model_as(other: str) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        (work / "ex" / other).mkdir(parents=True)
        shutil.copy(work / "ex" / M / f"{M}.keras", work / "ex" / other / f"{other}.keras")

    return setup


def _baseline(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    doc = {
        "schema": "edgedigits.bench/2",
        "created": "x",
        "machine": {},
        "settings": {},
        "results": [
            {
                "model": M,
                "artifact": f"{M}.float32.tflite",
                "runtime": "litert",
                "batch": 1,
                "status": "ok",
                "round_p50_us": [3.0, 3.1],
            }
        ],
    }
    edit(doc)
    return _json("base.json", doc)


def _all(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(work: Path) -> None:
        for s in setups:
            s(work)

    return setup


IMAGES = "train-images-idx3-ubyte"
TRAIN_DATA = ["train", M, "--out", "ex2", "--epochs", "1", "--limit", "10", "--data"]
EXPORT = ["export", M, "--out", "ex"]
BENCH = ["bench", M, "--out", "ex"]
PIPE = ["pipeline", M, "--out", "fresh"]
NOTHING = None

CASES = [
    # --- train: names and flags ---------------------------------------------------------------
    ("train-unknown-model", NOTHING, ["train", "nope", "--out", "ex"], 1, "unknown model 'nope'"),
    ("train-no-names", NOTHING, ["train", "--out", "ex"], 1, "name at least one model, or --all"),
    ("train-names-and-all", NOTHING, ["train", M, "--all"], 1, "give model names or --all"),
    ("train-limit-zero", NOTHING, ["train", M, "--limit", "0"], 2, "argument --limit"),
    (
        "train-limit-too-big",
        NOTHING,
        ["train", M, "--limit", "99999", "--out", "ex2"],
        1,
        "--limit 99999",
    ),
    ("train-epochs-zero", NOTHING, ["train", M, "--epochs", "0"], 2, "argument --epochs"),
    ("train-seed-negative", NOTHING, ["train", M, "--seed", "-1"], 2, "argument --seed"),
    ("train-seed-too-big", NOTHING, ["train", M, "--seed", str(2**32)], 2, "argument --seed"),
    ("train-seed-text", NOTHING, ["train", M, "--seed", "abc"], 2, "argument --seed"),
    ("train-out-is-a-file", _write("afile", "x"), ["train", M, "--out", "afile"], 1, "--out afile"),
    (
        "train-out-under-a-file",
        _write("afile", "x"),
        ["train", M, "--out", "afile/sub"],
        1,
        "afile is a file",
    ),
    (
        "train-model-folder-is-a-file",
        _write(f"blocked/{M}", "x"),
        ["train", M, "--out", "blocked"],
        1,
        f"blocked/{M} is a file",
    ),
    (
        "train-out-unwritable",
        NOTHING,
        ["train", M, "--out", "/proc/edgedigits-out"],
        1,
        "--out /proc/edgedigits-out",
    ),
    # --- data ---------------------------------------------------------------------------------
    ("data-missing", NOTHING, TRAIN_DATA + ["nodir"], 1, "--data nodir"),
    (
        "data-not-a-dataset-file",
        _write("notes.txt", "hi"),
        TRAIN_DATA + ["notes.txt"],
        1,
        "--data notes.txt",
    ),
    (
        "idx-missing-file",
        _idx(lambda d: (d / IMAGES).unlink()),
        TRAIN_DATA + ["idx"],
        1,
        "missing train-images-idx3-ubyte",
    ),
    (
        "idx-truncated-header",
        _idx(lambda d: (d / IMAGES).write_bytes(b"\0\0\x08\x03\0\0")),
        TRAIN_DATA + ["idx"],
        1,
        IMAGES,
    ),
    (
        "idx-bad-magic",
        _idx(lambda d: (d / IMAGES).write_bytes(b"\x12\x34\x08\x03" + b"\0" * 12)),
        TRAIN_DATA + ["idx"],
        1,
        "bad magic number",
    ),
    (
        "idx-dims-do-not-fit",
        _idx(
            lambda d: (d / IMAGES).write_bytes(
                struct.pack(">HBB", 0, 8, 4) + struct.pack(">4I", *[2**32 - 1] * 4) + b"\0" * 100
            )
        ),
        TRAIN_DATA + ["idx"],
        1,
        "truncated payload",
    ),
    (
        "idx-dims-overflow-int64",
        _idx(
            lambda d: (d / IMAGES).write_bytes(
                struct.pack(">HBB", 0, 8, 3)
                + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**31)
                + b"\0"
            )
        ),
        TRAIN_DATA + ["idx"],
        1,
        "truncated payload",
    ),
    (
        "idx-trailing-bytes",
        _idx(lambda d: (d / IMAGES).write_bytes((d / IMAGES).read_bytes() + b"\0")),
        TRAIN_DATA + ["idx"],
        1,
        "trailing bytes",
    ),
    (
        "idx-corrupt-gzip",
        _idx(lambda d: (d / f"{IMAGES}.gz").write_bytes(b"\x1f\x8bnot gzip"), gz=True),
        TRAIN_DATA + ["idx"],
        1,
        "unreadable gzip data",
    ),
    (
        "idx-labels-out-of-range",
        _idx(
            lambda d: (d / "train-labels-idx1-ubyte").write_bytes(
                idx_bytes(np.full(40, 12, np.uint8))
            )
        ),
        TRAIN_DATA + ["idx"],
        1,
        "labels go up to 12",
    ),
    (
        "idx-count-mismatch",
        _idx(
            lambda d: (d / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(39, np.uint8)))
        ),
        TRAIN_DATA + ["idx"],
        1,
        "count mismatch",
    ),
    (
        "checksums-not-text",
        _idx(lambda d: (d / "SHA256SUMS").write_bytes(b"\xff\xfe\x00\x81")),
        TRAIN_DATA + ["idx"],
        1,
        "SHA256SUMS: not a text checksum file",
    ),
    (
        "checksums-bad-line",
        _idx(lambda d: (d / "SHA256SUMS").write_text("zz  file\n")),
        TRAIN_DATA + ["idx"],
        1,
        "SHA256SUMS:1: expected",
    ),
    (
        "checksums-mismatch",
        _idx(lambda d: (d / "SHA256SUMS").write_text("0" * 64 + f"  {IMAGES}\n")),
        TRAIN_DATA + ["idx"],
        1,
        "checksum mismatch",
    ),
    (
        "npz-not-a-zip",
        _write("d.npz", "not a zip"),
        TRAIN_DATA + ["d.npz"],
        1,
        "d.npz: not a readable .npz file",
    ),
    (
        "npz-missing-arrays",
        _npz(x_train=np.zeros((2, 28, 28), np.uint8)),
        TRAIN_DATA + ["d.npz"],
        1,
        "missing array(s) y_train",
    ),
    (
        "npz-member-not-npy",
        _npz_member_not_npy,
        TRAIN_DATA + ["d.npz"],
        1,
        "a member is not a plain .npy array",
    ),
    (
        "npz-object-arrays",
        _npz(
            **{
                k: np.array([{"a": 1}] * 3, dtype=object)
                for k in ("x_train", "y_train", "x_test", "y_test")
            }
        ),
        TRAIN_DATA + ["d.npz"],
        1,
        "cannot read without unpickling",
    ),
    (
        "npz-wrong-image-shape",
        _npz(
            x_train=np.zeros((4, 20, 20), np.uint8),
            y_train=np.zeros(4, np.uint8),
            x_test=np.zeros((2, 28, 28), np.uint8),
            y_test=np.zeros(2, np.uint8),
        ),
        TRAIN_DATA + ["d.npz"],
        1,
        "train images have shape (4, 20, 20)",
    ),
    # --- export -------------------------------------------------------------------------------
    (
        "export-nothing-trained",
        NOTHING,
        ["export", "--format", "tflite", "--out", "empty"],
        1,
        "--out empty: no trained models there",
    ),
    ("export-unknown-format", NOTHING, EXPORT + ["--format", "bogus"], 1, "--format bogus"),
    ("export-empty-format", NOTHING, EXPORT + ["--format", ","], 1, "--format: empty"),
    ("export-unknown-recipe", NOTHING, EXPORT + ["--quant", "bogus"], 1, "--quant bogus"),
    (
        "export-recipe-not-offered",
        NOTHING,
        EXPORT + ["--format", "onnx", "--quant", "qat"],
        1,
        "--quant qat: not offered",
    ),
    (
        "export-ort-style-unknown",
        NOTHING,
        EXPORT + ["--format", "ort", "--ort-style", "fast"],
        2,
        "--ort-style: invalid choice: 'fast'",
    ),
    (
        "export-budget-without-c",
        NOTHING,
        EXPORT + ["--quant", "int8", "--max-arena-bytes", "8192"],
        1,
        "--max-arena-bytes 8,192: budgets apply to C arrays; add c to --format",
    ),
    (
        "export-budget-zero",
        NOTHING,
        EXPORT + ["--format", "c", "--max-flash-bytes", "0"],
        2,
        "--max-flash-bytes",
    ),
    (
        "export-c-float16",
        NOTHING,
        EXPORT + ["--format", "c", "--quant", "float16"],
        1,
        "--quant float16: not offered by --format c; those formats offer float32, int8",
    ),
    ("export-opset-range", NOTHING, EXPORT + ["--opset", "99"], 1, "--opset 99"),
    ("export-opset-text", NOTHING, EXPORT + ["--opset", "abc"], 2, "argument --opset"),
    (
        "export-calibration-zero",
        NOTHING,
        EXPORT + ["--calibration-samples", "0"],
        2,
        "argument --calibration-samples",
    ),
    (
        "export-calibration-too-many",
        NOTHING,
        EXPORT + ["--calibration-samples", "99999999"],
        1,
        "--calibration-samples 99999999",
    ),
    (
        "export-finetune-samples-too-many",
        NOTHING,
        EXPORT + ["--finetune-samples", "99999999"],
        1,
        "--finetune-samples 99999999",
    ),
    (
        "export-verify-samples-too-many",
        NOTHING,
        EXPORT + ["--verify-samples", "99999"],
        1,
        "--verify-samples 99999",
    ),
    ("export-seed-negative", NOTHING, EXPORT + ["--seed", "-1"], 2, "argument --seed"),
    ("export-sparsity-range", NOTHING, EXPORT + ["--sparsity", "1.5"], 2, "argument --sparsity"),
    ("export-sparsity-one", NOTHING, EXPORT + ["--sparsity", "1"], 1, "--sparsity 1.0"),
    ("export-clusters-one", NOTHING, EXPORT + ["--clusters", "1"], 2, "argument --clusters"),
    (
        "export-untrained",
        NOTHING,
        ["export", "seed004_cnn", "--out", "ex"],
        1,
        "not trained yet: seed004_cnn",
    ),
    ("export-out-is-a-file", _write("afile", "x"), ["export", M, "--out", "afile"], 1, "afile"),
    (
        "export-corrupt-keras",
        _write(f"ex/{M}/{M}.keras", "not a zip"),
        EXPORT,
        1,
        f"{M}.keras: not a loadable model file",
    ),
    (
        "export-wrong-architecture",
        _copy_model_as("seed003_ann64_relu"),
        ["export", "seed003_ann64_relu", "--out", "ex"],
        1,
        "not the architecture of zoo model seed003_ann64_relu",
    ),
    (
        "export-garbage-manifest",
        _write(f"ex/{M}/manifest.json", "{garbage"),
        EXPORT,
        1,
        "manifest.json: not a valid edgedigits manifest",
    ),
    (
        "export-manifest-artifacts-not-records",
        _edit_json(f"ex/{M}/manifest.json", lambda d: d.update(artifacts=[1, 2])),
        EXPORT,
        1,
        "manifest.json: not a valid edgedigits manifest (artifacts[0] is not an object)",
    ),
    (
        "export-manifest-wrong-schema",
        _edit_json(f"ex/{M}/manifest.json", lambda d: d.update(schema="other/9")),
        EXPORT,
        1,
        "schema 'other/9'",
    ),
    (
        "export-manifest-record-without-hash",
        _edit_json(f"ex/{M}/manifest.json", lambda d: d["artifacts"][0].pop("sha256")),
        EXPORT,
        1,
        "lacks 'sha256'",
    ),
    (
        "export-garbage-golden",
        _write(f"ex/{M}/golden.json", "[1,"),
        EXPORT,
        1,
        "golden.json: not valid golden vectors",
    ),
    (
        "export-golden-wrong-structure",
        _edit_json(f"ex/{M}/golden.json", lambda d: d.update(artifacts=[])),
        EXPORT,
        1,
        "golden.json: not valid golden vectors",
    ),
    (
        "export-metrics-not-an-object",
        _json(f"ex/{M}/metrics.json", [1, 2]),
        EXPORT,
        1,
        "metrics.json: not a training metrics file",
    ),
    (
        "export-metrics-accuracy-text",
        _edit_json(f"ex/{M}/metrics.json", lambda d: d.update(test_accuracy="high")),
        EXPORT,
        1,
        "metrics.json: not a training metrics file",
    ),
    # --- bench --------------------------------------------------------------------------------
    (
        "bench-budget-without-tflm",
        NOTHING,
        BENCH + ["--max-arena-bytes", "8192"],
        1,
        "--max-arena-bytes 8,192: no runtime in --runtimes measures flash and arena; add tflm",
    ),
    (
        "bench-json-is-a-folder",
        _write("adir/x", "x"),
        BENCH + ["--json", "adir"],
        1,
        "--json adir: is a folder",
    ),
    (
        "bench-json-under-a-file",
        _write("afile", "x"),
        BENCH + ["--json", "afile/r.json"],
        1,
        "--json afile/r.json",
    ),
    (
        "bench-markdown-under-a-file",
        _write("afile", "x"),
        BENCH + ["--markdown", "afile/r.md"],
        1,
        "--markdown afile/r.md",
    ),
    (
        "bench-gate-markdown-is-a-folder",
        _write("adir/x", "x"),
        BENCH + ["--gate-markdown", "adir"],
        1,
        "--gate-markdown adir",
    ),
    (
        "bench-plots-is-a-file",
        _write("afile", "x"),
        BENCH + ["--plots", "afile"],
        1,
        "--plots afile",
    ),
    ("bench-runtimes-empty", NOTHING, BENCH + ["--runtimes", ","], 1, "--runtimes"),
    (
        "bench-runtimes-unknown",
        NOTHING,
        BENCH + ["--runtimes", "litert,bogus"],
        1,
        "--runtimes bogus",
    ),
    ("bench-warmup-negative", NOTHING, BENCH + ["--warmup", "-5"], 2, "argument --warmup"),
    (
        "bench-min-seconds-nan",
        NOTHING,
        BENCH + ["--min-seconds", "nan"],
        2,
        "argument --min-seconds",
    ),
    (
        "bench-min-seconds-zero",
        NOTHING,
        BENCH + ["--min-seconds", "0"],
        2,
        "argument --min-seconds",
    ),
    ("bench-rounds-zero", NOTHING, BENCH + ["--rounds", "0"], 2, "argument --rounds"),
    ("bench-threads-zero", NOTHING, BENCH + ["--threads", "0"], 2, "argument --threads"),
    ("bench-batch-zero", NOTHING, BENCH + ["--batch", "0"], 2, "argument --batch"),
    (
        "bench-test-limit-too-big",
        NOTHING,
        BENCH + ["--test-limit", "99999"],
        1,
        "--test-limit 99999",
    ),
    (
        "bench-tolerances-missing",
        NOTHING,
        BENCH + ["--tolerances", "nope.json"],
        1,
        "--tolerances nope.json: file not found",
    ),
    (
        "bench-tolerances-not-json",
        _write("t.json", "{"),
        BENCH + ["--tolerances", "t.json"],
        1,
        "--tolerances t.json: not valid JSON",
    ),
    (
        "bench-tolerances-a-list",
        _json("t.json", [1]),
        BENCH + ["--tolerances", "t.json"],
        1,
        "--tolerances t.json: expected a JSON object",
    ),
    (
        "bench-tolerances-string-value",
        _json("t.json", {"float": {"min_agreement": "high"}}),
        BENCH + ["--tolerances", "t.json"],
        1,
        "min_agreement must be a number",
    ),
    (
        "bench-tolerances-out-of-range",
        _json("t.json", {"integer": {"min_agreement": 2}}),
        BENCH + ["--tolerances", "t.json"],
        1,
        "min_agreement 2 is outside 0-1",
    ),
    (
        "bench-tolerances-unknown-family",
        _json("t.json", {"floaty": {}}),
        BENCH + ["--tolerances", "t.json"],
        1,
        "unknown family or recipe 'floaty'",
    ),
    (
        "bench-tolerances-unknown-field",
        _json("t.json", {"float": {"agree": 1}}),
        BENCH + ["--tolerances", "t.json"],
        1,
        "unknown field(s) ['agree']",
    ),
    (
        "bench-min-agreement-range",
        NOTHING,
        BENCH + ["--min-agreement", "1.5"],
        2,
        "argument --min-agreement",
    ),
    (
        "bench-max-accuracy-drop-negative",
        NOTHING,
        BENCH + ["--max-accuracy-drop", "-1"],
        2,
        "argument --max-accuracy-drop",
    ),
    (
        "bench-max-slowdown-below-one",
        NOTHING,
        BENCH + ["--max-slowdown", "0.5"],
        2,
        "argument --max-slowdown",
    ),
    (
        "bench-max-slowdown-nan",
        NOTHING,
        BENCH + ["--max-slowdown", "nan"],
        2,
        "argument --max-slowdown",
    ),
    (
        "bench-gate-retries-negative",
        NOTHING,
        BENCH + ["--gate-retries", "-1"],
        2,
        "argument --gate-retries: -1 must be at least 0",
    ),
    (
        "baseline-missing",
        NOTHING,
        BENCH + ["--check", "--baseline", "b.json"],
        1,
        "--baseline b.json: file not found",
    ),
    (
        "baseline-not-json",
        _write("base.json", "nope"),
        BENCH + ["--check", "--baseline", "base.json"],
        1,
        "--baseline base.json: not valid JSON",
    ),
    (
        "baseline-wrong-schema",
        _baseline(lambda d: d.update(schema="edgedigits.bench/1")),
        BENCH + ["--check", "--baseline", "base.json"],
        1,
        "an older bench report",
    ),
    (
        "baseline-missing-results",
        _baseline(lambda d: d.pop("results")),
        BENCH + ["--check", "--baseline", "base.json"],
        1,
        "'results'",
    ),
    (
        "baseline-results-not-a-list",
        _baseline(lambda d: d.update(results={"a": 1})),
        BENCH + ["--check", "--baseline", "base.json"],
        1,
        "'results'",
    ),
    (
        "baseline-row-not-an-object",
        _baseline(lambda d: d.update(results=[7])),
        BENCH + ["--check", "--baseline", "base.json"],
        1,
        "results[0]",
    ),
    (
        "baseline-row-missing-fields",
        _baseline(lambda d: d["results"][0].pop("runtime")),
        BENCH + ["--check", "--baseline", "base.json"],
        1,
        "results[0] lacks runtime",
    ),
    (
        "baseline-zero-latency",
        _baseline(lambda d: d["results"][0].update(round_p50_us=[0, 0])),
        BENCH + ["--check", "--baseline", "base.json"],
        1,
        "round_p50_us",
    ),
    (
        "baseline-latency-text",
        _baseline(lambda d: d["results"][0].update(round_p50_us="fast")),
        BENCH + ["--check", "--baseline", "base.json"],
        1,
        "round_p50_us",
    ),
    (
        "baseline-breaks-the-schema",
        _baseline(lambda d: d["results"][0].update(batch="one")),
        BENCH + ["--check", "--baseline", "base.json"],
        1,
        "--baseline base.json: does not match the bench report schema at $",
    ),
    ("bench-no-such-file", NOTHING, ["bench", f"ex/{M}/{M}.int4.tflite"], 1, "no such file"),
    (
        "bench-unnamed-file",
        _write("model.tflite", "x"),
        ["bench", "model.tflite"],
        1,
        "cannot tell which zoo model",
    ),
    ("bench-c-source", NOTHING, ["bench", f"ex/{M}/{M}.float32.cc"], 1, "not a benchable artifact"),
    (
        "bench-untrained",
        NOTHING,
        ["bench", "seed004_cnn", "--out", "ex"],
        1,
        "trained model not found",
    ),
    (
        "bench-damaged-manifest",
        _write(f"ex/{M}/manifest.json", "{"),
        BENCH + ["--runtimes", "litert"],
        1,
        "manifest.json: not a valid edgedigits manifest",
    ),
    # --- pipeline: all of it before any training (the fresh --out must stay empty) ------------
    ("pipeline-unknown-recipe", NOTHING, PIPE + ["--quant", "bogus"], 1, "--quant bogus"),
    ("pipeline-unknown-format", NOTHING, PIPE + ["--format", "bogus"], 1, "--format bogus"),
    ("pipeline-test-limit", NOTHING, PIPE + ["--test-limit", "99999"], 1, "--test-limit 99999"),
    ("pipeline-runtimes-unknown", NOTHING, PIPE + ["--runtimes", "tpu"], 1, "--runtimes tpu"),
    (
        "pipeline-bad-baseline",
        _write("base.json", "{"),
        PIPE + ["--check", "--baseline", "base.json"],
        1,
        "--baseline",
    ),
    (
        "pipeline-report-dir-is-a-file",
        _write("afile", "x"),
        PIPE + ["--report-dir", "afile"],
        1,
        "--report-dir afile",
    ),
    (
        "pipeline-gate-markdown-is-a-folder",
        _write("adir/x", "x"),
        PIPE + ["--gate-markdown", "adir"],
        1,
        "--gate-markdown adir",
    ),
    ("pipeline-epochs-zero", NOTHING, PIPE + ["--epochs", "0"], 2, "argument --epochs"),
    (
        "pipeline-tolerances-bad",
        _json("t.json", {"float": {"max_abs_diff": "x"}}),
        PIPE + ["--tolerances", "t.json"],
        1,
        "max_abs_diff must be a number",
    ),
    # --- verify and the command line itself ---------------------------------------------------
    (
        "verify-not-a-folder",
        NOTHING,
        ["verify", "nowhere"],
        1,
        "nowhere: not a model name or a folder",
    ),
    (
        "verify-no-manifest",
        _write("plain/x.txt", "x"),
        ["verify", "plain"],
        1,
        "plain: no manifest.json",
    ),
    (
        "verify-json-is-a-folder",
        _write("adir/x", "x"),
        ["verify", "ex", "--json", "adir"],
        1,
        "--json adir",
    ),
    ("no-command", NOTHING, [], 2, "required: COMMAND"),
    ("unknown-command", NOTHING, ["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    ("unknown-flag", NOTHING, ["bench", M, "--fast"], 2, "unrecognized arguments: --fast"),
]


@pytest.mark.parametrize(
    "setup, argv, code, message", [pytest.param(*case[1:], id=case[0]) for case in CASES]
)
def test_bad_input(good_tree, tmp_path, monkeypatch, capsys, setup, argv, code, message):
    work = tmp_path / "work"
    shutil.copytree(good_tree, work)
    if setup:
        setup(work)
    monkeypatch.chdir(work)
    # As if no weights shipped: an untrained model is then an error (with them, export starts
    # from them instead; tests/test_pretrained.py holds that).
    monkeypatch.setattr(shipped, "index", dict)
    before = _hashes(work)
    capsys.readouterr()
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse
        got = exc.code
    err = capsys.readouterr().err
    assert got == code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert message in lines[0], lines[0]
    assert "Traceback" not in err
    assert _hashes(work) == before  # nothing changed, removed, or added


def test_the_corpus_is_large():
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="root writes into read-only folders; the /proc case above covers an unwritable --out",
)
def test_read_only_model_folder(good_tree, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    shutil.copytree(good_tree, work)
    folder = work / "ex" / M
    folder.chmod(0o555)
    try:
        before = _hashes(work)
        assert main(EXPORT[:1] + [M, "--out", str(work / "ex")]) == 1
        assert f"cannot write into {folder}" in capsys.readouterr().err
        assert _hashes(work) == before
    finally:
        folder.chmod(0o755)


def test_gzip_of_a_good_file_is_not_mistaken(tmp_path):
    """Guard for the IDX cases above: the same folder, undamaged, loads."""
    from edgedigits.data import load_dataset

    write_idx_folder(tmp_path / "idx", n_train=40, n_test=10, gz=True)
    assert load_dataset(tmp_path / "idx").num_train == 40
    assert gzip.decompress((tmp_path / "idx" / f"{IMAGES}.gz").read_bytes())[:2] == b"\0\0"
