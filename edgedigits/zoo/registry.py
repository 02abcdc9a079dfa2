"""The model registry: one entry per zoo model, keyed by the name of the function that builds it.

Modelled on timm's ``@register_model``: a zoo entry is a small function named after the model
that returns an *uncompiled* tf_keras model. The decorator records what the model is and where it
came from (its seed project and the training recipe the seed states), so ``edgedigits zoo`` can
print provenance and ``edgedigits train`` can reproduce the seed faithfully.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgedigits.errors import UnknownNameError


@dataclass(frozen=True)
class SeedProject:
    """A public project whose models we reproduce."""

    id: str  # "000".."004", or "edgedigits" for our own models
    title: str  # what the project is, in a few words


@dataclass(frozen=True)
class CallbackSpec:
    """A Keras callback by class name with its arguments, so recipes stay plain data (JSON-able)."""

    kind: str  # "EarlyStopping" or "ReduceLROnPlateau"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Augmentation:
    """Random geometric changes to each training batch, in the input pipeline only.

    They never enter the model, so the exported graph sees real digits exactly as an app feeds
    them (``edgedigits/augmentation.py`` builds the pipeline). Ranges are each way: a rotation
    of up to +-``rotation_degrees``, shifts of up to +-``shift_fraction`` of the image size,
    zoom of up to +-``zoom_fraction``; uncovered pixels are background (0). ``elastic_alpha``
    and ``elastic_sigma`` add Simard et al.'s elastic distortion (ICDAR 2003): a random
    displacement field, uniform in [-1, 1] per pixel, smoothed by a Gaussian of ``elastic_sigma``
    pixels and scaled by ``elastic_alpha``, warps each digit the way a hand's wobble does, which
    affine changes cannot (0 alpha: none). ``stroke`` thins or thickens each digit's strokes by
    up to that many pixels each way (a blend toward its 3x3 grey erosion or dilation, then the
    peak restretched to 1, as the preprocessing contract does): an app's pen is rarely MNIST's.

    ``clean_final_epochs``: the last epochs train on the digits as they are. A model trained only
    on moved digits has BatchNorm statistics and last-layer weights fitted to them, not to the
    centred digits it is tested and deployed on; a few clean epochs at the end of the schedule
    re-fit both (4 of 40 were worth +0.15 and +0.25 points on two seeds of an earlier
    ``edge_cnn_small`` layout: ``bench/results/champion_probes.md``).
    """

    rotation_degrees: float = 0.0
    shift_fraction: float = 0.0
    zoom_fraction: float = 0.0
    clean_final_epochs: int = 0
    elastic_alpha: float = 0.0
    elastic_sigma: float = 4.0
    stroke: float = 0.0

    def __post_init__(self) -> None:
        if self.clean_final_epochs < 0:
            raise ValueError(f"clean_final_epochs {self.clean_final_epochs}: must be >= 0")
        if self.elastic_alpha < 0 or self.elastic_sigma <= 0:
            raise ValueError(
                f"elastic alpha {self.elastic_alpha} sigma {self.elastic_sigma}: "
                "alpha must be >= 0 and sigma > 0"
            )

    def clean_epochs(self, epochs: int) -> int:
        """How many of ``epochs`` train without augmentation: ``clean_final_epochs``, but always
        leaving at least one augmented epoch (a 1-epoch test run is all augmented)."""
        return max(0, min(self.clean_final_epochs, epochs - 1))

    def summary(self) -> str:
        text = (
            f"aug rot {self.rotation_degrees:g}deg shift {self.shift_fraction:g} "
            f"zoom {self.zoom_fraction:g}"
        )
        if self.elastic_alpha:
            text += f" elastic {self.elastic_alpha:g}/{self.elastic_sigma:g}"
        if self.stroke:
            text += f" stroke {self.stroke:g}"
        if self.clean_final_epochs:
            text += f" (last {self.clean_final_epochs} ep clean)"
        return text


# What train, export and pipeline take when given no names: the models an app starts from.
DEFAULT_MODELS = (
    "seed003_ann64_relu",
    "seed004_cnn",
    "edge_cnn_tiny",
    "edge_cnn_small",
    "edge_cnn_micro",
)
# The default models also learn an app's pens (issue 37): strokes thinned or thickened by up to
# one pixel each way, as the digits a canvas or a camera gives differ from MNIST's after the
# preprocessing contract. Without it each default model lost 1.3-2.6 points on the drawn-digits
# set (bench/results/app_path.md); a seed model that takes it says so in its choices.
APP_STROKE = 1.0
APP_PATH_AUGMENTATION = Augmentation(stroke=APP_STROKE)
APP_PATH_CHOICE = (
    " As a default model it also trains on strokes thinned or thickened by up to a pixel "
    "(Augmentation.stroke), which the seed does not: an app's pen is rarely MNIST's."
)

SCHEDULES = ("constant", "warmup-cosine")
OPTIMIZERS = ("adam", "sgd", "rmsprop")  # training.compile_model builds each


@dataclass(frozen=True)
class TrainingRecipe:
    """How the seed project trains the model. Defaults are Keras' own, which seeds rely on."""

    loss: str  # "sparse_categorical_crossentropy" or "mean_squared_error" (one-hot targets)
    optimizer: str  # one of OPTIMIZERS
    epochs: int
    learning_rate: float = 1e-3  # Adam's Keras default; SGD's is 0.01
    batch_size: int = 32  # Keras' fit() default
    validation_split: float = 0.0  # fraction held out from the *end* of the training arrays
    shuffle: bool = True  # Keras' fit() default
    from_logits: bool = False  # the last layer emits logits, not probabilities (seed 002)
    callbacks: tuple[CallbackSpec, ...] = ()
    # Our own models may also use these (the seeds train without them):
    augmentation: Augmentation | None = None  # in the input pipeline, never in the graph
    schedule: str = "constant"  # or "warmup-cosine": linear warmup to learning_rate, cosine to 0
    warmup_fraction: float = 0.15  # of all training steps, for "warmup-cosine"
    label_smoothing: float = 0.0  # cross-entropy against (1 - e) one-hot + e / 10
    # Decoupled weight decay (Loshchilov & Hutter): each step shrinks every weight by
    # weight_decay * learning rate, whatever the optimizer (tf_keras' optimizers do it natively).
    weight_decay: float = 0.0
    momentum: float = 0.0  # SGD only, Nesterov's form when > 0
    # The constant rate export's fine-tuning (QAT, pruning, clustering) uses, always without
    # momentum; None: 0.1 x learning_rate (edgedigits.export.model_optimization).
    finetune_learning_rate: float | None = None

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r}: choose from {', '.join(SCHEDULES)}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing {self.label_smoothing}: must be in [0, 1)")
        if self.label_smoothing and self.loss != "sparse_categorical_crossentropy":
            raise ValueError("label_smoothing goes with sparse_categorical_crossentropy")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay {self.weight_decay}: must be >= 0")
        if self.momentum and (self.optimizer != "sgd" or not 0.0 < self.momentum < 1.0):
            raise ValueError(f"momentum {self.momentum}: only for sgd, in (0, 1)")
        if self.finetune_learning_rate is not None and not self.finetune_learning_rate > 0:
            raise ValueError(f"finetune_learning_rate {self.finetune_learning_rate}: must be > 0")
        if self.callbacks and self.augmentation and self.augmentation.clean_final_epochs:
            raise ValueError(
                "clean_final_epochs trains in two fit() calls, which would restart "
                "the callbacks' state: use one or the other"
            )

    @property
    def one_hot_targets(self) -> bool:
        """Mean squared error compares probability vectors, so it needs one-hot labels; so does
        label smoothing (tf_keras' sparse cross-entropy has no smoothing)."""
        return self.loss == "mean_squared_error" or self.label_smoothing > 0

    def summary(self) -> str:
        """One line for the zoo table, e.g. 'adam 1e-3, sparse CE, 20 ep, bs 32, val .2, ES+RLR'."""
        loss = {"sparse_categorical_crossentropy": "sparse CE", "mean_squared_error": "MSE"}.get(
            self.loss, self.loss
        )
        if self.from_logits:
            loss += " (logits)"
        parts = [
            f"{self.optimizer} {self.learning_rate:g}",
            loss,
            f"{self.epochs} ep",
            f"bs {self.batch_size}",
        ]
        if self.validation_split:
            parts.append(f"val {self.validation_split:g}")
        if self.schedule != "constant":
            parts.append(self.schedule)
        if self.label_smoothing:
            parts.append(f"LS {self.label_smoothing:g}")
        if self.momentum:
            parts.append(f"nesterov {self.momentum:g}")
        if self.weight_decay:
            parts.append(f"wd {self.weight_decay:g}")
        if self.finetune_learning_rate:
            parts.append(f"fine-tune {self.finetune_learning_rate:g}")
        if self.augmentation:
            parts.append(self.augmentation.summary())
        abbrev = {"EarlyStopping": "ES", "ReduceLROnPlateau": "RLR"}
        if self.callbacks:
            parts.append("+".join(abbrev.get(c.kind, c.kind) for c in self.callbacks))
        return ", ".join(parts)


