"""Shipped weights: hash-checked, read as arrays, said out loud, never passed off as trained.

The behaviour is pinned on a stand-in weights folder (one untrained model, so nothing trains
here); the last tests check the weights that really ship, when the package has them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgedigits.errors import ModelFileError
from edgedigits.model_files import shipped as shipped_files
from edgedigits.zoo import pretrained as shipped

M = "seed004_mlp12"


@pytest.fixture
def fake_weights(tmp_path, monkeypatch) -> Path:
    """A weights folder holding M's (untrained) weights and its index entry."""
    from edgedigits.model_files import file_sha256
    from edgedigits.zoo import get_spec

    folder = tmp_path / "weights"
    folder.mkdir()
    model = get_spec(M).build()
    model.save_weights(folder / f"{M}.weights.h5")
    path = folder / f"{M}.weights.h5"
    entry = {
        "file": path.name,
        "sha256": file_sha256(path),
        "size_bytes": path.stat().st_size,
        "test_accuracy": 12.34,
        "seed": 0,
        "recipe": get_spec(M).recipe.summary(),
        "train_seconds": 1.0,
        "trained_on": {"cpu": "test cpu"},
        "versions": {"tensorflow": "x"},
        "train_result": {
            "model": M,
            "source": "004",
            "params": model.count_params(),
            "epochs_requested": 30,
            "epochs_run": 30,
            "batch_size": 32,
            "train_images": 60000,
            "validation_images": 0,
            "seed": 0,
            "data_source": "embedded MNIST",
            "test_accuracy": 12.34,
            "test_loss": 1.0,
            "final_val_accuracy": None,
            "best_val_accuracy": None,
            "reported_percent": None,
            "reported_metric": None,
            "train_seconds": 1.0,
            "model_path": "x",
            "model_sha256": "y",
            "tensorflow_version": "x",
        },
    }
    (folder / "index.json").write_text(shipped.index_document({M: entry}))
    monkeypatch.setattr(shipped, "weights_dir", lambda: folder)
    shipped.index.cache_clear()
    yield folder
    shipped.index.cache_clear()


def test_loads_the_arrays_it_was_given(fake_weights):
    from edgedigits.zoo import get_spec

    model = shipped_files.load_pretrained(M)
    reference = get_spec(M).build()
    reference.load_weights(fake_weights / f"{M}.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), reference.get_weights()))


def test_a_tampered_weights_file_is_refused(fake_weights):
    path = fake_weights / f"{M}.weights.h5"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(
        ModelFileError,
        match=rf"{M}\.weights\.h5: SHA-256 .* is not the "
        r"registry's .*reinstall edgedigits",
    ):
        shipped_files.load_pretrained(M)


def test_materialize_records_pretrained(fake_weights, tmp_path):
    lines: list[str] = []
    path = shipped_files.materialize(tmp_path / "out", M, log=lines.append)
    metrics = json.loads((path.parent / "metrics.json").read_text())
    assert metrics["weights"] == "pretrained"
    assert metrics["weights_sha256"] == shipped.pretrained(M).sha256
    assert metrics["test_accuracy"] == 12.34
    assert lines == [
        f"{M}: pretrained weights (12.34%, sha256 "
        f"{shipped.pretrained(M).sha256[:12]}...); 'edgedigits train {M}' to "
        "train it yourself"
    ]


def test_zoo_json_shows_the_shipped_weights(fake_weights):
    from edgedigits.zoo import describe_models

    rows = {r["name"]: r for r in describe_models()}
    assert rows[M]["pretrained"]["sha256"] == shipped.pretrained(M).sha256
    assert rows[M]["pretrained"]["trained_on"] == {"cpu": "test cpu"}


@pytest.mark.integration
def test_export_starts_from_shipped_weights_and_train_overrides(fake_weights, tmp_path, capsys):
    from edgedigits.cli import main

    out = tmp_path / "out"
    assert main(["export", M, "--out", str(out), "--format", "tflite"]) == 0
    assert f"{M}: pretrained weights (12.34%" in capsys.readouterr().out
    manifest = json.loads((out / M / "manifest.json").read_text())
    assert manifest["source_model"]["weights"] == "pretrained"
    assert manifest["source_model"]["weights_sha256"] == shipped.pretrained(M).sha256
    assert main(["train", M, "--out", str(out), "--epochs", "1", "--limit", "500"]) == 0
    assert json.loads((out / M / "metrics.json").read_text())["weights"] == "trained"
    assert main(["export", M, "--out", str(out), "--format", "tflite"]) == 0
    manifest = json.loads((out / M / "manifest.json").read_text())
    assert manifest["source_model"]["weights"] == "trained"


# -- the weights that really ship ----------------------------------------------------------------

SHIPPED = shipped.index()


@pytest.mark.skipif(not SHIPPED, reason="this checkout ships no weights")
def test_every_zoo_model_ships_weights_that_match_the_registry():
    from edgedigits.model_files import file_sha256
    from edgedigits.zoo import list_models

    assert sorted(SHIPPED) == sorted(list_models())
    for name, entry in SHIPPED.items():
        assert file_sha256(entry.path) == entry.sha256, name
        assert entry.train_result["weights"] == "trained" and entry.seed == 0


@pytest.mark.skipif(not SHIPPED, reason="this checkout ships no weights")
@pytest.mark.parametrize("name", ["seed004_cnn", "edge_cnn_micro"])
def test_shipped_weights_reach_their_recorded_accuracy(name):
    from edgedigits.data import load_dataset
    from edgedigits.zoo import get_spec

    data = load_dataset()
    model = shipped_files.load_pretrained(name)
    pred = np.argmax(
        model.predict(get_spec(name).preprocess(data.test_images), batch_size=1024, verbose=0),
        axis=1,
    )
    assert round(100 * float(np.mean(pred == data.test_labels)), 4) == pytest.approx(
        SHIPPED[name].test_accuracy, abs=0.011
    )
