"""Manifests never lie: records land with their files, drift is caught, ``verify`` checks all.

One small model (seed004_mlp12, 1 epoch) exported as float32 .tflite, .onnx and C; each test
works on its own copy and breaks one thing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgedigits.cli import main
from edgedigits.export import check as check_module
from edgedigits.export import export
from edgedigits.training import train
from edgedigits.verify import verify

pytestmark = pytest.mark.integration  # trains or exports models

M = "seed004_mlp12"
QUIET = dict(log=lambda _msg: None)
FAST_BENCH = [
    "--runtimes",
    "litert,onnxruntime",
    "--rounds",
    "2",
    "--min-seconds",
    "0.01",
    "--warmup",
    "1",
    "--batch",
    "1",
    "--test-limit",
    "500",
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("integrity") / "ex"
    train([M], out=out, epochs=1, limit=3000, verbose=0, **QUIET)
    assert export([M], formats="all", recipes="float32", out=out, **QUIET).all_good
    return out


@pytest.fixture
def work(tree, tmp_path) -> Path:
    shutil.copytree(tree, tmp_path / "ex")
    return tmp_path / "ex"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _records_tell_the_truth(folder: Path) -> None:
    """Every ok record matches its file; every golden entry matches its record."""
    manifest = json.loads((folder / "manifest.json").read_text())
    golden = json.loads((folder / "golden.json").read_text())
    for record in manifest["artifacts"]:
        if record["status"] == "ok":
            assert _sha(folder / record["file"]) == record["sha256"], record["file"]
            entry = golden["artifacts"].get(record["file"])
            assert entry is None or entry["sha256"] == record["sha256"]


def test_a_fresh_export_verifies(work, capsys):
    assert main(["verify", "--out", str(work)]) == 0
    out = capsys.readouterr().out
    assert "verify: passed; 4 artifact(s) verified in 1 model folder(s)" in out


def test_an_export_killed_midway_leaves_true_records(work):
    """Retrain (new weights), then re-export and kill it while the second artifact is verified:
    the first artifact landed with its new record, in the same commit that removed the stale
    files of the old model; the folder verifies."""
    folder = work / M
    train([M], out=work, epochs=1, limit=3000, seed=1, verbose=0, **QUIET)
    real_verify = check_module.Checker.verify
    calls = []

    def killed_on_second(self, record, *args):
        calls.append(record.file)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_verify(self, record, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(check_module.Checker, "verify", killed_on_second)
        with pytest.raises(KeyboardInterrupt):
            export([M], formats="tflite,onnx", recipes="float32", out=work, **QUIET)
    _records_tell_the_truth(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    files = {a["file"] for a in manifest["artifacts"]}
    assert f"{M}.float32.tflite" in files  # landed before the kill, with its new hash
    assert not (folder / f"{M}.float32.onnx").exists()  # the old model's: removed with its
    assert f"{M}.float32.onnx" not in files  # record, in the commit that landed the tflite
    assert not [p for p in folder.iterdir() if ".tmp" in p.name]
    assert not [
        p for p in work.iterdir() if p.name.startswith(f".{M}.") and not p.name.endswith(".lock")
    ]  # no stage or work folder left beside it
    assert verify([str(folder)]).passed


def test_onnx_bytes_do_not_depend_on_what_ran_before(tmp_path):
    """The first conversion in a process once drew one more generated name than later ones."""
    script = (
        "import hashlib\n"
        "from edgedigits.export import to_onnx\n"
        "from edgedigits.training import seed_everything\n"
        "from edgedigits.zoo import get_spec\n"
        "seed_everything(0)\n"
        "x = get_spec('edge_cnn_tiny').build()\n"
        "y = get_spec('seed004_cnn').build()\n"
        "def h(m, shape): return hashlib.sha256(to_onnx.keras_to_onnx(m, shape, 17)"
        ".SerializeToString()).hexdigest()\n"
        "first = h(x, (28, 28, 1)); h(y, (28, 28, 1)); again = h(x, (28, 28, 1))\n"
        "print(first == again, first, again)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[0] == "True", proc.stdout


def test_bench_reports_a_modified_artifact_and_fails_check(work, capsys):
    path = work / M / f"{M}.float32.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1  # one weight byte: predictions can stay identical
    path.write_bytes(bytes(data))
    code = main(
        ["bench", M, "--out", str(work), "--check", "--json", str(work / "b.json")]
        + FAST_BENCH
        + ["--runtimes", "litert,onnxruntime,keras"]
    )
    assert code == 1
    assert (
        "gate failed: integrity: seed004_mlp12.float32.tflite: MODIFIED since export"
        in capsys.readouterr().err
    )
    rows = json.loads((work / "b.json").read_text())["results"]
    by_file = {(Path(r["artifact"]).name, r["runtime"]): r["integrity"] for r in rows}
    assert by_file[(path.name, "litert")].startswith("MODIFIED since export")
    assert by_file[(f"{M}.float32.onnx", "onnxruntime")] == "matches manifest"
    assert by_file[(f"{M}.keras", "keras")] == "matches manifest"


def test_bench_without_a_loadable_reference_fails_check(work, capsys):
    (work / M / f"{M}.keras").write_bytes(b"not a model")
    code = main(["bench", f"{work}/{M}/{M}.float32.tflite", "--check"] + FAST_BENCH)
    assert code == 1
    err = capsys.readouterr().err
    assert f"reference {M}.keras could not be loaded" in err and "parity not checked" in err


def _problems(folder: Path) -> set[tuple[str, str]]:
    return {(Path(p.file).name, p.check) for p in verify([str(folder)]).problems}


def test_verify_catches_a_changed_file(work):
    path = work / M / f"{M}.float32.onnx"
    path.write_bytes(path.read_bytes() + b"\0")
    assert _problems(work / M) == {(path.name, "file")}


def test_verify_catches_a_missing_file_and_an_unrecorded_one(work):
    (work / M / f"{M}.float32.tflite").unlink()
    (work / M / f"{M}.int8.tflite").write_bytes(b"x")
    assert _problems(work / M) == {
        (f"{M}.float32.tflite", "file"),
        (f"{M}.int8.tflite", "coverage"),
    }


def test_verify_catches_wrong_tensor_specs(work):
    manifest_path = work / M / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    record = next(a for a in manifest["artifacts"] if a["format"] == "tflite")
    record["inputs"][0]["shape"] = [1, 28, 28]
    manifest_path.write_text(json.dumps(manifest))
    assert _problems(work / M) == {(record["file"], "tensors")}


def test_verify_replays_golden_vectors(work):
    golden_path = work / M / "golden.json"
    golden = json.loads(golden_path.read_text())
    golden["artifacts"][f"{M}.float32.onnx"]["expected"][2][3] += 0.01
    golden_path.write_text(json.dumps(golden))
    report = verify([str(work / M)])
    assert [(Path(p.file).name, p.check) for p in report.problems] == [
        ("golden.json", "golden"),
        (f"{M}.float32.onnx", "golden"),
    ]
    assert (
        "differs from the manifest's SHA-256 (changed since export)" in report.problems[0].message
    )
    assert "differ from the golden vectors by up to 0.01" in report.problems[1].message


def test_verify_checks_c_array_bytes_against_the_tflite(work):
    """A C array whose record was rewritten to match it still disagrees with the .tflite."""
    folder = work / M
    cc = folder / f"{M}.float32.cc"
    text = cc.read_text()
    at = text.index("0x", text.index("= {") + 400)
    text = text[:at] + ("0x00" if text[at : at + 4] != "0x00" else "0x01") + text[at + 4 :]
    cc.write_text(text)
    manifest = json.loads((folder / "manifest.json").read_text())
    for record in manifest["artifacts"]:
        if record["file"] == cc.name:
            record["sha256"], record["size_bytes"] = _sha(cc), cc.stat().st_size
            record["details"].pop("tflite_sha256")  # as an older manifest would have it
    (folder / "manifest.json").write_text(json.dumps(manifest))
    problems = verify([str(folder)]).problems
    c_array = [p for p in problems if p.check == "c-array"]
    assert [(Path(p.file).name, p.message) for p in c_array] == [
        (cc.name, f"the array's bytes differ from {M}.float32.tflite")
    ]


def test_verify_json_and_exit_code(work, capsys):
    (work / M / f"{M}.float32.tflite").write_bytes(b"x")
    assert main(["verify", M, "--out", str(work), "--json", str(work / "v.json")]) == 1
    err = capsys.readouterr().err.splitlines()
    # One line per problem: the .tflite's size and hash, and the C array that no longer matches it.
    assert len(err) == 3 and all(line.startswith("edgedigits verify: ") for line in err)
    doc = json.loads((work / "v.json").read_text())
    assert doc["passed"] is False
    assert sorted(p["check"] for p in doc["problems"]) == ["c-array", "file", "file"]


def test_export_without_names_exports_what_is_trained(work, capsys):
    assert main(["export", "--format", "onnx", "--quant", "dynamic", "--out", str(work)]) == 0
    assert (work / M / f"{M}.dynamic.onnx").is_file()
    assert "1 artifact(s) written" in capsys.readouterr().out


def test_verify_holds_golden_tolerances_to_the_recipe_contract(work):
    """Tampering that changes a file's golden outputs and loosens its tolerance to match still
    fails: no entry may allow more than its recipe promises."""
    golden_path = work / M / "golden.json"
    golden = json.loads(golden_path.read_text())
    entry = golden["artifacts"][f"{M}.float32.onnx"]
    entry["expected"][2][3] += 0.5
    entry["atol"] = 1e9
    golden_path.write_text(json.dumps(golden))
    report = verify([str(work / M)])
    assert [(Path(p.file).name, p.check) for p in report.problems] == [
        ("golden.json", "golden"),
        (f"{M}.float32.onnx", "golden"),
    ]
    assert (
        "atol 1000000000.0 is looser than the float32 recipe promises (1e-05)"
        in report.problems[1].message
    )


def test_verify_pins_the_manifest_by_its_sha256(work, capsys):
    """verify prints each manifest's hash; --manifest-sha256 fails any other manifest, even one
    that agrees with its (tampered-together) folder."""
    assert main(["verify", "--out", str(work)]) == 0
    out = capsys.readouterr().out
    digest = _sha(work / M / "manifest.json")
    assert f"manifest sha256 {digest}  {work / M}/manifest.json" in out
    assert main(["verify", "--out", str(work), "--manifest-sha256", digest.upper()]) == 0
    capsys.readouterr()
    manifest = json.loads((work / M / "manifest.json").read_text())
    manifest["command"] = "edgedigits export (rewritten)"
    (work / M / "manifest.json").write_text(json.dumps(manifest))
    assert main(["verify", "--out", str(work)]) == 0  # consistent: only a pin tells
    assert main(["verify", "--out", str(work), "--manifest-sha256", digest]) == 1
    err = capsys.readouterr().err
    assert (
        f"manifest.json: manifest: SHA-256 {_sha(work / M / 'manifest.json')} is not the "
        f"pinned {digest}" in err
    )
    assert main(["verify", "--out", str(work), "--manifest-sha256", "abc"]) == 1
    assert "--manifest-sha256 abc: not a SHA-256" in capsys.readouterr().err
