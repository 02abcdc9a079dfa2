"""Training-time augmentation and schedules: they live in the input pipeline, never in the graph."""

from __future__ import annotations

import numpy as np
import pytest

from edgedigits.augmentation import (
    augmented_batches,
    bilinear_sample,
    gaussian_kernel,
    random_elastic,
)
from edgedigits.data import load_dataset
from edgedigits.zoo import Augmentation, TrainingRecipe


@pytest.fixture(scope="module")
def digits():
    data = load_dataset()
    return data.train_images[:256].astype(np.float32)[..., None] / 255.0, data.train_labels[:256]


def _one_epoch(data) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in data])
    return np.concatenate(xs), np.concatenate(ys)


def test_augmented_batches_move_pixels_and_keep_labels(digits):
    x, y = digits
    got_x, got_y = _one_epoch(
        augmented_batches(
            x,
            y,
            Augmentation(
                rotation_degrees=10, shift_fraction=0.1, zoom_fraction=0.1, elastic_alpha=20.0
            ),
            batch_size=64,
            seed=0,
            shuffle=False,
        )
    )
    assert got_x.shape == x.shape and got_x.dtype == np.float32
    np.testing.assert_array_equal(got_y, y)  # unshuffled: same order, labels untouched
    assert 0.0 <= got_x.min() and got_x.max() <= 1.0 + 1e-6
    moved = np.abs(got_x - x).reshape(len(x), -1).max(axis=1) > 0.1
    assert moved.mean() > 0.9  # nearly every digit was transformed


def test_no_augmentation_is_the_identity_and_flat_inputs_keep_their_shape(digits):
    x, y = digits
    flat = x.reshape(len(x), 784)
    got_x, _ = _one_epoch(augmented_batches(flat, y, Augmentation(), 64, seed=0, shuffle=False))
    np.testing.assert_array_equal(got_x, flat)
    got_x, _ = _one_epoch(
        augmented_batches(flat, y, Augmentation(shift_fraction=0.1), 64, seed=0, shuffle=False)
    )
    assert got_x.shape == (len(x), 784) and not np.array_equal(got_x, flat)


def _grid(n: int, dy: float = 0.0, dx: float = 0.0):
    y, x = np.meshgrid(np.arange(28.0), np.arange(28.0), indexing="ij")
    return (
        np.broadcast_to(y + dy, (n, 28, 28)).astype(np.float32),
        np.broadcast_to(x + dx, (n, 28, 28)).astype(np.float32),
    )


def test_bilinear_sample_reads_pixels_between_and_zeros_beyond_the_border(digits):
    x = digits[0][:4]
    np.testing.assert_array_equal(bilinear_sample(x, *_grid(4)).numpy(), x)
    down = bilinear_sample(x, *_grid(4, dy=1.0)).numpy()
    np.testing.assert_array_equal(down[:, :-1], x[:, 1:])  # row r reads row r + 1
    assert not down[:, -1].any()  # the last row reads beyond the border: background
    half = bilinear_sample(x, *_grid(4, dx=0.5)).numpy()
    np.testing.assert_allclose(half[:, :, :-1], (x[:, :, :-1] + x[:, :, 1:]) / 2, atol=1e-6)
    assert not bilinear_sample(x, *_grid(4, dy=40.0, dx=-40.0)).numpy().any()


def test_gaussian_kernel_is_normalized_and_3_sigma_wide():
    taps = gaussian_kernel(4.0)
    assert len(taps) == 25 and taps.sum() == pytest.approx(1.0) and taps.argmax() == 12


def test_elastic_warp_moves_strokes_keeps_ink_and_repeats_per_seed(digits):
    x = digits[0][:64]
    warped = random_elastic(34.0, 4.0, seed=0)(x, training=True).numpy()
    again = random_elastic(34.0, 4.0, seed=0)(x, training=True).numpy()
    other = random_elastic(34.0, 4.0, seed=1)(x, training=True).numpy()
    np.testing.assert_array_equal(warped, again)
    assert not np.array_equal(warped, other)
    assert (np.abs(warped - x).reshape(64, -1).max(axis=1) > 0.3).all()  # every digit moved
    assert warped.sum() == pytest.approx(x.sum(), rel=0.05)  # a warp, not an erasure
    assert 0.0 <= warped.min() and warped.max() <= 1.0 + 1e-6
    np.testing.assert_array_equal(random_elastic(34.0, 4.0, seed=0)(x).numpy(), x)  # inference


def test_elastic_augmentation_validates_and_summarizes():
    with pytest.raises(ValueError, match="elastic alpha -1"):
        Augmentation(elastic_alpha=-1.0)
    with pytest.raises(ValueError, match="sigma 0"):
        Augmentation(elastic_alpha=34.0, elastic_sigma=0.0)
    assert "elastic 34/4" in Augmentation(rotation_degrees=8, elastic_alpha=34.0).summary()
    assert "elastic" not in Augmentation(rotation_degrees=8).summary()


def test_recipe_rejects_an_unknown_schedule_and_summarizes_its_choices():
    with pytest.raises(ValueError, match="schedule 'onecycle'"):
        TrainingRecipe(
            loss="sparse_categorical_crossentropy", optimizer="adam", epochs=1, schedule="onecycle"
        )
    recipe = TrainingRecipe(
        loss="sparse_categorical_crossentropy",
        optimizer="adam",
        epochs=3,
        schedule="warmup-cosine",
        augmentation=Augmentation(rotation_degrees=10, shift_fraction=0.1),
    )
    assert "warmup-cosine" in recipe.summary() and "rot 10deg shift 0.1" in recipe.summary()


