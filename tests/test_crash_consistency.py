"""A kill at any instant leaves a model folder that verifies; writers on one --out take turns.

``export`` (every format: .tflite, .onnx, .ort with its operator config, C arrays) and ``train``
are started as real processes and SIGKILLed at points spread evenly over a full run's duration
(measured first, in the same test). After each kill the folder must verify as it is (or hold no
manifest yet, when the kill came before the first artifact), with no temporary file inside it;
re-runs after kills must complete. Then two exports and a reader share one ``--out``: the reader
never sees a half-changed folder and neither writer's artifacts are lost.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgedigits.verify import ARTIFACT_SUFFIXES, verify

pytestmark = pytest.mark.integration  # trains or exports models

M = "seed004_mlp12"
EXPORT_KILLS, TRAIN_KILLS = 50, 12
RERUN_EVERY = 5  # after every fifth kill the interrupted command is re-run to completion
EXPORT = [
    "export",
    M,
    "--out",
    "ex",
    "--format",
    "tflite,onnx,ort,c",
    "--quant",
    "float32,int8",
    "--calibration-samples",
    "200",
    "--verify-samples",
    "500",
]
TRAIN = ["train", M, "--out", "ex", "--epochs", "1", "--limit", "6000"]
# After a 1-epoch retrain the int8 files may fail parity (a barely trained 12-unit MLP): the last
# re-run exports the float32 files, and drops the old model's int8 files with their records.
EXPORT_FLOAT = [*EXPORT[: EXPORT.index("--quant") + 1], "float32"]


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "edgedigits", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _complete(args: list[str], cwd: Path) -> float:
    started = time.monotonic()
    proc = _start(args, cwd)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    return time.monotonic() - started


def _kill_at(args: list[str], cwd: Path, seconds: float) -> None:
    proc = _start(args, cwd)
    try:
        proc.wait(timeout=seconds)  # finished before its kill time: a complete run
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()


def _holds_up(out: Path) -> str:
    """The folder after a kill: no manifest yet (no artifact either), or one that verifies."""
    folder = out / M
    if folder.is_dir():
        assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], (
            "a temporary file inside the model folder"
        )
        metrics = folder / "metrics.json"
        if metrics.is_file():  # the model and its metrics landed together
            recorded = json.loads(metrics.read_text())["model_sha256"]
            actual = hashlib.sha256((folder / f"{M}.keras").read_bytes()).hexdigest()
            assert recorded == actual, "metrics.json describes another model file"
    if not (folder / "manifest.json").is_file():
        assert not folder.is_dir() or not [
            p for p in folder.iterdir() if p.suffix in ARTIFACT_SUFFIXES
        ]
        return "before the first artifact"
    report = verify([str(folder)])
    assert report.passed, [p.line() for p in report.problems]
    return f"{len(report.verified)} artifact(s)"


def test_export_and_train_killed_at_many_points_leave_folders_that_verify(tmp_path):
    full_export = _complete(EXPORT, tmp_path)
    assert verify([str(tmp_path / "ex" / M)]).passed
    states = []
    for k in range(EXPORT_KILLS):
        if k % 2 == 0:  # half the kills into a fresh --out, half over the last one's folder
            shutil.rmtree(tmp_path / "ex")
        _kill_at(EXPORT, tmp_path, full_export * (k + 0.5) / EXPORT_KILLS)
        states.append(_holds_up(tmp_path / "ex"))
        if k % RERUN_EVERY == RERUN_EVERY - 1:
            _complete(EXPORT, tmp_path)
            assert len(verify([str(tmp_path / "ex" / M)]).verified) == 8
    # kills landed before, between and after artifacts, not all in one phase
    assert "before the first artifact" in states and len(set(states)) >= 3, states

    full_train = _complete(TRAIN, tmp_path)  # over the exported folder: its files must hold
    for k in range(TRAIN_KILLS):
        _kill_at(TRAIN, tmp_path, full_train * (k + 0.5) / TRAIN_KILLS)
        _holds_up(tmp_path / "ex")
    _complete(EXPORT_FLOAT, tmp_path)  # a re-run after the last kill completes
    report = verify([str(tmp_path / "ex" / M)])
    assert report.passed and len(report.verified) == 4, [p.line() for p in report.problems]
    leftovers = [p.name for p in (tmp_path / "ex").iterdir() if p.name.startswith(".")]
    assert leftovers == [f".{M}.lock"], leftovers  # swept by the commits that followed


def test_two_writers_and_a_reader_share_one_out(tmp_path):
    """Two exports of one model into one --out at once, verify reading meanwhile: every read
    passes, and the folder ends with both writers' artifacts."""
    _complete(["export", M, "--out", "ex", "--format", "tflite", "--quant", "float32"], tmp_path)
    writers = [
        _start(
            [
                "export",
                M,
                "--out",
                "ex",
                "--format",
                "onnx,ort",
                "--quant",
                "float32,int8",
                "--calibration-samples",
                "200",
            ],
            tmp_path,
        ),
        _start(
            [
                "export",
                M,
                "--out",
                "ex",
                "--format",
                "tflite,c",
                "--quant",
                "int8",
                "--calibration-samples",
                "200",
            ],
            tmp_path,
        ),
    ]
    reads = 0
    while any(w.poll() is None for w in writers):
        report = verify([str(tmp_path / "ex" / M)])
        assert report.passed, [p.line() for p in report.problems]
        reads += 1
    for writer in writers:
        _, err = writer.communicate()
        assert writer.returncode == 0, err[-2000:]
    assert reads >= 3
    report = verify([str(tmp_path / "ex" / M)])
    assert report.passed
    assert sorted(Path(f).name for f in report.verified) == sorted(
        [
            f"{M}.float32.tflite",
            f"{M}.float32.onnx",
            f"{M}.float32.ort",
            f"{M}.int8.onnx",
            f"{M}.int8.ort",
            f"{M}.int8.tflite",
            f"{M}.int8.cc",
        ]
    )
