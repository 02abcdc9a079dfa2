"""The quantization doctor: which layer breaks a quantized artifact, in each format, and why.

``diagnose.py`` runs the pipeline; ``layers.py`` finds each Keras layer's tensor in a ``.tflite``
and a QDQ ``.onnx`` and reads it; ``metrics.py`` holds the error measures; ``lint.py`` finds the
known pitfalls on the Keras model before any conversion.
"""

from edgedigits.doctor.diagnose import DoctorReport, FormatResult, LayerError, diagnose
from edgedigits.doctor.lint import LintFinding, lint, lint_artifact, lint_model

__all__ = [
    "DoctorReport",
    "FormatResult",
    "LayerError",
    "LintFinding",
    "diagnose",
    "lint",
    "lint_artifact",
    "lint_model",
]
