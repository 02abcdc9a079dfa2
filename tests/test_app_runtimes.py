"""Every exported file in the runtime an app ships it in, one image per call, against golden.json.

- web: LiteRT.js (``.tflite``) and ONNX Runtime Web (``.onnx``) in headless Chromium, driven by
  ``examples/web/golden.mjs`` (the npm packages pinned in ``examples/web/package.json``; the
  fixture runs ``npm ci`` when they are missing);
- mcu: every generated ``.cc``/``.h`` compiled as C11 and as C++17 with warnings as errors, and
  ``examples/mcu`` built against the prebuilt TensorFlow Lite Micro in ``../shared/tflm``
  (``EDGEDIGITS_TFLM`` to point elsewhere) and run on the golden images, 100 calls per image.

Where Chromium, Node/npm or the TFLM build is missing, the test says so and skips; ``.ci/run``
installs Chromium and Node, so CI never skips them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgedigits.export import FinetuneOptions, export
from edgedigits.export.manifest import schema

pytestmark = pytest.mark.runtime  # exports models, runs them in Chromium and a TFLM build

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "examples" / "web"
MCU = ROOT / "examples" / "mcu"
TFLM = Path(os.environ.get("EDGEDIGITS_TFLM", ROOT.parent / "shared" / "tflm"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MODEL = "seed004_cnn"  # shipped weights: nothing to train


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Every target's files of one model (fine-tuning on 2,000 images to keep it short)."""
    out = tmp_path_factory.mktemp("apps")
    report = export(
        [MODEL],
        out=out,
        targets="all",
        finetune=FinetuneOptions(samples=2000),
        calibration_samples=200,
        log=lambda _m: None,
    )
    assert report.records and all(r.ok for r in report.records), [
        (r.file, r.reason) for r in report.records if not r.ok
    ]
    return out / MODEL


def _manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def _golden(folder):
    return json.loads((folder / "golden.json").read_text())


def test_targets_pick_what_each_runtime_loads(folder):
    """web: batch-1 .tflite without int8 tensors, and .onnx; mcu: int8 C arrays; mobile: .tflite
    and .ort; server: .onnx. The manifest validates against the shipped schema."""
    import jsonschema

    manifest = _manifest(folder)
    jsonschema.validate(manifest, schema())
    by_target = {
        t: [a for a in manifest["artifacts"] if t in a["targets"]]
        for t in ("web", "mobile", "mcu", "server")
    }
    assert all(by_target.values()), {t: len(v) for t, v in by_target.items()}
    for a in by_target["web"]:
        assert a["format"] in ("tflite", "onnx")
        if a["format"] == "tflite":
            assert a["batch"] == 1 and a["io"] != "int8"
            assert a["inputs"][0]["shape"][0] == 1
    assert {a["format"] for a in by_target["mcu"]} == {"c"}
    assert {(a["recipe"], a["io"], a["batch"]) for a in by_target["mcu"]} == {
        ("int8", "int8", 1),
        ("qat", "int8", 1),
    }
    assert {a["format"] for a in by_target["mobile"]} == {"tflite", "ort"}
    assert {a["format"] for a in by_target["server"]} == {"onnx"}
    full_integer_web = [
        a for a in by_target["web"] if a["recipe"] in ("int8", "qat") and a["format"] == "tflite"
    ]
    assert {a["file"] for a in full_integer_web} == {
        f"{MODEL}.int8.io-float32.tflite",
        f"{MODEL}.qat.io-float32.tflite",
    }


