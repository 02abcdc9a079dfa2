"""Damaged and crafted files that escaped before issue 35, each pinned: the HDF5 reader's bounds
(memory, time), a model its own Keras refuses, a model whose activations would not fit a fixed
batch, a re-export that left a stale C array, a model folder that cannot be changed, and what
verify makes of NaN, mistyped and run-time failures. The mutated files the fuzz tier found are
in tests/fuzz_corpus/ (tests/test_fuzz.py replays them)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edgedigits.errors import ModelFileError
from edgedigits.model_files import weights
from edgedigits.model_files.shapes import ACTIVATION_BUDGET_BYTES, batch_for

from conftest import write_idx_folder

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """The CLI in the environment a user's shell gives it (no TF_CPP_MIN_LOG_LEVEL from the
    test session: edgedigits chooses TensorFlow's log level itself)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "edgedigits", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def one_line(run: subprocess.CompletedProcess, *needles: str) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 1, run.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _tree(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# -- the HDF5 reader's bounds (unit) -------------------------------------------------------------


@pytest.fixture
def small_h5(tmp_path) -> Path:
    import h5py

    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as fh:
        fh.attrs["model_config"] = '{"class_name": "Sequential"}'
        fh.attrs["keras_version"] = "2.21.0"
    return path


def test_the_hdf5_reader_reads_attributes_in_its_child(small_h5):
    answer = weights.hdf5_child({"op": "attrs", "path": str(small_h5), "where": "m.h5"}, "m.h5")
    assert answer["model_config"] == '{"class_name": "Sequential"}'
    assert answer["keras_version"] == "2.21.0"


def test_an_hdf5_parse_past_its_memory_is_one_line(small_h5, monkeypatch):
    """Under the address-space limit, what would allocate more fails in the child, and the
    parent says so in one line (here the limit is set below what numpy needs to import)."""
    monkeypatch.setattr(weights, "HDF5_MAX_BYTES", 48 << 20)
    with pytest.raises(ModelFileError, match=r"^m\.h5: HDF5 .*(48 MiB|failed)") as caught:
        weights.hdf5_child({"op": "attrs", "path": str(small_h5), "where": "m.h5"}, "m.h5")
    assert "\n" not in str(caught.value)


def test_an_hdf5_parse_past_its_time_is_one_line(small_h5, monkeypatch):
    monkeypatch.setattr(weights, "HDF5_MAX_SECONDS", 0.01)
    with pytest.raises(ModelFileError, match=r"^m\.h5: HDF5 parsing took over 0.01 s"):
        weights.hdf5_child({"op": "attrs", "path": str(small_h5), "where": "m.h5"}, "m.h5")


def test_the_reference_script_marks_refusals_as_import_reads_them():
    from edgedigits import model_import

    script = (ROOT / "edgedigits" / "model_files" / "keras_reference.py").read_text()
    assert f'REFUSED = "{model_import.REFUSED}"' in script


# -- batches follow the model (unit) -------------------------------------------------------------


class _Layer:
    def __init__(self, *shape: int | None):
        self.output_shape = (None, *shape)


class _Model:
    def __init__(self, *layers: _Layer):
        self.layers = list(layers)


def test_a_wide_layer_shrinks_the_batch_to_the_activation_budget():
    wide = _Model(_Layer(28, 28, 1), _Layer(26, 26, 2048), _Layer(2048), _Layer(10))
    per_image = 4 * (28 * 28 + 26 * 26 * 2048 + 2048 + 10)
    batch = batch_for(wide)
    assert batch * per_image <= ACTIVATION_BUDGET_BYTES < (batch + 1) * per_image
    assert batch == 48
    small = _Model(_Layer(28, 28, 1), _Layer(26, 26, 8), _Layer(10))
    assert batch_for(small) == 1024  # a small model keeps the large batch
    assert batch_for(small, cap=256) == 256


# -- a model its own Keras refuses; a wide model (integration) -----------------------------------