@dataclass(frozen=True)
class SeedFigure:
    """An accuracy the seed project reports, to check our reproduction against."""

    percent: float
    metric: str  # "validation accuracy" or "test accuracy": what the seed measured


@dataclass(frozen=True)
class ModelSpec:
    """Everything the toolkit knows about one zoo model."""

    name: str
    source: SeedProject
    architecture: str  # one line, e.g. "784-16-16-10, sigmoid"
    family: str  # "mlp" or "cnn"
    input_shape: tuple[int, ...]  # per-image input the Keras model takes, without batch
    recipe: TrainingRecipe
    build_fn: Callable[[], Any] = field(repr=False)
    reported: SeedFigure | None = None
    choices: str = ""  # where the seed is vague: what we chose and why
    # The input contract x = pixel * input_scale + input_offset. The zoo's is pixel / 255; an
    # imported model's was inferred (or given) at import (edgedigits.model_import).
    input_scale: float = 1.0 / 255.0
    input_offset: float = 0.0

    def build(self) -> Any:
        """A fresh, uncompiled tf_keras model with newly initialized weights."""
        model = self.build_fn()
        model._name = self.name  # noqa: SLF001 - tf_keras has no public setter for the name
        return model

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """uint8 ``(N, 28, 28)`` pixels -> float32 in this model's input layout.

        This is the whole preprocessing contract an app must reproduce: ``pixel * input_scale +
        input_offset`` (the zoo's: divide by 255), reshape.
        """
        return scale_pixels(images, self.input_scale, self.input_offset, self.input_shape)

    @property
    def imported(self) -> bool:
        """A user's model brought in by ``edgedigits import``, not a registry entry."""
        return self.source.id == IMPORTED.id

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """Model outputs -> class probabilities (softmax for models that emit logits).

        Parity is judged on probabilities, so a logits model (seed 002) compares like with like.
        """
        outputs = np.asarray(outputs, dtype=np.float32)
        if not self.recipe.from_logits:
            return outputs
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    @property
    def input_layout(self) -> str:
        return {1: "flat", 2: "HW", 3: "HWC"}[len(self.input_shape)]


