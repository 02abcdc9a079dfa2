"""Seed 003: four small ANNs, 784-16-16-10 and 784-64-64-10, each with sigmoid and with relu.

The seed reports validation accuracies but not its optimizer, epochs or split; we train all four
the same way (Adam 1e-3, sparse CE, 10 epochs, batch 32, 10% validation) so the comparison stays
about width and activation, which is the seed's point.
"""

from edgedigits._tf import tf_keras
from edgedigits.zoo.registry import SeedFigure, SeedProject, TrainingRecipe, register_model

SEED = SeedProject("003", "ANN width and activation study")
RECIPE = TrainingRecipe(loss="sparse_categorical_crossentropy", optimizer="adam", epochs=10,
                        batch_size=32, validation_split=0.1)
CHOICES = ("The seed states no optimizer, epochs or split: Adam 1e-3, 10 epochs, batch 32 and a "
           "10% validation split, the common Keras tutorial recipe for such ANNs.")


def _ann(width: int, activation: str):
    layers = tf_keras().layers
    return tf_keras().Sequential([
        layers.Input(shape=(784,)),
        layers.Dense(width, activation=activation),
        layers.Dense(width, activation=activation),
        layers.Dense(10, activation="softmax"),
    ])


@register_model(source=SEED, architecture="784-16-16-10, sigmoid", family="mlp",
                input_shape=(784,), recipe=RECIPE, choices=CHOICES,
                reported=SeedFigure(94.79, "validation accuracy"))
def seed003_ann16_sigmoid():
    """Two hidden layers of 16 sigmoid units."""
    return _ann(16, "sigmoid")


@register_model(source=SEED, architecture="784-16-16-10, relu", family="mlp",
                input_shape=(784,), recipe=RECIPE, choices=CHOICES,
                reported=SeedFigure(95.14, "validation accuracy"))
def seed003_ann16_relu():
    """Two hidden layers of 16 relu units."""
    return _ann(16, "relu")


@register_model(source=SEED, architecture="784-64-64-10, sigmoid", family="mlp",
                input_shape=(784,), recipe=RECIPE, choices=CHOICES,
                reported=SeedFigure(97.29, "validation accuracy"))
def seed003_ann64_sigmoid():
    """Two hidden layers of 64 sigmoid units."""
    return _ann(64, "sigmoid")


@register_model(source=SEED, architecture="784-64-64-10, relu", family="mlp",
                input_shape=(784,), recipe=RECIPE, choices=CHOICES,
                reported=SeedFigure(97.47, "validation accuracy"))
def seed003_ann64_relu():
    """Two hidden layers of 64 relu units."""
    return _ann(64, "relu")
