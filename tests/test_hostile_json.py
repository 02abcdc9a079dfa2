"""JSON the toolkit is handed cannot hang it or exhaust it (part of the hostile-world issue).

Through the real CLI in a subprocess, each under a timeout: a named pipe where a ``--baseline``
or a model folder's ``golden.json``/``manifest.json``/``metrics.json`` is expected, JSON nested
100,000 deep, and a 200 MB baseline. Each ends at once in one line naming the file, exit 1, no
traceback. Nothing is trained: the unit tier.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

DEEP = "[" * 100_000 + "]" * 100_000
MANIFEST = {
    "schema": "edgedigits.manifest/2",
    "model": "seed004_cnn",  # valid, and empty
    "source_model": {"file": "seed004_cnn.keras", "sha256": "0" * 64, "weights": "pretrained"},
    "labels": [str(d) for d in range(10)],
    "output": "probabilities",
    "preprocessing": {
        "formula": "x = pixel / 255",
        "scale": 1 / 255,
        "offset": 0.0,
        "layout": "HWC",
    },
    "tools": {},
    "artifacts": [],
    "golden": {"file": "golden.json", "sha256": "0" * 64, "size_bytes": 0},
}


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "edgedigits", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    run.seconds = time.monotonic() - started
    return run


def _one_line(run: subprocess.CompletedProcess, *needles: str) -> None:
    assert run.returncode == 1, (run.returncode, run.stderr[-800:])
    assert "Traceback" not in run.stderr, run.stderr[-800:]
    errors = [line for line in run.stderr.splitlines() if line.strip()]
    assert errors and any(all(n in line for n in needles) for line in errors), errors


@pytest.fixture
def folder(tmp_path):
    model = tmp_path / "ex" / "seed004_cnn"
    model.mkdir(parents=True)
    (model / "manifest.json").write_text(json.dumps(MANIFEST))
    return tmp_path


@pytest.mark.parametrize("content", ["fifo", "deep", "huge"])
def test_baseline_that_would_hang_or_exhaust_is_refused_at_once(folder, content):
    path = folder / "base.json"
    if content == "fifo":
        os.mkfifo(path)  # nothing ever writes to it: a plain read would wait forever
    elif content == "deep":
        path.write_text(DEEP)
    else:
        with open(path, "wb") as handle:  # 200 MB, sparse: refused by its size, never read
            handle.truncate(200 << 20)
    run = _cli(
        "bench", "seed004_cnn", "--out", "ex", "--check", "--baseline", "base.json", cwd=folder
    )
    want = {
        "fifo": "not a regular file",
        "deep": "nested too deeply",
        "huge": "over the 67,108,864-byte limit",
    }[content]
    _one_line(run, "--baseline base.json", want)
    assert run.seconds < 60


@pytest.mark.parametrize("record", ["golden.json", "manifest.json", "metrics.json"])
@pytest.mark.parametrize("content", ["fifo", "deep"])
def test_model_folder_records_that_would_hang_are_refused(folder, record, content):
    path = folder / "ex" / "seed004_cnn" / record
    path.unlink(missing_ok=True)
    if content == "fifo":
        os.mkfifo(path)
    else:
        path.write_text(DEEP)
    command = (
        ("verify", "--out", "ex")
        if record != "metrics.json"
        else ("export", "seed004_cnn", "--out", "ex")
    )
    run = _cli(*command, cwd=folder)
    want = "not a regular file" if content == "fifo" else "nested too deeply"
    _one_line(run, f"seed004_cnn/{record}", want)
