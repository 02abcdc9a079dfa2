"""``ExportOptions``: everything that shapes an export except which models and which folders.

Modelled on ONNX Runtime's ``StaticQuantConfig`` + ``quantize(model_input, model_output,
quant_config)``: one typed object, checked in one place (``validate``) before any work, passed
whole to the per-model exporter instead of a dozen loose parameters. The CLI builds one from its
flags; Python callers may build one or pass its fields as keywords to ``export()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from edgedigits.contract.recipes import FORMAT_RECIPES, Format, Recipe, parse_formats, parse_recipes
from edgedigits.contract.targets import (
    DEFAULT_IO,
    DEFAULT_TFLITE_BATCH,
    INTEGER_IO_RECIPES,
    TARGETS,
    Target,
    Variant,
    parse_batch,
    parse_io,
    parse_targets,
)
from edgedigits.errors import UsageError
from edgedigits.export import to_onnx, to_ort
from edgedigits.export.calibration import DEFAULT_CALIBRATION_SAMPLES
from edgedigits.export.model_optimization import FinetuneOptions
from edgedigits.mcu_budget import MCUBudget
from edgedigits.model_files import check_seed

DEFAULT_VERIFY_SAMPLES = 1000
SHAPED_FORMATS = (Format.TFLITE, Format.C)  # the formats --io and --batch shape (TFLite bytes)


@dataclass(frozen=True)
class Job:
    """One file to write: a format, a recipe, and (TFLite and C) the I/O and batch it has."""

    format: Format
    recipe: Recipe
    variant: Variant


@dataclass
class ExportOptions:
    """What to export and how (every field has the CLI's default).

    Attributes:
        formats: ``"tflite,onnx"``-style names, a list of them, or ``"all"`` (default: tflite,
            or with ``targets`` every format they take; with both, a filter on the targets').
        recipes: recipe names (``--quant``), a list of them, or ``"all"`` (default: float32, or
            with ``targets`` every recipe they take; with both, a filter).
        targets: ``web``, ``mobile``, ``mcu``, ``server`` or ``all`` (``--target``): the
            formats, recipes and tensor conventions each app runtime accepts (``targets.py``).
        io: input/output type of full-integer TFLite files and C arrays: int8, uint8 or float32
            (default: the target's, else int8).
        batch: batch dimension of TFLite files: a number or ``"dynamic"`` (default: the
            target's, else 1). C arrays are always batch 1.
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

    formats: str | Sequence[str] | None = None
    recipes: str | Sequence[str] | None = None
    targets: str | Sequence[str] = ()
    io: str | None = None
    batch: str | int | None = None
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
    def target_list(self) -> list[Target]:
        return parse_targets(self.targets)

    @property
    def plan(self) -> list[Job]:
        """Every file to write, in recipe order: formats x recipes, or what the targets take.

        A job's variant is normalized (float I/O for recipes with float I/O; the default for
        formats --io and --batch do not shape), so two targets that take the same file share
        one job."""
        io, batch = parse_io(self.io), parse_batch(self.batch)
        targets = self.target_list
        if not targets:
            formats = parse_formats(self.formats or "tflite")
            recipes = parse_recipes(self.recipes or "float32", formats)
            variant = Variant(io or DEFAULT_IO, DEFAULT_TFLITE_BATCH if batch == "unset" else batch)
            wanted = [
                Job(f, r, variant) for r in recipes for f in formats if r in FORMAT_RECIPES[f]
            ]
        else:
            formats = parse_formats(self.formats) if self.formats else None
            recipes = parse_recipes(self.recipes, formats or list(Format)) if self.recipes else None
            wanted = []
            for target in targets:
                info = TARGETS[target]
                variant = Variant(
                    io or info.variant.io, info.variant.batch if batch == "unset" else batch
                )
                wanted += [
                    Job(f, r, variant)
                    for r in info.recipes
                    for f in info.formats
                    if r in FORMAT_RECIPES[f]
                    and (formats is None or f in formats)
                    and (recipes is None or r in recipes)
                ]
            if not wanted:
                raise UsageError(
                    f"--target {','.join(t.value for t in targets)}: no file left "
                    "after --format/--quant; those targets take "
                    f"{self._offered(targets)}"
                )
        jobs = [
            Job(
                j.format,
                j.recipe,
                j.variant.for_recipe(j.recipe)
                if j.format in SHAPED_FORMATS
                else Variant().for_recipe(j.recipe),
            )
            for j in wanted
        ]
        order = list(Recipe)
        return sorted(dict.fromkeys(jobs), key=lambda j: order.index(j.recipe))

    @staticmethod
    def _offered(targets: list[Target]) -> str:
        return "; ".join(
            f"{t.value}: {','.join(f.value for f in TARGETS[t].formats)} x "
            f"{','.join(r.value for r in TARGETS[t].recipes)}"
            for t in targets
        )

    @property
    def format_list(self) -> list[Format]:
        return list(dict.fromkeys(j.format for j in self.plan))

    @property
    def recipe_list(self) -> list[Recipe]:
        return list(dict.fromkeys(j.recipe for j in self.plan))

    @property
    def keep_float_layers(self) -> list[str]:
        return [k.strip() for part in self.keep_float for k in str(part).split(",") if k.strip()]

    @property
    def finetune_options(self) -> FinetuneOptions:
        return self.finetune or FinetuneOptions(seed=self.seed)

    def validate(self) -> None:
        """Every option, with its flag's name, before any work (the data-dependent sample
        counts are checked by ``export()`` once the data is loaded)."""
        plan = self.plan  # unknown names list the valid ones
        formats, recipes = self.format_list, self.recipe_list
        io, batch = parse_io(self.io), parse_batch(self.batch)
        if io is not None and not any(
            j.recipe in INTEGER_IO_RECIPES and j.format in SHAPED_FORMATS for j in plan
        ):
            raise UsageError(
                f"--io {io.value}: applies to full-integer TFLite files and C arrays "
                f"({', '.join(r.value for r in INTEGER_IO_RECIPES)}); none is "
                "exported here"
            )
        if batch != "unset" and Format.TFLITE not in formats:
            raise UsageError(
                f"--batch {self.batch}: shapes TFLite files; add tflite to --format "
                "(ONNX files take --onnx-batch, C arrays are batch 1)"
            )
        if batch != DEFAULT_TFLITE_BATCH and batch != "unset" and Format.C in formats:
            raise UsageError(
                f"--batch {self.batch}: C arrays are batch 1 (TensorFlow Lite Micro "
                "runs one fixed-shape image per call); leave --batch out or export "
                "c separately"
            )
        self.budget.validate()
        if self.onnx_batch not in (None, 1):
            raise UsageError(
                f"--onnx-batch {self.onnx_batch}: only 1 (a fixed batch of one "
                "image) is offered; leave it out for a dynamic batch"
            )
        if self.ort_style not in to_ort.STYLES:
            raise UsageError(
                f"--ort-style {self.ort_style}: choose from {', '.join(to_ort.STYLES)}"
            )
        if self.budget and Format.C not in formats:
            raise UsageError(f"{self.budget.flags()}: budgets apply to C arrays; add c to --format")
        check_seed(self.seed)
        if self.jobs is not None and (
            isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1
        ):
            raise UsageError(f"--jobs {self.jobs}: must be a whole number, at least 1")
        self.finetune_options.validate()
        if not to_onnx.MIN_OPSET <= self.opset <= to_onnx.MAX_OPSET:
            raise UsageError(
                f"--opset {self.opset}: choose {to_onnx.MIN_OPSET}-{to_onnx.MAX_OPSET}"
            )
        if self.calibration_samples < 1:
            raise UsageError(
                f"--calibration-samples {self.calibration_samples}: must be at least 1"
            )
        if self.verify_samples < 1:
            raise UsageError(f"--verify-samples {self.verify_samples}: must be at least 1")
        if (Recipe.INT8_MIXED in recipes) != bool(self.keep_float_layers):
            raise UsageError(
                "--quant int8-mixed needs --keep-float LAYER[,LAYER], and "
                "--keep-float applies to --quant int8-mixed only"
            )
