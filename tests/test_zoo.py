"""The registry: every model builds with its exact parameter count and carries its provenance."""

from __future__ import annotations

import numpy as np
import pytest

from edgedigits.errors import UnknownNameError
from edgedigits.zoo import create_model, describe_models, get_spec, list_models

# Exact parameter counts, worked out by hand from each architecture (not read off the models).
EXPECTED_PARAMS = {
    "seed000_mlp256": 784 * 256 + 256 + 256 * 10 + 10,  # 203,530
    "seed000_deep_mlp": 200960 + 32896 + 16512 + 4 * 128 + 1290,  # 252,170
    "seed000_deep_mlp_callbacks": 252170,
    "seed001_simple_dnn": 100480 + 1290,  # 101,770
    "seed001_basic_cnn": 320 + 18496 + 9216 * 128 + 128 + 1290,  # 1,199,882 (Keras mnist_cnn)
    "seed001_optimized_cnn": 1199882 + 4 * 32 + 4 * 64 + 4 * 128,  # + three BatchNorms
    "seed002_mlp_logits": 251658,  # stated by the seed
    "seed003_ann16_sigmoid": 12560 + 272 + 170,  # 13,002
    "seed003_ann16_relu": 13002,
    "seed003_ann64_sigmoid": 50240 + 4160 + 650,  # 55,050
    "seed003_ann64_relu": 55050,
    "seed004_mlp12": 9420 + 156 + 156 + 130,  # 9,862
    "seed004_cnn": 9940,  # stated by the seed
    "edge_cnn_tiny": 80 + 1168 + 400 * 10 + 10,  # 5,258
    # 3x3 convs without bias, 4 BatchNorm numbers per channel, GAP, Dense 10:
    "edge_cnn_small": (
        9 * (1 * 8 + 8 * 16 + 3 * 16 * 16) + 4 * (8 + 4 * 16) + 16 * 10 + 10
    ),  # 8,136 + 288 + 170 = 8,594
    "edge_cnn_micro": (
        9 * (1 * 6 + 6 * 8 + 8 * 8 + 8 * 9)
        + 4 * (6 + 8 + 8 + 9)  # 1,710 + 124
        + 9 * 10
        + 10
    ),  # 1,934
}


def test_every_model_is_pinned():
    assert set(list_models()) == set(EXPECTED_PARAMS)


@pytest.mark.parametrize("name", list(EXPECTED_PARAMS))
def test_parameter_count_and_shapes(name):
    spec = get_spec(name)
    model = create_model(name)
    assert model.count_params() == EXPECTED_PARAMS[name]
    assert tuple(model.input_shape[1:]) == spec.input_shape
    assert tuple(model.output_shape) == (None, 10)
    x = spec.preprocess(np.full((2, 28, 28), 255, np.uint8))
    assert x.dtype == np.float32 and x.shape == (2, *spec.input_shape) and x.max() == 1.0
    assert model(x).shape == (2, 10)


def test_five_seed_projects_are_covered():
    assert {get_spec(n).source.id for n in list_models()} >= {"000", "001", "002", "003", "004"}


def test_seed_recipes_as_stated():
    assert get_spec("seed002_mlp_logits").recipe.from_logits
    mlp12 = get_spec("seed004_mlp12").recipe
    assert (mlp12.loss, mlp12.optimizer, mlp12.epochs, mlp12.batch_size) == (
        "mean_squared_error",
        "sgd",
        30,
        32,
    )
    assert mlp12.one_hot_targets
    cb = {c.kind: c.params for c in get_spec("seed000_deep_mlp_callbacks").recipe.callbacks}
    assert cb["EarlyStopping"]["patience"] == 5 and cb["EarlyStopping"]["restore_best_weights"]
    assert cb["ReduceLROnPlateau"] == {
        "monitor": "val_loss",
        "factor": 0.1,
        "patience": 3,
        "min_lr": 1e-5,
    }
    assert get_spec("seed000_deep_mlp").recipe.validation_split == 0.2
    for name in ("seed001_simple_dnn", "seed001_basic_cnn", "seed001_optimized_cnn"):
        recipe = get_spec(name).recipe
        assert recipe.batch_size == 64 and recipe.validation_split == 0.2
        assert 10 <= recipe.epochs <= 15
    assert [get_spec(n).reported.percent for n in list_models("seed003_*")] == [
        94.79,
        95.14,
        97.29,
        97.47,
    ]


def test_vague_seeds_record_their_choices():
    for name in ("seed001_optimized_cnn", "seed003_ann16_relu", "seed004_cnn"):
        assert get_spec(name).choices


def test_unknown_model_lists_valid_names():
    with pytest.raises(
        UnknownNameError,
        match=r"unknown model 'seed002_mlp' \(did you mean "
        r"seed002_mlp_logits\?\); valid models: "
        r"seed000_mlp256, .*edge_cnn_tiny",
    ):
        create_model("seed002_mlp")


def test_describe_models_rows():
    rows = {r["name"]: r for r in describe_models()}
    assert rows["seed002_mlp_logits"]["params"] == 251658
    assert rows["seed002_mlp_logits"]["recipe"].startswith("adam 0.001, sparse CE (logits)")


def test_probabilities_softmax_only_for_logit_models():
    logits = np.array([[2.0, 1.0, 0.0, -1.0, 0, 0, 0, 0, 0, 0]], dtype=np.float32)
    probs = get_spec("seed002_mlp_logits").probabilities(logits)
    assert probs.sum() == pytest.approx(1.0) and probs.argmax() == 0
    assert probs[0, 0] / probs[0, 1] == pytest.approx(np.e, rel=1e-5)
    already = np.full((1, 10), 0.1, np.float32)
    assert np.array_equal(get_spec("seed004_cnn").probabilities(already), already)


def test_docs_zoo_table_is_what_edgedigits_zoo_prints(capsys):
    """The zoo table in docs/reference/zoo.md is a claim: it must be today's
    `edgedigits zoo --markdown`."""
    from pathlib import Path

    from edgedigits.cli import main

    assert main(["zoo", "--markdown"]) == 0
    table = capsys.readouterr().out
    page = (Path(__file__).resolve().parents[1] / "docs" / "reference" / "zoo.md").read_text()
    assert table in page, (
        "docs/reference/zoo.md's zoo table is stale: paste `edgedigits zoo --markdown`"
    )
