"""Keras -> TFLite flatbuffer for each recipe: one function mapping a recipe to converter settings.

Input and output stay float32 for every recipe except the full-integer ones (``int8``, ``qat``,
``int8-fixed``, ``int8-mixed``), whose input and output type is the variant's ``io``: int8 by
default, so a microcontroller never touches a float; uint8 or float32 (quantize and dequantize
inside the file) for runtimes that refuse int8 tensors (LiteRT.js). The runner and the manifest
carry the scale and zero point to convert.

The batch dimension is fixed (1 by default) unless the variant asks for a dynamic one: the model
is traced as one signature, ``serving_default``, whose input is named ``image`` and whose output
is named for what it holds (``probabilities`` or ``logits``), so an app's signature runner reads
the same names from every file. A dynamic batch keeps Keras' own names (``from_keras_model``).
"""

from __future__ import annotations

from typing import Any

from edgedigits._tf import native_stderr_silenced, tensorflow
from edgedigits.contract.recipes import Recipe
from edgedigits.contract.targets import IO, Variant
from edgedigits.export.calibration import CalibrationSet

SIGNATURE_KEY = "serving_default"
INPUT_NAME = "image"


def _io_type(io: IO) -> Any:
    tf = tensorflow()
    return {IO.INT8: tf.int8, IO.UINT8: tf.uint8, IO.FLOAT32: tf.float32}[io]


def configure(
    converter: Any, recipe: Recipe, calibration: CalibrationSet | None, io: IO = IO.INT8
) -> None:
    """Set ``converter`` up for ``recipe`` (mutates it); ``io``: full-integer recipes' I/O."""
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
        converter.inference_input_type = _io_type(io)
        converter.inference_output_type = _io_type(io)
    elif recipe == Recipe.INT16X8:
        converter.representative_dataset = calibration.batches
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
    else:  # pragma: no cover - the Recipe enum is closed
        raise ValueError(recipe)


def converter_for(model: Any, batch: int | None, output_name: str) -> Any:
    """A converter for ``model`` with a fixed ``batch`` (a traced signature with our names) or
    a dynamic one (None: Keras' own signature)."""
    tf = tensorflow()
    if batch is None:
        return tf.lite.TFLiteConverter.from_keras_model(model)
    spec = tf.TensorSpec([batch, *model.input_shape[1:]], tf.float32, name=INPUT_NAME)

    @tf.function(input_signature=[spec])
    def serve(image):
        return {output_name: model(image, training=False)}

    return tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], model)


def convert(
    model: Any,
    recipe: Recipe,
    calibration: CalibrationSet | None = None,
    variant: Variant = Variant(),
    output_name: str = "output",
) -> bytes:
    """Convert a (possibly fine-tuned and stripped) tf_keras model to TFLite bytes."""
    import warnings

    variant = variant.for_recipe(recipe)
    converter = converter_for(model, variant.batch, output_name)
    configure(converter, recipe, calibration, variant.io)
    with warnings.catch_warnings(), native_stderr_silenced():
        # "Statistics for quantized inputs were expected": harmless for int8 I/O, we quantize
        # inputs with the scale the converter writes into the model.
        warnings.simplefilter("ignore", UserWarning)
        return bytes(converter.convert())


def convert_keeping_float(
    model: Any,
    calibration: CalibrationSet,
    keep: list[str],
    variant: Variant = Variant(),
    output_name: str = "output",
) -> bytes:
    """Full-integer int8 (``variant.io`` input and output) except the ops of the Keras layers in
    ``keep``, which stay float with quantize/dequantize around them: selective quantization through
    TFLite's QuantizationDebugger, whose ``denylisted_nodes`` are op output tensor names of the
    calibrated model; those are found from the layer names the converter keeps in them."""
    import warnings

    from edgedigits.doctor.layers import layers_named

    tf = tensorflow()
    converter = converter_for(model, variant.batch, output_name)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calibration.batches
    converter.inference_input_type = _io_type(variant.io)
    converter.inference_output_type = _io_type(variant.io)
    options = tf.lite.experimental.QuantizationDebugOptions(fully_quantize=True)
    with warnings.catch_warnings(), native_stderr_silenced():
        warnings.simplefilter("ignore", UserWarning)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=calibration.batches, debug_options=options
        )
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
