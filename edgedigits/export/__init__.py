"""Export: trained Keras models -> TFLite / ONNX / C artifacts, each verified, with manifests.

Where things live: ``recipes.py`` (the format and recipe enums and per-recipe tolerances),
``calibration.py`` (int8 representative data), ``to_tflite.py``, ``to_onnx.py``, ``to_c.py``
(one converter each), ``model_optimization.py`` (QAT, pruning, clustering with tfmot),
``tflite_flatbuffer.py`` (labels and preprocessing inside the .tflite, sparsity checks),
``manifest.py``,
``golden.py`` and ``exporter.py`` (the ``export`` function tying them together).
"""

from edgedigits.contract.recipes import FORMAT_RECIPES, RECIPE_INFO, Format, Recipe
from edgedigits.export.exporter import ExportReport, export
from edgedigits.export.manifest import ArtifactRecord
from edgedigits.export.model_optimization import FinetuneOptions
from edgedigits.export.options import ExportOptions

__all__ = ["ArtifactRecord", "ExportOptions", "ExportReport", "FORMAT_RECIPES", "FinetuneOptions",
           "Format",
           "RECIPE_INFO", "Recipe", "export"]
