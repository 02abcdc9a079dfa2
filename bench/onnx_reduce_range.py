"""Benchmark: int8 and dynamic ONNX accuracy with 8-bit and with 7-bit (``reduce_range``) weights.

    python bench/onnx_reduce_range.py --out exports [MODEL ...]   # default: the default pipeline

Needs each model's exported ``float32.onnx`` under ``--out``. Quantizes it four times the way
``edgedigits export`` does (int8: static QDQ, per-channel, int8 activations and weights, 500
calibration images; dynamic: int8 MatMul/Gemm weights), once with full 8-bit weights and once
with ``reduce_range`` (7-bit), and scores them and the float32 file on the full 10,000-image
test set in ONNX Runtime's CPU provider. On an x86 CPU without VNNI (see ``cpu_flags`` in the
report), ONNX Runtime's u8s8 kernels saturate int16 pair sums with 8-bit weights. Writes
``bench/results/onnx_reduce_range.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from edgedigits.markdown import table as markdown_table

RESULTS = Path(__file__).resolve().parent / "results"
CALIBRATION_IMAGES = 500


def accuracies(model: str, out: Path) -> dict[str, float]:
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edgedigits.data import load_dataset
    from edgedigits.zoo import get_spec

    data, spec = load_dataset(), get_spec(model)
    calibration = spec.preprocess(data.train_images[:CALIBRATION_IMAGES]).astype(np.float32)
    images = spec.preprocess(data.test_images).astype(np.float32)
    source = out / model / f"{model}.float32.onnx"
    if not source.is_file():
        raise SystemExit(f"{source}: not found (export the model first)")
    name = ort.InferenceSession(str(source)).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(range(0, CALIBRATION_IMAGES, 50))

        def get_next(self):
            k = next(self.batches, None)
            return None if k is None else {name: calibration[k : k + 50]}

    def accuracy(path: str) -> float:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        outputs = np.concatenate(
            [
                session.run(None, {name: images[k : k + 1000]})[0]
                for k in range(0, len(images), 1000)
            ]
        )
        return round(float((outputs.argmax(1) == data.test_labels).mean() * 100), 2)

    result = {"float32": accuracy(str(source))}
    with tempfile.TemporaryDirectory() as tmp:
        pre = f"{tmp}/pre.onnx"
        quant_pre_process(str(source), pre, skip_symbolic_shape=True)
        for label, reduce_range in (("int8, 8-bit weights", False), ("int8, 7-bit weights", True)):
            path = f"{tmp}/{reduce_range}.onnx"
            quantize_static(
                pre,
                path,
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                reduce_range=reduce_range,
            )
            result[label] = accuracy(path)
        for label, reduce_range in (
            ("dynamic, 8-bit weights", False),
            ("dynamic, 7-bit weights", True),
        ):
            path = f"{tmp}/dynamic{reduce_range}.onnx"
            quantize_dynamic(
                pre,
                path,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Gemm"],
                reduce_range=reduce_range,
            )
            result[label] = accuracy(path)
    return result


def main(argv=None) -> int:
    from edgedigits.benchmark import machine_info
    from edgedigits.model_files import DEFAULT_MODELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="exports")
    parser.add_argument("models", nargs="*", default=list(DEFAULT_MODELS))
    args = parser.parse_args(argv)
    rows = {model: accuracies(model, Path(args.out)) for model in args.models}
    info = machine_info()
    command = "python bench/onnx_reduce_range.py --out DIR" + (
        "" if args.models == list(DEFAULT_MODELS) else " " + " ".join(args.models)
    )
    columns = list(next(iter(rows.values())))
    lines = [
        "# ONNX int8 and dynamic: 8-bit against 7-bit (reduce_range) weights",
        "",
        f"`{command}` on {info['cpu']} ({info.get('cpu_id', '?')}; ISA flags "
        f"{', '.join(info.get('cpu_flags', []))}), ONNX Runtime "
        f"{info['packages'].get('onnxruntime')}, CPU provider, full test set. Accuracy %:",
        "",
        *markdown_table(
            ["model", *columns],
            [[model, *(f"{r[c]:.2f}" for c in columns)] for model, r in rows.items()],
            "l" + "r" * len(columns),
        ),
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "onnx_reduce_range.json").write_text(
        json.dumps({"machine": info, "command": command, "accuracy": rows}, indent=1) + "\n"
    )
    text = "\n".join(lines) + "\n"
    (RESULTS / "onnx_reduce_range.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
