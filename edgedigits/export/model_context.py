"""What every recipe of one model shares during an export, computed once on first use.

The trained Keras model, its hash, the verify and golden images and the trained model's outputs
on them (the reference every file is judged against), the calibration set, the lint findings,
and the layers ``int8-mixed`` keeps in float. Each export stage (``optimize.py``,
``convert.py``, ``check.py``, ``record.py``) reads it; none of them holds state of its own
beyond caches of what it made. Making one is cheap: nothing is loaded until a stage asks.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.contract.recipes import Format, Recipe
from edgedigits.data import Dataset
from edgedigits.export.calibration import CalibrationSet, calibration_set
from edgedigits.export.golden import golden_indices
from edgedigits.export.manifest import output_kind
from edgedigits.export.options import ExportOptions
from edgedigits.model_files import file_sha256, load_trained_model, model_path
from edgedigits.model_files.shapes import batch_for
from edgedigits.runtimes.batching import LARGE_BATCH
from edgedigits.zoo import ModelSpec


class ModelContext:
    """One model's export inputs; see the module docstring."""

    def __init__(
        self,
        spec: ModelSpec,
        out: Path,
        dataset: Dataset,
        options: ExportOptions,
        command: str,
        log: Callable[[str], None],
        work: Path,
    ):
        self.spec, self.out, self.dataset, self.options = spec, out, dataset, options
        self.work = work  # files are made and checked here, then committed into the folder
        self.command, self.log = command, log
        self.folder = out / spec.name
        self.source_path = model_path(out, spec.name)
        # Layers int8-mixed leaves in float: the flag's, until --auto-fix picks its own.
        self.keep_float, self.keep_float_reason = options.keep_float_layers, "--keep-float"

    @cached_property
    def base(self) -> Any:
        """The trained Keras model (safe mode, architecture checked)."""
        return load_trained_model(self.source_path, self.spec)

    def fresh_copy(self) -> Any:
        """The trained model loaded again: fine-tuning and rewrites change the model they get."""
        return load_trained_model(self.source_path, self.spec)

    @cached_property
    def source_sha256(self) -> str:
        return file_sha256(self.source_path)

    @cached_property
    def verify_x(self) -> np.ndarray:
        """The first ``verify_samples`` test images, preprocessed: what parity is judged on."""
        return self.spec.preprocess(self.dataset.test_images[: self._verify_count])

    @cached_property
    def verify_y(self) -> np.ndarray:
        return self.dataset.test_labels[: self._verify_count]

    @property
    def _verify_count(self) -> int:
        return min(self.options.verify_samples, self.dataset.num_test)

    @cached_property
    def base_verify(self) -> np.ndarray:
        """The trained model's outputs on ``verify_x``: what every file is judged against."""
        return self.keras_outputs(self.base, self.verify_x)

    @cached_property
    def golden_x(self) -> np.ndarray:
        return self.spec.preprocess(self.dataset.test_images[golden_indices(self.dataset)])

    @cached_property
    def calibration(self) -> CalibrationSet:
        return calibration_set(
            self.spec, self.dataset, self.options.calibration_samples, self.options.seed
        )

    @cached_property
    def lint(self) -> list[Any]:
        """The known pitfalls of this model for the requested recipes, logged once."""
        from edgedigits.doctor.lint import lint_model

        c_recipes = {j.recipe.value for j in self.options.plan if j.format == Format.C}
        findings = [
            f
            for f in lint_model(self.base, [r.value for r in self.options.recipe_list])
            if f.rule != "tflm-unsupported" or c_recipes & set(f.recipes)
        ]
        for finding in findings:
            self.log(f"  lint: {finding.line()}")
        return findings

    def lint_for(self, recipe: Recipe) -> list[str]:
        return [
            f"{f.severity}: {f.layer}: {f.message}" for f in self.lint if recipe.value in f.recipes
        ]

    @cached_property
    def scoring_batch(self) -> int:
        """Images per call when a file is scored in its runtime: the model's activations, not a
        constant, decide (``model_files.shapes.batch_for``)."""
        return batch_for(self.base, cap=LARGE_BATCH)

    def keras_outputs(self, model: Any, x: np.ndarray) -> np.ndarray:
        # the batch bench scores the reference at (benchmark.Benchmark.scoring_batch): the
        # same figures from the same arithmetic, float rounding included
        batch = batch_for(model, cap=LARGE_BATCH)
        return self.spec.probabilities(model.predict(x, batch_size=batch, verbose=0))

    def metadata(self, recipe: Recipe) -> dict[str, Any]:
        """What each file carries about itself (TFLite metadata, ONNX metadata_props); the
        labels are their own entry (``edgedigits.labels``)."""
        return {
            "model": self.spec.name,
            "recipe": recipe.value,
            "source_model_sha256": self.source_sha256,
            "output": output_kind(self.spec),
        }
