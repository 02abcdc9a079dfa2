"""The test tiers are enforced (tests/conftest.py): a unit test that trains or exports fails."""

from __future__ import annotations

import json

import pytest

from conftest import _lists_a_file


def test_training_in_a_unit_test_fails_it():
    from edgedigits import training

    with pytest.raises(AssertionError, match="a unit test trains, converts and exports nothing"):
        training.train_model("seed004_mlp12", dataset=None)


def test_exporting_in_a_unit_test_fails_it():
    from edgedigits.export.exporter import _ModelExport

    with pytest.raises(AssertionError, match="mark it integration"):
        _ModelExport.run(None)


def test_an_exported_folder_left_behind_is_recognized(tmp_path):
    """What the check after each unit test looks for: a manifest whose ok record's file is there
    with its hash (an export happened); a hand-made manifest naming absent files is not one."""
    import hashlib

    (tmp_path / "m.tflite").write_bytes(b"model bytes")
    record = {
        "file": "m.tflite",
        "status": "ok",
        "sha256": hashlib.sha256(b"model bytes").hexdigest(),
    }
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"artifacts": [{**record, "sha256": "0" * 64}]}))
    assert not _lists_a_file(manifest)
    manifest.write_text(json.dumps({"artifacts": [record]}))
    assert _lists_a_file(manifest)
    manifest.unlink()  # or this test would fail the check it describes
