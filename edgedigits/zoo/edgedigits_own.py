"""Our own models, designed for the edge rather than reproduced from a seed.

``edge_cnn_tiny`` aims at microcontroller-class targets: ~5k parameters, only ops every TFLite
delegate and TFLite Micro support (Conv2D, MaxPool, Dense, relu), no BatchNorm or Dropout to fold
or strip, and relu activations whose ranges quantize well to int8.
"""

from edgedigits._tf import tf_keras
from edgedigits.zoo.registry import SeedProject, TrainingRecipe, register_model

OURS = SeedProject("edgedigits", "edgedigits' own edge-first designs")


@register_model(source=OURS, architecture="C8-MP-C16-MP-F400-10", family="cnn",
                input_shape=(28, 28, 1),
                recipe=TrainingRecipe(loss="sparse_categorical_crossentropy", optimizer="adam",
                                      learning_rate=2e-3, epochs=8, batch_size=64,
                                      validation_split=0.1))
def edge_cnn_tiny():
    """Conv8 3x3, MaxPool, Conv16 3x3, MaxPool, Dense10: 5,258 parameters, int8-friendly."""
    layers = tf_keras().layers
    return tf_keras().Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(8, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
