"""tensorflow-model-optimization recipes: QAT, magnitude pruning and weight clustering.

Each takes a *fresh copy* of the trained model (tfmot wraps the original layer objects, so
fine-tuning a wrapped model silently changes the model it came from), fine-tunes it with the
seed's own loss and optimizer at a tenth of the seed's learning rate on training images, and
returns a plain tf_keras model ready for the TFLite converter plus facts for the manifest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgedigits._tf import tf_keras
from edgedigits.contract.recipes import PRUNE_MIN_KERNEL_WEIGHTS, Recipe
from edgedigits.data import Dataset
from edgedigits.errors import UsageError
from edgedigits.training import compile_model, encode_labels, seed_everything
from edgedigits.zoo import ModelSpec

FINETUNE_LR_SCALE = 0.1  # fine-tuning should nudge a trained model, not retrain it


@dataclass(frozen=True)
class FinetuneOptions:
    """Flags of ``edgedigits export`` that shape the tfmot recipes (defaults in parentheses)."""

    epochs: int = 1  # fine-tuning epochs for qat, pruned and clustered (1)
    samples: int | None = None  # training images used; None = the whole training split
    sparsity: float = 0.5  # pruning target: fraction of each pruned kernel set to zero (0.5)
    clusters: int = 16  # distinct values per clustered kernel (16)
    seed: int = 0

    def validate(self) -> None:
        if self.epochs < 1:
            raise UsageError(f"--finetune-epochs {self.epochs}: must be at least 1")
        if not 0.0 < self.sparsity < 1.0:
            raise UsageError(f"--sparsity {self.sparsity}: must be between 0 and 1 (exclusive)")
        if self.clusters < 2:
            raise UsageError(f"--clusters {self.clusters}: must be at least 2")
        if self.samples is not None and self.samples < 1:
            raise UsageError(f"--finetune-samples {self.samples}: must be at least 1")


@dataclass
class Optimized:
    """A fine-tuned, stripped model and what the manifest should say about it."""

    model: Any
    details: dict[str, Any] = field(default_factory=dict)


def finetuning_spec(spec: ModelSpec) -> ModelSpec:
    """The recipe fine-tuning compiles with: the training recipe at a constant rate, the
    recipe's ``finetune_learning_rate`` or ``FINETUNE_LR_SCALE`` x its learning rate, and
    without momentum.

    Momentum m multiplies SGD's steady step by 1 / (1 - m), 10x at 0.9, which undoes the
    smaller rate; on ``edge_cnn_small`` (SGD, Nesterov 0.9) tfmot's clustering wrapper diverged
    to NaN with it. Without it, plain SGD at 0.01 still collapsed the clustered model (9% test
    accuracy): a centroid's gradient sums those of every weight it stands for, and SGD's step
    grows with the gradient (Adam's does not). That model registers 0.001."""
    recipe = spec.recipe
    rate = recipe.finetune_learning_rate or recipe.learning_rate * FINETUNE_LR_SCALE
    return dataclasses.replace(
        spec,
        recipe=dataclasses.replace(
            recipe, learning_rate=rate, momentum=0.0, finetune_learning_rate=None
        ),
    )


def _finetune(
    model: Any,
    spec: ModelSpec,
    dataset: Dataset,
    options: FinetuneOptions,
    callbacks: list[Any] = (),
) -> dict[str, Any]:
    n = min(options.samples or dataset.num_train, dataset.num_train)
    x = spec.preprocess(dataset.train_images[:n])
    y = encode_labels(dataset.train_labels[:n], spec)
    tuning = finetuning_spec(spec)
    compile_model(model, tuning)
    model.fit(
        x,
        y,
        epochs=options.epochs,
        batch_size=spec.recipe.batch_size,
        shuffle=True,
        callbacks=list(callbacks),
        verbose=0,
    )
    return {
        "finetune_epochs": options.epochs,
        "finetune_images": n,
        "finetune_learning_rate": tuning.recipe.learning_rate,
    }


def kernel_sparsity(model: Any) -> float:
    """Fraction of zeros over all Dense/Conv kernels (biases and BatchNorm excluded)."""
    zeros = total = 0
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            values = kernel.numpy()
            zeros += int(np.sum(values == 0))
            total += values.size
    return zeros / total if total else 0.0


def quantization_aware(
    model: Any, spec: ModelSpec, dataset: Dataset, options: FinetuneOptions
) -> Optimized:
    import tensorflow_model_optimization as tfmot

    from edgedigits.doctor.fixes import assert_equivalent, fold_batchnorm
    from edgedigits.doctor.lint import lint_model

    extra: dict[str, Any] = {}
    if any(f.rule == "bn-not-foldable" for f in lint_model(model, ["qat"])):
        # tfmot refuses a BatchNormalization after an activation: fold it forward (exact in
        # float, checked on test images) before wrapping.
        rewrite = fold_batchnorm(model)
        x = spec.preprocess(dataset.test_images[:500])
        extra = {
            "rewrite": rewrite.changes,
            "rewrite_max_abs_diff": float(f"{assert_equivalent(model, rewrite.model, x):.3g}"),
        }
        model = rewrite.model
    seed_everything(options.seed)
    qat_model = tfmot.quantization.keras.quantize_model(model)
    details = _finetune(qat_model, spec, dataset, options)
    return Optimized(qat_model, {**details, **extra, "scheme": "tfmot default 8-bit"})


PRUNING_RAMP = 2 / 3  # the polynomial schedule reaches the target after this share of the steps


def pruning_plan(model: Any, sparsity: float) -> dict[str, float]:
    """Target sparsity per layer with a kernel: ``sparsity``, or 0 for kernels too small to lose
    half their weights (``PRUNE_MIN_KERNEL_WEIGHTS``, in the contract)."""
    plan = {}
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            plan[layer.name] = (
                sparsity if int(kernel.shape.num_elements()) >= PRUNE_MIN_KERNEL_WEIGHTS else 0.0
            )
    return plan


def pruned(model: Any, spec: ModelSpec, dataset: Dataset, options: FinetuneOptions) -> Optimized:
    import math

    import tensorflow_model_optimization as tfmot

    keras = tf_keras()
    sparsity = tfmot.sparsity.keras
    seed_everything(options.seed)
    plan = pruning_plan(model, options.sparsity)
    n = min(options.samples or dataset.num_train, dataset.num_train)
    steps = options.epochs * math.ceil(n / spec.recipe.batch_size)
    frequency = max(1, int(steps * PRUNING_RAMP) // 20)
    end = frequency * max(1, int(steps * PRUNING_RAMP) // frequency)  # a mask update lands on it
    # Polynomial ramp from dense to the target, then fine-tuning at the target: a constant
    # schedule removes half the weights at step 0 and leaves one epoch to recover.
    schedule = sparsity.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=options.sparsity,
        begin_step=0,
        end_step=end,
        frequency=frequency,
    )

    def wrap(layer: Any) -> Any:
        if plan.get(layer.name):
            return sparsity.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    wrapped = keras.models.clone_model(model, clone_function=wrap)
    details = _finetune(wrapped, spec, dataset, options, [sparsity.UpdatePruningStep()])
    stripped = sparsity.strip_pruning(wrapped)
    from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
        PruneLowMagnitude,  # not in tfmot's public API, but the class strip_pruning removes
    )

    leftover = [layer.name for layer in stripped.layers if isinstance(layer, PruneLowMagnitude)]
    if leftover:  # the converter would keep the masks as extra tensors
        raise RuntimeError(f"pruning wrappers not stripped from layers {leftover}")
    achieved = {
        layer.name: round(float(np.mean(layer.kernel.numpy() == 0)), 4)
        for layer in stripped.layers
        if getattr(layer, "kernel", None) is not None
    }
    return Optimized(
        stripped,
        {
            **details,
            "target_sparsity": options.sparsity,
            "achieved_kernel_sparsity": round(kernel_sparsity(stripped), 4),
            "layer_target_sparsity": plan,
            "layer_achieved_sparsity": achieved,
            "kept_dense": [k for k, v in plan.items() if not v],
            "schedule": f"PolynomialDecay 0 -> {options.sparsity} over "
            f"{end} of {steps} steps, then fine-tuning at target",
            "wrappers_stripped": True,
        },
    )


def clustered(model: Any, spec: ModelSpec, dataset: Dataset, options: FinetuneOptions) -> Optimized:
    import tensorflow_model_optimization as tfmot

    clustering = tfmot.clustering.keras
    seed_everything(options.seed)
    wrapped = clustering.cluster_weights(
        model,
        number_of_clusters=options.clusters,
        cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
    )
    details = _finetune(wrapped, spec, dataset, options)
    stripped = clustering.strip_clustering(wrapped)
    distinct = [
        int(np.unique(layer.kernel.numpy()).size)
        for layer in stripped.layers
        if getattr(layer, "kernel", None) is not None
    ]
    return Optimized(
        stripped,
        {
            **details,
            "clusters": options.clusters,
            "max_distinct_values_per_kernel": max(distinct) if distinct else 0,
        },
    )


OPTIMIZERS: dict[Recipe, Callable[..., Optimized]] = {
    Recipe.QAT: quantization_aware,
    Recipe.PRUNED: pruned,
    Recipe.CLUSTERED: clustered,
}


def optimize(
    recipe: Recipe, fresh_model: Any, spec: ModelSpec, dataset: Dataset, options: FinetuneOptions
) -> Optimized:
    """Apply a tfmot recipe to ``fresh_model`` (which it consumes)."""
    tf_keras()  # make sure tf_keras, not Keras 3, is what tfmot sees
    return OPTIMIZERS[recipe](fresh_model, spec, dataset, options)
