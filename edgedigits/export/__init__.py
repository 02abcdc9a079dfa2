"""Export: trained Keras models -> TFLite / ONNX / ORT / C artifacts, each verified, with
manifests.

Where things live: ``exporter.py`` (``export()``: the loop over models and recipes) runs four
stages, ``optimize.py`` (the Keras model a recipe converts), ``convert.py`` (bytes per format,
through ``to_tflite.py``, ``to_onnx.py``, ``to_ort.py``, ``to_c.py``), ``check.py`` (each file
run where apps run it and judged) and ``record.py`` (its manifest record, landed by
``artifact_store.py``), over what a model's recipes share (``model_context.py``).
``options.py`` holds ``ExportOptions`` and the plan of jobs, ``report.py`` the
``ExportReport``, ``manifest.py`` and ``golden.py`` the records with their JSON Schemas. What each
recipe needs and promises is the contract's (``edgedigits.contract``).
"""

from edgedigits.contract.recipes import FORMAT_RECIPES, RECIPE_INFO, Format, Recipe
from edgedigits.export.exporter import export
from edgedigits.export.manifest import ArtifactRecord, read_manifest
from edgedigits.export.model_optimization import FinetuneOptions
from edgedigits.export.options import ExportOptions
from edgedigits.export.report import ExportReport

__all__ = [
    "FORMAT_RECIPES",
    "RECIPE_INFO",
    "ArtifactRecord",
    "ExportOptions",
    "ExportReport",
    "FinetuneOptions",
    "Format",
    "Recipe",
    "export",
    "read_manifest",
]