def scale_pixels(
    images: np.ndarray, scale: float, offset: float, input_shape: tuple[int, ...]
) -> np.ndarray:
    """uint8 ``(N, 28, 28)`` pixels -> float32 ``pixel * scale + offset`` in ``input_shape``."""
    x = np.asarray(images, dtype=np.float32)
    if scale == 1.0 / 255.0 and offset == 0.0:
        x = x / np.float32(255.0)  # the zoo's contract, computed as it always was
    else:
        x = x * np.float32(scale) + np.float32(offset)
    return x.reshape((x.shape[0], *input_shape))


_REGISTRY: dict[str, ModelSpec] = {}
# Models imported from users' files (edgedigits.model_import), found under an --out folder and
# registered for this process so every command takes their names; never listed as the zoo.
_IMPORTED: dict[str, ModelSpec] = {}
IMPORTED = SeedProject("import", "a user's model file, imported with 'edgedigits import'")


def register_imported(spec: ModelSpec) -> None:
    """Make an imported model's name known to ``get_spec`` in this process."""
    if spec.name in _REGISTRY:
        raise ValueError(f"{spec.name!r} is a zoo model name")
    _IMPORTED[spec.name] = spec


def is_zoo_model(name: str) -> bool:
    return name in _REGISTRY


def register_model(
    *,
    source: SeedProject,
    architecture: str,
    family: str,
    input_shape: tuple[int, ...],
    recipe: TrainingRecipe,
    reported: SeedFigure | None = None,
    choices: str = "",
) -> Callable:
    """Register the decorated builder under its function name."""

    def decorator(fn: Callable[[], Any]) -> Callable[[], Any]:
        name = fn.__name__
        if name in _REGISTRY:
            raise ValueError(f"zoo model {name!r} registered twice")
        _REGISTRY[name] = ModelSpec(
            name=name,
            source=source,
            architecture=architecture,
            family=family,
            input_shape=tuple(input_shape),
            recipe=recipe,
            build_fn=fn,
            reported=reported,
            choices=choices,
        )
        return fn

    return decorator


def list_models(pattern: str | None = None) -> list[str]:
    """Registered model names in registry order (seed project, then as the seed lists them)."""
    import fnmatch

    names = list(_REGISTRY)
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


def get_spec(name: str) -> ModelSpec:
    """The spec for ``name``; an unknown name raises an error listing the valid ones."""
    if name in _IMPORTED:
        return _IMPORTED[name]
    try:
        return _REGISTRY[name]
    except KeyError:
        # A prefix ("seed002_mlp") says more than edit distance; fall back to difflib.
        close = [n for n in _REGISTRY if n.startswith(name)] or difflib.get_close_matches(
            name, _REGISTRY, n=1
        )
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UnknownNameError(
            f"unknown model {name!r}{hint}; valid models: "
            f"{', '.join(_REGISTRY)} (or a model imported under --out with "
            "'edgedigits import', or a .keras/.h5 file)"
        ) from None


def create_model(name: str) -> Any:
    """Build the named zoo model (uncompiled, fresh weights)."""
    return get_spec(name).build()


def describe_models(names: list[str] | None = None) -> list[dict[str, Any]]:
    """One plain-data row per model for ``edgedigits zoo``: builds each model to count params."""
    from edgedigits.zoo.pretrained import describe as describe_pretrained

    rows = []
    for name in names or list_models():
        spec = get_spec(name)
        rows.append(
            {
                "name": spec.name,
                "source": spec.source.id,
                "source_title": spec.source.title,
                "family": spec.family,
                "architecture": spec.architecture,
                "input_shape": list(spec.input_shape),
                "params": int(spec.build().count_params()),
                "recipe": spec.recipe.summary(),
                "reported": (
                    f"{spec.reported.percent:g}% {spec.reported.metric}" if spec.reported else None
                ),
                "choices": spec.choices or None,
                "pretrained": describe_pretrained(spec.name),  # the shipped weights, or None
            }
        )
    return rows
