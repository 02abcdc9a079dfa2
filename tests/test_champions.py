"""The champions (edge_cnn_small, edge_cnn_micro): the recipes they are registered with train, and
the deployment limits they were sized for hold for the files they export. Their accuracy goals
live in bench/results/champions.* (three full trainings each), not here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgedigits.zoo import get_spec

pytestmark = pytest.mark.integration  # trains or exports models

CHAMPIONS = {
    "edge_cnn_small": dict(params=10_000, int8_bytes=16 * 1024, arena=12 * 1024),
    "edge_cnn_micro": dict(params=2_000, int8_bytes=8 * 1024, arena=6 * 1024),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from edgedigits.export import export
    from edgedigits.training import train

    out = tmp_path_factory.mktemp("champions")
    quiet = dict(log=lambda _msg: None)
    results = train(list(CHAMPIONS), out=out, epochs=1, limit=2000, verbose=0, **quiet)
    report = export(
        list(CHAMPIONS),
        formats="tflite,c",
        recipes="float32,int8",
        out=out,
        calibration_samples=100,
        **quiet,
    )
    return out, {r.model: r for r in results}, report


@pytest.mark.parametrize("name", list(CHAMPIONS))
def test_recipe_trains_one_epoch_with_augmentation_and_schedule(exported, name):
    out, results, _ = exported
    recipe = get_spec(name).recipe
    assert recipe.augmentation and recipe.schedule == "warmup-cosine"
    history = json.loads((out / name / "history.json").read_text())["epochs"]
    assert len(history["loss"]) == 1 and np.isfinite(history["loss"][0])
    assert results[name].params <= CHAMPIONS[name]["params"]
    # One epoch on 2,000 images is 16 steps: the accuracy during the epoch (batch statistics)
    # shows learning; the test accuracy would mostly show BatchNorm's moving averages, which
    # have barely left their initial values (measured: 0.34 and 0.45 during the epoch; 0.24
    # for edge_cnn_micro since its recipe also thins and thickens strokes, issue 37).
    assert history["accuracy"][0] > 0.18  # chance is 0.10


@pytest.mark.parametrize("name", list(CHAMPIONS))
def test_int8_file_and_arena_fit_the_budget(exported, name):
    _, _, report = exported
    records = {(r.format, r.recipe): r for r in report.records if r.model == name}
    assert all(r.ok for r in records.values()), [r.reason for r in records.values()]
    int8 = records[("tflite", "int8")]
    assert int8.size_bytes <= CHAMPIONS[name]["int8_bytes"]
    arena = records[("c", "int8")].details["tflm"]["arena_bytes"]
    assert arena <= CHAMPIONS[name]["arena"]


def test_label_smoothing_is_cross_entropy_on_smoothed_one_hot_targets():
    from edgedigits.training import compile_model, encode_labels

    spec = get_spec("edge_cnn_small")
    assert spec.recipe.label_smoothing == 0.1 and spec.recipe.one_hot_targets
    labels = np.array([3, 7])
    y = encode_labels(labels, spec)
    assert y.shape == (2, 10) and list(np.argmax(y, axis=1)) == [3, 7]
    model = spec.build()
    compile_model(model, spec)
    p = np.full((2, 10), 0.02, np.float32)
    p[0, 3] = p[1, 7] = 0.82
    smoothed = y * 0.9 + 0.01  # (1 - e) one-hot + e / 10
    expected = float(np.mean(-np.sum(smoothed * np.log(p), axis=1)))
    assert float(model.loss(y, p)) == pytest.approx(expected, rel=1e-5)
