"""The preprocessing contract (``edgedigits.from_image/2``): what the Python implementation
promises on its own (unit tier), and that the JavaScript (Node and Chromium) and C implementations
give the same bytes on 213 pictures (runtime tier: ``.ci/run`` installs Node and Chromium)."""

from __future__ import annotations

import shutil
import subprocess
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from pictures import canvases, edge_cases, read_results, write_pictures

from edgedigits.contract.preprocessing import CENTRE, FIT, from_image_contract
from edgedigits.data import load_dataset
from edgedigits.preprocess import gray_from_rgb, naive_resize, prepare, to_model_image

ROOT = Path(__file__).resolve().parents[1]
PREPROCESS = ROOT / "edgedigits" / "preprocess"
WEB = ROOT / "examples" / "web"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    w = image.astype(np.float64)
    k = np.arange(28)
    return float((w.sum(1) * k).sum() / w.sum()), float((w.sum(0) * k).sum() / w.sum())


def test_mnist_digits_come_back_as_mnist_made_them():
    """MNIST's own digits through the contract: the longer side of the ink is 20 pixels and the
    centre of mass within half a pixel of (14, 14), as MNIST's recipe left them."""
    data = load_dataset()
    for digit in data.test_images[:200]:
        out = to_model_image(digit)
        rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 == FIT
        cy, cx = _centre_of_mass(out)
        assert abs(cy - CENTRE) <= 0.5 + 1e-9 and abs(cx - CENTRE) <= 0.5 + 1e-9, (cy, cx)


def _pen(fraction: float) -> np.ndarray:
    """An L drawn 200 px tall on a 300x300 canvas with a pen ``fraction`` of its height."""
    canvas = np.zeros((300, 300), np.uint8)
    pen = max(1, round(200 * fraction))
    canvas[50:250, 100 : 100 + pen] = 255
    canvas[250 - pen : 250, 100:220] = 255
    return canvas