def test_manifest_interface_is_what_the_file_says(folder):
    """Names per runtime, the quantization numbers and the oldest runtime come from the file."""
    from ai_edge_litert.interpreter import Interpreter

    for a in _manifest(folder)["artifacts"]:
        iface = a["interface"]
        if a["format"] == "tflite":
            runner = Interpreter(model_path=str(folder / a["file"])).get_signature_runner()
            sig = iface["names"]["signatures"][0]
            assert sig["key"] == "serving_default"
            assert set(runner.get_input_details()) == set(sig["inputs"]) == {"image"}
            assert set(runner.get_output_details()) == set(sig["outputs"]) == {"probabilities"}
            assert iface["requires"]["min_runtime_version"]
            assert iface["requires"]["operators"]["SOFTMAX"] >= 1
        if a["format"] == "c":
            quant = iface["input"]["quantize"]
            assert quant["min"] == -128 and quant["max"] == 127 and quant["scale"] > 0
            assert iface["output"]["dequantize"]["scale"] > 0
        if a["format"] in ("onnx", "ort"):
            assert iface["requires"]["opset"] == 17 and iface["requires"]["ir_version"] >= 7
            assert iface["requires"]["onnx_release"]


def test_c_arrays_compile_as_c_and_cpp(folder, tmp_path):
    """Each generated .cc/.h compiles as C11 and C++17 (-Wall -Wextra -Wpedantic -Werror), and a C
    file can include the header and use its constants."""
    cc, cxx = shutil.which("gcc") or shutil.which("cc"), shutil.which("g++")
    if not cc or not cxx:
        pytest.skip("no C/C++ compiler on PATH (gcc, g++)")
    sources = sorted(folder.glob("*.cc"))
    assert len(sources) == 2
    for source in sources:
        header = source.with_suffix(".h").name
        prefix = source.stem.upper().replace(".", "_").replace("-", "_")
        user = tmp_path / f"{source.stem}_user.c"
        user.write_text(
            f'#include "{header}"\n'
            "#ifdef __cplusplus\n#define CHECK static_assert\n#else\n#define CHECK _Static_assert\n"
            "#endif\n"
            f'CHECK({prefix}_ARENA_BYTES >= {prefix}_ARENA_MEASURED_BYTES, "arena");\n'
            f'CHECK({prefix}_MODEL_BYTES > 0, "model");\n'
            f"static unsigned char arena[{prefix}_ARENA_BYTES];\n"
            '#ifdef __cplusplus\nextern "C"\n#endif\n'
            f"unsigned int first(void) {{ return "
            f"g_{source.stem.replace('.', '_').replace('-', '_')}_model_data[4] + arena[0]; }}\n"
        )
        flags = ["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-I", str(folder), "-c"]
        for compiler, lang in ((cc, ["-x", "c", "-std=c11"]), (cxx, ["-x", "c++", "-std=c++17"])):
            for path in (source, user):
                run = subprocess.run(
                    [compiler, *lang, *flags, str(path), "-o", str(tmp_path / "x.o")],
                    capture_output=True,
                    text=True,
                )
                assert run.returncode == 0, (path.name, lang, run.stderr[-2000:])


@pytest.mark.skipif(
    not (TFLM / "lib" / "libtensorflow-microlite.a").is_file(),
    reason=f"no prebuilt TensorFlow Lite Micro at {TFLM} (set EDGEDIGITS_TFLM)",
)
@pytest.mark.parametrize("recipe", ["int8", "qat"])
def test_mcu_example_classifies_golden_images_on_every_call(folder, tmp_path, recipe):
    """examples/mcu, built against TFLM with its Makefile, runs classify() 100 times per golden
    image: same digit every call, int8 scores within the golden entry's atol_raw."""
    if not shutil.which("make"):
        pytest.skip("make is not on PATH")
    model = f"{MODEL}.{recipe}"
    run = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(MCU),
            f"TFLM={TFLM}",
            f"MODEL_DIR={folder}",
            f"MODEL={model}",
            f"BUILD={tmp_path / 'build'}",
            "run",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    entry = _golden(folder)["artifacts"][f"{model}.cc"]
    images = _golden(folder)["images"]
    rows = [list(map(int, line.split())) for line in lines[:-1]]
    assert len(rows) == len(images) == len(entry["expected_raw"])
    for row, image, raw, predicted in zip(rows, images, entry["expected_raw"], entry["predicted"]):
        assert row[1] == image["label"]
        assert row[2] == predicted
        assert (
            np.max(np.abs(np.array(row[3:]) - np.array(raw[0] if np.ndim(raw) == 2 else raw)))
            <= entry["atol_raw"]
        )
    calls, arena = lines[-1].split()[1], int(lines[-1].split()[3])
    assert int(calls) == 100 * len(images)
    header = (folder / f"{model}.h").read_text()
    prefix = model.upper().replace(".", "_")
    recommended = int(header.split(f"#define {prefix}_ARENA_BYTES ")[1].split("u")[0])
    measured = int(header.split(f"#define {prefix}_ARENA_MEASURED_BYTES ")[1].split("u")[0])
    # This build (no compression support) needs no more than the pip build measured.
    assert 0 < arena <= measured <= recommended


