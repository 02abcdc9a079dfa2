"""Seed 000: codebasics-style MLPs on flattened 784-pixel vectors.

The tutorial flattens images outside the model (``X_train.reshape(len(X_train), 28*28)``), so
these models take a flat 784 input. Activations the seed leaves implicit are relu, as in the
tutorial; the optimizer is Adam with Keras' default learning rate and sparse categorical CE.
"""

from edgedigits._tf import tf_keras
from edgedigits.zoo.registry import CallbackSpec, SeedProject, TrainingRecipe, register_model

SEED = SeedProject("000", "codebasics-style MLPs (deep-learning tutorial)")
SPARSE_CE = "sparse_categorical_crossentropy"


def _deep_mlp():
    """Dense256, Dropout .5, Dense128, Dense128, BatchNorm, Dense10: the seed's Model 2/3 body."""
    layers = tf_keras().layers
    return tf_keras().Sequential(
        [
            layers.Input(shape=(784,)),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(128, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(10, activation="softmax"),
        ]
    )


@register_model(
    source=SEED,
    architecture="784-256-10",
    family="mlp",
    input_shape=(784,),
    recipe=TrainingRecipe(loss=SPARSE_CE, optimizer="adam", epochs=10),
)
def seed000_mlp256():
    """Model 1: one hidden layer of 256 relu units, softmax output."""
    layers = tf_keras().layers
    return tf_keras().Sequential(
        [
            layers.Input(shape=(784,)),
            layers.Dense(256, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )


@register_model(
    source=SEED,
    architecture="784-256-d.5-128-128-BN-10",
    family="mlp",
    input_shape=(784,),
    recipe=TrainingRecipe(loss=SPARSE_CE, optimizer="adam", epochs=20, validation_split=0.2),
)
def seed000_deep_mlp():
    """Model 2: deeper MLP with dropout and batch normalization, 20 epochs, 20% validation."""
    return _deep_mlp()


@register_model(
    source=SEED,
    architecture="784-256-d.5-128-128-BN-10",
    family="mlp",
    input_shape=(784,),
    recipe=TrainingRecipe(
        loss=SPARSE_CE,
        optimizer="adam",
        learning_rate=1e-3,
        epochs=20,
        validation_split=0.2,
        callbacks=(
            CallbackSpec(
                "EarlyStopping",
                {"monitor": "val_loss", "patience": 5, "restore_best_weights": True},
            ),
            CallbackSpec(
                "ReduceLROnPlateau",
                {"monitor": "val_loss", "factor": 0.1, "patience": 3, "min_lr": 1e-5},
            ),
        ),
    ),
    choices="The seed names no monitor for its callbacks; Keras' default, val_loss, is used.",
)
def seed000_deep_mlp_callbacks():
    """Model 3: Model 2 trained with EarlyStopping (restore best) and ReduceLROnPlateau."""
    return _deep_mlp()
