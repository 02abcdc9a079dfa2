"""Seed 003: four small ANNs, 784-16-16-10 and 784-64-64-10, each with sigmoid and with relu.

The seed reports validation accuracies but not its optimizer, epochs or split; we train all four
the same way (Adam 1e-3, sparse CE, 10 epochs, batch 32, 10% validation) so the comparison stays
about width and activation, which is the seed's point.
"""

from dataclasses import replace

from edgedigits._tf import tf_keras
from edgedigits.zoo.registry import (
    APP_PATH_AUGMENTATION,
    APP_PATH_CHOICE,
    DEFAULT_MODELS,
    SeedFigure,
    SeedProject,
    TrainingRecipe,
    register_model,
)

SEED = SeedProject("003", "ANN width and activation study")
RECIPE = TrainingRecipe(
    loss="sparse_categorical_crossentropy",
    optimizer="adam",
    epochs=10,
    batch_size=32,
    validation_split=0.1,
)
CHOICES = (
    "The seed states no optimizer, epochs or split: Adam 1e-3, 10 epochs, batch 32 and a "
    "10% validation split, the common Keras tutorial recipe for such ANNs."
)


def _ann(width: int, activation: str):
    layers = tf_keras().layers
    return tf_keras().Sequential(
        [
            layers.Input(shape=(784,)),
            layers.Dense(width, activation=activation),
            layers.Dense(width, activation=activation),
            layers.Dense(10, activation="softmax"),
        ]
    )


# The study is one grid: width x activation, each with the validation accuracy the seed reports.
STUDY = {
    "seed003_ann16_sigmoid": (16, "sigmoid", 94.79),
    "seed003_ann16_relu": (16, "relu", 95.14),
    "seed003_ann64_sigmoid": (64, "sigmoid", 97.29),
    "seed003_ann64_relu": (64, "relu", 97.47),
}


def _register(name: str, width: int, activation: str, reported: float) -> None:
    default = name in DEFAULT_MODELS

    def build():
        return _ann(width, activation)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"Two hidden layers of {width} {activation} units."
    register_model(
        source=SEED,
        architecture=f"784-{width}-{width}-10, {activation}",
        family="mlp",
        input_shape=(784,),
        recipe=replace(RECIPE, augmentation=APP_PATH_AUGMENTATION) if default else RECIPE,
        choices=CHOICES + (APP_PATH_CHOICE if default else ""),
        reported=SeedFigure(reported, "validation accuracy"),
    )(build)


for _name, _row in STUDY.items():
    _register(_name, *_row)
