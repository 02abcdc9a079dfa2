"""Hostile and broken model files, through the real CLI: one line, exit 1, nothing written, and
no code from the file ever runs.

Nothing here trains: the files are small untrained models saved by Keras 3 or tf_keras, then
edited the way an attacker would. Payloads create a marker file if any of their code runs; the
marker must never appear. The payload cases run ``python -m edgedigits`` in a subprocess whose
working folder holds ``evil.py`` (tf_keras imports a module a config names from there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from notebook_models import keras_module

MARKER = "PWNED"
EVIL_PY = (
    f"open({MARKER!r}, 'w').close()\ndef system(*a, **k):\n    open({MARKER!r}, 'w').close()\n"
)


def _small_model(k: Any, **first_layer: Any) -> Any:
    return k.Sequential(
        [
            k.Input((784,)),
            k.layers.Dense(8, activation="relu", **first_layer),
            k.layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Good small files from both Keras versions, the base of every edit below."""
    folder = tmp_path_factory.mktemp("files")
    for writer in ("keras", "tf_keras"):
        k = keras_module(writer)
        k.utils.set_random_seed(0)
        model = _small_model(k)
        model.save(folder / f"small_{writer}.keras")
        model.save(folder / f"small_{writer}.h5")
    return folder


def _edit_keras(
    src: Path, dst: Path, edit: Callable[[dict], None], text: Callable[[str], str] = lambda t: t
) -> Path:
    """Copy a .keras zip with its config.json edited (as a document, then as text)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                doc = json.loads(data)
                edit(doc)
                data = text(json.dumps(doc)).encode()
            zout.writestr(item, data)
    return dst


def _first_dense(doc: dict) -> dict:
    return next(layer for layer in doc["config"]["layers"] if layer["class_name"] == "Dense")


def _run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])  # this checkout's package
    return subprocess.run(
        [sys.executable, "-m", "edgedigits", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _assert_refused(done: subprocess.CompletedProcess, *needles: str) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# -- payloads: code that would run if anything deserialized the file ------------------------------


def _payload_module(doc: dict) -> None:  # tf_keras would import evil.py from the working folder
    layer = _first_dense(doc)
    layer["module"] = "evil"


def _payload_os_system(doc: dict) -> None:
    _first_dense(doc)["config"]["activation"] = {
        "module": "os",
        "class_name": "function",
        "config": "system",
        "registered_name": "system",
    }


def _payload_builtins(doc: dict) -> None:
    _first_dense(doc)["config"]["kernel_initializer"] = {
        "module": "builtins",
        "class_name": "function",
        "config": "exec",
        "registered_name": "exec",
    }


def _payload_custom(doc: dict) -> None:
    layer = _first_dense(doc)
    layer["registered_name"] = "evil>Backdoor"


PAYLOADS = {
    "module-in-working-folder": (_payload_module, "names module 'evil'"),
    "os-system-activation": (_payload_os_system, "names module 'os'"),
    "builtins-initializer": (_payload_builtins, "names module 'builtins'"),
    "custom-registered-object": (_payload_custom, "custom object"),
}


@pytest.mark.parametrize("case", PAYLOADS)
@pytest.mark.parametrize("writer", ["keras", "tf_keras"])
def test_payload_config_is_refused_and_never_runs(files, tmp_path, case, writer):
    edit, needle = PAYLOADS[case]
    work = tmp_path / "work"
    work.mkdir()
    (work / "evil.py").write_text(EVIL_PY)
    payload = _edit_keras(files / f"small_{writer}.keras", work / "payload.keras", edit)
    done = _run_cli(["import", str(payload), "--out", "out"], work)
    _assert_refused(done, "payload.keras", needle)
    assert not (work / MARKER).exists()
    assert not (work / "out").exists()


def _lambda_marker(marker: str) -> Callable:
    def touch(x):  # pragma: no cover - must never run
        open(marker, "w").close()
        return x

    return touch


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("writer", ["keras", "tf_keras"])
def test_lambda_layer_is_refused_and_never_runs(tmp_path, writer, suffix):
    """A real Lambda saved by Keras (its bytecode in the file): refused by class, never called."""
    k = keras_module(writer)
    marker = tmp_path / "work" / MARKER
    (tmp_path / "work").mkdir()
    model = k.Sequential(
        [
            k.Input((784,)),
            k.layers.Lambda(_lambda_marker(str(marker))),
            k.layers.Dense(10, activation="softmax"),
        ]
    )
    if marker.exists():  # building the model called the lambda once; start clean
        marker.unlink()
    path = tmp_path / "work" / f"lambda{suffix}"
    model.save(path)
    done = _run_cli(["import", str(path), "--out", "out"], tmp_path / "work")
    _assert_refused(done, f"lambda{suffix}", "Lambda", "is code")
    assert not marker.exists()


# -- broken and unsupported files ----------------------------------------------------------------


def _unsupported_layer(folder: Path) -> Path:
    k = keras_module("keras")
    model = k.Sequential([k.Input((28, 28)), k.layers.LSTM(4), k.layers.Dense(10)])
    model.save(folder / "lstm.keras")
    return folder / "lstm.keras"


def _wrong_input(folder: Path) -> Path:
    k = keras_module("keras")
    model = k.Sequential([k.Input((32, 32, 3)), k.layers.Flatten(), k.layers.Dense(10)])
    model.save(folder / "cifar.keras")
    return folder / "cifar.keras"


def _two_inputs(folder: Path) -> Path:
    k = keras_module("keras")
    a, b = k.Input((784,)), k.Input((784,))
    out = k.layers.Dense(10)(k.layers.Concatenate()([a, b]))
    k.Model([a, b], out).save(folder / "two.keras")
    return folder / "two.keras"


def _truncated(files: Path) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        data = (files / "small_keras.keras").read_bytes()
        (folder / "cut.keras").write_bytes(data[: len(data) // 2])
        return folder / "cut.keras"

    return make


def _zip_bomb(folder: Path) -> Path:
    """300 MiB of zeros as model.weights.h5, ~300 KB on disk."""
    path = folder / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", "{}")
        with zf.open("model.weights.h5", "w") as member:
            block = bytes(1 << 20)
            for _ in range(300):
                member.write(block)
    return path


def _config_bomb(folder: Path) -> Path:
    path = folder / "configbomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", " " * (16 << 20) + "{}")
        zf.writestr("model.weights.h5", b"")
    return path


def _deep_json(files: Path) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        def edit(doc: dict) -> None:
            _first_dense(doc)["config"]["units"] = "DEEP"

        return _edit_keras(
            files / "small_keras.keras",
            folder / "deep.keras",
            edit,
            lambda t: t.replace('"DEEP"', "[" * 50000 + "]" * 50000),
        )

    return make


def _huge_dense(files: Path) -> Callable[[Path], Path]:
    """A config claiming ~10^11 weights: refused from the arithmetic, nothing allocated."""

    def make(folder: Path) -> Path:
        def edit(doc: dict) -> None:
            doc["config"]["layers"][0]["config"]["batch_shape"] = [None, 28, 28, 1]
            conv = json.loads(json.dumps(_first_dense(doc)))
            conv["class_name"] = "Conv2D"
            conv["config"] = {
                "name": "big",
                "filters": 2048,
                "kernel_size": [3, 3],
                "padding": "same",
                "activation": "relu",
            }
            flat = {
                "module": "keras.layers",
                "class_name": "Flatten",
                "config": {"name": "flat"},
                "registered_name": None,
            }
            _first_dense(doc)["config"]["units"] = 65536
            doc["config"]["layers"][1:1] = [conv, flat]

        return _edit_keras(files / "small_keras.keras", folder / "huge.keras", edit)

    return make


def _wrong_weight_shape(files: Path) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        import h5py

        path = folder / "badweights.h5"
        path.write_bytes((files / "small_tf_keras.h5").read_bytes())
        with h5py.File(path, "r+") as fh:
            group = fh["model_weights"]
            layer = [n for n in group if "dense" in n][0]
            name = [
                n.decode() if isinstance(n, bytes) else n
                for n in group[layer].attrs["weight_names"]
            ][0]
            del group[layer][name]
            group[layer].create_dataset(name, data=np.zeros((784, 9), np.float32))
        return path

    return make


def _no_model_config(files: Path) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        k = keras_module("keras")
        model = _small_model(k)
        model.save_weights(folder / "w.weights.h5")
        os.replace(folder / "w.weights.h5", folder / "weights_only.h5")
        return folder / "weights_only.h5"

    return make


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.keras"
    os.mkfifo(path)
    return path


def _not_a_model(folder: Path) -> Path:
    (folder / "notes.h5").write_text("just text")
    return folder / "notes.h5"


def _bad_cases(files: Path) -> dict[str, tuple[Callable[[Path], Path], str]]:
    return {
        "unsupported-layer": (_unsupported_layer, "is a LSTM, which edgedigits does not import"),
        "wrong-input-shape": (_wrong_input, "takes (32, 32, 3); supported inputs are 28x28"),
        "two-inputs": (_two_inputs, "2 inputs; only single-input, single-output"),
        "truncated-zip": (_truncated(files), "not a readable .keras zip"),
        "zip-bomb": (_zip_bomb, "inflates past"),
        "config-bomb": (_config_bomb, "config.json inflates past"),
        "deeply-nested-json": (_deep_json(files), "nested too deeply"),
        "billions-of-weights": (_huge_dense(files), "weights in all, over the limit"),
        "wrong-weight-shape": (
            _wrong_weight_shape(files),
            "shape (784, 9), the architecture needs (784, 8)",
        ),
        "h5-without-model-config": (_no_model_config(files), "without a model_config"),
        "fifo": (_fifo, "not a regular file"),
        "not-a-model": (_not_a_model, "not a loadable model file"),
    }


BAD = [
    "unsupported-layer",
    "wrong-input-shape",
    "two-inputs",
    "truncated-zip",
    "zip-bomb",
    "config-bomb",
    "deeply-nested-json",
    "billions-of-weights",
    "wrong-weight-shape",
    "h5-without-model-config",
    "fifo",
    "not-a-model",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_file_is_one_line_and_writes_nothing(files, tmp_path, case):
    make, needle = _bad_cases(files)[case]
    work = tmp_path / "work"
    work.mkdir()
    path = make(work)
    done = _run_cli(["import", str(path), "--out", "out"], work)
    _assert_refused(done, path.name, needle)
    assert not (work / "out").exists()
    assert sorted(p.name for p in work.iterdir()) == sorted(
        {path.name, *(["evil.py"] if (work / "evil.py").exists() else [])}
    )  # no temporary file left


# -- the parser alone (no CLI, no Keras) ---------------------------------------------------------


def test_parser_matches_what_keras_builds(files):
    """Shapes inferred from the JSON equal what tf_keras builds from it, for both writers."""
    from edgedigits.model_files import load_trained_model
    from edgedigits.model_files.keras_json import parse_keras_config
    from edgedigits.model_files.weights import open_model_file

    for suffix in (".keras", ".h5"):
        for writer in ("keras", "tf_keras"):
            path = files / f"small_{writer}{suffix}"
            with open_model_file(path) as held:
                arch = parse_keras_config(held.config_text, str(path))
                assert held.writer == writer
            model = load_trained_model(path)
            built = {layer.name: [tuple(w.shape) for w in layer.weights] for layer in model.layers}
            assert {n: s for n, s in arch.weight_shapes.items()} == {
                n: s for n, s in built.items() if n != arch.input_name
            }
            assert arch.num_classes == 10 and not arch.emits_logits
            assert arch.params == model.count_params()


def test_imported_record_is_checked_again(tmp_path):
    """A tampered import.json (a Lambda slipped into the stored architecture) is refused."""
    from edgedigits.errors import ModelFileError
    from edgedigits.model_files.architecture import Architecture

    doc = {
        "name": "m",
        "input_name": "in",
        "input_shape": [784],
        "output": "d",
        "layers": [{"class_name": "Lambda", "name": "d", "args": {}, "inbound": ["in"]}],
    }
    with pytest.raises(ModelFileError, match=r"x/import.json: .*'Lambda', which is not supp"):
        Architecture.from_json(doc, "x/import.json")
    doc["layers"][0] = {
        "class_name": "Dense",
        "name": "d",
        "args": {"units": 10, "activation": {"module": "os", "class_name": "system"}},
        "inbound": ["in"],
    }
    with pytest.raises(ModelFileError, match="not a built-in activation"):
        Architecture.from_json(doc, "x/import.json")


def test_zoo_folder_config_is_never_read(tmp_path):
    """Our own model folders are spec.build() plus weights: a config edited to name a module
    (the attack that ran a .py during export) changes nothing and runs nothing."""
    from edgedigits.model_files import load_trained_model, model_path
    from edgedigits.zoo import get_spec

    spec = get_spec("seed004_mlp12")
    path = model_path(tmp_path, spec.name)
    path.parent.mkdir(parents=True)
    model = spec.build()
    model.save(path)

    def edit(doc: dict) -> None:
        doc["config"]["layers"][1]["module"] = "evil"
        doc["config"]["layers"][1]["class_name"] = "Backdoor"

    edited = _edit_keras(path, tmp_path / "edited.keras", edit)
    os.replace(edited, path)
    loaded = load_trained_model(path, spec)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), loaded.get_weights()))


@pytest.mark.parametrize("writer", ["keras", "tf_keras"])
def test_every_allowlisted_layer_rebuilds_with_keras_shapes(tmp_path, writer):
    """One untrained model with every allowlisted layer: the shapes inferred from the JSON equal
    the shapes Keras built, and the rebuilt tf_keras model computes what the original does."""
    from edgedigits.model_files import load_trained_model
    from edgedigits.model_files.keras_json import parse_keras_config
    from edgedigits.model_files.keras_layers import LAYERS
    from edgedigits.model_files.weights import open_model_file

    k = keras_module(writer)
    k.utils.set_random_seed(1)
    L = k.layers
    inputs = k.Input((28, 28))
    x = L.Reshape((28, 28, 1))(inputs)
    x = L.Rescaling(0.5, offset=0.1)(x)
    x = L.ZeroPadding2D(((1, 0), (0, 1)))(x)
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu")(x)
    x = L.BatchNormalization()(x)
    a = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    b = L.SeparableConv2D(12, (3, 3), padding="same", use_bias=False)(x)
    x = L.Add()([a, b])
    x = L.ReLU(max_value=6.0)(x)
    x = L.SpatialDropout2D(0.1)(x)
    y = L.MaxPooling2D(2)(x)
    z = L.AveragePooling2D(2, strides=1, padding="same")(y)
    x = L.Concatenate()([y, z])
    g = L.GlobalAveragePooling2D()(x)
    h = L.GlobalMaxPooling2D()(x)
    x = L.Concatenate(axis=-1)([g, h, L.Flatten()(y)])
    x = L.Dropout(0.2)(x)
    x = L.Dense(10, kernel_regularizer=k.regularizers.L2(1e-4))(x)
    x = L.Activation("tanh")(x)
    outputs = L.Softmax()(x)
    model = k.Model(inputs, outputs)
    path = tmp_path / "all.keras"
    model.save(path)
    with open_model_file(path) as held:
        arch = parse_keras_config(held.config_text, str(path))
    assert {layer.class_name for layer in arch.layers} == set(LAYERS)
    for layer in model.layers:
        if layer.name == arch.input_name:
            continue
        assert tuple(layer.output.shape[1:]) == arch.shapes[layer.name], layer.name
        assert [tuple(w.shape) for w in layer.weights] == arch.weight_shapes[layer.name]
    rebuilt = load_trained_model(path)
    x = np.random.default_rng(0).random((8, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(
        rebuilt.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
    assert not arch.emits_logits
