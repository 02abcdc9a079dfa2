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


def _make_mcu(folder, build, model, *args):
    """examples/mcu's Makefile against the TFLM build, for one of ``folder``'s C arrays."""
    command = ["make", "-s", "-C", str(MCU), f"TFLM={TFLM}", f"MODEL_DIR={folder}"]
    command += [f"MODEL={model}", f"BUILD={build}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


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
    run = _make_mcu(folder, tmp_path / "build", model, "run")
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


# -- from a real picture: the preprocessing contract in every app runtime (issue 37) -----------


def test_every_record_carries_the_preprocessing_contract(folder):
    """manifest (interface.input.from_image and preprocessing: the whole contract), .tflite
    metadata, ONNX metadata_props and the C header (its name: bytes count on a microcontroller)
    all name the contract the app must apply to a picture."""
    import onnx

    from edgedigits.contract.preprocessing import from_image_contract
    from edgedigits.export import tflite_flatbuffer, tflite_support_metadata

    contract = from_image_contract()
    manifest = _manifest(folder)
    assert manifest["preprocessing"]["from_image"] == contract
    for entry in manifest["artifacts"]:
        assert entry["interface"]["input"]["from_image"] == contract, entry["file"]
        path = folder / entry["file"]
        if entry["format"] == "tflite":
            meta = tflite_flatbuffer.read_edgedigits(path.read_bytes())
            assert meta["preprocessing"]["from_image"] == contract["name"], entry["file"]
            # the standard TFLite Metadata: x = (pixel - mean) / std on a 28x28 gray image
            standard = tflite_support_metadata.read(
                tflite_flatbuffer.read(path.read_bytes())[tflite_support_metadata.ENTRY]
            )
            rule = entry["interface"]["input"]["from_pixels"]
            (image,) = standard["inputs"]
            assert image["color_space"] == "GRAYSCALE" and image["size"] == [28, 28]
            assert image["description"] == contract["name"]
            norm = image["normalization"]
            assert norm["std"][0] == pytest.approx(1 / rule["scale"], rel=1e-6)
            assert norm["mean"][0] == pytest.approx(-rule["offset"] / rule["scale"], abs=1e-4)
        elif entry["format"] == "onnx":
            props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
            assert json.loads(props["edgedigits.preprocessing"])["from_image"] == contract["name"]
        elif entry["format"] == "c":
            header = (folder / entry["details"]["header"]).read_text()
            assert f'_FROM_IMAGE "{contract["name"]}"' in header, entry["file"]


@pytest.mark.skipif(
    not (TFLM / "lib" / "libtensorflow-microlite.a").is_file(),
    reason=f"no prebuilt TensorFlow Lite Micro at {TFLM} (set EDGEDIGITS_TFLM)",
)
def test_mcu_camera_example_classifies_a_frame(folder, tmp_path):
    """examples/mcu's camera.c: a 240x320 frame of dark ink on paper, through
    edgedigits_from_image() and classify(), gives the digit; an empty frame says no ink."""
    if not shutil.which("make"):
        pytest.skip("make is not on PATH")
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from pictures import edge_cases

    from edgedigits.preprocess import to_model_image

    cases = edge_cases()
    for name, expect in (("inverted", "digit 1 "), ("empty", "no ink")):
        frame = cases[name]
        pgm = tmp_path / f"{name}.pgm"
        pgm.write_bytes(f"P5 {frame.shape[1]} {frame.shape[0]} 255\n".encode() + frame.tobytes())
        run = _make_mcu(folder, tmp_path / "build", f"{MODEL}.int8", "camera", f"FRAME={pgm}")
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stdout.startswith(expect), run.stdout[:200]
        if name == "inverted":  # the 28x28 it printed is the contract's, pixel for pixel
            seen = to_model_image(frame)
            art = "\n".join(
                "".join("#" if v > 127 else "+" if v else "." for v in row) for row in seen
            )
            assert art in run.stdout


NO_TFLM = pytest.mark.skipif(
    not (TFLM / "lib" / "libtensorflow-microlite.a").is_file(),
    reason=f"no prebuilt TensorFlow Lite Micro at {TFLM} (set EDGEDIGITS_TFLM)",
)


@NO_TFLM
def test_mcu_example_retries_cleanly_after_a_failed_setup(folder, tmp_path):
    """classify.cc built with an arena too small for the model (1 KB): every call returns -1
    without re-filling its full resolver or re-allocating a half-allocated interpreter; handed a
    large enough arena (classify_use_arena), the same program classifies golden.json's first
    image as recorded; a small arena again fails, the large one recovers again."""
    if not shutil.which("make"):
        pytest.skip("make is not on PATH")
    run = _make_mcu(
        folder,
        tmp_path / "build",
        f"{MODEL}.int8",
        "ARENA_BYTES=1024",
        f"MAIN={ROOT / 'tests' / 'mcu_retry_main.c'}",
        "run",
    )
    assert run.returncode == 0, (run.stdout[-2000:], run.stderr[-2000:])
    assert run.stdout.startswith("retry ok: digit 0"), run.stdout
    assert "Failed starting model allocation" in run.stderr  # TFLM's own words for the 1 KB


def _guide_block(page: str) -> list[str]:
    text = (ROOT / "docs" / "guides" / page).read_text()
    block = text.split("<!-- tested: tests/test_app_runtimes.py runs these commands -->", 1)[1]
    return block.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()


@NO_TFLM
def test_the_ship_guides_mcu_commands_run_as_written(folder, tmp_path):
    """docs/guides/ship-to-apps.md's microcontroller block, from a repository root: its export
    line is the one this module's fixture ran (every target, mcu among them), so the fixture's
    folder stands at exports/seed004_cnn, and its make line runs as written, in bash, with
    TFLM from the environment as the guide says."""
    if not shutil.which("make"):
        pytest.skip("make is not on PATH")
    export_line, make_line = _guide_block("ship-to-apps.md")
    assert export_line == f"edgedigits export {MODEL} --target mcu"
    root = tmp_path / "checkout"
    shutil.copytree(MCU, root / "examples" / "mcu", ignore=shutil.ignore_patterns("build"))
    (root / "exports").mkdir()
    (root / "exports" / MODEL).symlink_to(folder)
    run = subprocess.run(
        ["bash", "-c", make_line],
        cwd=root,
        env={**os.environ, "TFLM": str(TFLM)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, (make_line, run.stderr[-3000:])
    assert any(line.startswith("calls 1000 ") for line in run.stdout.splitlines()), run.stdout


# A small 7 in the top-left quarter (a bar, then a diagonal) and a 0 lower right, drawn with few
# pointer events (a fast pen: each move is a long jump the page must join into one stroke).
STROKES = [
    {
        "name": "7",
        "strokes": [[[40, 30], [70, 30], [100, 30]], [[100, 30], [85, 60], [70, 95], [60, 120]]],
    },
    {
        "name": "0",
        "strokes": [
            [
                [200 + 30 * np.cos(t / 12 * 2 * np.pi), 190 + 45 * np.sin(t / 12 * 2 * np.pi)]
                for t in range(13)
            ]
        ],
    },
]


def test_web_example_classifies_a_small_digit_drawn_off_centre(folder, web_runtimes, tmp_path):
    """Headless Chromium draws on examples/web with pointer events; the page prepares the
    canvas with from_image.mjs and every web file shows the drawn digit."""
    strokes = tmp_path / "strokes.json"
    strokes.write_text(json.dumps(STROKES, default=float))
    run = subprocess.run(
        ["node", "draw.mjs", str(folder), str(strokes), "--chromium", CHROMIUM],
        cwd=web_runtimes,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    shown = json.loads(run.stdout)["shown"]
    web = [a["file"] for a in _manifest(folder)["artifacts"] if "web" in a["targets"]]
    for drawing in shown:
        assert sorted(r["file"] for r in drawing["results"]) == sorted(web)
        assert {r["digit"] for r in drawing["results"]} == {int(drawing["name"])}, drawing
        assert drawing["table"] == [drawing["name"]] * len(web)


def test_classify_runs_every_runtime_on_pictures_and_refuses_bad_ones(folder, tmp_path):
    """edgedigits classify on PNG and JPEG pictures of drawn digits, with .tflite, .onnx and .ort
    files; --save-input writes the 28x28 the model saw; a bad picture is one line and exit 1."""
    from PIL import Image

    from edgedigits.data import load_dataset
    from edgedigits.data.drawn import drawn_digits
    from edgedigits.preprocess import to_model_image

    data = load_dataset()
    drawn = drawn_digits(data.test_images, data.test_labels, 4, seed=3)
    pictures = []
    for k, d in enumerate(drawn):
        path = tmp_path / f"d{k}.{'png' if k % 2 else 'jpg'}"
        Image.fromarray(d.pixels).save(path)
        pictures.append(str(path))
    for suffix in ("float32.tflite", "float32.onnx", "float32.ort"):
        artifact = folder / f"{MODEL}.{suffix}"
        run = subprocess.run(
            [
                "edgedigits",
                "classify",
                *pictures,
                "--artifact",
                str(artifact),
                "--save-input",
                str(tmp_path / "seen"),
                "--json",
                str(tmp_path / "r.json"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["contract"] == "edgedigits.from_image/2"
        digits = [r["digit"] for r in report["results"]]
        assert sum(d == x.label for d, x in zip(digits, drawn)) >= 3, (suffix, digits)
        assert all(abs(sum(r["scores"]) - 1) < 1e-3 for r in report["results"])
    seen = np.asarray(Image.open(tmp_path / "seen" / "d1.28x28.png"))
    assert np.array_equal(seen, to_model_image(drawn[1].pixels))  # a PNG: lossless
    (tmp_path / "movie.gif").write_bytes(b"GIF89a" + b"\0" * 20)
    bad = subprocess.run(
        [
            "edgedigits",
            "classify",
            str(tmp_path / "movie.gif"),
            "--artifact",
            str(folder / f"{MODEL}.float32.tflite"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.count("\n") == 1 and "movie.gif" in bad.stderr, bad.stderr
