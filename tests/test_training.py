"""Training: real 1-epoch runs on a slice of MNIST, determinism, outputs, atomic saves, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgedigits.data import load_dataset
from edgedigits.errors import ModelFileError, UnknownNameError, UsageError
from edgedigits.training import load_trained_model, model_path, train, train_model

pytestmark = pytest.mark.integration  # trains or exports models

LIMIT = 3000  # "a few thousand images": seconds per model on 2 cores
QUIET = dict(verbose=0, log=lambda _msg: None)


@pytest.fixture(scope="module")
def mnist():
    return load_dataset()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist):
    """One MLP and one CNN, each trained for 1 epoch on 3,000 images."""
    out = tmp_path_factory.mktemp("exports")
    results = train(
        ["seed001_simple_dnn", "edge_cnn_tiny"], out=out, epochs=1, limit=LIMIT, **QUIET
    )
    return out, {r.model: r for r in results}


@pytest.mark.parametrize("name", ["seed001_simple_dnn", "edge_cnn_tiny"])
def test_one_epoch_beats_chance_by_far(trained, name):
    _, results = trained
    result = results[name]
    assert result.test_accuracy > 60.0  # chance is 10%
    assert result.epochs_run == 1 and result.train_images == LIMIT


def test_outputs_per_model_and_summary(trained, mnist):
    out, results = trained
    for name, result in results.items():
        folder = out / name
        for file in (
            f"{name}.keras",
            "history.json",
            "metrics.json",
            "training_curves.png",
            "confusion_matrix.png",
            "samples.png",
            "misclassified.png",
        ):
            assert (folder / file).stat().st_size > 0, file
        metrics = json.loads((folder / "metrics.json").read_text())
        assert metrics["test_accuracy"] == result.test_accuracy
        history = json.loads((folder / "history.json").read_text())["epochs"]
        assert len(history["loss"]) == 1 and "val_accuracy" in history  # both have a val split
    assert (out / "zoo_accuracy.png").stat().st_size > 0
    assert "seed001_simple_dnn" in (out / "zoo_training.md").read_text()
    assert not list(out.rglob(".*tmp*")), "temporary files left behind"


def test_saved_model_reloads_with_identical_predictions(trained, mnist):
    out, results = trained
    from edgedigits.zoo import get_spec

    spec = get_spec("edge_cnn_tiny")
    model = load_trained_model(model_path(out, "edge_cnn_tiny"))
    pred = np.argmax(model.predict(spec.preprocess(mnist.test_images), verbose=0), axis=1)
    assert 100 * np.mean(pred == mnist.test_labels) == pytest.approx(
        results["edge_cnn_tiny"].test_accuracy, abs=1e-3
    )


def _weights(path):
    return load_trained_model(path).get_weights()


def test_same_seed_same_weights_other_seed_differs(tmp_path, mnist):
    paths = []
    for k, seed in enumerate((7, 7, 8)):
        train_model(
            "seed003_ann16_relu",
            dataset=mnist,
            out=tmp_path / str(k),
            epochs=1,
            limit=1000,
            seed=seed,
            **QUIET,
        )
        paths.append(model_path(tmp_path / str(k), "seed003_ann16_relu"))
    first, again, other = (_weights(p) for p in paths)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_interrupted_save_keeps_the_previous_model(tmp_path, mnist, monkeypatch):
    import tf_keras

    train_model("seed004_mlp12", dataset=mnist, out=tmp_path, epochs=1, limit=500, **QUIET)
    path = model_path(tmp_path, "seed004_mlp12")
    good = path.read_bytes()

    def crash_mid_write(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as fh:
            fh.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(tf_keras.Model, "save", crash_mid_write)
    with pytest.raises(KeyboardInterrupt):
        train_model(
            "seed004_mlp12", dataset=mnist, out=tmp_path, epochs=1, limit=500, seed=3, **QUIET
        )
    assert path.read_bytes() == good
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".")) == []


def test_corrupt_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "m.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match=r"m\.keras: not a loadable model file"):
        load_trained_model(bad)
    with pytest.raises(ModelFileError, match=r"gone\.keras: trained model not found"):
        load_trained_model(tmp_path / "gone.keras")


def test_bad_arguments_fail_before_training(tmp_path):
    with pytest.raises(UnknownNameError, match="unknown model 'nope'.*valid models: seed000"):
        train(["seed004_cnn", "nope"], out=tmp_path, **QUIET)
    with pytest.raises(UsageError, match="--limit 70000: only 60000 training images"):
        train(["seed004_cnn"], out=tmp_path, limit=70000, **QUIET)
    with pytest.raises(
        UsageError,
        match="--limit 1: too few images for seed001_simple_dnn's "
        "validation split of 0.2; use at least 2",
    ):
        train(["seed001_simple_dnn"], out=tmp_path, limit=1, **QUIET)
    with pytest.raises(UsageError, match="--epochs 0: must be at least 1"):
        train(["seed004_cnn"], out=tmp_path, epochs=0, **QUIET)
    with pytest.raises(UsageError, match="give model names or --all, not both"):
        train(["seed004_cnn"], all_models=True, out=tmp_path, **QUIET)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="--out .*file/sub: .*file is a file, not a folder"):
        train(["seed004_cnn"], out=blocker / "sub", **QUIET)
    assert not list(tmp_path.rglob("*.keras"))
