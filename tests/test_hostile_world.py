"""The fault corpus: hostile files, links, disks and tampering, each through the real CLI.

Every case runs ``python -m edgedigits`` in a subprocess under a timeout (a hang fails the test
instead of stalling it) and asserts: the exit code, the line on stderr that names the file or
flag and what is wrong, no traceback, and the state after (nothing written, or a folder that
``verify`` passes). A payload that would create a marker file proves no code from a model file
ran; a peak-memory reading of the child proves a size claim was not believed.

The first half trains and exports nothing (unit tier); the second works on one exported folder
(slow tier). JSON that would hang or exhaust (pipes, 100,000-deep nesting, 200 MB baselines) is
in ``test_hostile_json.py``; kills and concurrent writers in ``test_crash_consistency.py``.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import write_idx_folder

M = "seed004_mlp12"  # the smallest zoo model; shipped weights, so nothing is trained
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[2:]).returncode\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage("
    "resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


def cli(*args: str, cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess:
    """``edgedigits ARGS`` in ``cwd``; ``.seconds`` and ``.peak_mb`` (the child's peak RSS)."""
    rss = cwd / ".peak_rss"
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(rss), sys.executable, "-m", "edgedigits", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    run.seconds = time.monotonic() - started
    run.peak_mb = int(rss.read_text()) / 1024
    rss.unlink()
    return run


def one_line(run: subprocess.CompletedProcess, *needles: str, code: int = 1) -> str:
    """The run failed with ``code`` and one stderr line holding every needle; no traceback."""
    assert run.returncode == code, (run.returncode, run.stderr[-1500:])
    assert "Traceback" not in run.stderr, run.stderr[-1500:]
    lines = [
        line for line in run.stderr.splitlines() if line.startswith("edgedigits") or "error" in line
    ]
    hits = [line for line in lines if all(n in line for n in needles)]
    assert hits, lines
    return hits[0]


# -- data files whose headers lie (unit tier) ----------------------------------------------------


def _npy(shape: tuple[int, ...], body: bytes) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "|u1", "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue() + body


def _gzip_stream(header: bytes, zeros: int) -> bytes:
    """gzip of ``header`` and ``zeros`` zero bytes, compressed in pieces (a bomb, built small)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(header)]
    chunk = bytes(1 << 20)
    for _ in range(zeros >> 20):
        parts.append(packer.compress(chunk))
    parts.append(packer.flush())
    return b"".join(parts)


def _idx_header(*dims: int) -> bytes:
    import struct

    return struct.pack(">HBB", 0, 8, len(dims)) + struct.pack(f">{len(dims)}I", *dims)


def _data_case(tmp_path: Path, case: str) -> str:
    """Make the hostile data source for ``case``; returns the --data value."""
    folder = tmp_path / "idx"
    write_idx_folder(folder, gz=True)
    images = folder / "train-images-idx3-ubyte.gz"
    if case == "npz-claims-2^40-images":
        arrays = {
            "y_train": np.zeros(4, np.uint8),
            "x_test": np.zeros((4, 28, 28), np.uint8),
            "y_test": np.zeros(4, np.uint8),
        }
        with zipfile.ZipFile(tmp_path / "d.npz", "w") as archive:
            archive.writestr("x_train.npy", _npy((2**40, 28, 28), bytes(784)))
            for key, value in arrays.items():
                buffer = io.BytesIO()
                np.save(buffer, value)
                archive.writestr(f"{key}.npy", buffer.getvalue())
        return "d.npz"
    if case == "npz-fifo":
        os.mkfifo(tmp_path / "d.npz")
        return "d.npz"
    if case == "idx-gzip-claims-100GiB":
        images.write_bytes(gzip.compress(_idx_header(137_000_000, 28, 28) + bytes(1000)))
    elif case == "idx-gzip-claims-more-than-it-can-hold":
        images.write_bytes(gzip.compress(_idx_header(1_000_000, 28, 28) + bytes(1000)))
    elif case == "idx-gzip-bomb-after-a-small-header":
        images.write_bytes(_gzip_stream(_idx_header(10, 28, 28) + bytes(7840), 1536 << 20))
    elif case == "idx-fifo":
        images.unlink()
        os.mkfifo(folder / "train-images-idx3-ubyte")
    elif case == "checksums-fifo":
        os.mkfifo(folder / "SHA256SUMS")
    elif case == "checksums-dangling-link":
        (folder / "SHA256SUMS").symlink_to(tmp_path / "gone")
    return "idx"


DATA_CASES = {  # case: what the one line says
    "npz-claims-2^40-images": "x_train's header claims shape (1099511627776, 28, 28)",
    "npz-fifo": "--data d.npz: not a regular file or a folder",
    "idx-gzip-claims-100GiB": "over the 1,073,741,824-byte limit for one data file",
    "idx-gzip-claims-more-than-it-can-hold": "more than this gzip file can hold",
    "idx-gzip-bomb-after-a-small-header": "data continues past the 7,856 bytes its header promises",
    "idx-fifo": "train-images-idx3-ubyte: not a regular file",
    "checksums-fifo": "SHA256SUMS: not a regular file",
    "checksums-dangling-link": "SHA256SUMS: a symbolic link to",
}


@pytest.mark.parametrize("case", DATA_CASES)
def test_data_that_lies_about_its_size_or_would_hang(tmp_path, case):
    data = _data_case(tmp_path, case)
    run = cli("train", M, "--data", data, "--out", "ex", "--epochs", "1", cwd=tmp_path)
    one_line(run, DATA_CASES[case])
    assert not (tmp_path / "ex" / M).exists()  # nothing written
    assert run.seconds < 90
    # A 1.5 GiB bomb, or an allocation of what a header claims, would show here; the child
    # itself (Python, NumPy, TensorFlow imported) peaks near 0.5 GB.
    assert run.peak_mb < 1200, run.peak_mb


# -- code in a model file never runs (unit tier) -------------------------------------------------


@pytest.mark.parametrize("module", ["edgedigits_payload", "os"])
def test_a_model_file_naming_code_is_refused_and_nothing_runs(tmp_path, module):
    """A ``.keras`` under --out whose config names a module in the working folder (tf_keras
    imported such modules while deserializing) or ``os.system``: export refuses the file and the
    payload's marker file never appears."""
    marker = tmp_path / "payload-ran"
    (tmp_path / "edgedigits_payload.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nclass Payload:\n    pass\n"
    )
    layer = (
        {
            "module": "edgedigits_payload",
            "class_name": "Payload",
            "config": {},
            "registered_name": "Payload",
        }
        if module != "os"
        else {
            "module": "os",
            "class_name": "system",
            "config": {"command": f"touch {marker}"},
            "registered_name": "system",
        }
    )
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": M, "layers": [layer]},
        "registered_name": None,
    }
    folder = tmp_path / "ex" / M
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / f"{M}.keras", "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.0"}))
        archive.writestr("model.weights.h5", b"not hdf5")
    run = cli("export", M, "--out", "ex", "--format", "tflite", "--quant", "float32", cwd=tmp_path)
    one_line(run, f"{M}.keras")
    assert not marker.exists()
    assert not (folder / "manifest.json").exists()


