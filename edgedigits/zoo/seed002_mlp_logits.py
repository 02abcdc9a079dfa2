"""Seed 002: a 784-256-128-128-10 MLP that emits logits (251,658 parameters).

Trained with ``SparseCategoricalCrossentropy(from_logits=True)``; the exported model therefore
outputs logits, and argmax (not a probability threshold) is the prediction.
"""

from edgedigits._tf import tf_keras
from edgedigits.zoo.registry import SeedFigure, SeedProject, TrainingRecipe, register_model

SEED = SeedProject("002", "MLP with logits output")


@register_model(
    source=SEED,
    architecture="784-256-128-128-10 relu, logits",
    family="mlp",
    input_shape=(28, 28),
    recipe=TrainingRecipe(
        loss="sparse_categorical_crossentropy",
        from_logits=True,
        optimizer="adam",
        learning_rate=1e-3,
        epochs=20,
        batch_size=32,
        shuffle=True,
    ),
    reported=SeedFigure(98.0, "test accuracy (seed reports >98%)"),
)
def seed002_mlp_logits():
    """Flatten, Dense256, Dense128, Dense128 relu, Dense10 linear (logits)."""
    layers = tf_keras().layers
    return tf_keras().Sequential(
        [
            layers.Input(shape=(28, 28)),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(10),
        ]
    )
