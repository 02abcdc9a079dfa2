"""The fuzz tier (edgedigits/fuzz/): a bounded campaign of mutated files through each family's
reader runs in CI; every input that ever broke a reader (tests/fuzz_corpus/) replays as a
regression case; and the harness is pinned: a case replays exactly, and each way a process can
end is judged as docs/concepts/what-verify-proves.md says.

The campaign's seed is fixed so that CI is repeatable; ``EDGEDIGITS_FUZZ_SEED`` and
``EDGEDIGITS_FUZZ_SECONDS`` explore further. The full campaign (2,000 cases a family) is
``python bench/fuzz.py``, its table committed in bench/results/fuzz.md.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgedigits.fuzz import FAMILIES, Family, case_bytes, classify, run_in_child
from edgedigits.fuzz.families import as_cli
from edgedigits.fuzz.mutate import mutate_bytes, mutate_json_text, mutate_zip_member, write_zip

FUZZ_SEED = int(os.environ.get("EDGEDIGITS_FUZZ_SEED", "2026"))
FUZZ_SECONDS = float(os.environ.get("EDGEDIGITS_FUZZ_SECONDS", "108"))  # all families together
CORPUS = Path(__file__).parent / "fuzz_corpus"


# -- the campaign (fuzz tier) --------------------------------------------------------------------


def _fuzz(*args: str, timeout: float) -> dict:
    """``python -m edgedigits.fuzz`` in a fresh process: the cases fork from it, and this test
    session may have run TensorFlow, which must not be forked (and would inflate every case's
    shared memory)."""
    done = subprocess.run(
        [sys.executable, "-m", "edgedigits.fuzz", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.fuzz
@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_bounded_campaign_breaks_no_reader(family, fuzz_seeds, tmp_path):
    seconds = FUZZ_SECONDS / len(FAMILIES)
    tally = _fuzz(
        "--seeds", str(fuzz_seeds), "--family", family, "--seed", str(FUZZ_SEED),
        "--seconds", str(seconds), "--keep", str(tmp_path), timeout=seconds + 120,
    )  # fmt: skip
    assert tally["cases"] >= 10, f"only {tally['cases']} cases ran in the budget"
    assert not tally["failures"], "\n".join(
        f"{family} case {r['case']}: {r['outcome']}: {r['said']} (keep it: python "
        f"bench/fuzz.py --replay {family}:{FUZZ_SEED}:{r['case']} --keep "
        f"tests/fuzz_corpus/{family})"
        for r in tally["failures"]
    )


# -- every input that ever broke a reader --------------------------------------------------------

CORPUS_FILES = sorted(p for p in CORPUS.glob("*/*") if p.is_file())


def test_the_corpus_covers_what_the_issue_named():
    families = {p.parent.name for p in CORPUS_FILES}
    assert {"keras", "h5", "npz", "ort"} <= families
    assert set(families) <= set(FAMILIES)
    assert all("--" in p.name for p in CORPUS_FILES), "name kept cases LABEL--SEEDFILE"


@pytest.mark.integration
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_input_that_broke_a_reader_is_refused_in_one_line(path, fuzz_seeds):
    case = _fuzz("--seeds", str(fuzz_seeds), "--file", str(path), timeout=300)
    assert case["outcome"] == "refused", f"{case['outcome']}: {case['stderr'][-800:]}"
    assert case["peak_mb"] < 1024


# -- the harness ---------------------------------------------------------------------------------


def _status(code: int = 0, sig: int = 0) -> int:
    return sig if sig else code << 8


@pytest.mark.parametrize(
    "status, peak, stderr, timed_out, outcome",
    [
        (_status(0), 50, "", False, "accepted"),
        (_status(1), 50, "edgedigits import: error: x.h5: damaged HDF5\n", False, "refused"),
        (_status(1), 50, "edgedigits verify: a\nedgedigits verify: b\n", False, "refused"),
        (_status(1), 50, "", False, "noisy"),  # a refusal that says nothing
        (_status(1), 50, "edgedigits verify: a\n\x1b[0;31m[E:onnxruntime] x\n", False, "noisy"),
        (_status(0), 50, "UserWarning: legacy\n", False, "noisy"),
        (
            _status(70),
            50,
            "Traceback (most recent call last):\n  ...\nKeyError: 1\n",
            False,
            "traceback",
        ),
        (_status(sig=signal.SIGSEGV), 50, "", False, "signal"),
        (_status(sig=signal.SIGKILL), 50, "", True, "hang"),
        (_status(1), 1500, "edgedigits import: error: x\n", False, "memory"),
    ],
)
def test_each_way_a_case_ends_is_judged(status, peak, stderr, timed_out, outcome):
    assert classify(status, peak, stderr, timed_out) == outcome


def _crash() -> int:
    os.kill(os.getpid(), signal.SIGSEGV)
    return 0


def _hang() -> int:
    time.sleep(30)
    return 0


def _hog() -> int:
    block = np.ones(160 << 20, dtype=np.float64)  # 1.25 GiB, every page touched
    return int(block[-1]) - 1


def _bug() -> int:
    return {}["missing"]


def _refuse() -> int:
    from edgedigits.errors import ModelFileError

    def read() -> None:
        raise ModelFileError("x.keras: not a model")

    return as_cli("import", read)()


@pytest.mark.parametrize(
    "entry, outcome",
    [
        (_refuse, "refused"),
        (_bug, "traceback"),
        (_crash, "signal"),
        (_hang, "hang"),
        (_hog, "memory"),
    ],
)
def test_a_forked_case_is_judged_by_how_it_really_ends(entry, outcome, tmp_path):
    got, stderr, _peak = run_in_child(entry, tmp_path, timeout_s=2 if entry is _hang else 30)
    assert got == outcome, stderr


def test_a_case_replays_from_its_numbers(tmp_path):
    (tmp_path / "seed.bin").write_bytes(bytes(range(256)) * 8)
    family = Family("t", "-", lambda root: [root / "seed.bin"], mutate_bytes, lambda *a: None)
    one = case_bytes(family, tmp_path, 1, 5)
    assert case_bytes(family, tmp_path, 1, 5) == one
    assert {case_bytes(family, tmp_path, 1, k)[1] for k in range(20)} != {one[1]}
    assert case_bytes(family, tmp_path, 2, 5)[1] != one[1]  # another campaign seed


def test_json_mutations_change_the_document_and_stay_parseable_mostly():
    text = json.dumps({"a": [1, 2, {"b": "c"}], "d": 1.5}).encode()
    outs = [mutate_json_text(np.random.default_rng(k), text) for k in range(50)]
    assert sum(o != text for o in outs) >= 45
    parsed = 0
    for out in outs:
        try:
            json.loads(out)
            parsed += 1
        except (ValueError, RecursionError):
            pass
    assert parsed >= 30  # most reach the reader's structure checks, not its JSON parser


def test_a_zip_member_mutation_leaves_a_valid_zip_with_one_member_changed():
    members = [
        (zipfile.ZipInfo("config.json"), b'{"x": 1}'),
        (zipfile.ZipInfo("model.weights.h5"), bytes(100)),
    ]
    data = write_zip(members)
    out = mutate_zip_member(np.random.default_rng(3), data, {"config.json": 1.0}, {})
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        assert zf.testzip() is None
        assert zf.read("model.weights.h5") == bytes(100)
        assert zf.read("config.json") != b'{"x": 1}'