def _node_ready() -> str | None:
    if not CHROMIUM:
        return "Chromium is not installed (Debian: apt-get install chromium)"
    if not (shutil.which("node") and shutil.which("npm")):
        return "Node.js and npm are not installed"
    return None


@pytest.fixture(scope="module")
def web_runtimes():
    reason = _node_ready()
    if reason:
        pytest.skip(reason)
    if not (WEB / "node_modules" / "@litertjs" / "core").is_dir():
        run = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=WEB,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if run.returncode != 0:
            pytest.fail(f"npm ci in {WEB} failed: {run.stderr[-1500:]}")
    return WEB


def test_web_files_match_golden_in_chromium(folder, web_runtimes):
    """Every web file in LiteRT.js or ONNX Runtime Web, one image per call, matches its golden
    entry (atol, and the same digit), under the names the manifest gives."""
    run = subprocess.run(
        ["node", "golden.mjs", str(folder), "--chromium", CHROMIUM],
        cwd=web_runtimes,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert "error" not in result, result
    manifest = {a["file"]: a for a in _manifest(folder)["artifacts"]}
    golden = _golden(folder)["artifacts"]
    web = [f for f, a in manifest.items() if "web" in a["targets"]]
    assert sorted(r["file"] for r in result["results"]) == sorted(web)
    for r in result["results"]:
        assert "error" not in r, (r["file"], r.get("error"), result.get("console"))
        expected = np.array(golden[r["file"]]["expected"])
        got = np.array(r["outputs"])
        assert got.shape == expected.shape, r["file"]
        assert np.max(np.abs(got - expected)) <= golden[r["file"]]["atol"], r["file"]
        assert got.argmax(1).tolist() == golden[r["file"]]["predicted"], r["file"]
        iface = manifest[r["file"]]["interface"]
        if r["format"] == "tflite":
            sig = iface["names"]["signatures"][0]
            assert r["input_names"] == list(sig["inputs"]) and r["output_names"] == list(
                sig["outputs"]
            )
        else:
            assert r["input_names"] == iface["names"]["inputs"]
            assert r["output_names"] == iface["names"]["outputs"]
        assert r["call_us_p50"] > 0


def _guide_blocks() -> list[str]:
    text = (ROOT / "docs" / "guides" / "ship-to-apps.md").read_text()
    marker = "<!-- tested: tests/test_app_runtimes.py runs this block"
    blocks = []
    for part in text.split(marker)[1:]:
        code = part.split("```python\n", 1)[1].split("```", 1)[0]
        blocks.append(code)
    return blocks


def test_guide_ship_snippets_run(folder):
    """The ship guide's phone and server snippets, run as written on an exported folder."""
    blocks = _guide_blocks()
    assert len(blocks) == 2
    golden = _golden(folder)
    for code in blocks:
        scope: dict = {}
        exec(
            compile(
                code.replace('"exports/seed004_cnn"', repr(str(folder))), "ship-to-apps.md", "exec"
            ),
            scope,
        )
        predicted = golden["artifacts"][scope["entry"]["file"]]["predicted"]
        if "digit" in scope:
            assert scope["digit"] == predicted[3]
        else:
            assert scope["digits"].tolist() == predicted
