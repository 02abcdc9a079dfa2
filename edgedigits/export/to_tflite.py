"""Keras -> TFLite flatbuffer for each recipe: one function mapping a recipe to converter settings.

Input and output stay float32 for every recipe except the full-integer ones (``int8``, ``qat``),
whose input and output are int8 so a microcontroller never touches a float; the runner and the
manifest carry the scale and zero point to convert.
"""

from __future__ import annotations

from typing import Any

from edgedigits._tf import native_stderr_silenced, tensorflow
from edgedigits.export.calibration import CalibrationSet
from edgedigits.export.recipes import Recipe


def configure(converter: Any, recipe: Recipe, calibration: CalibrationSet | None) -> None:
    """Set ``converter`` up for ``recipe`` (mutates it)."""
    tf = tensorflow()
    if recipe in (Recipe.FLOAT32, Recipe.PRUNED, Recipe.CLUSTERED):
        return  # plain float32: pruning and clustering pay off after compression, not here
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if recipe == Recipe.FLOAT16:
        converter.target_spec.supported_types = [tf.float16]
    elif recipe == Recipe.DYNAMIC:
        pass  # Optimize.DEFAULT without data = dynamic-range quantization
    elif recipe in (Recipe.INT8, Recipe.INT8_FIXED, Recipe.QAT):
        # QAT models carry their learned activation ranges; the converter still wants
        # representative data to fix the int8 input and output tensors.
        converter.representative_dataset = calibration.batches
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif recipe == Recipe.INT16X8:
        converter.representative_dataset = calibration.batches
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    else:  # pragma: no cover - the Recipe enum is closed
        raise ValueError(recipe)


def convert(model: Any, recipe: Recipe, calibration: CalibrationSet | None = None) -> bytes:
    """Convert a (possibly fine-tuned and stripped) tf_keras model to TFLite bytes."""
    import warnings

    tf = tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    configure(converter, recipe, calibration)
    with warnings.catch_warnings(), native_stderr_silenced():
        # "Statistics for quantized inputs were expected": harmless for int8 I/O, we quantize
        # inputs with the scale the converter writes into the model.
        warnings.simplefilter("ignore", UserWarning)
        return bytes(converter.convert())


def convert_keeping_float(model: Any, calibration: CalibrationSet, keep: list[str]) -> bytes:
    """Full-integer int8 (int8 input and output) except the ops of the Keras layers in ``keep``,
    which stay float with quantize/dequantize around them: selective quantization through
    TFLite's QuantizationDebugger, whose ``denylisted_nodes`` are op output tensor names of the
    calibrated model; those are found from the layer names the converter keeps in them."""
    import warnings

    from edgedigits.doctor.layers import layers_named

    tf = tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration.batches
    options = tf.lite.experimental.QuantizationDebugOptions(fully_quantize=True)
    with warnings.catch_warnings(), native_stderr_silenced():
        warnings.simplefilter("ignore", UserWarning)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=calibration.batches, debug_options=options)
        from ai_edge_litert.interpreter import Interpreter

        calibrated = Interpreter(model_content=debugger.calibrated_model)
        calibrated.allocate_tensors()
        details = {d["index"]: d["name"] for d in calibrated.get_tensor_details()}
        names = [details[t] for op in calibrated._get_ops_details() for t in op["outputs"]]
        nodes = [n for n in names if set(layers_named(n, set(keep))) & set(keep)]
        missing = [k for k in keep if not any(k in layers_named(n, {k}) for n in nodes)]
        if missing:
            raise ValueError(f"no TFLite op found for layer(s) {missing}")
        options.denylisted_nodes = nodes
        return bytes(debugger.get_nondebug_quantized_model())