def test_recipe_weight_decay_and_momentum_validate_summarize_and_reach_the_optimizer():
    from edgedigits.training import compile_model
    from edgedigits.zoo import get_spec
    from edgedigits.zoo.registry import ModelSpec

    with pytest.raises(ValueError, match="momentum 0.9: only for sgd"):
        TrainingRecipe(
            loss="sparse_categorical_crossentropy", optimizer="adam", epochs=1, momentum=0.9
        )
    with pytest.raises(ValueError, match="weight_decay -0.1"):
        TrainingRecipe(
            loss="sparse_categorical_crossentropy", optimizer="adam", epochs=1, weight_decay=-0.1
        )
    recipe = TrainingRecipe(
        loss="sparse_categorical_crossentropy",
        optimizer="sgd",
        epochs=1,
        learning_rate=0.1,
        momentum=0.9,
        weight_decay=0.005,
    )
    assert "sgd 0.1" in recipe.summary() and "nesterov 0.9, wd 0.005" in recipe.summary()
    base = get_spec("edge_cnn_tiny")
    spec = ModelSpec(
        name="x",
        source=base.source,
        architecture="",
        family="cnn",
        input_shape=base.input_shape,
        recipe=recipe,
        build_fn=base.build_fn,
    )
    model = spec.build()
    compile_model(model, spec)
    config = model.optimizer.get_config()
    assert (config["momentum"], config["nesterov"], config["weight_decay"]) == pytest.approx(
        (0.9, True, 0.005)
    )


def test_warmup_cosine_schedule_rises_then_decays_to_zero():
    from edgedigits.training import compile_model
    from edgedigits.zoo import get_spec
    from edgedigits.zoo.registry import ModelSpec

    base = get_spec("edge_cnn_tiny")
    recipe = TrainingRecipe(
        loss="sparse_categorical_crossentropy",
        optimizer="adam",
        epochs=1,
        learning_rate=0.01,
        schedule="warmup-cosine",
        warmup_fraction=0.2,
    )
    spec = ModelSpec(
        name="x",
        source=base.source,
        architecture="",
        family="cnn",
        input_shape=base.input_shape,
        recipe=recipe,
        build_fn=base.build_fn,
    )
    model = spec.build()
    compile_model(model, spec, total_steps=100)
    from edgedigits._tf import tf_keras

    schedule = tf_keras().optimizers.schedules.deserialize(
        model.optimizer.get_config()["learning_rate"]
    )
    values = [float(schedule(step)) for step in (0, 10, 20, 60, 100)]
    assert values[0] == pytest.approx(0.0, abs=1e-9)
    assert values[1] == pytest.approx(0.005, rel=1e-3)  # halfway up the warmup
    assert values[2] == pytest.approx(0.01, rel=1e-3)  # peak at the end of the warmup
    assert 0.0 < values[3] < 0.01 and values[4] == pytest.approx(0.0, abs=1e-6)
    from edgedigits.export.model_optimization import finetuning_spec

    compile_model(model, finetuning_spec(spec))  # fine-tuning: constant, 0.1x
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)


def test_clean_final_epochs_count_from_the_end_and_leave_one_augmented_epoch():
    aug = Augmentation(shift_fraction=0.1, clean_final_epochs=4)
    assert [aug.clean_epochs(n) for n in (40, 5, 3, 1)] == [4, 4, 2, 0]
    assert Augmentation(shift_fraction=0.1).clean_epochs(40) == 0
    assert "(last 4 ep clean)" in aug.summary()
    with pytest.raises(ValueError, match="clean_final_epochs -1"):
        Augmentation(clean_final_epochs=-1)
    from edgedigits.zoo.registry import CallbackSpec

    with pytest.raises(ValueError, match="restart the callbacks' state"):
        TrainingRecipe(
            loss="sparse_categorical_crossentropy",
            optimizer="adam",
            epochs=5,
            augmentation=aug,
            callbacks=(CallbackSpec("EarlyStopping"),),
        )


def test_clean_batches_are_the_images_as_they_are(digits):
    x, y = digits
    got_x, got_y = _one_epoch(augmented_batches(x, y, None, 64, seed=0, shuffle=False))
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


@pytest.mark.integration
def test_training_switches_to_clean_batches_for_the_final_epochs(monkeypatch, tmp_path):
    """The trainer fits the augmented epochs, then the clean ones, and joins the history."""
    import edgedigits.training as training
    from edgedigits.zoo import get_spec
    from edgedigits.zoo.registry import ModelSpec

    calls = []
    real = training.augmented_batches

    def recording(x, y, aug, *args, **kwargs):
        calls.append((aug, len(x)))
        return real(x, y, aug, *args, **kwargs)

    base = get_spec("edge_cnn_tiny")
    aug = Augmentation(shift_fraction=0.1, clean_final_epochs=2)
    recipe = TrainingRecipe(
        loss="sparse_categorical_crossentropy",
        optimizer="adam",
        epochs=3,
        batch_size=64,
        schedule="warmup-cosine",
        augmentation=aug,
    )
    spec = ModelSpec(
        name="edge_cnn_tiny",
        source=base.source,
        architecture="",
        family="cnn",
        input_shape=base.input_shape,
        recipe=recipe,
        build_fn=base.build_fn,
    )
    monkeypatch.setattr(training, "augmented_batches", recording)
    result = training.train_model(
        "edge_cnn_tiny",
        dataset=load_dataset(),
        out=tmp_path,
        limit=256,
        verbose=0,
        log=lambda line: None,
        spec=spec,
    )
    assert calls == [(aug, 256), (None, 256)]  # one augmented epoch, then two clean ones
    assert result.epochs_run == 3
