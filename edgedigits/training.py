"""Train zoo models with their seed's recipe and save everything a later step needs.

Per model, under ``<out>/<name>/``:

* ``<name>.keras``: the trained tf_keras model (written atomically: an interrupted run never
  leaves a half-written file where a good model was);
* ``history.json``: per-epoch metrics; ``metrics.json``: a :class:`TrainResult`;
* ``training_curves.png``, ``confusion_matrix.png``, ``samples.png``, ``misclassified.png``.

Across models: ``<out>/zoo_accuracy.png`` and ``<out>/zoo_training.md`` summarize every model
trained under ``<out>`` so far.

Determinism: the same seed gives the same weights, because we reset Keras' global state, seed
Python, NumPy and TensorFlow, and turn on TensorFlow's op determinism before building the model.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits import atomic, folder_commit
from edgedigits._tf import tensorflow, tf_keras
from edgedigits.augmentation import augmented_batches, steps_per_epoch
from edgedigits.data import Dataset, load_dataset
from edgedigits.errors import UsageError
from edgedigits.model_files import (  # noqa: F401  (re-exported: the trainer's public names)
    DEFAULT_MODELS,
    DEFAULT_OUT,
    MAX_SEED,
    MODEL_SUFFIX,
    architecture_mismatch,
    check_model_folders,
    check_seed,
    ensure_writable_dir,
    file_sha256,
    load_trained_model,
    model_dir,
    model_path,
    registered_names,
    save_model,
)
from edgedigits.training_report import (
    TrainResult,
    collect_results,
    plot_model,
    results_markdown,
    write_summary,
)
from edgedigits.zoo import ModelSpec, get_spec

# What 'pipeline' trains without names, and what an empty --out is told to train: small, fast,
# and covering both families (an MLP, the seed's tiny MSE CNN, our edge CNN).
__all__ = [
    "TrainResult",
    "collect_results",
    "load_trained_model",
    "results_markdown",
    "train",
    "train_model",
    "write_summary",
]

EVAL_BATCH = 1024  # batch size for test-set inference; does not affect results


def default_strategy() -> Any:
    """MirroredStrategy when several GPUs are visible, else TensorFlow's default strategy."""
    tf = tensorflow()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def seed_everything(seed: int) -> None:
    """Reset Keras state and seed every RNG so the same seed gives the same weights."""
    keras = tf_keras()
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow
    tensorflow().config.experimental.enable_op_determinism()


def check_limit(limit: int | None, spec: ModelSpec, dataset: Dataset) -> int:
    """Number of training images to use; errors name --limit and what would be valid."""
    available = dataset.num_train
    if limit is None:
        return available
    if limit < 1:
        raise UsageError(f"--limit {limit}: must be a positive number of training images")
    if limit > available:
        raise UsageError(f"--limit {limit}: only {available} training images in {dataset.source}")
    split = spec.recipe.validation_split
    if split:
        if not _splits_both_ways(limit, split):
            minimum = next(n for n in range(2, available + 1) if _splits_both_ways(n, split))
            raise UsageError(
                f"--limit {limit}: too few images for {spec.name}'s validation "
                f"split of {split:g}; use at least {minimum}"
            )
    return limit


def _splits_both_ways(n: int, split: float) -> bool:
    """Keras' rule: the first int(n * (1 - split)) images train, the rest validate; both
    non-empty."""
    n_fit = int(n * (1.0 - split))
    return 0 < n_fit < n


