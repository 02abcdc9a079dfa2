"""Seed 001: a simple DNN against a basic and an "optimized" CNN, batch 64, 20% validation.

The basic CNN is the classic Keras ``mnist_cnn`` example (1,199,882 parameters). The seed calls
its third model "optimized" (BatchNorm, L2, tuned dropout and learning rate) without giving the
numbers; our choices are recorded in ``choices`` below.
"""

from edgedigits._tf import tf_keras
from edgedigits.zoo.registry import SeedProject, TrainingRecipe, register_model

SEED = SeedProject("001", "simple DNN vs basic and optimized CNN")
SPARSE_CE = "sparse_categorical_crossentropy"
L2_WEIGHT = 1e-4


@register_model(
    source=SEED,
    architecture="784-128-d.2-10 (28x28 in, Flatten)",
    family="mlp",
    input_shape=(28, 28),
    recipe=TrainingRecipe(
        loss=SPARSE_CE, optimizer="adam", epochs=10, batch_size=64, validation_split=0.2
    ),
)
def seed001_simple_dnn():
    """Flatten, Dense128 relu, Dropout .2, Dense10 softmax."""
    layers = tf_keras().layers
    return tf_keras().Sequential(
        [
            layers.Input(shape=(28, 28)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )


@register_model(
    source=SEED,
    architecture="C32-C64-MP-d.25-F128-d.5-10",
    family="cnn",
    input_shape=(28, 28, 1),
    recipe=TrainingRecipe(
        loss=SPARSE_CE, optimizer="adam", epochs=10, batch_size=64, validation_split=0.2
    ),
    choices="Dropout .25 after pooling as in the Keras mnist_cnn example the seed "
    "follows; 10 epochs, the low end of the seed's 10-15.",
)
def seed001_basic_cnn():
    """Conv32 3x3 relu, Conv64 3x3 relu, MaxPool 2x2, Dense128 relu, Dropout .5, softmax."""
    layers = tf_keras().layers
    return tf_keras().Sequential(
        [
            layers.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


@register_model(
    source=SEED,
    architecture="C32-BN-C64-BN-MP-d.25-F128(L2)-BN-d.3-10",
    family="cnn",
    input_shape=(28, 28, 1),
    recipe=TrainingRecipe(
        loss=SPARSE_CE,
        optimizer="adam",
        learning_rate=5e-4,
        epochs=15,
        batch_size=64,
        validation_split=0.2,
    ),
    choices="L2 1e-4 on every kernel (strong enough to curb the 1.2M-weight Dense layer, weak "
    "enough not to cost accuracy); dropout .25 after pooling and .3 (down from .5) before "
    "the head, since BatchNorm already regularizes; Adam lr 5e-4 (half the default) "
    "because BatchNorm plus L2 trains noisily at 1e-3; 15 epochs, the seed's upper bound.",
)
def seed001_optimized_cnn():
    """The basic CNN plus BatchNorm after each conv and the dense layer, L2 kernels, tuned
    dropout."""
    keras = tf_keras()
    layers, l2 = keras.layers, keras.regularizers.L2(L2_WEIGHT)
    return keras.Sequential(
        [
            layers.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu", kernel_regularizer=l2),
            layers.BatchNormalization(),
            layers.Conv2D(64, 3, activation="relu", kernel_regularizer=l2),
            layers.BatchNormalization(),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu", kernel_regularizer=l2),
            layers.BatchNormalization(),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ]
    )