# -- links and names (unit tier) -----------------------------------------------------------------


def test_a_model_folder_that_is_a_link_leaving_out_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / M).symlink_to(elsewhere)
    for command in (("export", M), ("train", M, "--epochs", "1")):
        run = cli(*command, "--out", "ex", cwd=tmp_path)
        one_line(run, f"ex/{M} is a symbolic link", "does not write through links")
    assert not list(elsewhere.iterdir())


def test_record_names_too_long_for_the_filesystem_are_one_line(tmp_path):
    folder = tmp_path / "ex" / M
    folder.mkdir(parents=True)
    long_name = "a" * 300 + ".tflite"  # 307 characters: open() would say ENAMETOOLONG
    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "schema": "edgedigits.manifest/2",
                "model": M,
                "source_model": {"file": f"{M}.keras", "sha256": "0" * 64},
                "artifacts": [
                    {
                        "file": long_name,
                        "format": "tflite",
                        "recipe": "float32",
                        "status": "ok",
                        "sha256": "0" * 64,
                        "size_bytes": 1,
                        "inputs": [],
                        "outputs": [],
                    }
                ],
            }
        )
    )
    run = cli("verify", "--out", "ex", cwd=tmp_path)
    one_line(run, "manifest.json", "is longer than 255 bytes")
    run = cli("verify", "b" * 307, cwd=tmp_path)
    one_line(run, "File name too long")


# -- an exported folder, broken one way per case (slow tier) -------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    run = cli(
        "export",
        M,
        "--out",
        "ex",
        "--format",
        "tflite,onnx,ort,c",
        "--quant",
        "float32,int8",
        cwd=root,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return root / "ex"


@pytest.fixture
def folder(exported, tmp_path) -> Path:
    shutil.copytree(exported, tmp_path / "ex")
    return tmp_path / "ex" / M


