"""One model folder's ``manifest.json`` and ``golden.json``, kept in step with its files.

The promise: at every instant, each ``ok`` record in ``manifest.json`` matches the file beside it
(SHA-256 and size), and each golden entry belongs to that record. An export killed at any point
leaves records that tell the truth; at worst a file has no record yet.

How, for each artifact that lands (:meth:`ArtifactStore.land`):

1. its new bytes are staged under a temporary name and verified there (by the exporter);
2. if an older, different file has a record, the record and its golden entry are removed first;
3. the staged file is renamed onto its name;
4. the golden entry is written, then the manifest record (each JSON file replaced atomically).

A failed attempt (:meth:`ArtifactStore.fail`) never touches a good file or its record; it is
written as a ``failed`` record only when there is no good one to keep.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Sequence

from edgedigits import atomic
from edgedigits.export.golden import read_golden
from edgedigits.export.manifest import SCHEMA as MANIFEST_SCHEMA
from edgedigits.export.manifest import ArtifactRecord, manifest_document, read_manifest
from edgedigits.errors import ModelFileError
from edgedigits.jsonfile import read_bounded
from edgedigits.zoo import ModelSpec

MANIFEST, GOLDEN, METRICS = "manifest.json", "golden.json", "metrics.json"


def sha256_of(path: Path) -> str:
    from edgedigits.model_files import file_sha256

    return file_sha256(path)


def check_model_folder(folder: Path) -> None:
    """Refuse (one line naming the file) a damaged manifest, golden or metrics file, before work."""
    read_manifest(folder / MANIFEST)
    read_golden(folder / GOLDEN)
    read_metrics(folder / METRICS)


def check_export_folders(out: Path | str, names: Sequence[str]) -> Path:
    """Before any work: ``out`` and each ``out/<name>/`` writable, their records readable."""
    from edgedigits.model_files import check_model_folders, ensure_writable_dir

    out = ensure_writable_dir(out)
    check_model_folders(out, names)
    for name in names:
        check_model_folder(out / name)
    return out


def read_metrics(path: Path) -> dict[str, Any] | None:
    """``metrics.json`` (written by ``train``), None when absent; a damaged one is an error."""
    if not path.exists():
        return None
    try:  # a regular file, bounded in size and depth (jsonfile.py)
        data = read_bounded(path, lambda why: ModelFileError(
            f"{path}: not a training metrics file ({why}); retrain the model or remove the file"))
    except FileNotFoundError:
        return None
    accuracy = data.get("test_accuracy") if isinstance(data, dict) else None
    if not isinstance(data, dict) or (accuracy is not None and (
            isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)))):
        raise ModelFileError(f"{path}: not a training metrics file (expected the JSON object "
                             "'edgedigits train' writes); retrain the model or remove the file")
    return data


class ArtifactStore:
    """The records of one model folder; see the module docstring for the order of writes."""

    def __init__(self, folder: Path, spec: ModelSpec, source: dict[str, Any],
                 extra: dict[str, Any], golden_header: Callable[[dict], dict[str, Any]],
                 log: Callable[[str], None] = print):
        self.folder, self.spec, self.source, self.extra = folder, spec, source, extra
        self._golden_doc = golden_header  # entries -> the whole golden document
        self.records: dict[str, dict[str, Any]] = {}
        self.golden: dict[str, dict[str, Any]] = {}
        previous = read_manifest(folder / MANIFEST) or {}
        golden = read_golden(folder / GOLDEN) or {}
        same_source = previous.get("source_model", {}).get("sha256") == source["sha256"] \
            and previous.get("schema") == MANIFEST_SCHEMA  # an older layout: export afresh
        dropped = []
        for entry in previous.get("artifacts", []):
            if entry["status"] != "ok":
                if same_source:
                    self.records[entry["file"]] = entry
                continue
            path = folder / entry["file"]
            if same_source and path.is_file() and sha256_of(path) == entry["sha256"]:
                self.records[entry["file"]] = entry
                if golden.get("artifacts", {}).get(entry["file"], {}).get("sha256") == \
                        entry["sha256"]:
                    self.golden[entry["file"]] = golden["artifacts"][entry["file"]]
            else:
                dropped.append(entry["file"])
        if dropped:
            why = ("written by an older edgedigits" if previous.get("schema") != MANIFEST_SCHEMA
                   else "the model was retrained" if not same_source else "changed or missing")
            log(f"  {folder / MANIFEST}: dropping {len(dropped)} stale record(s) ({why}): "
                f"{', '.join(dropped)}")
        self._dirty = bool(dropped) or bool(previous) and not same_source

    def good_record(self, file: str) -> dict[str, Any] | None:
        entry = self.records.get(file)
        return entry if entry and entry["status"] == "ok" else None

    def land(self, record: ArtifactRecord, golden_entry: dict[str, Any] | None,
             staged: Sequence[atomic.StagedFile]) -> None:
        """Rename the verified ``staged`` files into place with their records (see module doc)."""
        old = self.records.get(record.file)
        if old is not None and old.get("sha256") != record.sha256:
            self.records.pop(record.file)
            self.golden.pop(record.file, None)
            self._write()
        for item in staged:
            item.commit()
        if golden_entry is not None:
            self.golden[record.file] = golden_entry
        self.records[record.file] = asdict(record)
        self._write()

    def fail(self, record: ArtifactRecord) -> bool:
        """Record a failed attempt; True when a good earlier file and record were kept."""
        if self.good_record(record.file):
            return True
        self.records[record.file] = asdict(record)
        self._write()
        return False

    def land_companion(self, name: str, data: bytes, info: dict[str, Any]) -> None:
        """A file that belongs to the folder rather than one artifact (``required_operators.
        config``): written atomically, then listed with its hash under ``companions``."""
        atomic.write_bytes(self.folder / name, data)
        self.extra.setdefault("companions", {})[name] = {
            "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data), **info}
        self._write()

    def flush(self) -> None:
        """Write once even if nothing landed, when stale records were dropped on load."""
        if self._dirty:
            self._write()

    def _write(self) -> None:
        self._dirty = False
        atomic.write_json(self.folder / GOLDEN, self._golden_doc(
            {k: v for k, v in self.golden.items() if k in self.records}))
        atomic.write_json(self.folder / MANIFEST, manifest_document(
            self.spec, self.source, list(self.records.values()), self.extra))
