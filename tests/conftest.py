"""Shared fixtures: small synthetic IDX/npz data and a writer for hand-made (bad) IDX files."""

from __future__ import annotations

import gzip
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests are CPU tests, even on a GPU box

# -- tiers: unit (the default), integration, runtime, fuzz (CONTRIBUTING.md) -------------------
TIERS = ("integration", "runtime", "fuzz")
NOT_UNIT = (
    "{test} trained or exported a model ({what}): a unit test trains, converts and "
    "exports nothing; mark it integration"
)


def pytest_collection_modifyitems(config, items):
    """Every test not marked integration, runtime or fuzz is a unit test (``pytest -m unit``)."""
    for item in items:
        if not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def unit_tests_train_and_export_nothing(request, monkeypatch):
    """The unit tier is enforced, not only named: in the test's process, training and exporting
    raise; and the folder a test (or a CLI it starts) writes into must hold no training history
    and no manifest with an exported file afterwards."""
    if request.node.get_closest_marker("unit") is None:
        yield
        return

    def refuse(what):
        def call(*_args, **_kwargs):
            raise AssertionError(NOT_UNIT.format(test=request.node.nodeid, what=what))

        return call

    monkeypatch.setattr("edgedigits.training.train_model", refuse("train_model"))
    monkeypatch.setattr("edgedigits.export.exporter._ModelExport.run", refuse("export"))
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp is not None:
        made = [
            p
            for p in tmp.rglob("*.json")
            if p.is_file()
            and not p.is_symlink()
            and (p.name == "history.json" or p.name == "manifest.json" and _lists_a_file(p))
        ]
        assert not made, NOT_UNIT.format(test=request.node.nodeid, what=made[0])


def _lists_a_file(manifest: Path) -> bool:
    """A manifest with an ok record whose file is there with the recorded SHA-256: an export
    happened (hand-made manifests in refusal tests name files that are not there)."""
    import hashlib
    import json

    try:
        doc = json.loads(manifest.read_text())
    except (OSError, ValueError, RecursionError):
        return False
    for record in doc.get("artifacts", []) if isinstance(doc, dict) else []:
        path = manifest.parent / str(record.get("file")) if isinstance(record, dict) else None
        try:
            if (
                path is not None
                and record.get("status") == "ok"
                and path.is_file()
                and hashlib.sha256(path.read_bytes()).hexdigest() == record.get("sha256")
            ):
                return True
        except OSError:  # a name too long, say: not an exported file
            continue
    return False


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX: 0x0000, type 0x08, ndim, big-endian dims, payload."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx_folder(
    folder: Path, n_train: int = 50, n_test: int = 20, gz: bool = True, seed: int = 0
) -> dict[str, np.ndarray]:
    """A small, valid MNIST-shaped IDX folder; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        data = idx_bytes(arr)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


@pytest.fixture(scope="session")
def fuzz_seeds(tmp_path_factory) -> Path:
    """The real files the fuzz tier mutates (``edgedigits.fuzz.seeds``: an export of
    seed004_cnn from its shipped weights, its model file four ways, a small IDX folder and npz),
    made once per session in a process of their own (~15 s)."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("fuzz-seeds")
    done = subprocess.run(
        [sys.executable, "-m", "edgedigits.fuzz.seeds", str(root)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.fixture
def idx_folder(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    folder = tmp_path / "idx"
    return folder, write_idx_folder(folder)


def train_and_export(out: Path, name: str, *, formats: str, recipes: str):
    """Train ``name`` for one epoch on 3,000 images and export it quietly into ``out``: the small
    real model the runtime tests need. Returns the export report and the model's folder."""
    from edgedigits.export import export
    from edgedigits.training import train

    quiet = dict(log=lambda _msg: None)
    train([name], out=out, epochs=1, limit=3000, verbose=0, **quiet)
    report = export(
        [name], formats=formats, recipes=recipes, out=out, calibration_samples=200, **quiet
    )
    return report, out / name


def _golden_as_exported(path: Path) -> bool:
    """Whether ``path`` is the golden.json its folder's manifest records (by SHA-256)."""
    import hashlib

    try:
        recorded = json.loads((path.parent / "manifest.json").read_text())["golden"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return hashlib.sha256(path.read_bytes()).hexdigest() == recorded


@pytest.fixture(scope="session", autouse=True)
def every_manifest_matches_its_schema(tmp_path_factory):
    """After the session: every manifest.json and golden.json any test wrote (all under pytest's
    temporary folders) validates against the schema the package ships (edgedigits/export/
    manifest.schema.json, golden.schema.json), the contract an app's CI can check too."""
    yield
    import jsonschema

    from edgedigits.errors import EdgeDigitsError
    from edgedigits.export import golden, manifest

    documents = (
        ("manifest.json", manifest.SCHEMA, manifest.read_manifest, manifest.schema()),
        ("golden.json", golden.SCHEMA, golden.read_golden, golden.schema()),
    )
    problems = []
    for name, tag, read, doc_schema in documents:
        validator = jsonschema.Draft202012Validator(doc_schema)
        for path in sorted(tmp_path_factory.getbasetemp().rglob(name)):
            try:  # the bad-input tests break documents on purpose: the toolkit refuses those
                doc = read(path)
            except EdgeDigitsError:
                continue
            if not isinstance(doc, dict) or doc.get("schema") != tag:
                continue  # ...and documents of older schemas, which exports replace
            if name == "golden.json" and not _golden_as_exported(path):
                continue  # ...and golden files changed after export, which verify flags
            for error in validator.iter_errors(doc):
                problems.append(f"{path}: {error.json_path}: {error.message[:160]}")
    assert not problems, "documents that break their schema:\n" + "\n".join(problems[:20])
