"""A real picture to the 28x28 image a digit model sees: the contract, in NumPy.

``to_model_image(gray)`` takes a 2-D uint8 array of any size and either polarity (a finger's
strokes on a canvas, a camera frame, a scan) and returns the 28x28 uint8 image, 0 = background,
that MNIST's own preparation would have made of it; ``contract/preprocessing.py`` says each step
and its numbers. ``from_image.mjs`` (JavaScript) and ``from_image.c`` (C11, integers only, no
malloc), beside this file, implement the same steps and give the same bytes; the tests hold the
three together on a few hundred canvases. ``pictures.py`` reads PNG and JPEG files into gray.

Every step is integer arithmetic. The one place floats appear, the resampler's matrix products,
computes integers exactly: every partial sum stays under 2^24 (float32) and 2^53 (float64).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgedigits.contract.preprocessing import (
    CENTRE,
    DARK_ON_LIGHT_BORDER_MEAN,
    FIT,
    GRAY_SHIFT,
    GRAY_WEIGHTS,
    INK_THRESHOLD,
    MAX_STROKE_STEPS,
    MIN_CONTRAST,
    SIDE,
    STROKE_LEVEL,
    STROKE_RANGE,
    WORK,
)

__all__ = ["Prepared", "gray_from_rgb", "naive_resize", "prepare", "to_model_image"]


@dataclass(frozen=True)
class Prepared:
    """The 28x28 image and how it was found: the source's polarity, whether there was ink, and
    the ink's box in the source (top, left, height, width) and in the field."""

    pixels: np.ndarray  # (28, 28) uint8, 0 = background
    inverted: bool  # the source was dark ink on a light ground
    empty: bool  # no ink: the result is all zeros
    box: tuple[int, int, int, int] | None = None
    placed: tuple[int, int, int, int] | None = None
    stroke_width: float | None = None  # measured at WORK px, before the correction
    stroke_steps: int = 0  # 3x3 steps taken: > 0 grown, < 0 thinned


def gray_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3 or 4) uint8 -> (H, W) uint8 with the contract's integer luma weights."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4) or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3 or 4) uint8 array, got {rgb.shape} {rgb.dtype}")
    r, g, b = (rgb[..., k].astype(np.uint32) for k in range(3))
    wr, wg, wb = GRAY_WEIGHTS
    return ((wr * r + wg * g + wb * b + (1 << (GRAY_SHIFT - 1))) >> GRAY_SHIFT).astype(np.uint8)