def _with_config(seed: Path, path: Path, change) -> Path:
    with zipfile.ZipFile(seed) as zin:
        members = [(info, zin.read(info)) for info in zin.infolist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for info, body in members:
            if info.filename == "config.json":
                config = json.loads(body)
                change(config)
                body = json.dumps(config).encode()
            zout.writestr(info, body, compress_type=info.compress_type)
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.integration
def test_a_file_its_own_keras_refuses_is_refused_not_imported_unchecked(fuzz_seeds, tmp_path):
    """Keras 3 cannot build a layer whose build_config holds infinity: the file is damaged.
    Before issue 35 it imported with 'equivalence: not checked'."""

    def infinite(config):
        config["config"]["layers"][1]["build_config"] = {"input_shape": [None, 1e999, 28, 1]}

    path = _with_config(fuzz_seeds / "models" / "keras3.keras", tmp_path / "inf.keras", infinite)
    run = cli("import", str(path), "--out", str(tmp_path / "out"), cwd=tmp_path)
    one_line(run, "inf.keras: keras cannot load or run the file (", "infinity", "not imported")
    assert not (tmp_path / "out" / "inf").exists()


@pytest.mark.integration
def test_a_2048_filter_model_imports_within_the_activation_budget(tmp_path):
    """A Conv2D of 2,048 filters at 28x28 is 5.5 MB of activations an image: scored 1,024
    images at a time it took the process past 6 GB. Batches now follow the model (48 images),
    and the whole import, TensorFlow's own ~1 GB and the reference run in Keras 3 included,
    stays under 2.5 GB (0.94 to 1.74 GB measured; the activations' share is 256 MiB)."""
    code = (
        "import keras\n"
        "m = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(2048, 3, "
        "activation='relu'), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, "
        "activation='softmax')])\n"
        f"m.save({str(tmp_path / 'wide.keras')!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    write_idx_folder(tmp_path / "idx", n_train=60, n_test=1100, gz=False)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "edgedigits", "import", str(tmp_path / "wide.keras"),
            "--out", str(tmp_path / "out"), "--data", str(tmp_path / "idx"),
            "--preprocessing", "unit",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    stderr = proc.stderr.read().decode()
    assert os.WEXITSTATUS(status) == 0, stderr[-2000:]
    assert usage.ru_maxrss / 1024 < 2560, f"peak {usage.ru_maxrss / 1024:.0f} MB"


# -- export and verify (integration) -------------------------------------------------------------


@pytest.mark.integration
def test_re_exporting_a_tflite_drops_the_c_array_made_from_its_old_bytes(tmp_path):
    run = cli(
        "export", "seed004_cnn", "--format", "tflite,c", "--quant", "int8", "--out",
        str(tmp_path), "--calibration-samples", "200", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    folder = tmp_path / "seed004_cnn"
    assert (folder / "seed004_cnn.int8.cc").is_file()
    run = cli(
        "export", "seed004_cnn", "--format", "tflite", "--quant", "int8", "--out",
        str(tmp_path), "--calibration-samples", "199", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "removing seed004_cnn.int8.cc: the file it was made from changed" in run.stdout
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [a["file"] for a in manifest["artifacts"]] == ["seed004_cnn.int8.tflite"]
    assert not (folder / "seed004_cnn.int8.cc").exists()
    assert not (folder / "seed004_cnn.int8.h").exists()
    verify = cli("verify", "--out", str(tmp_path), cwd=tmp_path)
    assert verify.returncode == 0, verify.stderr


def _chattr(flag: str, path: Path) -> bool:
    if not shutil.which("chattr"):
        return False
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


@pytest.fixture
def immutable(tmp_path):
    """Folders made immutable (``chattr +i``, as root), made mutable again afterwards."""
    made: list[Path] = []

    def make(folder: Path) -> Path:
        if os.geteuid() != 0 or not _chattr("+i", folder):
            pytest.skip("chattr +i needs root and a filesystem with inode flags")
        made.append(folder)
        return folder

    yield make
    for folder in made:
        _chattr("-i", folder)


@pytest.mark.integration
def test_export_and_train_into_an_immutable_model_folder_are_one_line(tmp_path, immutable):
    run = cli("export", "seed004_cnn", "--format", "tflite", "--out", str(tmp_path), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    folder = immutable(tmp_path / "seed004_cnn")
    before = _tree(folder)
    run = cli("export", "seed004_cnn", "--format", "onnx", "--out", str(tmp_path), cwd=tmp_path)
    one_line(run, str(folder), "cannot be changed", "the folder was not changed")
    assert _tree(folder) == before
    (tmp_path / "seed004_mlp12").mkdir()
    empty = immutable(tmp_path / "seed004_mlp12")
    run = cli(
        "train", "seed004_mlp12", "--out", str(tmp_path), "--epochs", "1", "--limit", "500",
        cwd=tmp_path,
    )  # fmt: skip
    one_line(run, str(empty), "cannot be changed")
    assert list(empty.iterdir()) == []


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exported")
    run = cli("export", "seed004_cnn", "--format", "tflite,onnx", "--out", str(out), cwd=out)
    assert run.returncode == 0, run.stderr[-2000:]
    return out / "seed004_cnn"


@pytest.fixture
def folder(exported, tmp_path) -> Path:
    copy = tmp_path / "seed004_cnn"
    shutil.copytree(exported, copy)
    return copy


def _edit_golden(folder: Path, change) -> None:
    """Change golden.json and the manifest's record of it together, as a tamperer would."""
    golden = json.loads((folder / "golden.json").read_text())
    change(golden)
    body = json.dumps(golden).encode()
    (folder / "golden.json").write_bytes(body)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["golden"].update(sha256=hashlib.sha256(body).hexdigest(), size_bytes=len(body))
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.integration
def test_a_nan_in_the_golden_outputs_fails_verify(folder):
    def nan(golden):
        golden["artifacts"]["seed004_cnn.float32.onnx"]["expected"][3][0] = float("nan")

    _edit_golden(folder, nan)
    run = cli("verify", str(folder), cwd=folder)
    assert run.returncode == 1
    assert "seed004_cnn.float32.onnx: golden: golden.json's expected outputs hold NaN" in (
        run.stderr
    )


@pytest.mark.integration
def test_a_field_of_the_wrong_type_fails_the_golden_schema(folder):
    def mistyped(golden):
        golden["artifacts"]["seed004_cnn.float32.tflite"]["predicted"] = "0123456789"

    _edit_golden(folder, mistyped)
    run = cli("verify", str(folder), cwd=folder)
    assert run.returncode == 1
    assert re.search(
        r"golden\.json: golden: .*does not match golden\.schema\.json at "
        r"\$\.artifacts\['seed004_cnn\.float32\.tflite'\]\.predicted",
        run.stderr,
    )


@pytest.mark.integration
def test_a_field_of_the_wrong_type_fails_the_manifest_schema(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["labels"] = "0123456789"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    run = cli("verify", str(folder), cwd=folder)
    assert run.returncode == 1
    assert "does not match manifest.schema.json at $.labels" in run.stderr


def _replace_artifact(folder: Path, name: str, body: bytes) -> None:
    """Swap an artifact for ``body`` with its records updated (a shipped change, not tampering
    verify's hashes catch): what is left to catch is what the runtime does with it."""
    (folder / name).write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    manifest = json.loads((folder / "manifest.json").read_text())
    for record in manifest["artifacts"]:
        if record["file"] == name:
            record.update(sha256=digest, size_bytes=len(body))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _edit_golden(folder, lambda golden: golden["artifacts"][name].update(sha256=digest))


@pytest.mark.integration
def test_a_file_that_loads_but_cannot_run_says_so_and_keeps_the_runtime_log(folder, tmp_path):
    """An ONNX file whose Reshape asks for a shape its input cannot take: ONNX Runtime loads it,
    then fails on the first image (its batch of 1 cannot be split in two) and logs a coloured
    error line. verify says 'loads but fails to run' in one line and keeps the log in its JSON
    report, off the terminal."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    name = "seed004_cnn.float32.onnx"
    model = onnx.load(folder / name)
    reshape = [n for n in model.graph.node if n.op_type == "Reshape"][-1]  # the Flatten
    shape = next(i for i in model.graph.initializer if i.name == reshape.input[1])
    shape.CopyFrom(numpy_helper.from_array(np.array([2, -1], dtype=np.int64), shape.name))
    _replace_artifact(folder, name, model.SerializeToString())
    run = cli("verify", str(folder), "--json", str(tmp_path / "v.json"), cwd=folder)
    assert run.returncode == 1
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert all(line.startswith("edgedigits verify: ") for line in lines), run.stderr
    problem = [line for line in lines if name in line]
    assert any("loads but fails to run in its runtime" in line for line in problem), lines
    logs = json.loads((tmp_path / "v.json").read_text())["runtime_logs"]
    assert any(key.endswith(name) and "ExecuteKernel" in text for key, text in logs.items())
    assert "\x1b[" not in json.dumps(logs)  # kept as text, its terminal colours stripped


@pytest.mark.integration
def test_a_file_that_does_not_load_says_so(folder):
    name = "seed004_cnn.float32.tflite"
    body = bytearray((folder / name).read_bytes())
    body[4:8] = b"XXXX"  # the flatbuffer's file identifier (TFL3)
    _replace_artifact(folder, name, bytes(body))
    run = cli("verify", str(folder), cwd=folder)
    assert run.returncode == 1
    problem = [line for line in run.stderr.splitlines() if name in line and "tensors" in line]
    assert problem and "does not load in its runtime" in problem[0], run.stderr


@pytest.mark.integration
def test_an_import_that_was_not_proven_is_said_by_verify(folder):
    """Equivalence goes unchecked only when the Keras that wrote a file is not installed; the
    manifest then carries that, and verify says so on every run (it is a note, not a failure:
    the artifacts do match the model that was imported)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    reason = "not checked (the file was written by keras 9.0, which is not installed)"
    manifest["source_model"]["equivalence"] = reason
    (folder / "manifest.json").write_text(json.dumps(manifest))
    run = cli("verify", str(folder), cwd=folder)
    assert run.returncode == 0, run.stderr
    assert f"note: {folder}: the model was imported without an equivalence check ({reason})" in (
        run.stdout
    )


def test_the_limits_table_states_the_bounds_the_code_holds():
    """docs/concepts/what-verify-proves.md quotes each bound this file's tests hold; a bound
    changed in the code and not on the page (or the other way) fails here."""
    from edgedigits import model_import
    from edgedigits.fuzz import runner
    from edgedigits.verify import report as verify

    page = (ROOT / "docs" / "concepts" / "what-verify-proves.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in page.splitlines() if line.startswith("| ")}
    hdf5 = rows["the HDF5 inside them (an `.h5`, a `.keras`'s weights)"]
    assert f"{weights.HDF5_MAX_BYTES >> 30} GiB" in hdf5 and f"{weights.HDF5_MAX_SECONDS} s" in hdf5
    activations = next(v for k, v in rows.items() if k.startswith("activations"))
    assert f"{ACTIVATION_BUDGET_BYTES >> 20} MiB" in activations
    assert f"{batch_for.__defaults__[1]:,} images" in activations
    reference = rows["the Keras that wrote an imported file"]
    assert f"{model_import.REFERENCE_TIMEOUT_S} s" in reference
    assert f"{model_import.EQUIVALENCE_IMAGES} images" in reference
    assert f"{verify.MAX_LOG_CHARS:,} characters" in rows["what a runtime logs during `verify`"]
    fuzz = next(v for k, v in rows.items() if k.startswith("any fuzz case"))
    assert f"{runner.MAX_PEAK_MB:,} MB" in fuzz and f"{runner.CASE_TIMEOUT_S} s" in fuzz
