"""The golden vectors, checked: golden.json is the file the manifest recorded, its images are
real, no entry allows more than its recipe promises, and every entry replays, one image per call,
in the artifact's runtime."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgedigits.model_files import file_sha256


class GoldenChecks:
    """The golden-vector checks of one model folder (mixed into ``FolderCheck``)."""

    def check_golden_hash(self) -> None:
        """golden.json is the file the manifest recorded: images, expected outputs and
        tolerances cannot be changed together without the manifest's hash changing too."""
        info = self.manifest.get("golden")
        if not isinstance(info, dict) or not isinstance(info.get("sha256"), str):
            self.problem(
                "golden.json",
                "golden",
                "the manifest records no SHA-256 for it "
                "(exported by an older edgedigits: re-export)",
            )
        elif file_sha256(self.folder / "golden.json") != info["sha256"]:
            self.problem(
                "golden.json",
                "golden",
                "differs from the manifest's SHA-256 (changed since export)",
            )

    def check_golden_images(self) -> bool:
        """Every golden image is 28x28 uint8 pixels: one problem for the shared file."""
        from edgedigits.data.sources import IMAGE_SHAPE

        size = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
        for k, image in enumerate(self.golden.get("images", [])):
            pixels = image.get("pixels") if isinstance(image, dict) else None
            ok = (
                isinstance(pixels, list)
                and len(pixels) == size
                and all(
                    isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 255 for p in pixels
                )
            )
            if not ok:
                count = len(pixels) if isinstance(pixels, list) else 0
                self.problem(
                    "golden.json",
                    "golden",
                    f"image {k} is not {size} pixels 0-255 ({count} values): nothing replayed",
                )
                return False
        return True

    def check_tolerance(self, name: str, record: dict[str, Any], entry: dict[str, Any]) -> bool:
        """The golden entry allows no more than its recipe promises (contract/recipes.py)."""
        from edgedigits.contract.recipes import RECIPE_INFO, Recipe

        try:
            promised = RECIPE_INFO[Recipe(record["recipe"])].golden_atol
        except (ValueError, KeyError):
            self.problem(name, "golden", f"unknown recipe {record.get('recipe')!r}")
            return False
        ok = True
        atol = entry.get("atol")
        if (
            not isinstance(atol, (int, float))
            or isinstance(atol, bool)
            or not 0 <= atol <= promised * (1 + 1e-9)
        ):
            self.problem(
                name,
                "golden",
                f"atol {atol!r} is looser than the {record['recipe']} "
                f"recipe promises ({promised:g})",
            )
            ok = False
        raw = entry.get("atol_raw", 1)
        if "expected_raw" in entry and (
            not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= 1
        ):
            self.problem(name, "golden", f"atol_raw {raw!r} is looser than one integer step")
            ok = False
        return ok

    def replay(self, name: str, runner: Any, entry: dict[str, Any]) -> None:
        """Each golden image through the manifest's preprocessing, one image per call."""
        from edgedigits.runtimes import quantize

        pre = self.manifest.get("preprocessing", {})
        shape = [1, *pre.get("input_shape", [None, 784])[1:]]
        pixels = np.array([img["pixels"] for img in self.golden["images"]], dtype=np.float64)
        x = (pixels * pre.get("scale", 1 / 255) + pre.get("offset", 0.0)).astype(np.float32)
        expected = np.asarray(entry["expected"], dtype=np.float64)
        if len(expected) != len(x):
            self.problem(name, "golden", f"{len(expected)} expected outputs for {len(x)} images")
            return
        if not np.all(np.isfinite(expected)):
            # max() would step over a NaN: a non-finite expected value is never a pass
            self.problem(name, "golden", "golden.json's expected outputs hold NaN or infinity")
            return
        raw_expected = entry.get("expected_raw")
        worst, wrong, not_finite = 0.0, [], []
        for k in range(len(x)):
            xk = x[k].reshape(shape)
            got = np.asarray(runner.infer(xk)[0], dtype=np.float64)
            if not np.all(np.isfinite(got)):
                not_finite.append(k)
                continue
            worst = max(worst, float(np.max(np.abs(got - expected[k]))))
            if int(np.argmax(got)) != int(entry["predicted"][k]):
                wrong.append(k)
            if raw_expected is not None:
                raw = runner.infer_raw(quantize(xk, runner.inputs[0]))[0].astype(np.int64)
                raw_diff = int(np.max(np.abs(raw - np.asarray(raw_expected[k]))))
                if raw_diff > entry.get("atol_raw", 1):
                    self.problem(
                        name,
                        "golden",
                        f"image {k}: raw output differs by {raw_diff} "
                        f"(allowed {entry.get('atol_raw', 1)})",
                    )
        if not_finite:
            self.problem(name, "golden", f"outputs hold NaN or infinity on image(s) {not_finite}")
        if not math.isfinite(worst) or worst > entry["atol"]:
            self.problem(
                name,
                "golden",
                f"outputs differ from the golden vectors by up to "
                f"{worst:.3g} (allowed {entry['atol']:g})",
            )
        if wrong:
            self.problem(name, "golden", f"predicted class differs on golden image(s) {wrong}")
