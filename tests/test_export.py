"""Export: every format x recipe on a quickly trained MLP and CNN, checked independently.

The module fixture trains two small models for 2 epochs on 10,000 images and exports everything
once; tests then re-check the files with their runtimes, not by trusting the exporter's numbers.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from edgedigits.data import load_dataset
from edgedigits.errors import DiskFullError, ModelFileError, UnknownNameError, UsageError
from edgedigits.export import (
    FORMAT_RECIPES,
    RECIPE_INFO,
    FinetuneOptions,
    Format,
    Recipe,
    export,
    model_optimization,
    tflite_flatbuffer,
    to_c,
)
from edgedigits.runtimes import runner_for
from edgedigits.training import load_trained_model, model_path, train
from edgedigits.verify import verify
from edgedigits.zoo import get_spec

pytestmark = pytest.mark.integration  # trains or exports models

MODELS = ("seed003_ann64_relu", "edge_cnn_tiny")  # a small MLP and a small CNN
FINETUNE = FinetuneOptions(epochs=1, samples=5000)
QUIET = dict(log=lambda _msg: None)
CHECK_IMAGES = 1000


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    train(MODELS, out=out, epochs=2, limit=10000, verbose=0, **QUIET)
    report = export(
        MODELS,
        formats="all",
        recipes="all,int8-fixed",
        out=out,
        finetune=FINETUNE,
        calibration_samples=200,
        **QUIET,
    )
    return out, report


def _keras_reference(out, name, x):
    model = load_trained_model(model_path(out, name))
    return np.asarray(model.predict(x, verbose=0))


# Every recipe but int8-mixed, which needs --keep-float layers (tests/test_doctor.py).
EXPORTED = {f: [r for r in FORMAT_RECIPES[f] if r != Recipe.INT8_MIXED] for f in Format}


def _expected_pairs():
    return [(m, f, r) for m in MODELS for f in Format for r in EXPORTED[f]]


def test_every_format_and_recipe_exported(exported):
    out, report = exported
    got = {(r.model, r.format, r.recipe): r for r in report.records}
    assert set(got) == {(m, f.value, r.value) for m, f, r in _expected_pairs()}
    failed = {k: v.reason for k, v in got.items() if not v.ok}
    assert not failed
    assert not report.parity_failures, [(r.file, r.parity) for r in report.parity_failures]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("fmt", [Format.TFLITE, Format.ONNX])
def test_parity_with_keras_checked_independently(exported, name, fmt):
    """Agreement >= 99% (float) / 97% (integer) with the Keras model, on 1,000 test images."""
    out, _ = exported
    spec = get_spec(name)
    ds = load_dataset()
    x = spec.preprocess(ds.test_images[:CHECK_IMAGES])
    reference = np.argmax(_keras_reference(out, name, x), axis=1)
    for recipe in EXPORTED[fmt]:
        path = out / name / f"{name}.{recipe.value}.{fmt.value}"
        with runner_for(path) as runner:
            predicted = np.argmax(runner.infer(x), axis=1)
        agreement = float(np.mean(predicted == reference))
        floor = RECIPE_INFO[recipe].tolerance.min_agreement  # the promise, vs the trained model
        assert agreement >= floor, f"{path.name}: {agreement:.4f} < {floor}"


def test_manifest_matches_files(exported):
    out, _ = exported
    for name in MODELS:
        manifest = json.loads((out / name / "manifest.json").read_text())
        assert manifest["schema"] == "edgedigits.manifest/2"
        assert manifest["labels"] == [str(d) for d in range(10)]
        assert manifest["preprocessing"]["scale"] == pytest.approx(1 / 255)
        assert manifest["preprocessing"]["input_shape"] == [None, *get_spec(name).input_shape]
        source = out / name / f"{name}.keras"
        assert manifest["source_model"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        assert manifest["tools"]["tensorflow"] == "2.21.0" and "tf2onnx" in manifest["tools"]
        assert manifest["calibration"]["split"] == "train"
        assert manifest["command"].startswith("python: edgedigits.export(")
        assert len(manifest["artifacts"]) == len([p for p in _expected_pairs() if p[0] == name])
        for entry in manifest["artifacts"]:
            data = (out / name / entry["file"]).read_bytes()
            assert entry["sha256"] == hashlib.sha256(data).hexdigest(), entry["file"]
            assert entry["size_bytes"] == len(data)
            assert entry["inputs"] and entry["outputs"]
            assert entry["inputs"][0]["shape"][1:] == list(get_spec(name).input_shape)
            if entry["format"] in ("tflite", "onnx", "ort"):  # verified as an app runs it
                # one image per call: a .tflite (fixed batch of 1) and ONNX dynamic-range files
                # (one activation scale per batch); the rest score in batches of 256
                one_at_a_time = entry["format"] == "tflite" or entry["recipe"] == "dynamic"
                assert entry["parity"]["batch"] == (1 if one_at_a_time else 256), entry["file"]
                assert entry["batch"] == (1 if entry["format"] == "tflite" else "dynamic")
            quantized_io = entry["recipe"] in ("int8", "qat", "int8-fixed") and entry[
                "format"
            ] not in ("onnx", "ort")
            assert ("quantization" in entry["inputs"][0]) == quantized_io, entry["file"]
            if quantized_io:
                assert entry["inputs"][0]["dtype"] == "int8"
                assert entry["inputs"][0]["quantization"]["scale"] == pytest.approx(
                    1 / 255, rel=1e-3
                )


def test_int8_calibration_never_uses_test_images(exported):
    """The recorded hash is of the images the converters were fed: they must be the training
    images at the recorded indices, not the test images at the same positions."""
    from edgedigits.data import load_dataset
    from edgedigits.export.calibration import calibration_set

    out, _ = exported
    recorded = json.loads((out / MODELS[0] / "manifest.json").read_text())["calibration"]
    spec, data = get_spec(MODELS[0]), load_dataset()
    chosen = calibration_set(spec, data, recorded["samples"], recorded["seed"]).indices
    assert hashlib.sha256(chosen.astype("<i8").tobytes()).hexdigest() == recorded["indices_sha256"]

    def digest(images):
        return hashlib.sha256(
            np.ascontiguousarray(spec.preprocess(images), "<f4").tobytes()
        ).hexdigest()

    assert recorded["images_sha256"] == digest(data.train_images[chosen])
    assert recorded["images_sha256"] != digest(data.test_images[chosen % data.num_test])


def test_tflite_carries_labels_and_preprocessing(exported):
    out, _ = exported
    for name in MODELS:
        for recipe in EXPORTED[Format.TFLITE]:
            data = (out / name / f"{name}.{recipe.value}.tflite").read_bytes()
            meta = tflite_flatbuffer.read_edgedigits(data)
            assert meta["labels"] == [str(d) for d in range(10)]
            assert meta["preprocessing"]["formula"] == "x = pixel / 255"
            assert meta["model"]["recipe"] == recipe.value
            assert all(offset % 16 == 0 for offset in tflite_flatbuffer.buffer_alignments(data))


def test_onnx_is_checked_named_and_batch_dynamic(exported):
    import onnx

    out, _ = exported
    proto = onnx.load(str(out / "edge_cnn_tiny" / "edge_cnn_tiny.float32.onnx"))
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {p.key for p in proto.metadata_props} >= {
        "edgedigits.labels",
        "edgedigits.preprocessing",
    }
    int8 = onnx.load(str(out / "edge_cnn_tiny" / "edge_cnn_tiny.int8.onnx"))
    assert any(n.op_type == "QuantizeLinear" for n in int8.graph.node)  # QDQ format
    weights = [
        onnx.numpy_helper.to_array(t)
        for t in int8.graph.initializer
        if t.data_type == onnx.TensorProto.INT8 and t.dims
    ]
    assert weights and all(-64 <= w.min() and w.max() <= 64 for w in weights)  # 7-bit: no
    # saturation in ONNX Runtime's AVX2 (non-VNNI) kernels


def test_pruning_zeros_survive_and_compress(exported):
    out, report = exported
    for name in MODELS:
        rec = next(
            r for r in report.records if (r.model, r.format, r.recipe) == (name, "tflite", "pruned")
        )
        assert rec.details["wrappers_stripped"]
        targets = rec.details["layer_target_sparsity"]
        for layer, target in targets.items():  # kernels under 300 weights are kept dense
            assert rec.details["layer_achieved_sparsity"][layer] == pytest.approx(target, abs=0.02)
        assert set(rec.details["kept_dense"]) == {k for k, v in targets.items() if v == 0}
        assert rec.details["achieved_kernel_sparsity"] >= 0.45
        assert rec.details["tflite_weight_sparsity"] >= 0.45
        data = (out / name / rec.file).read_bytes()
        assert tflite_flatbuffer.weight_sparsity(data) == pytest.approx(
            rec.details["tflite_weight_sparsity"], abs=1e-4
        )
        dense = (out / name / f"{name}.float32.tflite").read_bytes()
        assert len(gzip.compress(data)) < 0.85 * len(gzip.compress(dense))


def test_clustering_limits_distinct_weights(exported):
    _, report = exported
    clustered = [r for r in report.records if r.recipe == "clustered" and r.format == "tflite"]
    assert len(clustered) == len(MODELS)  # one per model: the check below is never vacuous
    for rec in clustered:
        assert rec.details["max_distinct_values_per_kernel"] <= 16


def test_c_array_is_the_tflite_and_compiles(exported, tmp_path):
    out, _ = exported
    folder = out / "edge_cnn_tiny"
    source = (folder / "edge_cnn_tiny.int8.cc").read_text()
    assert "EDGEDIGITS_ALIGN16 const unsigned char g_edge_cnn_tiny_int8_model_data[]" in source
    assert "#define EDGEDIGITS_ALIGN16 alignas(16)" in source  # C++; _Alignas(16) in C11
    assert to_c.parse_c_array(source) == (folder / "edge_cnn_tiny.int8.tflite").read_bytes()
    assert (folder / "edge_cnn_tiny.int8.h").is_file()
    compiler = shutil.which("g++") or shutil.which("c++")
    if not compiler:
        pytest.skip("no C++ compiler on this machine to compile the generated source")
    subprocess.run(
        [
            compiler,
            "-std=c++11",
            "-c",
            str(folder / "edge_cnn_tiny.int8.cc"),
            "-o",
            str(tmp_path / "model.o"),
        ],
        check=True,
    )


def _one_image_client(path):
    """An app's client, written here without edgedigits' runners: one image per call."""
    if path.suffix == ".tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        inp, outp = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

        def run(image):
            interpreter.set_tensor(inp["index"], image[None].astype(inp["dtype"]))
            interpreter.invoke()
            return interpreter.get_tensor(outp["index"])[0]

        return run, inp, outp
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return (lambda image: session.run(None, {name: image[None]})[0][0]), None, None


def test_golden_vectors_replay_one_image_at_a_time(exported):
    """Every golden vector of every recipe and format, replayed as an app runs it: batch 1."""
    out, _ = exported
    replayed = 0
    for name in MODELS:
        spec = get_spec(name)
        golden = json.loads((out / name / "golden.json").read_text())
        assert [img["label"] for img in golden["images"]] == list(range(10))
        assert "one image per call" in golden["how_to_use"]
        pixels = np.array([img["pixels"] for img in golden["images"]], dtype=np.uint8)
        x = spec.preprocess(pixels.reshape(-1, 28, 28))
        manifest = json.loads((out / name / "manifest.json").read_text())
        assert {a["file"] for a in manifest["artifacts"]} == set(golden["artifacts"])
        for entry in manifest["artifacts"]:
            if entry["format"] not in ("tflite", "onnx"):
                continue  # the .cc files hold the same bytes as the .tflite
            expected = golden["artifacts"][entry["file"]]
            assert expected["sha256"] == entry["sha256"]
            run, inp, outp = _one_image_client(out / name / entry["file"])
            for k, image in enumerate(x):
                if inp is not None and np.dtype(inp["dtype"]).kind == "i":
                    (s_in, z_in), (s_out, z_out) = inp["quantization"], outp["quantization"]
                    q = np.clip(np.round(image / s_in) + z_in, -128, 127).astype(np.int8)
                    raw = run(q)
                    np.testing.assert_allclose(
                        raw,
                        expected["expected_raw"][k],
                        atol=expected["atol_raw"],
                        err_msg=entry["file"],
                    )
                    got = (raw.astype(np.float32) - z_out) * s_out
                else:
                    got = run(image)
                np.testing.assert_allclose(
                    got,
                    np.array(expected["expected"][k]),
                    atol=expected["atol"] + 1e-6,
                    err_msg=f"{entry['file']} image {k}",
                )
                assert int(np.argmax(got)) == expected["predicted"][k], entry["file"]
                replayed += 1
    recipes_per_model = sum(len(EXPORTED[f]) for f in (Format.TFLITE, Format.ONNX))
    assert replayed == 10 * len(MODELS) * recipes_per_model


def test_export_twice_is_byte_identical(exported, tmp_path):
    out, report = exported
    again = tmp_path / "again"
    shutil.copytree(out / "edge_cnn_tiny", again / "edge_cnn_tiny")
    second = export(
        ["edge_cnn_tiny"],
        formats="all",
        recipes="all,int8-fixed",
        out=again,
        finetune=FINETUNE,
        calibration_samples=200,
        **QUIET,
    )
    first = {r.file: r.sha256 for r in report.records if r.model == "edge_cnn_tiny"}
    # Every format but ORT, whose serializer orders the same graph differently each time (its
    # records say reproducible: false; tests/test_ort.py proves each .ort converts its .onnx).
    assert {r.file: r.sha256 for r in second.records if r.reproducible} == {
        f: h for f, h in first.items() if not f.endswith(".ort")
    }
    assert {r.file for r in second.records if not r.reproducible} == {
        f for f in first if f.endswith(".ort")
    }


def test_failed_write_leaves_no_artifact_and_keeps_the_old_one(exported, tmp_path, monkeypatch):
    from pathlib import Path

    out, _ = exported
    work = tmp_path / "w"
    shutil.copytree(out / "seed003_ann64_relu", work / "seed003_ann64_relu")
    folder = work / "seed003_ann64_relu"
    old_float = (folder / "seed003_ann64_relu.float32.tflite").read_bytes()
    real_write = Path.write_bytes

    def disk_full(self, data):
        if ".tmp" in self.name and self.name.endswith((".onnx", ".tflite")):
            real_write(self, data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    manifest_before = (folder / "manifest.json").read_bytes()
    with pytest.raises(
        DiskFullError,
        match=f"^{folder}: no space left on the device while "
        "making an artifact; the folder keeps the files",
    ):
        export(
            ["seed003_ann64_relu"],
            formats="tflite,onnx",
            recipes="float32,int8",
            out=work,
            calibration_samples=200,
            **QUIET,
        )
    monkeypatch.undo()  # a full disk stops the export: it is not one recipe's failure
    assert (folder / "seed003_ann64_relu.float32.tflite").read_bytes() == old_float
    assert (folder / "manifest.json").read_bytes() == manifest_before
    assert not [p for p in folder.iterdir() if ".tmp" in p.name]
    assert [p.name for p in work.iterdir() if not p.name.endswith(".lock")] == [
        "seed003_ann64_relu"
    ]  # no work or stage folder left beside it
    assert verify([str(folder)]).passed


def test_one_failing_recipe_does_not_stop_the_others(exported, tmp_path, monkeypatch):
    out, _ = exported
    shutil.copytree(out / "edge_cnn_tiny", tmp_path / "edge_cnn_tiny")

    def unsupported(*_args, **_kwargs):
        raise ValueError("Layer MaxPooling2D is not supported by the quantizer")

    monkeypatch.setitem(model_optimization.OPTIMIZERS, Recipe.QAT, unsupported)
    folder = tmp_path / "edge_cnn_tiny"
    qat = folder / "edge_cnn_tiny.qat.tflite"
    qat_before = hashlib.sha256(qat.read_bytes()).hexdigest()
    report = export(
        ["edge_cnn_tiny"],
        formats="tflite",
        recipes="int8,qat,float16",
        out=tmp_path,
        finetune=FINETUNE,
        calibration_samples=200,
        **QUIET,
    )
    status = {r.recipe: (r.status, r.reason) for r in report.records}
    assert status["qat"] == (
        "failed",
        "ValueError: Layer MaxPooling2D is not supported by the "
        "quantizer (the earlier edge_cnn_tiny.qat.tflite and its "
        "record are kept)",
    )
    assert status["int8"][0] == "ok" and status["float16"][0] == "ok"
    # The failed attempt leaves the good file and its good record untouched.
    assert hashlib.sha256(qat.read_bytes()).hexdigest() == qat_before
    manifest = json.loads((folder / "manifest.json").read_text())
    record = next(a for a in manifest["artifacts"] if a["file"] == qat.name)
    assert record["status"] == "ok" and record["sha256"] == qat_before
    golden = json.loads((folder / "golden.json").read_text())
    assert golden["artifacts"][qat.name]["sha256"] == qat_before
    # Without an earlier file, the failure is recorded as such.
    qat.unlink()
    export(
        ["edge_cnn_tiny"], formats="tflite", recipes="qat", out=tmp_path, finetune=FINETUNE, **QUIET
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [a["status"] for a in manifest["artifacts"] if a["file"] == qat.name] == ["failed"]


def test_bad_input_errors(exported, tmp_path, monkeypatch):
    from edgedigits.zoo import pretrained as shipped

    monkeypatch.setattr(shipped, "index", dict)  # as if no weights shipped
    out, _ = exported
    with pytest.raises(
        UnknownNameError, match="--format tf: unknown format; choose from tflite, onnx, c, ort, all"
    ):
        export(["edge_cnn_tiny"], formats="tf", out=out, **QUIET)
    with pytest.raises(
        UnknownNameError, match="--quant int4: unknown recipe; choose from float32, float16"
    ):
        export(["edge_cnn_tiny"], recipes="int4", out=out, **QUIET)
    with pytest.raises(UnknownNameError, match="--quant qat: not offered by --format onnx"):
        export(["edge_cnn_tiny"], formats="onnx", recipes="qat", out=out, **QUIET)
    with pytest.raises(UnknownNameError, match="unknown model 'nope'"):
        export(["nope"], out=out, **QUIET)
    with pytest.raises(UsageError, match="--opset 9: choose 13-18"):
        export(["edge_cnn_tiny"], opset=9, out=out, **QUIET)
    with pytest.raises(
        ModelFileError,
        match=r"not trained yet: seed004_cnn .*run 'edgedigits "
        r"train seed004_cnn --out .*' first, or add --train",
    ):
        export(["seed004_cnn"], out=out, **QUIET)
    corrupt = tmp_path / "edge_cnn_tiny"
    corrupt.mkdir()
    (corrupt / "edge_cnn_tiny.keras").write_bytes(b"PK\x03\x04truncated")
    with pytest.raises(
        ModelFileError,
        match=r"edge_cnn_tiny\.keras: not a readable \.keras "
        "zip",
    ):
        export(["edge_cnn_tiny"], out=tmp_path, **QUIET)
    assert sorted(p.name for p in corrupt.iterdir()) == ["edge_cnn_tiny.keras"]


def test_train_flag_trains_missing_models(tmp_path, monkeypatch):
    from edgedigits import training

    calls = []

    def short_train(names, **kwargs):  # the real trainer, cut to 1 epoch on 500 images
        calls.append(list(names))
        return train(names, **{**kwargs, "epochs": 1, "limit": 500, "verbose": 0})

    monkeypatch.setattr(training, "train", short_train)  # export imports it when --train asks
    report = export(["seed004_mlp12"], out=tmp_path, train_missing=True, **QUIET)
    assert calls == [["seed004_mlp12"]]
    assert [r.file for r in report.records if r.ok] == ["seed004_mlp12.float32.tflite"]


def test_cli_reports_parity_failures_and_exits_1(exported, tmp_path, monkeypatch, capsys):
    from dataclasses import replace

    from edgedigits.cli import main

    out, _ = exported
    shutil.copytree(out / "edge_cnn_tiny", tmp_path / "edge_cnn_tiny")
    for recipe in (Recipe.FLOAT16, Recipe.INT8):
        info = RECIPE_INFO[recipe]
        monkeypatch.setitem(
            RECIPE_INFO, recipe, replace(info, tolerance=replace(info.tolerance, max_abs_diff=0.0))
        )  # valid, unmeetable
    code = main(
        [
            "export",
            "edge_cnn_tiny",
            "--quant",
            "float16,int8",
            "--out",
            str(tmp_path),
            "--calibration-samples",
            "100",
            "--verify-samples",
            "200",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    for file in ("edge_cnn_tiny.float16.tflite", "edge_cnn_tiny.int8.tflite"):
        assert re.search(
            f"parity outside tolerance: {re.escape(file)}: max abs diff "
            r"[0-9.e-]+ > 0$",
            err,
            re.MULTILINE,
        ), err


def test_batchnorm_models_get_qat_and_a_repaired_int8(tmp_path, monkeypatch):
    """seed000_deep_mlp has a BatchNormalization after a ReLU: QAT folds it first (tfmot refused
    it), and --auto-fix exports int8-fixed when int8 fails parity (forced to fail here)."""
    import dataclasses

    name = "seed000_deep_mlp"
    # Trained enough for QAT's fine-tune to keep the fine-tuned recipes' promise against it: a
    # 1-epoch model on 3,000 images moves under any fine-tune (90.2% agreement, measured).
    train([name], out=tmp_path, epochs=2, limit=10000, verbose=0, **QUIET)
    int8, qat = RECIPE_INFO[Recipe.INT8], RECIPE_INFO[Recipe.QAT]
    # int8 held to an unmeetable (valid) max abs diff of 0...
    monkeypatch.setitem(
        RECIPE_INFO,
        Recipe.INT8,
        dataclasses.replace(int8, tolerance=dataclasses.replace(int8.tolerance, max_abs_diff=0.0)),
    )
    # ...and QAT's conversion to an untouched integer row with int8's promise
    monkeypatch.setitem(
        RECIPE_INFO, Recipe.QAT, dataclasses.replace(qat, converts_as=Recipe.INT8_FIXED)
    )
    report = export(
        [name],
        formats="tflite",
        recipes="int8,qat",
        out=tmp_path,
        finetune=FinetuneOptions(epochs=1, samples=2000),
        calibration_samples=200,
        auto_fix=True,
        **QUIET,
    )
    by_recipe = {r.recipe: r for r in report.records}
    assert by_recipe["qat"].ok, by_recipe["qat"].reason
    assert by_recipe["qat"].details["rewrite"] == ["batch_normalization: folded into dense_3"]
    assert not by_recipe["int8"].parity["passed"]  # the forced failure stays in the report...
    fixed = by_recipe["int8-fixed"]
    assert fixed.parity["passed"] and report.repaired_by(by_recipe["int8"]) is fixed
    assert report.all_good  # ...and the repair is what makes the export good
    assert fixed.details["fixes"] == ["batch_normalization: folded into dense_3"]
    assert fixed.details["rewrite_max_abs_diff"] < 1e-4
    assert fixed.details["auto_fix_of"]["tflite"]["file"] == f"{name}.int8.tflite"
    manifest = json.loads((tmp_path / name / "manifest.json").read_text())
    assert {a["recipe"] for a in manifest["artifacts"]} == {"int8", "qat", "int8-fixed"}


def test_models_exported_in_processes_match_in_process(tmp_path):
    """--jobs 2: each model in its own spawned process, with the same files and golden outputs
    as one process, and the workers' log lines streamed back."""
    lines, names = [], ("seed003_ann64_relu", "seed004_cnn")  # shipped weights: no training
    options = dict(formats="tflite,onnx", recipes="float32,int8", calibration_samples=100)
    export(names, out=tmp_path / "one", jobs=1, **options, **QUIET)
    report = export(names, out=tmp_path / "two", jobs=2, log=lines.append, **options)
    assert all(r.ok for r in report.records) and len(report.records) == 8
    assert [r.model for r in report.records] == [n for n in names for _ in range(4)]
    assert any("in 2 processes" in line for line in lines)
    assert {line.split("(process")[0] for line in lines if "(process" in line} == {
        "[1/2] exporting seed003_ann64_relu ",
        "[2/2] exporting seed004_cnn ",
    }
    assert any("seed004_cnn int8:" in line for line in lines)  # a worker's progress line
    for name in names:
        one = json.loads((tmp_path / "one" / name / "golden.json").read_text())["artifacts"]
        two = json.loads((tmp_path / "two" / name / "golden.json").read_text())["artifacts"]
        assert set(one) == set(two) and len(one) == 4
        assert all(one[f]["expected"] == two[f]["expected"] for f in one)
