"""The quantization doctor: which layer breaks a quantized artifact, in each format, and why.

``diagnose.py`` runs the pipeline; ``layers.py`` finds each Keras layer's tensor in a ``.tflite``
and a QDQ ``.onnx`` and reads it; ``metrics.py`` holds the error measures.
"""

from edgedigits.doctor.diagnose import DoctorReport, FormatResult, LayerError, diagnose

__all__ = ["DoctorReport", "FormatResult", "LayerError", "diagnose"]