def _verify(folder: Path) -> subprocess.CompletedProcess:
    return cli("verify", str(folder), cwd=folder.parent.parent)


@pytest.mark.integration
def test_golden_outputs_and_tolerances_changed_together_fail_verify(folder):
    golden = json.loads((folder / "golden.json").read_text())
    entry = golden["artifacts"][f"{M}.float32.onnx"]
    entry["expected"][0][0] += 0.5
    entry["atol"] = 1e9
    (folder / "golden.json").write_text(json.dumps(golden))
    run = _verify(folder)
    one_line(run, "golden.json: golden: differs from the manifest's SHA-256")
    one_line(
        run,
        f"{M}.float32.onnx: golden: atol 1000000000.0 is looser than the float32 recipe promises",
    )


@pytest.mark.integration
def test_a_huge_golden_image_is_blamed_once(folder):
    golden = json.loads((folder / "golden.json").read_text())
    golden["images"][0]["pixels"] = [0] * 1_000_000
    (folder / "golden.json").write_text(json.dumps(golden))
    run = _verify(folder)
    problems = [line for line in run.stderr.splitlines() if line.startswith("edgedigits verify")]
    # the file breaks its schema: said once, not once per artifact it would replay in
    assert len(problems) == 1, problems
    one_line(
        run, "golden.json: golden: ", "does not match golden.schema.json at $.images[0].pixels"
    )
    assert len(problems[0]) < 500


@pytest.mark.integration
def test_an_artifact_linked_outside_is_flagged_and_replaced_never_written_through(folder):
    outside = folder.parent.parent / "outside.tflite"
    artifact = folder / f"{M}.float32.tflite"
    shutil.move(artifact, outside)
    artifact.symlink_to(outside)
    before = outside.read_bytes()
    one_line(_verify(folder), f"{M}.float32.tflite: file: a symbolic link")
    run = cli(
        "export",
        M,
        "--out",
        "ex",
        "--format",
        "tflite",
        "--quant",
        "float32",
        cwd=folder.parent.parent,
    )
    assert run.returncode == 0, run.stderr[-1500:]
    assert outside.read_bytes() == before and not outside.is_symlink()
    assert not artifact.is_symlink()
    assert _verify(folder).returncode == 0


@contextlib.contextmanager
def small_disk(where: Path, size: str):
    """A tmpfs of ``size`` mounted at ``where`` (root only, as CI runs; else a skip)."""
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)


@pytest.mark.integration
def test_a_full_disk_stops_export_with_one_line_and_keeps_what_landed(tmp_path):
    """A 6 MB disk as --out: the shipped model, and the first artifacts, fit; the 6 MB C array
    of seed002_mlp_logits does not."""
    with small_disk(tmp_path / "small", "6m") as mount:
        name = "seed002_mlp_logits"
        run = cli(
            "export",
            name,
            "--out",
            str(mount),
            "--format",
            "tflite,onnx,c",
            "--quant",
            "float32",
            cwd=tmp_path,
        )
        one_line(
            run,
            f"{mount / name}: no space left on the device",
            "the folder keeps the files exported before it",
        )
        manifest = json.loads((mount / name / "manifest.json").read_text())
        landed = sorted(a["file"] for a in manifest["artifacts"] if a["status"] == "ok")
        assert landed and f"{name}.float32.cc" not in landed
        assert cli("verify", str(mount / name), cwd=tmp_path).returncode == 0
        assert sorted(p.name for p in mount.iterdir()) == [f".{name}.lock", name]


@pytest.mark.integration
def test_a_full_disk_during_train_or_bench_is_one_line(exported, tmp_path):
    with small_disk(tmp_path / "small", "40k") as mount:
        run = cli("train", M, "--out", str(mount), "--epochs", "1", "--limit", "2000", cwd=tmp_path)
        one_line(run, f"{mount}", "no space left on the device", "nothing was replaced")
        assert not list(mount.iterdir())  # no model, no half-written file, no work folder
        with open(mount / "filler", "wb", buffering=0) as filler:  # full before bench writes
            with contextlib.suppress(OSError):
                while filler.write(bytes(4096)):
                    pass
        run = cli(
            "bench",
            M,
            "--out",
            str(exported),
            "--runtimes",
            "litert",
            "--rounds",
            "2",
            "--min-seconds",
            "0.01",
            "--test-limit",
            "200",
            "--json",
            str(mount / "report.json"),
            cwd=tmp_path,
        )
        one_line(run, f"{mount / 'report.json'}: no space left on the device")
        assert [p.name for p in mount.iterdir()] == ["filler"]
