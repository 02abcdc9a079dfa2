"""From a real picture to the model's 28x28 input: the numbers, declared once.

MNIST's digits were made by a recipe (LeCun et al.): the ink's bounding box, fitted into 20x20
keeping its aspect ratio with anti-aliasing, placed on a 28x28 field so that the centre of mass
lands at the field's centre. A model trained on them expects that recipe's output, not a whole
canvas squashed to 28x28 (an off-centre digit at a third of the canvas's height loses most of its
accuracy that way; ``bench/results/app_path.md`` has the figures).

This module says the recipe exactly, in integers, so that the three implementations
(``edgedigits/preprocess/__init__.py`` in NumPy, ``from_image.mjs`` in JavaScript and
``from_image.c`` in C) give the same bytes, and an app's own port can be checked against them.
The manifest's ``interface.input.from_image``, ONNX ``metadata_props``, the ``.tflite``'s
metadata and the C header carry :func:`from_image_contract`. Import-light: no NumPy.

Version 2 adds one step MNIST's recipe did not need: **the stroke width, brought into MNIST's
range.** MNIST's writers used the same pens on the same forms; an app's pen is a finger, a
stylus or a marker, drawn at any size, so after the fit its stroke can be half or twice MNIST's.
The ink is first fitted at four times the final size (80 px), where a stroke's width is
measured as 2 x (ink pixels) / (edge pixels), and one that is thinner than 7 or thicker than
14 (in 80-px pixels; MNIST's own strokes, as the drawn-digits set redraws them, measure 7.8,
10.7 and 15.0 at their 10th, 50th and 90th percentiles) is grown or thinned by whole 3x3 steps
towards that range, at most three.
On the project's drawn-digits set, version 1 left every default model 0.3 to 1.2 points below
its MNIST accuracy, thin pens worst (``bench/results/app_path.md``).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CENTRE",
    "DARK_ON_LIGHT_BORDER_MEAN",
    "FIT",
    "GRAY_SHIFT",
    "GRAY_WEIGHTS",
    "INK_THRESHOLD",
    "MAX_STROKE_STEPS",
    "MIN_CONTRAST",
    "NAME",
    "SIDE",
    "STEPS",
    "STROKE_LEVEL",
    "STROKE_RANGE",
    "WORK",
    "from_image_contract",
]

NAME = "edgedigits.from_image/2"  # bump when any number or step below changes
GRAY_WEIGHTS = (77, 150, 29)  # BT.601 luma in 1/256ths: (77 R + 150 G + 29 B + 128) >> 8
GRAY_SHIFT = 8
DARK_ON_LIGHT_BORDER_MEAN = 128  # border mean (outermost ring of pixels) >= this: inverted source
MIN_CONTRAST = 32  # peak - background below this: no ink (an empty canvas)
INK_THRESHOLD = 48  # after the level stretch, values under this are background (paper, noise)
FIT = 20  # the ink's longer side, in pixels, after the fit
WORK = 80  # the ink's longer side where its stroke is measured and corrected (4 x FIT)
STROKE_LEVEL = 128  # a pixel at or over this is ink when the stroke is measured
STROKE_RANGE = (7, 14)  # the stroke width kept as it is, in WORK pixels (2 x ink / edge pixels)
MAX_STROKE_STEPS = 3  # 3x3 growing or thinning steps, at most
SIDE = 28  # the model's field
CENTRE = 14  # where the centre of mass lands (pixel-index coordinates; MNIST's test set: 14.0)

STEPS = (
    "gray: an RGB(A) picture becomes gray = (77*R + 150*G + 29*B + 128) >> 8; alpha is ignored",
    "polarity: if the mean of the border ring (every pixel with x or y on an edge, each once) is "
    ">= 128 the source is dark ink on a light ground and p = 255 - gray; otherwise p = gray",
    "levels: bg = floor(mean of the border ring of p), peak = max(p); if peak - bg < 32 the "
    "picture has no ink and the result is 28x28 zeros; else v = 0 where p <= bg, otherwise "
    "v = min(255, floor(((p - bg) * 255 + floor((peak - bg) / 2)) / (peak - bg)))",
    "ink threshold: v < 48 becomes 0",
    "crop: the bounding box of v > 0 (h rows, w columns); none: 28x28 zeros",
    "fit to N (first N = 80): L = max(h, w); oh = max(1, floor((N*h + floor(L/2)) / L)), ow "
    "likewise with w; resampler: exact area average (box filter) with integer weights: output "
    "row i covers [i*h, (i+1)*h) and source row y covers [y*oh, (y+1)*oh), the weight is their "
    "overlap (columns likewise); out = floor((sum of weight_row*weight_col*v + floor(h*w/2)) / "
    "(h*w)) (round half up); then restretch: m = max(out); if m > 0, out = floor((out*255 + "
    "floor(m/2)) / m) (a thin stroke averages to grey; its peak goes back to 255); if the "
    "80-px block is all 0 (specks too sparse to survive the average), 28x28 zeros, no ink",
    "stroke width, on the 80-px block: A = pixels >= 128, B = those of them with a 4-neighbour "
    "< 128 (outside the block counts as < 128); if 2A < 7B, grow: k = min(3, floor((7B - 2A + "
    "B) / (2B))) steps, each out = max of the 3x3 neighbourhood; if 2A > 14B, thin: k = min(3, "
    "floor((2A - 14B + B) / (2B))) steps, each out = min of the 3x3 neighbourhood, stopping "
    "before a step that would leave no pixel > 0; the block is first padded with k zeros on "
    "every side and the neighbourhood beyond it is 0",
    "crop again: the bounding box of out > 0, then fit to N = 20 (the same resampler and "
    "restretch) from that box",
    "pad: an all-zero 28x28 field",
    "centre of mass: S = sum(out), Sy = sum(i*out) over rows i of the fitted block (Sx over "
    "columns); top = floor((2*14*S + S - 2*Sy) / (2*S)) (round half up of 14 - Sy/S), "
    "clamped to [0, 28 - oh]; left likewise with Sx and ow; the block is copied there",
    "then the model's from_pixels rule: x = pixel * scale + offset",
)


def from_image_contract() -> dict[str, Any]:
    """The preprocessing contract as JSON: what the manifest, the files' metadata and the C
    header record, and what ``docs/concepts/preprocessing.md`` explains."""
    return {
        "name": NAME,
        "gray_weights": list(GRAY_WEIGHTS),
        "gray_shift": GRAY_SHIFT,
        "dark_on_light_border_mean": DARK_ON_LIGHT_BORDER_MEAN,
        "min_contrast": MIN_CONTRAST,
        "ink_threshold": INK_THRESHOLD,
        "fit": FIT,
        "work": WORK,
        "stroke_level": STROKE_LEVEL,
        "stroke_range": list(STROKE_RANGE),
        "max_stroke_steps": MAX_STROKE_STEPS,
        "resampler": "area average (box filter), exact integer weights, round half up",
        "side": SIDE,
        "centre": CENTRE,
        "empty": "28x28 zeros (no ink: peak - background < min_contrast)",
        "steps": list(STEPS),
        "implementations": {
            "python": "edgedigits.preprocess.to_model_image",
            "javascript": "edgedigits/preprocess/from_image.mjs (toModelImage)",
            "c": "edgedigits/preprocess/from_image.c (edgedigits_from_image)",
        },
    }
