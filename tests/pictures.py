"""Pictures for the preprocessing tests: the drawn-digits set plus the edge cases the contract
documents (an empty canvas, a dot, a digit on the border, inverted polarity, 320x240, 1x1 and a
4000x3000 frame), and the file layout examples/web/preprocess_check.mjs and
tests/from_image_main.c read (little-endian width, height, then the gray bytes)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from edgedigits.data import load_dataset
from edgedigits.data.drawn import drawn_digits


def edge_cases() -> dict[str, np.ndarray]:
    data = load_dataset()
    seven = data.test_images[0]
    big = np.kron(seven, np.ones((60, 60), np.uint8))  # 1680x1680 light-on-dark
    frame = np.full((3000, 4000), 205, np.uint8)  # a 12 MP photo of dark ink on paper
    frame[600:2280, 1100:2780] = 205 - (big.astype(np.int32) * 170 // 255).astype(np.uint8)
    rows, cols = np.flatnonzero(seven.any(1)), np.flatnonzero(seven.any(0))
    ink = np.kron(seven[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], np.ones((6, 6), np.uint8))
    touching = np.zeros((240, 320), np.uint8)
    touching[: ink.shape[0], : ink.shape[1]] = ink  # the ink's box starts at the corner
    dot = np.zeros((280, 280), np.uint8)
    dot[100, 200] = 255
    drawn = drawn_digits(data.test_images, data.test_labels, 3, seed=11)[2].pixels
    specks = np.zeros((3, 50000), np.uint8)
    specks[1, 1] = specks[1, 49998] = 255
    return {
        "empty": np.zeros((280, 280), np.uint8),
        "white": np.full((280, 280), 255, np.uint8),
        "dot": dot,
        "touching-border": touching,
        "inverted": 255 - drawn,
        "upright": drawn,
        "320x240": np.pad(np.kron(seven, np.ones((5, 5), np.uint8)), ((50, 50), (90, 90))),
        "1x1-dark": np.zeros((1, 1), np.uint8),
        "1x1-light": np.full((1, 1), 255, np.uint8),
        "1x320": np.tile(np.arange(320, dtype=np.uint8)[None], (1, 1)),
        "noise": np.random.default_rng(3).integers(0, 256, (240, 320)).astype(np.uint8),
        "4000x3000": frame,
        "specks-3x50000": specks,  # two ink pixels 49,997 apart: nothing survives the fit
    }


def canvases(n_drawn: int = 200) -> list[np.ndarray]:
    data = load_dataset()
    drawn = [d.pixels for d in drawn_digits(data.test_images, data.test_labels, n_drawn, seed=5)]
    return drawn + list(edge_cases().values())


def write_pictures(pictures: list[np.ndarray], path: Path) -> Path:
    with open(path, "wb") as f:
        for p in pictures:
            f.write(struct.pack("<II", p.shape[1], p.shape[0]))
            f.write(np.ascontiguousarray(p).tobytes())
    return path


def read_results(path: Path) -> np.ndarray:
    """(N, 786): no-ink flag, inverted flag, then the 784 pixels."""
    return np.frombuffer(path.read_bytes(), np.uint8).reshape(-1, 786)