def _border(image: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels, each once."""
    if image.shape[0] <= 2 or image.shape[1] <= 2:
        return image.ravel()
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def _levels(background: int, peak: int) -> np.ndarray:
    """The 256-entry table p -> v: the level stretch, then the ink threshold."""
    p = np.arange(256, dtype=np.int64)
    span = peak - background
    v = np.minimum(255, ((p - background) * 255 + span // 2) // span)
    v[p <= background] = 0
    v[v < INK_THRESHOLD] = 0
    return v.astype(np.uint8)


def _area_weights(source: int, target: int) -> np.ndarray:
    """(target, source) integer overlaps: output i covers [i*source, (i+1)*source), source
    pixel y covers [y*target, (y+1)*target); each row sums to ``source``."""
    i = np.arange(target, dtype=np.int64)[:, None]
    y = np.arange(source, dtype=np.int64)[None, :]
    low = np.maximum(i * source, y * target)
    high = np.minimum((i + 1) * source, (y + 1) * target)
    return np.maximum(high - low, 0)


def _fit(ink: np.ndarray, side: int) -> np.ndarray:
    """The cropped ink, area-averaged so its longer side is ``side`` pixels, then its peak
    restretched to 255."""
    h, w = ink.shape
    longer = max(h, w)
    oh = max(1, (side * h + longer // 2) // longer)
    ow = max(1, (side * w + longer // 2) // longer)
    rows = _area_weights(h, oh)
    cols = _area_weights(w, ow)
    # exact: each entry of rows @ ink is at most 255 * h (under 2^24 for any frame we accept),
    # each final sum at most 255 * h * w (under 2^53)
    partial = rows.astype(np.float32) @ ink.astype(np.float32)
    total = partial.astype(np.float64) @ cols.T.astype(np.float64)
    total = np.rint(total).astype(np.int64)
    area = h * w
    block = (total + area // 2) // area
    peak = int(block.max())  # a thin stroke averages to grey: bring its peak back to 255
    return ((block * 255 + peak // 2) // peak).astype(np.uint8) if peak else block.astype(np.uint8)


def _stroke_pixels(block: np.ndarray) -> tuple[int, int]:
    """(A, B): ink pixels (>= ``STROKE_LEVEL``) and those of them on an edge (a 4-neighbour
    that is not ink, or the block's border). The stroke's width is about 2A/B: a stroke of width
    s and length l has about s*l ink pixels and 2*l on its edges."""
    ink = block >= STROKE_LEVEL
    padded = np.pad(ink, 1)
    inner = ink & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    a = int(ink.sum())
    return a, a - int(inner.sum())


def _stroke_steps(block: np.ndarray) -> int:
    """How many 3x3 steps bring the stroke into ``STROKE_RANGE``: > 0 grows, < 0 thins; in
    integers, rounded half up."""
    a, b = _stroke_pixels(block)
    low, high = STROKE_RANGE
    if b == 0:
        return 0
    if 2 * a < low * b:
        return min(MAX_STROKE_STEPS, (low * b - 2 * a + b) // (2 * b))
    if 2 * a > high * b:
        return -min(MAX_STROKE_STEPS, (2 * a - high * b + b) // (2 * b))
    return 0


def _neighbourhood(block: np.ndarray, pick) -> np.ndarray:
    """The 3x3 max (``np.maximum``) or min (``np.minimum``) of every pixel, 0 beyond the edge."""
    padded = np.pad(block, 1)
    h, w = block.shape
    out = padded[1:-1, 1:-1]
    for dy in range(3):
        for dx in range(3):
            out = pick(out, padded[dy : dy + h, dx : dx + w])
    return out


def _correct_stroke(block: np.ndarray, steps: int) -> tuple[np.ndarray, int]:
    """The WORK-px block with its stroke grown (``steps`` > 0) or thinned by 3x3 steps, and
    the steps taken (thinning stops before a step that would leave no ink)."""
    if steps == 0:
        return block, 0
    out = np.pad(block, abs(steps))
    pick = np.maximum if steps > 0 else np.minimum
    for taken in range(abs(steps)):
        after = _neighbourhood(out, pick)
        if not after.any():
            return out, -taken
        out = after
    return out, steps


def _crop(v: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1): the bounding box of v > 0, or None."""
    rows = np.flatnonzero(v.any(axis=1))
    cols = np.flatnonzero(v.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _place(block: np.ndarray) -> tuple[int, int]:
    """(top, left): the block's centre of mass at ``CENTRE``, rounded half up, kept inside."""
    oh, ow = block.shape
    weights = block.astype(np.int64)
    total = int(weights.sum())
    if total == 0:
        return (SIDE - oh) // 2, (SIDE - ow) // 2
    sy = int((weights.sum(axis=1) * np.arange(oh)).sum())
    sx = int((weights.sum(axis=0) * np.arange(ow)).sum())
    top = ((2 * CENTRE + 1) * total - 2 * sy) // (2 * total)
    left = ((2 * CENTRE + 1) * total - 2 * sx) // (2 * total)
    return min(max(top, 0), SIDE - oh), min(max(left, 0), SIDE - ow)


def prepare(gray: np.ndarray) -> Prepared:
    """The contract's steps on a 2-D uint8 array; see :func:`to_model_image`."""
    gray = np.asarray(gray)
    if gray.ndim != 2 or gray.dtype != np.uint8 or gray.size == 0:
        raise ValueError(
            f"expected a non-empty 2-D uint8 array (gray pixels), got {gray.shape} {gray.dtype}"
        )
    ring = _border(gray)
    inverted = int(ring.sum(dtype=np.int64)) >= DARK_ON_LIGHT_BORDER_MEAN * ring.size
    p = 255 - gray if inverted else gray
    background = int(_border(p).sum(dtype=np.int64)) // ring.size
    peak = int(p.max())
    blank = Prepared(np.zeros((SIDE, SIDE), np.uint8), inverted, True)
    if peak - background < MIN_CONTRAST:
        return blank
    v = _levels(background, peak)[p]
    box = _crop(v)
    if box is None:
        return blank
    y0, y1, x0, x1 = box
    fitted = _fit(v[y0:y1, x0:x1], WORK)
    if not fitted.any():  # specks too sparse to survive the average: no ink at this scale
        return blank
    steps = _stroke_steps(fitted)
    a, b = _stroke_pixels(fitted)
    work, steps = _correct_stroke(fitted, steps)
    a0, a1, b0, b1 = _crop(work)  # never None: the block has ink, thinning keeps some
    block = _fit(work[a0:a1, b0:b1], FIT)
    top, left = _place(block)
    field = np.zeros((SIDE, SIDE), np.uint8)
    field[top : top + block.shape[0], left : left + block.shape[1]] = block
    return Prepared(
        field,
        inverted,
        False,
        (y0, x0, y1 - y0, x1 - x0),
        (top, left, block.shape[0], block.shape[1]),
        round(2 * a / b, 3) if b else None,
        steps,
    )


def to_model_image(gray: np.ndarray) -> np.ndarray:
    """A 2-D uint8 picture of one digit, any size, light-on-dark or dark-on-light -> the 28x28
    uint8 image (0 = background) the model sees; all zeros when it holds no ink. Then apply the
    manifest's ``from_pixels`` (``x = pixel * scale + offset``)."""
    return prepare(gray).pixels


def naive_resize(gray: np.ndarray) -> np.ndarray:
    """What an app does without the contract: the whole picture squashed to 28x28 (area
    average). Reported beside the contract, to show what the contract is worth."""
    gray = np.asarray(gray)
    h, w = gray.shape
    rows = _area_weights(h, SIDE).astype(np.float64)
    cols = _area_weights(w, SIDE).astype(np.float64)
    total = np.rint(rows @ gray.astype(np.float64) @ cols.T).astype(np.int64)
    return ((total + (h * w) // 2) // (h * w)).astype(np.uint8)