def test_the_stroke_is_brought_into_mnists_range(monkeypatch):
    """Version 2's step: a 1% pen (2 px of 200) and a 3% one grow, a 25% one thins (two
    steps), a 10% one (MNIST's own) is kept. The ink of the 28x28, 17 to 135 pixels' worth
    without the step, is 43 to 119 with it: a hairline comes out as MNIST's stroke."""
    import edgedigits.preprocess as preprocess

    pens = (0.01, 0.03, 0.06, 0.10, 0.15, 0.25)
    ink = [int(to_model_image(_pen(f)).sum()) // 255 for f in pens]
    assert ink == [43, 45, 49, 60, 87, 119]
    assert [
        preprocess._stroke_steps(preprocess._fit(_pen(f)[50:250, 100:220], 80))
        for f in (0.01, 0.1, 0.25)
    ] == [3, 0, -2]
    monkeypatch.setattr(preprocess, "_stroke_steps", lambda block: 0)
    assert [int(to_model_image(_pen(f)).sum()) // 255 for f in pens] == [17, 22, 36, 60, 87, 135]


def test_empty_pictures_are_28x28_zeros_and_say_so():
    for name in ("empty", "white", "1x1-dark", "1x1-light", "specks-3x50000"):
        prepared = prepare(edge_cases()[name])
        assert prepared.empty, name
        assert prepared.pixels.shape == (28, 28) and not prepared.pixels.any(), name
    assert prepare(edge_cases()["white"]).inverted


def test_polarity_is_found_from_the_border_and_does_not_change_the_result():
    upright, inverted = edge_cases()["upright"], edge_cases()["inverted"]
    a, b = prepare(upright), prepare(inverted)
    assert not a.inverted and b.inverted
    assert np.array_equal(a.pixels, b.pixels)


def test_a_dot_fills_the_box_and_a_digit_on_the_border_is_kept():
    dot = prepare(edge_cases()["dot"])  # documented: one pixel of ink is scaled to 20x20
    assert dot.placed == (4, 4, 20, 20) or dot.placed[2:] == (20, 20)
    touching = prepare(edge_cases()["touching-border"])
    assert touching.box[:2] == (0, 0) and not touching.empty and not touching.inverted


def test_any_frame_shape_and_a_12_megapixel_frame_in_bounded_time_and_memory():
    for name in ("320x240", "1x320"):
        assert prepare(edge_cases()[name]).pixels.shape == (28, 28)
    frame = edge_cases()["4000x3000"]
    tracemalloc.start()
    started = time.perf_counter()
    prepared = prepare(frame)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert prepared.inverted and not prepared.empty
    assert seconds < 10, seconds
    # the frame is 12 MB; the levels table lookup and the crop's float32 copy are the big ones
    # (29 MB measured)
    assert peak < 64_000_000, peak


def test_gray_weights_and_bad_arrays():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    assert gray_from_rgb(rgb).tolist() == [[77, 149, 29, 255]]
    for bad in (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.float32), np.zeros((0, 5))):
        with pytest.raises(ValueError, match="2-D uint8"):
            prepare(bad)


def test_naive_resize_is_what_an_app_without_the_contract_feeds():
    assert naive_resize(np.full((280, 280), 255, np.uint8)).min() == 255
    assert naive_resize(edge_cases()["320x240"]).shape == (28, 28)


def test_the_contract_record_names_every_implementation_and_its_steps():
    contract = from_image_contract()
    assert contract["name"] == "edgedigits.from_image/2"
    for where in contract["implementations"].values():
        assert (ROOT / where.split(" ")[0]).exists() or where.startswith("edgedigits.")
    assert len(contract["steps"]) == 11
    # The JavaScript and C constants are the contract's numbers.
    js = (PREPROCESS / "from_image.mjs").read_text()
    c = (PREPROCESS / "from_image.c").read_text()
    for key, js_name, c_name in (
        ("dark_on_light_border_mean", "DARK_ON_LIGHT_BORDER_MEAN", "DARK_ON_LIGHT_BORDER_MEAN"),
        ("min_contrast", "MIN_CONTRAST", "MIN_CONTRAST"),
        ("ink_threshold", "INK_THRESHOLD", "INK_THRESHOLD"),
        ("fit", "FIT", "FIT"),
        ("centre", "CENTRE", "CENTRE"),
    ):
        assert f"const {js_name} = {contract[key]};" in js, key
        assert f"{c_name} = {contract[key]}" in c, key
    assert f"'{contract['name']}'" in js
    assert f'"{contract["name"]}"' in (PREPROCESS / "from_image.h").read_text()


# -- the three implementations, byte for byte (runtime tier) ------------------------------------


@pytest.fixture(scope="module")
def pictures_and_python(tmp_path_factory):
    pictures = canvases()
    folder = tmp_path_factory.mktemp("from_image")
    path = write_pictures(pictures, folder / "pictures.bin")
    rows = []
    for p in pictures:
        prepared = prepare(p)
        rows.append([int(prepared.empty), int(prepared.inverted), *prepared.pixels.ravel()])
    return path, np.array(rows, np.uint8)


def _compare(expected: np.ndarray, got: np.ndarray, who: str) -> None:
    assert got.shape == expected.shape, (who, got.shape)
    differ = np.flatnonzero((got != expected).any(axis=1))
    assert differ.size == 0, (
        f"{who}: {differ.size} of {len(got)} pictures differ, first {differ[0]}"
    )


@pytest.mark.runtime
def test_c_gives_the_same_bytes(pictures_and_python, tmp_path):
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed")
    path, expected = pictures_and_python
    assert len(expected) >= 200
    binary = tmp_path / "from_image"
    for std, compiler in (("-std=c11", "gcc"), ("-std=c++17", "g++")):
        sources = [ROOT / "tests" / "from_image_main.c", PREPROCESS / "from_image.c"]
        flags = [std, "-O2", "-Wall", "-Wextra", "-Werror", "-Wpedantic", f"-I{PREPROCESS}"]
        if compiler == "g++":  # the header and source compile as C++ too (a firmware's .cc)
            flags += ["-x", "c++"]
        sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
        build = subprocess.run(
            [compiler, *flags, *sanitize, *map(str, sources), "-o", str(binary)],
            capture_output=True,
            text=True,
        )
        assert build.returncode == 0, build.stderr[-2000:]
        out = tmp_path / f"c-{compiler}.bin"
        run = subprocess.run(
            [str(binary), str(path), str(out)], capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, run.stderr[-2000:]
        _compare(expected, read_results(out), f"C ({compiler} {std}, ASan+UBSan)")


def _node_or_skip() -> None:
    if not shutil.which("node"):
        pytest.skip("Node.js is not installed")


@pytest.mark.runtime
def test_javascript_in_node_gives_the_same_bytes(pictures_and_python, tmp_path):
    _node_or_skip()
    path, expected = pictures_and_python
    out = tmp_path / "node.bin"
    run = subprocess.run(
        ["node", "preprocess_check.mjs", str(path), str(out)],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    _compare(expected, read_results(out), run.stdout.strip())


@pytest.mark.runtime
def test_javascript_in_chromium_gives_the_same_bytes(pictures_and_python, tmp_path):
    _node_or_skip()
    if not CHROMIUM:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    if not (WEB / "node_modules" / "puppeteer-core").is_dir():
        pytest.skip("examples/web's npm packages are not installed (npm ci there)")
    path, expected = pictures_and_python
    out = tmp_path / "chromium.bin"
    run = subprocess.run(
        ["node", "preprocess_check.mjs", str(path), str(out), "--chromium", CHROMIUM],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    _compare(expected, read_results(out), run.stdout.strip())


# -- picture files: what reads, what is refused in one line (unit tier) --------------------------


def _bad_pictures(folder: Path) -> dict[str, Path]:
    """Each awkward picture file, written by Pillow or by hand."""
    import struct
    import zlib

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    seven = load_dataset().test_images[0]
    files = {}
    Image.fromarray(seven.astype(np.uint16) * 257).save(
        files.setdefault("16-bit", folder / "a.png")
    )
    Image.fromarray(seven).convert("P").save(files.setdefault("palette", folder / "p.png"))
    Image.fromarray(255 - seven).convert("CMYK").save(files.setdefault("cmyk", folder / "c.jpg"))
    frames = [Image.fromarray(seven), Image.fromarray(255 - seven)]
    frames[0].save(
        files.setdefault("animated", folder / "a.gif"), save_all=True, append_images=frames[1:]
    )
    files.setdefault("not-a-picture", folder / "n.png").write_text("hello, not a picture\n")
    files.setdefault("truncated", folder / "t.png").write_bytes(
        (folder / "p.png").read_bytes()[:60]
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)  # 8-bit gray, 400 MP
    files.setdefault("bomb", folder / "b.png").write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 20001 * 64))
        + chunk(b"IEND", b"")
    )
    return files


REFUSED = {
    "animated": "2 frames",
    "not-a-picture": "not a picture edgedigits reads",
    "truncated": "damaged or unsupported",
    "bomb": "pixel limit",
}


def test_awkward_pictures_are_read_or_refused_in_one_line(tmp_path):
    from edgedigits.errors import DataError
    from edgedigits.preprocess.pictures import read_gray

    files = _bad_pictures(tmp_path)
    seven = to_model_image(load_dataset().test_images[0])
    seven = prepare(load_dataset().test_images[0])
    for name in ("16-bit", "palette"):  # lossless: the same bytes as the 8-bit gray original
        assert np.array_equal(to_model_image(read_gray(files[name])), seven.pixels), name
    cmyk = prepare(read_gray(files["cmyk"]))  # lossy JPEG, inverted: the same digit, near
    assert cmyk.inverted and cmyk.placed == seven.placed
    assert np.abs(cmyk.pixels.astype(int) - seven.pixels).mean() < 8
    for name, reason in REFUSED.items():
        started = time.perf_counter()
        with pytest.raises(DataError) as caught:
            read_gray(files[name])
        message = str(caught.value)
        assert "\n" not in message and str(files[name]) in message and reason in message, message
        assert time.perf_counter() - started < 5, name  # the bomb is refused from its header


def test_a_folder_of_pictures_is_a_dataset(tmp_path):
    from PIL import Image

    from edgedigits.data.drawn import drawn_digits
    from edgedigits.data.picture_folders import load_picture_folder
    from edgedigits.errors import DataError

    data = load_dataset()
    for k, d in enumerate(drawn_digits(data.test_images, data.test_labels, 12, seed=2)):
        (tmp_path / "pics" / str(d.label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(d.pixels).save(tmp_path / "pics" / str(d.label) / f"{k}.png")
    loaded = load_dataset(tmp_path / "pics")
    assert loaded.test_images.shape == (12, 28, 28) and "the same pictures" in loaded.source
    assert sorted(loaded.test_labels.tolist()) == sorted(data.test_labels[:12].tolist())
    (tmp_path / "pics" / "7" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="notes.txt: not a picture file"):
        load_picture_folder(tmp_path / "pics")
    (tmp_path / "pics" / "7" / "notes.txt").unlink()
    (tmp_path / "pics" / "misc").mkdir()
    with pytest.raises(DataError, match="'misc' is not a label folder"):
        load_picture_folder(tmp_path / "pics")
    (tmp_path / "pics" / "misc").rmdir()
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "pics" / "7" / "blank.png")
    with pytest.raises(DataError, match="blank.png: no ink found"):
        load_picture_folder(tmp_path / "pics")


def test_standard_tflite_metadata_round_trips():
    """TFLITE_METADATA (tflite-support's ModelMetadata, written without it): the normalization
    is from_pixels inverted, the image 28x28 gray; a flat model's input is features."""
    from edgedigits.export import tflite_support_metadata as meta

    data = meta.build("m", 2 / 255, -1.0, (28, 28, 1), "logits", "edgedigits.from_image/2")
    assert data[4:8] == b"M001"
    read = meta.read(data)
    assert read["name"] == "m" and read["min_parser_version"] == "1.0.0"
    (image,) = read["inputs"]
    assert image["content"] == "image" and image["color_space"] == "GRAYSCALE"
    assert image["size"] == [28, 28]
    assert image["normalization"]["mean"] == [pytest.approx(127.5)]
    assert image["normalization"]["std"] == [pytest.approx(127.5)]
    assert read["outputs"][0]["name"] == "logits" and read["outputs"][0]["content"] == "feature"
    flat = meta.read(meta.build("f", 1 / 255, 0.0, (784,), "probabilities", "x"))
    assert flat["inputs"][0]["content"] == "feature" and "size" not in flat["inputs"][0]
    assert len(data) < 512  # it rides in every microcontroller file


@pytest.mark.integration
def test_export_calibrates_and_checks_on_a_folder_of_pictures(tmp_path):
    """export --data DIR of label folders: the pictures, through the contract, are the int8
    calibration set and the parity set; the default counts shrink to the 40 there are."""
    import json

    from PIL import Image

    from edgedigits.cli import main
    from edgedigits.data.drawn import drawn_digits

    data = load_dataset()
    for k, d in enumerate(drawn_digits(data.test_images, data.test_labels, 40, seed=9)):
        (tmp_path / "pics" / str(d.label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(d.pixels).save(tmp_path / "pics" / str(d.label) / f"{k}.png")
    code = main(
        [
            "export",
            "seed004_cnn",
            "--format",
            "tflite",
            "--quant",
            "int8",
            "--data",
            str(tmp_path / "pics"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    manifest = json.loads((tmp_path / "out" / "seed004_cnn" / "manifest.json").read_text())
    assert manifest["calibration"]["samples"] == 40
    (entry,) = manifest["artifacts"]
    assert entry["parity"]["images"] == 40 and entry["parity"]["passed"]
    assert entry["parity"]["accuracy"] >= 80  # drawn digits through the contract


def test_the_javascript_and_c_ship_in_the_wheel():
    """The apps' copies of the contract are package data: pyproject.toml lists every one."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = set(config["tool"]["setuptools"]["package-data"]["edgedigits.preprocess"])
    assert shipped == {p.name for p in PREPROCESS.iterdir() if p.suffix in (".mjs", ".c", ".h")}
