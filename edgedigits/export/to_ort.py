"""ONNX -> ORT format, the flatbuffer ONNX Runtime Mobile loads (no protobuf parser, faster load).

This is what ``python -m onnxruntime.tools.convert_onnx_models_to_ort`` does for one model, done
here through ONNX Runtime's session API so that nothing is written beside the exports: the tool
puts temporary folders into the *source* folder even with ``--output_dir``; we convert in a
private temporary folder and hand back bytes, which the exporter lands atomically like every
artifact.

Settings are the tool's defaults for a model that will run on a phone: all graph optimizations,
the NCHWc transformer excluded (it makes x86-only graphs), QDQ int8 kept as the tool does
without ``--target_platform arm``. Two optimization styles, as in the tool:

* ``fixed`` (the tool's general recommendation, and ours): optimizations are applied before
  saving, for the CPU execution provider;
* ``runtime``: basic optimizations applied, the rest saved for replay at load, for compiling
  execution providers (NNAPI, CoreML) that take an unknown set of nodes. Replay needs the session
  option ``session.enable_saved_runtime_optimizations``, which ONNX Runtime advises only for
  trusted models.

``operator_config`` writes ``required_operators.config``, the file a reduced-operator build of
ONNX Runtime (``--include_ops_by_config``) takes, for every ``.ort`` in a model folder.
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path

from edgedigits.errors import ModelFileError, first_line

STYLES = ("fixed", "runtime")
DEFAULT_STYLE = "fixed"
CONFIG_NAME = "required_operators.config"
# What ONNX Runtime's Python ORT-format reader raises on a damaged flatbuffer.
ORT_READER_ERRORS = (
    struct.error,
    TypeError,
    ValueError,
    UnicodeDecodeError,
    IndexError,
    KeyError,
    AttributeError,
    RecursionError,
    OverflowError,
)
_DISABLED_OPTIMIZERS = ["NchwcTransformer"]  # x86-only layouts; the tool drops it for phones
NOT_REPRODUCIBLE = (
    "ONNX Runtime serializes ORT files in an order that varies between "
    "conversions of the same graph (seen here); the record's SHA-256 pins this "
    "file"
)
CONVERSION_ATOL = 1e-5  # measured: .ort vs its .onnx 0.0 with the same optimizers (below)


def convert(onnx_bytes: bytes, style: str = DEFAULT_STYLE) -> bytes:
    """The ORT-format bytes of an ONNX model (``style``: ``fixed`` or ``runtime``)."""
    import onnxruntime as ort

    if style not in STYLES:
        raise ValueError(f"ORT optimization style {style!r}: choose from {', '.join(STYLES)}")
    with tempfile.TemporaryDirectory(prefix="edgedigits-ort-") as tmp:
        source, target = Path(tmp) / "model.onnx", Path(tmp) / "model.ort"
        source.write_bytes(onnx_bytes)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(target)
        options.add_session_config_entry("session.save_model_format", "ORT")
        options.add_session_config_entry("session.qdqisint8allowed", "0")
        if style == "runtime":
            options.add_session_config_entry("optimization.minimal_build_optimizations", "save")
        ort.InferenceSession(
            str(source),
            sess_options=options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=_DISABLED_OPTIMIZERS,
        )
        return target.read_bytes()


def check_conversion(ort_path: Path, onnx_path: Path, x) -> float:
    """Prove the ``.ort`` is the conversion of this ``.onnx``: same outputs on the verify images
    (within ``CONVERSION_ATOL``, same class) in ONNX Runtime. Returns the max abs difference.

    The ``.onnx`` runs with the optimizers the conversion left out disabled too, so both run
    one graph. With x86's NCHWc layout on the ``.onnx`` side only, the float Conv outputs move by
    ~1e-6, and a dynamic recipe's activation quantization can round such a difference up to a
    whole step: on one AVX2 machine a 1-epoch edge_cnn_tiny's dynamic ``.ort`` differed by
    7.7e-4 that way; with the same optimizers the difference was 0."""
    import numpy as np

    from edgedigits.runtimes.batching import infer_batched
    from edgedigits.runtimes.onnxruntime import OnnxRuntimeRunner

    with (
        OnnxRuntimeRunner(ort_path) as ort_runner,
        OnnxRuntimeRunner(
            onnx_path, disabled_optimizers=tuple(_DISABLED_OPTIMIZERS)
        ) as onnx_runner,
    ):
        got, want = infer_batched(ort_runner, x), infer_batched(onnx_runner, x)
    diff = float(np.max(np.abs(got.astype(np.float64) - want)))
    if diff > CONVERSION_ATOL or not np.array_equal(got.argmax(1), want.argmax(1)):
        raise RuntimeError(
            f"not the conversion of its .onnx: outputs differ by {diff:.3g} "
            f"(allowed {CONVERSION_ATOL:g}, same class)"
        )
    return float(f"{diff:.3g}")


def operator_config(ort_files: Sequence[Path]) -> str:
    """``required_operators.config`` text for these ``.ort`` files: one ``domain;opset;ops``
    line per domain and opset (ONNX Runtime's own extraction), header comments naming the files
    by name only so the text depends on the models, not on where they sit."""
    import logging

    from onnxruntime.tools.ort_format_model import create_config_from_models

    logging.getLogger("ort_format_model.utils").setLevel(logging.WARNING)  # its "Created config"
    with tempfile.TemporaryDirectory(prefix="edgedigits-ort-config-") as tmp:
        target = Path(tmp) / CONFIG_NAME
        try:
            create_config_from_models([Path(p) for p in ort_files], target, False)
        except ORT_READER_ERRORS as exc:
            # ONNX Runtime's Python flatbuffer reader follows a damaged file's offsets into
            # struct and decode errors: name the file, in one line.
            bad = next((p for p in ort_files if not _readable(p, Path(tmp))), ort_files[0])
            raise ModelFileError(
                f"{bad}: not a readable ORT flatbuffer ({type(exc).__name__}: "
                f"{first_line(exc, 100)})"
            ) from None
        lines = target.read_text(encoding="utf-8").splitlines()
    body = [line for line in lines if line and not line.startswith("#")]
    header = ["# Generated by edgedigits from ONNX Runtime's own operator extraction, for:"]
    header += [f"# - {Path(p).name}" for p in sorted(ort_files, key=lambda p: Path(p).name)]
    return "\n".join(header + body) + "\n"


def _readable(path: Path, tmp: Path) -> bool:
    from onnxruntime.tools.ort_format_model import create_config_from_models

    try:
        create_config_from_models([Path(path)], tmp / "one.config", False)
    except ORT_READER_ERRORS:
        return False
    return True


def config_operators(text: str) -> dict[str, list[str]]:
    """``{"ai.onnx;13": ["Conv", ...]}`` from a config file's text."""
    ops: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            domain, opset, names = line.split(";", 2)
            ops[f"{domain};{opset}"] = names.split(",")
    return ops


VERDICTS = {"YES": "yes", "MAYBE": "partial", "NO": "no"}


def mobile_usability(onnx_path: Path) -> dict[str, dict]:
    """ONNX Runtime's own mobile-usability check, per execution provider.

    The analysis ``python -m onnxruntime.tools.check_onnx_model_mobile_usability`` logs, kept as
    data: for NNAPI (Android) and CoreML (iOS; the NeuralNetwork and MLProgram formats), its
    verdict on the file as it is (``yes``, ``partial`` for its MAYBE, ``no``) and the reason in
    its own counts: nodes the provider can take, partitions, nodes lost to unsupported operators
    or to dynamic shapes. Run on the ONNX graph after basic optimization, as the tool does.
    """
    from onnxruntime.tools.mobile_helpers import usability_checker as uc
    from onnxruntime.tools.onnx_model_utils import ModelProtoWithShapeInfo, optimize_model

    checks = {
        "nnapi": lambda m: uc.check_nnapi_partitions(m, True),
        "coreml_neuralnetwork": lambda m: uc.check_coreml_partitions(
            m, True, "coreml_supported_neuralnetwork_ops.md"
        ),
        "coreml_mlprogram": lambda m: uc.check_coreml_partitions(
            m, True, "coreml_supported_mlprogram_ops.md"
        ),
    }
    with tempfile.TemporaryDirectory(prefix="edgedigits-usability-") as tmp:
        optimized = Path(tmp) / "model.onnx"
        optimize_model(Path(onnx_path), optimized, use_external_initializers=True)
        model = ModelProtoWithShapeInfo(optimized).model_with_shape_info
        result = {}
        for ep, check in checks.items():
            info = check(model)
            reasons = [
                f"{info.num_supported_nodes}/{info.num_nodes} nodes in "
                f"{info.num_partitions} partition(s)"
            ]
            if info.nodes_unsupported_due_to_dynamic_input:
                reasons.append(
                    f"{info.nodes_unsupported_due_to_dynamic_input} node(s) lost to "
                    f"a dynamic shape (export with --onnx-batch 1)"
                )
            if info.unsupported_ops:
                reasons.append(f"unsupported operators: {', '.join(sorted(info.unsupported_ops))}")
            result[ep] = {
                "verdict": VERDICTS[info.suitability().name],
                "reason": "; ".join(reasons),
            }
    return result
