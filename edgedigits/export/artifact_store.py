"""One model folder's ``manifest.json`` and ``golden.json``, kept in step with its files.

The promise: after a kill at any instant, the folder verifies as its state before the change or
after it. Each change is one folder commit (``folder_commit.py``): under the folder's lock, a
linked copy of the folder gets the new file(s), the ORT operator config when ``.ort`` files
changed, the golden entries and the manifest, whose ``golden`` field records ``golden.json``'s
SHA-256; then the copy is swapped in, in one step.

Each commit builds on the folder as it is on disk then, not as this process read it earlier, so
two exports into one ``--out`` keep each other's files. Records that no longer hold (another
source model, a file that is gone, golden vectors of other images) are dropped with their files,
so what remains always verifies. A failed attempt (:meth:`ArtifactStore.fail`) never touches a
good file or its record; it is written as a ``failed`` record only when there is no good one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edgedigits import atomic, folder_commit
from edgedigits.errors import ModelFileError
from edgedigits.export.golden import read_golden
from edgedigits.export.manifest import SCHEMA as MANIFEST_SCHEMA
from edgedigits.export.manifest import ArtifactRecord, manifest_document, read_manifest
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
        data = read_bounded(
            path,
            lambda why: ModelFileError(
                f"{path}: not a training metrics file ({why}); retrain the model or remove the file"
            ),
        )
    except FileNotFoundError:
        return None
    accuracy = data.get("test_accuracy") if isinstance(data, dict) else None
    if not isinstance(data, dict) or (
        accuracy is not None
        and (isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)))
    ):
        raise ModelFileError(
            f"{path}: not a training metrics file (expected the JSON object "
            "'edgedigits train' writes); retrain the model or remove the file"
        )
    return data


class ArtifactStore:
    """The records of one model folder; see the module docstring."""

    def __init__(
        self,
        folder: Path,
        spec: ModelSpec,
        source: dict[str, Any],
        extra: dict[str, Any],
        golden_header: Callable[[dict], dict[str, Any]],
        log: Callable[[str], None] = print,
    ):
        self.folder, self.spec, self.source, self.extra = folder, spec, source, extra
        self._golden_doc = golden_header  # entries -> the whole golden document
        self.log = log
        self.records: dict[str, dict[str, Any]] = {}
        self.golden: dict[str, dict[str, Any]] = {}
        with folder_commit.reading(folder):
            previous = read_manifest(folder / MANIFEST) or {}
            golden = read_golden(folder / GOLDEN) or {}
            # Hash each recorded file once here: a file changed by hand is not "already there".
            self._kept, dropped, why = self._still_true(folder, previous, golden, sha=True)
        self.records = {e["file"]: e for e in self._kept}
        self.golden = {
            f: golden["artifacts"][f] for f in self.records if f in golden.get("artifacts", {})
        }
        self._dirty = bool(dropped) or bool(previous) and not self._same_source(previous)

    def _same_source(self, manifest: dict[str, Any]) -> bool:
        return (
            manifest.get("source_model", {}).get("sha256") == self.source["sha256"]
            and manifest.get("schema") == MANIFEST_SCHEMA
        )  # an older layout: export afresh

    def _still_true(
        self, folder: Path, manifest: dict[str, Any], golden: dict[str, Any], sha: bool = False
    ) -> tuple[list[dict[str, Any]], list[str], str]:
        """The records of ``manifest`` that still describe ``folder`` (kept) and those that do
        not (dropped), with why; ``sha`` re-hashes each file, else its size is checked."""
        same_source = self._same_source(manifest)
        ours = {k: v for k, v in self._golden_doc({}).items() if k == "images"}
        same_images = not golden or all(golden.get(k) == v for k, v in ours.items())
        kept, dropped = [], []
        for entry in manifest.get("artifacts", []):
            if entry["status"] != "ok":
                if same_source:
                    kept.append(entry)
                continue
            path = folder / entry["file"]
            entry_golden = golden.get("artifacts", {}).get(entry["file"], {})
            if (
                same_source
                and same_images
                and path.is_file()
                and not path.is_symlink()
                and (
                    sha256_of(path) == entry["sha256"]
                    if sha
                    else path.stat().st_size == entry["size_bytes"]
                )
                and entry_golden.get("sha256") == entry["sha256"]
            ):
                kept.append(entry)
            else:
                dropped.append(entry["file"])
        why = (
            "written by an older edgedigits"
            if manifest.get("schema") != MANIFEST_SCHEMA
            else "the model was retrained"
            if not same_source
            else "golden images of another data source"
            if not same_images
            else "changed, missing or without golden vectors"
        )
        return kept, dropped, why

    def good_record(self, file: str) -> dict[str, Any] | None:
        entry = self.records.get(file)
        return entry if entry and entry["status"] == "ok" else None

    def land(
        self,
        record: ArtifactRecord,
        golden_entry: dict[str, Any] | None,
        staged: Mapping[str, Path],
    ) -> None:
        """Move the verified ``staged`` files ({name: finished file}) into the folder with their
        record and golden entry, in one commit."""

        def build(stage: Path) -> None:
            for name, path in staged.items():
                os.replace(path, stage / name)
            self._finish(
                stage,
                {record.file: asdict(record)},
                {record.file: golden_entry} if golden_entry is not None else {},
            )

        folder_commit.commit(self.folder, build, what=record.file)

    def fail(self, record: ArtifactRecord) -> bool:
        """Record a failed attempt; True when a good earlier file and record were kept."""
        kept = []

        def build(stage: Path) -> None:
            current = read_manifest(stage / MANIFEST) or {}
            if any(
                e["file"] == record.file
                and e["status"] == "ok"
                and self._same_source(current)
                and (stage / record.file).is_file()
                for e in current.get("artifacts", [])
            ):
                kept.append(True)
            self._finish(stage, {} if kept else {record.file: asdict(record)}, {})

        folder_commit.commit(self.folder, build, what=MANIFEST)
        return bool(kept)

    def flush(self) -> None:
        """Write once even if nothing landed, when stale records were dropped on load."""
        if self._dirty:
            folder_commit.commit(
                self.folder, lambda stage: self._finish(stage, {}, {}), what=MANIFEST
            )

    def _finish(
        self,
        stage: Path,
        records: dict[str, dict[str, Any]],
        golden_entries: dict[str, dict[str, Any]],
    ) -> None:
        """In a commit's stage: the folder's records as they are on disk now, those that no
        longer hold dropped with their files, ``records`` set; then the ORT config, golden.json
        and the manifest recording its hash."""
        current = read_manifest(stage / MANIFEST) or {}
        golden = read_golden(stage / GOLDEN) or {}
        kept, dropped, why = self._still_true(stage, current, golden)
        by_file = {e["file"]: e for e in kept}
        entries = {f: golden["artifacts"][f] for f in by_file if f in golden.get("artifacts", {})}
        dropped = [f for f in dropped if f not in records]
        if dropped:
            self.log(
                f"  {self.folder}: removing {len(dropped)} stale artifact(s) ({why}): "
                f"{', '.join(dropped)}"
            )
        for entry in current.get("artifacts", []):
            if entry["file"] in dropped:
                for name in (entry["file"], (entry.get("details") or {}).get("header")):
                    if name and name not in records:
                        with contextlib.suppress(FileNotFoundError):
                            (stage / name).unlink()
        by_file.update(records)
        entries.update(golden_entries)
        for name in _derived_from_changed_files(by_file, set(records)):
            self.log(f"  {self.folder}: removing {name}: the file it was made from changed")
            for stale in (name, (by_file[name].get("details") or {}).get("header")):
                if stale and stale not in records:
                    with contextlib.suppress(FileNotFoundError):
                        (stage / stale).unlink()
            del by_file[name]
            entries.pop(name, None)
        extra = dict(self.extra)
        if self._same_source(current) and current.get("companions"):
            extra["companions"] = current["companions"]
        self._ort_config(stage, by_file, extra)
        golden_bytes = atomic.json_bytes(
            self._golden_doc({k: v for k, v in entries.items() if k in by_file})
        )
        folder_commit.write_new(stage / GOLDEN, golden_bytes)
        extra["golden"] = {
            "file": GOLDEN,
            "sha256": hashlib.sha256(golden_bytes).hexdigest(),
            "size_bytes": len(golden_bytes),
        }
        folder_commit.write_new(
            stage / MANIFEST,
            atomic.json_bytes(
                manifest_document(self.spec, self.source, list(by_file.values()), extra)
            ),
        )
        self.records, self.golden = by_file, entries

    def _ort_config(
        self, stage: Path, records: dict[str, dict[str, Any]], extra: dict[str, Any]
    ) -> None:
        """``required_operators.config`` for the folder's ``.ort`` files with ok records (what a
        reduced-operator ONNX Runtime build for them takes), regenerated whenever that set or
        one of its files changes, and listed under ``companions`` with its hash."""
        from edgedigits.export import to_ort

        ort_files = sorted(
            f for f, r in records.items() if r["status"] == "ok" and r["format"] == "ort"
        )
        companions = dict(extra.get("companions") or {})
        info = companions.get(to_ort.CONFIG_NAME)
        shas = {f: records[f]["sha256"] for f in ort_files}
        if (
            info
            and info.get("covers") == ort_files
            and info.get("ort_sha256") == shas
            and (stage / to_ort.CONFIG_NAME).is_file()
        ):
            return
        companions.pop(to_ort.CONFIG_NAME, None)
        with contextlib.suppress(FileNotFoundError):
            (stage / to_ort.CONFIG_NAME).unlink()
        if ort_files:
            text = to_ort.operator_config([stage / f for f in ort_files]).encode()
            folder_commit.write_new(stage / to_ort.CONFIG_NAME, text)
            companions[to_ort.CONFIG_NAME] = {
                "sha256": hashlib.sha256(text).hexdigest(),
                "size_bytes": len(text),
                "covers": ort_files,
                "ort_sha256": shas,
                "operators": to_ort.config_operators(text.decode()),
            }
        if companions:
            extra["companions"] = companions
        else:
            extra.pop("companions", None)


def _derived_from_changed_files(records: dict[str, dict[str, Any]], landing: set[str]) -> list[str]:
    """Records made from another file of the folder whose bytes are no longer those they were
    made from: a C array (``x.int8.cc``) holds the bytes of ``x.int8.tflite``, so re-exporting
    only the ``.tflite`` leaves an array that ``verify`` would fail. Such a record is dropped
    (export makes it again when asked), so that what remains always verifies. Records landing
    in this commit are fresh, and kept."""
    stale = []
    for name, record in records.items():
        details = record.get("details") or {}
        if record.get("status") != "ok" or record.get("format") != "c" or name in landing:
            continue
        source = records.get(name.removesuffix(".cc") + ".tflite")
        if (
            source is not None
            and source.get("status") == "ok"
            and details.get("tflite_sha256")
            and source.get("sha256") != details["tflite_sha256"]
        ):
            stale.append(name)
    return stale
