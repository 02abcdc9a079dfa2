"""Drawn digits: MNIST's test digits redrawn as an app receives them, made reproducibly.

An app's picture is a canvas a finger drew on, or a camera frame: the digit is a third to most
of the frame's height, anywhere in it, with a stroke of the pen's width, light on dark or dark
on light, on a frame of the screen's or camera's shape. ``drawn_digits(n, seed)`` makes such
pictures from MNIST's test digits (the first ``n``, so labels and the MNIST accuracy on the same
digits are known): the ink's box scaled to 35-90% of the frame's shorter side (aspect jittered
+-15%), the stroke thinned or thickened (a min or max filter at the drawing's scale), anti-
aliased, placed at a random position wholly inside, and in a quarter of them inverted onto a
light ground with paper's grey level and sensor noise. Same ``n`` and ``seed``, same bytes.

It measures the accuracy an app's users see (``bench/app_path.py``), through the preprocessing
contract (``edgedigits.preprocess``) and through a naive whole-frame resize beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAMES = ((280, 280), (240, 320), (320, 240), (200, 400), (360, 480))  # (height, width)
HEIGHT_FRACTION = (0.35, 0.90)
STROKES = ("thin", "as drawn", "as drawn", "thick", "thick")  # drawn with equal odds
INVERTED_SHARE = 0.25


@dataclass(frozen=True)
class DrawnDigit:
    pixels: np.ndarray  # (H, W) uint8 gray
    label: int
    index: int  # the MNIST test digit it was drawn from
    inverted: bool
    stroke: str  # "thin", "as drawn" or "thick"


def _ink_box(digit: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _square_filter(ink: np.ndarray, radius: int, pick) -> np.ndarray:
    """A grey erosion (``np.minimum``) or dilation (``np.maximum``) by a (2r+1)-pixel square,
    separably, with background (0) beyond the edges: a pen ``2r`` pixels thinner or thicker."""
    out = ink
    for axis in (0, 1):
        padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)])
        size = out.shape[axis]
        acc = padded.take(range(0, size), axis=axis)
        for k in range(1, 2 * radius + 1):
            acc = pick(acc, padded.take(range(k, k + size), axis=axis))
        out = acc
    return out


def draw(digit: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, bool, str]:
    """One MNIST digit (28x28 uint8) as a frame an app might hand over."""
    from PIL import Image

    height, width = FRAMES[int(rng.integers(len(FRAMES)))]
    ink = _ink_box(digit)
    size = rng.uniform(*HEIGHT_FRACTION) * min(height, width)
    scale = size / ink.shape[0]
    aspect = rng.uniform(0.85, 1.15)
    th = max(2, round(ink.shape[0] * scale))
    tw = max(2, min(width - 2, round(ink.shape[1] * scale * aspect)))
    th = min(th, height - 2)
    picture = Image.fromarray(ink).resize((tw, th), Image.Resampling.BILINEAR)
    which = int(rng.integers(len(STROKES)))
    stroke = STROKES[which]
    ink = np.asarray(picture, np.float64)
    if stroke != "as drawn":
        radius = max(1, round(scale * rng.uniform(0.3, 0.8)))
        ink = _square_filter(ink, radius, np.minimum if stroke == "thin" else np.maximum)
    frame = np.zeros((height, width), np.float64)
    top = int(rng.integers(0, height - th + 1))
    left = int(rng.integers(0, width - tw + 1))
    frame[top : top + th, left : left + tw] = ink
    inverted = bool(rng.random() < INVERTED_SHARE)
    if inverted:  # dark ink on paper: a grey ground, ink not quite black, a little noise
        paper = rng.uniform(170, 240)
        ink_level = rng.uniform(10, 70)
        frame = paper - frame / 255.0 * (paper - ink_level)
        frame += rng.normal(0, rng.uniform(0, 6), frame.shape)
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8), inverted, stroke


def drawn_digits(
    images: np.ndarray, labels: np.ndarray, n: int, seed: int = 37
) -> list[DrawnDigit]:
    """The first ``n`` of ``images`` (MNIST's test digits), each drawn once."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(min(n, len(images))):
        pixels, inverted, stroke = draw(images[k], rng)
        out.append(DrawnDigit(pixels, int(labels[k]), k, inverted, stroke))
    return out
