"""The accuracy an app's users see: each artifact on drawn digits, through the contract.

MNIST's test set is MNIST's own pixels; an app has a canvas or a camera frame. For every row,
bench also scores the artifact on the drawn-digits set (``data/drawn.py``: the first
``APP_PATH_IMAGES`` test digits redrawn at an app's size, place, stroke, polarity and frame
shape) twice: prepared by the preprocessing contract (``edgedigits.preprocess``: what
``from_image`` in the manifest tells an app to do), and squashed whole to 28x28 (what an app
does without it); and on the same digits as MNIST has them, the figure to hold them to. The
pictures are made once per bench (about 2 ms each) and shared by every artifact, each file
scored on them once, in the first runtime that runs it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgedigits.contract.preprocessing import NAME as CONTRACT
from edgedigits.runtimes.batching import infer_as_deployed
from edgedigits.zoo import ModelSpec

__all__ = ["APP_PATH_IMAGES", "APP_PATH_SEED", "AppPath", "markdown"]

APP_PATH_IMAGES = 1000  # drawn digits per bench (fewer when the bench scores fewer test images)
APP_PATH_SEED = 37


class AppPath:
    """The drawn pictures, prepared both ways, and the scoring of one runner on them."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, n: int = APP_PATH_IMAGES):
        self._source = (images, labels, min(n, len(images)))
        self._prepared: tuple[np.ndarray, ...] | None = None
        self.strokes: list[str] = []  # per drawn digit: "thin", "as drawn" or "thick"
        self.inverted: list[bool] = []  # per drawn digit: dark ink on a light ground
        self.stroke_widths: list[float | None] = []  # per drawn digit, as the contract measured
        self._scored: set[Any] = set()

    def first_time(self, artifact: Any) -> bool:
        """Whether ``artifact`` has not been scored yet: the drawn digits are scored once per
        file, in the first runtime that runs it (the report's section shows that row)."""
        if artifact in self._scored:
            return False
        self._scored.add(artifact)
        return True

    def prepared(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(MNIST's own 28x28s, contract 28x28s, naive 28x28s, labels), made on first use."""
        if self._prepared is None:
            from edgedigits.data.drawn import drawn_digits
            from edgedigits.preprocess import naive_resize, prepare

            images, labels, n = self._source
            drawn = drawn_digits(images, labels, n, seed=APP_PATH_SEED)
            self.strokes = [d.stroke for d in drawn]
            self.inverted = [d.inverted for d in drawn]
            prepared = [prepare(d.pixels) for d in drawn]
            self.stroke_widths = [p.stroke_width for p in prepared]
            self._prepared = (
                images[:n],
                np.stack([p.pixels for p in prepared]),
                np.stack([naive_resize(d.pixels) for d in drawn]),
                np.array([d.label for d in drawn]),
            )
        return self._prepared

    def predictions(self, spec: ModelSpec, runner: Any, batch: int) -> dict[str, np.ndarray]:
        """The runner's digits on the three inputs: ``mnist``, ``contract``, ``naive``."""
        mnist, contract, naive, _labels = self.prepared()
        return {
            key: infer_as_deployed(runner, spec.preprocess(pixels), batch=batch).outputs.argmax(1)
            for key, pixels in (("mnist", mnist), ("contract", contract), ("naive", naive))
        }

    def score(self, spec: ModelSpec, runner: Any, batch: int) -> dict[str, Any]:
        """Accuracy (%) of one loaded runner on the same digits three ways: MNIST's own pixels
        (``app_path_mnist_accuracy``), drawn and prepared by the contract
        (``app_path_accuracy``), drawn and squashed (``naive_path_accuracy``)."""
        labels = self.prepared()[3]
        digits = self.predictions(spec, runner, batch)
        out: dict[str, Any] = {"app_path_images": len(labels)}
        for key, name in (
            ("app_path_mnist_accuracy", "mnist"),
            ("app_path_accuracy", "contract"),
            ("naive_path_accuracy", "naive"),
        ):
            out[key] = round(100.0 * float(np.mean(digits[name] == labels)), 2)
        return out


def markdown(doc: dict[str, Any]) -> list[str]:
    """The report's section: per artifact (its first runtime's row), MNIST accuracy on the same
    digits, through the contract, and the naive resize."""
    from pathlib import Path

    from edgedigits.markdown import table

    seen, rows = set(), []
    for r in doc["results"]:
        if r["status"] != "ok" or r.get("app_path_accuracy") is None or r["artifact"] in seen:
            continue
        seen.add(r["artifact"])
        rows.append(
            [
                r["model"],
                Path(r["artifact"]).name,
                r["runtime"],
                f"{r['app_path_mnist_accuracy']:.2f}",
                f"{r['app_path_accuracy']:.2f}",
                f"{r['app_path_accuracy'] - r['app_path_mnist_accuracy']:+.2f}",
                f"{r['naive_path_accuracy']:.2f}",
            ]
        )
    if not rows:
        return []
    n = next(r["app_path_images"] for r in doc["results"] if r.get("app_path_images"))
    return [
        "## The app path: drawn digits",
        "",
        f"{n} MNIST test digits redrawn as an app gets them (a canvas or a camera frame: 35-90% "
        "of its height, anywhere, thin to thick strokes, a quarter dark on light; "
        "`edgedigits/data/drawn.py`), prepared by the preprocessing contract "
        f"(`{CONTRACT}`, the manifest's `from_image`) and, beside it, squashed "
        "whole to 28x28. *MNIST %*: the same artifact on the same digits as MNIST has them.",
        "",
        *table(
            ["model", "artifact", "runtime", "MNIST %", "app path %", "Δ pts", "naive resize %"],
            rows,
            align="lllrrrr",
        ),
        "",
    ]
