"""The augmented training input pipeline: random rotations, shifts and zooms per batch.

A recipe's ``Augmentation`` lives here, in a ``tf.data`` pipeline that feeds ``fit()``, and never
in the model: the exported graph has no random layers to strip, and what an app feeds it (a real,
centred digit) is what it was validated on. The random layers are tf_keras' own preprocessing
layers, seeded from the training seed, applied to whole batches after shuffling.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgedigits._tf import tensorflow, tf_keras
from edgedigits.zoo.registry import Augmentation

IMAGE = (28, 28, 1)


def augmenter(aug: Augmentation, seed: int) -> Any:
    """A tf_keras model of the random layers (applied with ``training=True``)."""
    layers = tf_keras().layers
    steps = []
    if aug.rotation_degrees:
        steps.append(layers.RandomRotation(aug.rotation_degrees / 360.0, fill_mode="constant",
                                           seed=seed))
    if aug.shift_fraction:
        steps.append(layers.RandomTranslation(aug.shift_fraction, aug.shift_fraction,
                                              fill_mode="constant", seed=seed + 1))
    if aug.zoom_fraction:
        steps.append(layers.RandomZoom(aug.zoom_fraction, fill_mode="constant", seed=seed + 2))
    return tf_keras().Sequential(steps)


def augmented_batches(x: np.ndarray, y: np.ndarray, aug: Augmentation | None, batch_size: int,
                      seed: int, shuffle: bool = True) -> Any:
    """A repeatable-per-seed ``tf.data.Dataset`` of augmented ``(x, y)`` batches (one epoch;
    ``fit`` re-iterates it each epoch, reshuffling and drawing new transforms). With ``aug``
    None the batches are the images as they are, shuffled the same way (the clean epochs)."""
    tf = tensorflow()
    data = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if aug is None:
        return data.prefetch(tf.data.AUTOTUNE)
    shape = x.shape[1:]
    random_layers = augmenter(aug, seed)

    def transform(images, labels):
        images = tf.reshape(images, (-1, *IMAGE))  # flat MLP inputs are images too
        images = random_layers(images, training=True)
        return tf.reshape(images, (-1, *shape)), labels

    return data.map(transform, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)
