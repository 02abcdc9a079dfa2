"""``ExportOptions``: everything that shapes an export except which models and which folders.

Modelled on ONNX Runtime's ``StaticQuantConfig`` + ``quantize(model_input, model_output,
quant_config)``: one typed object, checked in one place (``validate``) before any work, passed
whole to the per-model exporter instead of a dozen loose parameters. The CLI builds one from its
flags; Python callers may build one or pass its fields as keywords to ``export()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from edgedigits.errors import UsageError
from edgedigits.export import to_onnx, to_ort
from edgedigits.export.calibration import DEFAULT_CALIBRATION_SAMPLES
from edgedigits.export.model_optimization import FinetuneOptions
from edgedigits.export.recipes import Format, Recipe, parse_formats, parse_recipes
from edgedigits.mcu_budget import MCUBudget
from edgedigits.model_files import check_seed

DEFAULT_VERIFY_SAMPLES = 1000


@dataclass
class ExportOptions:
    """What to export and how (every field has the CLI's default).

    Attributes:
        formats: ``"tflite,onnx"``-style names, a list of them, or ``"all"``.
        recipes: recipe names (``--quant``), a list of them, or ``"all"``.
        calibration_samples: training images for int8 calibration.
        opset: ONNX opset.
        finetune: fine-tuning for ``qat``, ``pruned``, ``clustered`` (default: one epoch, with
            ``seed``).
        verify_samples: test images each artifact is checked on at export time.
        seed: calibration sampling and fine-tuning seed.
        auto_fix: export a repaired sibling when an int8 file fails parity.
        keep_float: Keras layers ``int8-mixed`` leaves in float (comma lists work).
        budget: microcontroller budget for C arrays.
        ort_style: ONNX Runtime Mobile optimization style, ``fixed`` or ``runtime``.
        onnx_batch: None (dynamic batch) or 1 (fixed batch, for NNAPI and CoreML).
        train_missing: train models that are not trained yet instead of failing.
        jobs: models exported at once, each in its own process (None: one per CPU core when
            several models need fine-tuning, else 1; see ``exporter.export_workers``).
    """

    formats: str | Sequence[str] = "tflite"
    recipes: str | Sequence[str] = "float32"
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES
    opset: int = to_onnx.DEFAULT_OPSET
    finetune: FinetuneOptions | None = None
    verify_samples: int = DEFAULT_VERIFY_SAMPLES
    seed: int = 0
    auto_fix: bool = False
    keep_float: Sequence[str] = ()
    budget: MCUBudget = field(default_factory=MCUBudget)
    ort_style: str = to_ort.DEFAULT_STYLE
    onnx_batch: int | None = None
    train_missing: bool = False
    jobs: int | None = None  # models exported at once (None: one per core when fine-tuning)

    @property
    def format_list(self) -> list[Format]:
        return parse_formats(self.formats)

    @property
    def recipe_list(self) -> list[Recipe]:
        return parse_recipes(self.recipes, self.format_list)

    @property
    def keep_float_layers(self) -> list[str]:
        return [k.strip() for part in self.keep_float for k in str(part).split(",") if k.strip()]

    @property
    def finetune_options(self) -> FinetuneOptions:
        return self.finetune or FinetuneOptions(seed=self.seed)

    def validate(self) -> None:
        """Every option, with its flag's name, before any work (the data-dependent sample
        counts are checked by ``export()`` once the data is loaded)."""
        formats, recipes = self.format_list, self.recipe_list  # unknown names list the valid
        self.budget.validate()
        if self.onnx_batch not in (None, 1):
            raise UsageError(f"--onnx-batch {self.onnx_batch}: only 1 (a fixed batch of one "
                             "image) is offered; leave it out for a dynamic batch")
        if self.ort_style not in to_ort.STYLES:
            raise UsageError(f"--ort-style {self.ort_style}: choose from "
                             f"{', '.join(to_ort.STYLES)}")
        if self.budget and Format.C not in formats:
            raise UsageError(f"{self.budget.flags()}: budgets apply to C arrays; add c to "
                             "--format")
        check_seed(self.seed)
        if self.jobs is not None and (isinstance(self.jobs, bool) or not isinstance(
                self.jobs, int) or self.jobs < 1):
            raise UsageError(f"--jobs {self.jobs}: must be a whole number, at least 1")
        self.finetune_options.validate()
        if not to_onnx.MIN_OPSET <= self.opset <= to_onnx.MAX_OPSET:
            raise UsageError(f"--opset {self.opset}: choose {to_onnx.MIN_OPSET}-"
                             f"{to_onnx.MAX_OPSET}")
        if self.calibration_samples < 1:
            raise UsageError(f"--calibration-samples {self.calibration_samples}: must be at "
                             "least 1")
        if self.verify_samples < 1:
            raise UsageError(f"--verify-samples {self.verify_samples}: must be at least 1")
        if (Recipe.INT8_MIXED in recipes) != bool(self.keep_float_layers):
            raise UsageError("--quant int8-mixed needs --keep-float LAYER[,LAYER], and "
                             "--keep-float applies to --quant int8-mixed only")
