"""The latency report in a repository that is not edgedigits, as its CI would run it.

A throwaway git repository holds a notebook's ``.keras`` file and a ``pyproject.toml`` with
``[tool.edgedigits]``; edgedigits is installed into a fresh virtual environment from a wheel
built from this checkout (the ML stack comes from the test environment's site-packages, less
edgedigits itself, through a ``.pth`` line, so no 2 GB download); then ``action.yml``'s steps
run as a runner runs them (``tests/github_action.py``), once per commit:

- a commit that changes nothing passes;
- a commit that only edits the README passes;
- a commit that makes the model ~1.25x the work (its hidden layer 64 -> 80 units) fails, and the
  failure names the file and its growth.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from github_action import run_action

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = """
import sys
import keras
import numpy as np
from edgedigits.data import load_dataset

widths, path = [int(w) for w in sys.argv[1].split("+")], sys.argv[2]  # "64" or "64+16"
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((28, 28)),
    keras.layers.Flatten(),
    *[keras.layers.Dense(w, activation="relu") for w in widths],
    keras.layers.Dense(10, activation="softmax"),
])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
data = load_dataset()
model.fit(data.train_images[:12000] / 255.0, data.train_labels[:12000], epochs=2, verbose=0)
model.save(path)
"""
CONFIG = """
[project]
name = "digit-app"
version = "0.1.0"

[tool.edgedigits]
models = ["models/digits.keras"]
targets = ["web", "mobile", "server"]
recipes = ["float32", "int8"]

[tool.edgedigits.gate]
max_slowdown = 1.10
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _notebook(width: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-c", NOTEBOOK, str(width), str(path)],
        check=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A fresh venv that gets edgedigits from a wheel of this checkout (by the action's own
    install step); the test environment's packages are visible to it through a .pth line."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(work),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    venv = work / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True, timeout=300)
    site = subprocess.run(
        [
            str(venv / "bin/python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The test environment's packages, less edgedigits: where CI installed this checkout
    # non-editably, a .pth to the whole site-packages would let pip call the wheel "already
    # satisfied" and run the test environment's copy instead.
    shared = work / "test-environment-site"
    shared.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(("edgedigits", "__editable__.edgedigits")):
            (shared / entry.name).symlink_to(entry)
    Path(site, "test-environment.pth").write_text(f"{shared}\n")
    return venv


def test_the_action_in_a_repository_that_is_not_edgedigits(tmp_path, wheel_venv):
    repo = tmp_path / "digit-app"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text(CONFIG)
    (repo / "README.md").write_text("# A digit app\n")
    (repo / ".gitignore").write_text("edgedigits-ci/\n.edgedigits-history/\n.step-summary.md\n")
    _notebook(64, repo / "models/digits.keras")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "the app and its model")
    wheel = next(wheel_venv.parent.glob("edgedigits-*.whl"))
    env = {
        "PATH": f"{wheel_venv / 'bin'}:{os.environ['PATH']}",
        "GITHUB_REF": "refs/pull/1/merge",
        "PYTHONPATH": "",
    }

    def run(message: str) -> tuple[bool, str, str]:
        steps, summary = run_action(ROOT / "action.yml", repo, {"package": str(wheel)}, env)
        compare = next(s for s in steps if s.name == "Compare base and head")
        assert compare.returncode is not None, (
            f"{message}: {[(s.name, s.output[-500:]) for s in steps]}"
        )
        installed = next(s for s in steps if s.name == "Install edgedigits and Valgrind")
        assert installed.returncode == 0, installed.output[-2000:]
        return compare.returncode == 0, compare.output, summary

    _git(repo, "commit", "-q", "--allow-empty", "-m", "nothing")
    passed, output, summary = run("an empty commit")
    assert passed, output[-3000:]
    assert summary.startswith("**edgedigits: head vs base: no regression**"), summary[:500]
    # The wheel, not this checkout, ran: the venv's own edgedigits.
    where = subprocess.run(
        [str(wheel_venv / "bin/python"), "-c", "import edgedigits; print(edgedigits.__file__)"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=repo,
    ).stdout
    assert str(wheel_venv) in where and str(ROOT / "edgedigits") not in where

    (repo / "README.md").write_text("# A digit app\n\nNow with a README that says more.\n")
    _git(repo, "commit", "-q", "-am", "docs only")
    passed, output, summary = run("a README edit")
    assert passed, output[-3000:]

    _notebook(80, repo / "models/digits.keras")
    _git(repo, "commit", "-q", "-am", "a wider hidden layer")
    passed, output, summary = run("a wider layer")
    assert not passed
    # The failure names the file and how much it grew, on stderr and in the summary.
    named = re.findall(r"regression: digits: (digits\.[\w.-]+): ([\d.]+)x", output)
    assert named, output[-3000:]
    assert any(file == "digits.float32.tflite" and float(g) > 1.1 for file, g in named), named
    first = summary.splitlines()[0]
    assert re.match(r"\*\*edgedigits: head vs base: \d+ file\(s\) regressed\*\*", first), first
    assert re.search(r"\* Slower: digits\.[\w.-]+ [\d.]+x", summary), summary[:800]
    assert re.search(r"\* Bigger: digits\.[\w.-]+ [\d,]+ -> [\d,]+ bytes \(\+\d+\.\d%\)", summary)
    assert (repo / "edgedigits-ci/report/compare.json").is_file()
    assert (repo / "edgedigits-ci/report/compare.png").is_file()
