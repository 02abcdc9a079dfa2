"""The augmented training input pipeline: random rotations, shifts, zooms and elastic warps.

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
        steps.append(
            layers.RandomRotation(aug.rotation_degrees / 360.0, fill_mode="constant", seed=seed)
        )
    if aug.shift_fraction:
        steps.append(
            layers.RandomTranslation(
                aug.shift_fraction, aug.shift_fraction, fill_mode="constant", seed=seed + 1
            )
        )
    if aug.zoom_fraction:
        steps.append(layers.RandomZoom(aug.zoom_fraction, fill_mode="constant", seed=seed + 2))
    if aug.elastic_alpha:
        steps.append(random_elastic(aug.elastic_alpha, aug.elastic_sigma, seed=seed + 3))
    if aug.stroke:
        steps.append(random_stroke(aug.stroke, seed=seed + 4))
    return tf_keras().Sequential(steps)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalized 1-D Gaussian, 3 sigma each way (scipy.ndimage.gaussian_filter's truncation
    is 4 sigma; at 3 the tails left out weigh under 0.3%)."""
    radius = max(1, math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return (taps / taps.sum()).astype(np.float32)


def random_elastic(alpha: float, sigma: float, seed: int) -> Any:
    """A tf_keras layer that warps a batch of ``(B, H, W, 1)`` images by Simard et al.'s elastic
    distortion: per image, a displacement field uniform in [-1, 1] per pixel and axis, smoothed by
    a Gaussian of ``sigma`` pixels (zero beyond the border) and scaled by ``alpha``; each output
    pixel is the input bilinearly sampled at its displaced position, background (0) outside.
    Only with ``training=True``; otherwise the identity, like tf_keras' random layers."""
    tf = tensorflow()
    kernel = gaussian_kernel(sigma)
    # Separable smoothing of the 2 displacement channels: down each column, then along each row.
    down_columns = tf.constant(np.tile(kernel[:, None, None, None], (1, 1, 2, 1)))
    along_rows = tf.constant(np.tile(kernel[None, :, None, None], (1, 1, 2, 1)))

    class RandomElastic(tf_keras().layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.generator = tf.random.Generator.from_seed(seed)

        def call(self, images, training=None):
            if not training:
                return images
            shape = tf.shape(images)
            batch, height, width = shape[0], shape[1], shape[2]
            field = self.generator.uniform((batch, height, width, 2), -1.0, 1.0)
            field = tf.nn.depthwise_conv2d(field, down_columns, (1, 1, 1, 1), "SAME")
            field = alpha * tf.nn.depthwise_conv2d(field, along_rows, (1, 1, 1, 1), "SAME")
            y, x = tf.meshgrid(
                tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij"
            )
            return bilinear_sample(images, y[None] + field[..., 0], x[None] + field[..., 1])

    return RandomElastic(name="random_elastic")


def random_stroke(strength: float, seed: int) -> Any:
    """A tf_keras layer that thins or thickens each digit's strokes: per image t uniform in
    [-strength, strength], applied in whole 3x3 steps plus a fraction (each step a grey dilation,
    a 3x3 max, for t > 0, or erosion, a 3x3 min, for t < 0; the fraction blends toward the next
    step), then each image divided by its peak, as the preprocessing contract restretches a
    thin stroke. Only with ``training=True``."""
    tf = tensorflow()
    steps = max(1, math.ceil(strength))

    def dilate(x):
        return tf.nn.max_pool2d(x, 3, 1, "SAME")

    def erode(x):
        return -tf.nn.max_pool2d(-x, 3, 1, "SAME")

    class RandomStroke(tf_keras().layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.generator = tf.random.Generator.from_seed(seed)

        def call(self, images, training=None):
            if not training:
                return images
            t = self.generator.uniform((tf.shape(images)[0], 1, 1, 1), -strength, strength)
            amount = tf.abs(t)
            grown, shrunk, out = images, images, images
            for k in range(steps):
                grown, shrunk = dilate(grown), erode(shrunk)
                step = tf.where(t > 0, grown, shrunk)
                share = tf.clip_by_value(amount - k, 0.0, 1.0)
                out = tf.where(amount > k, out + share * (step - out), out)
            peak = tf.reduce_max(out, axis=(1, 2, 3), keepdims=True)
            return tf.math.divide_no_nan(out, peak)

    return RandomStroke(name="random_stroke")


def bilinear_sample(images: Any, y: Any, x: Any) -> Any:
    """``images`` (B, H, W, 1) read at float positions ``y``, ``x`` (B, H, W) by bilinear
    interpolation, with zeros beyond the border (the image is padded by one pixel of 0)."""
    tf = tensorflow()
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    padded = tf.pad(images[..., 0], ((0, 0), (1, 1), (1, 1)))
    flat = tf.reshape(padded, (shape[0], -1))
    # Positions in the padded image, clipped into its zero border (rows 0 and height + 1).
    y = tf.clip_by_value(y + 1.0, 0.0, tf.cast(height + 1, tf.float32))
    x = tf.clip_by_value(x + 1.0, 0.0, tf.cast(width + 1, tf.float32))
    y0 = tf.minimum(tf.floor(y), tf.cast(height, tf.float32))
    x0 = tf.minimum(tf.floor(x), tf.cast(width, tf.float32))
    wy, wx = y - y0, x - x0
    y0, x0 = tf.cast(y0, tf.int32), tf.cast(x0, tf.int32)
    stride = width + 2

    def at(dy, dx):
        index = tf.reshape((y0 + dy) * stride + x0 + dx, (shape[0], -1))
        return tf.reshape(tf.gather(flat, index, batch_dims=1), tf.shape(y))

    top = at(0, 0) * (1 - wx) + at(0, 1) * wx
    bottom = at(1, 0) * (1 - wx) + at(1, 1) * wx
    return (top * (1 - wy) + bottom * wy)[..., None]


def augmented_batches(
    x: np.ndarray,
    y: np.ndarray,
    aug: Augmentation | None,
    batch_size: int,
    seed: int,
    shuffle: bool = True,
) -> Any:
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