def encode_labels(labels: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Sparse integer labels, or one-hot float vectors (mean squared error, label smoothing)."""
    if spec.recipe.one_hot_targets:
        return np.eye(10, dtype=np.float32)[labels]
    return labels.astype(np.int64)


def compile_model(model: Any, spec: ModelSpec, total_steps: int | None = None) -> None:
    """Compile with the recipe's optimizer and loss (fine-tuning passes the spec
    ``export.model_optimization.finetuning_spec`` makes: its rate, no momentum).

    With ``total_steps`` (training from scratch) a ``warmup-cosine`` recipe gets its schedule:
    linear warmup to ``learning_rate`` over ``warmup_fraction`` of the steps, then cosine decay
    to 0 at the last step. Fine-tuning always uses a constant rate.
    """
    keras = tf_keras()
    recipe = spec.recipe
    optimizers = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }
    rate: Any = recipe.learning_rate
    if total_steps and recipe.schedule == "warmup-cosine":
        warmup = int(total_steps * recipe.warmup_fraction)
        rate = keras.optimizers.schedules.CosineDecay(
            0.0, total_steps - warmup, alpha=0.0, warmup_target=rate, warmup_steps=warmup
        )
    extra: dict[str, Any] = {"weight_decay": recipe.weight_decay} if recipe.weight_decay else {}
    if recipe.momentum:
        extra.update(momentum=recipe.momentum, nesterov=True)
    optimizer = optimizers[recipe.optimizer](learning_rate=rate, **extra)
    if recipe.label_smoothing:  # one-hot targets (encode_labels)
        loss = keras.losses.CategoricalCrossentropy(
            from_logits=recipe.from_logits, label_smoothing=recipe.label_smoothing
        )
    elif recipe.loss == "sparse_categorical_crossentropy":
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=recipe.from_logits)
    else:
        loss = keras.losses.get(recipe.loss)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])


def make_callbacks(spec: ModelSpec) -> list[Any]:
    callbacks = tf_keras().callbacks
    return [getattr(callbacks, c.kind)(**c.params) for c in spec.recipe.callbacks]


def predict_classes(model: Any, x: np.ndarray) -> np.ndarray:
    """Argmax class per image (works for probabilities and logits alike)."""
    return np.argmax(model.predict(x, batch_size=EVAL_BATCH, verbose=0), axis=1)


def train_model(
    name: str,
    *,
    dataset: Dataset,
    out: str | Path = DEFAULT_OUT,
    epochs: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    strategy: Any = None,
    verbose: int | None = None,
    log: Callable[[str], None] = print,
    spec: ModelSpec | None = None,
) -> TrainResult:
    """Train one zoo model with its seed's recipe (``epochs`` overrides the recipe's count).

    ``spec`` replaces the registered spec of ``name`` (a recipe probe: the same model name and
    folder, a changed recipe or layout)."""
    spec = spec or get_spec(name)
    recipe = spec.recipe
    n_images = check_limit(limit, spec, dataset)
    if epochs is not None and epochs < 1:
        raise UsageError(f"--epochs {epochs}: must be at least 1")
    check_seed(seed)
    n_epochs = epochs or recipe.epochs
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2  # progress bar only on a terminal

    x_train = spec.preprocess(dataset.train_images[:n_images])
    y_train = encode_labels(dataset.train_labels[:n_images], spec)
    x_test = spec.preprocess(dataset.test_images)
    y_test = encode_labels(dataset.test_labels, spec)

    seed_everything(seed)
    split = recipe.validation_split
    n_val = n_images - int(n_images * (1.0 - split)) if split else 0
    n_fit = n_images - n_val
    strategy = strategy or default_strategy()
    with strategy.scope():
        model = spec.build()
        compile_model(model, spec, total_steps=n_epochs * steps_per_epoch(n_fit, recipe.batch_size))
    log(
        f"training {name} ({model.count_params():,} params, seed {spec.source.id}) on "
        f"{n_fit:,} images (+{n_val:,} validation) for {n_epochs} epochs"
    )

    started = time.perf_counter()
    if recipe.augmentation:
        history = _fit_augmented(model, spec, x_train, y_train, n_fit, n_epochs, seed, verbose)
    else:
        history = model.fit(
            x_train,
            y_train,
            epochs=n_epochs,
            batch_size=recipe.batch_size,
            validation_split=recipe.validation_split,
            shuffle=recipe.shuffle,
            callbacks=make_callbacks(spec),
            verbose=verbose,
        ).history
    train_seconds = time.perf_counter() - started
    history = {k: [float(v) for v in vals] for k, vals in history.items()}

    test_loss = float(
        model.evaluate(x_test, y_test, batch_size=EVAL_BATCH, verbose=0, return_dict=True)["loss"]
    )
    pred = predict_classes(model, x_test)
    true = dataset.test_labels
    test_accuracy = 100.0 * float(np.mean(pred == true))

    folder = model_dir(out, name)
    path = model_path(out, name)
    with folder_commit.work_dir(folder) as work:  # made here, committed into the folder at once
        save_model(model, work / path.name)
        val_acc = history.get("val_accuracy")
        result = TrainResult(
            model=name,
            source=spec.source.id,
            params=int(model.count_params()),
            epochs_requested=n_epochs,
            epochs_run=len(history.get("loss", [])),
            batch_size=recipe.batch_size,
            train_images=n_images,
            validation_images=n_val,
            seed=seed,
            data_source=dataset.source,
            test_accuracy=round(test_accuracy, 4),
            test_loss=round(test_loss, 6),
            final_val_accuracy=round(100 * val_acc[-1], 4) if val_acc else None,
            best_val_accuracy=round(100 * max(val_acc), 4) if val_acc else None,
            reported_percent=spec.reported.percent if spec.reported else None,
            reported_metric=spec.reported.metric if spec.reported else None,
            train_seconds=round(train_seconds, 3),
            model_path=str(path),
            model_sha256=file_sha256(work / path.name),
            tensorflow_version=tensorflow().__version__,
        )
        atomic.write_json(work / "history.json", {"model": name, "epochs": history})
        atomic.write_json(work / "metrics.json", result.to_json())
        plot_model(work, name, history, dataset, true, pred)
        folder_commit.commit_files(
            folder,
            {p.name: p for p in work.iterdir() if not p.name.startswith(".")},
            what=f"the trained {name}",
        )
    log(f"  {name}: test accuracy {test_accuracy:.2f}% in {train_seconds:.1f}s -> {path}")
    return result


def _fit_augmented(
    model: Any,
    spec: ModelSpec,
    x_train: np.ndarray,
    y_train: np.ndarray,
    n_fit: int,
    n_epochs: int,
    seed: int,
    verbose: int,
) -> dict[str, list]:
    """Fit on augmented batches (Keras' validation_split rule: the last images validate), then
    on the images as they are for the recipe's clean final epochs. The optimizer, and so the
    learning-rate schedule, carries on across the two ``fit`` calls; the history is joined.
    (A callback's state would restart with the second call, so a recipe with clean epochs has
    no callbacks: ``TrainingRecipe`` refuses both.)"""
    recipe = spec.recipe
    aug = recipe.augmentation
    clean = aug.clean_epochs(n_epochs)
    validation = (x_train[n_fit:], y_train[n_fit:]) if n_fit < len(x_train) else None
    history: dict[str, list] = {}
    callbacks = make_callbacks(spec)
    for augment, first, last in ((aug, 0, n_epochs - clean), (None, n_epochs - clean, n_epochs)):
        if last > first:
            batches = augmented_batches(
                x_train[:n_fit], y_train[:n_fit], augment, recipe.batch_size, seed, recipe.shuffle
            )
            fitted = model.fit(
                batches,
                initial_epoch=first,
                epochs=last,
                validation_data=validation,
                callbacks=callbacks,
                verbose=verbose,
            )
            for key, values in fitted.history.items():
                history.setdefault(key, []).extend(values)
    return history


def train(
    names: Sequence[str] = (),
    *,
    all_models: bool = False,
    data: str | Path | None = None,
    out: str | Path = DEFAULT_OUT,
    epochs: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    strategy: Any = None,
    verbose: int | None = None,
    log: Callable[[str], None] = print,
) -> list[TrainResult]:
    """Train several zoo models, each with its registered recipe.

    Args:
        names: zoo model names (see ``edgedigits zoo``).
        all_models: every zoo model instead.
        data: the data source (default: the embedded MNIST).
        out: models land in ``out/<model>/<model>.keras`` with metrics and plots.
        epochs: instead of each recipe's epoch count.
        limit: train on the first ``limit`` training images only.
        seed: weight initialization, shuffling and augmentation seed.
        strategy: a ``tf.distribute`` strategy (default: mirrored over several GPUs, else none).
        verbose: Keras' progress (default: a bar on a terminal, a line per epoch otherwise).
        log: where progress lines go.

    Returns:
        One ``TrainResult`` per model. All arguments are checked before the first one trains.
    """
    chosen = registered_names(names, all_models)
    if epochs is not None and epochs < 1:
        raise UsageError(f"--epochs {epochs}: must be at least 1")
    check_seed(seed)
    out = ensure_writable_dir(out)
    check_model_folders(out, chosen)
    dataset = load_dataset(data)
    for name in chosen:
        check_limit(limit, get_spec(name), dataset)
    results = []
    for k, name in enumerate(chosen, 1):
        log(f"[{k}/{len(chosen)}] {name}")
        results.append(
            train_model(
                name,
                dataset=dataset,
                out=out,
                epochs=epochs,
                limit=limit,
                seed=seed,
                strategy=strategy,
                verbose=verbose,
                log=log,
            )
        )
    write_summary(out)
    return results
