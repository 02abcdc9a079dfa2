"""One model folder held against its manifest: coverage, each record's file and runtime."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from edgedigits._tf import native_stderr_captured
from edgedigits.errors import EdgeDigitsError, first_line
from edgedigits.model_files import file_sha256
from edgedigits.verify.formats import FormatChecks, in_tflm
from edgedigits.verify.golden import GoldenChecks
from edgedigits.verify.report import ARTIFACT_SUFFIXES, MAX_LOG_CHARS, Problem, VerifyReport

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # a terminal's colours, in ONNX Runtime's log lines


class FolderCheck(GoldenChecks, FormatChecks):
    def __init__(self, folder: Path, report: VerifyReport, pinned: set[str] | None = None):
        self.folder, self.report, self.pinned = folder, report, pinned or set()
        self.golden: dict[str, Any] = {}
        self.manifest: dict[str, Any] = {}

    def problem(self, file: str | Path, check: str, message: str) -> None:
        self.report.problems.append(Problem(str(self.folder / file), check, message))

    def run(self) -> None:
        from edgedigits.export.golden import read_golden
        from edgedigits.export.manifest import read_manifest

        try:
            self.manifest = read_manifest(self.folder / "manifest.json") or {}
        except EdgeDigitsError as exc:
            self.report.problems.append(
                Problem(str(self.folder / "manifest.json"), "manifest", str(exc).split(": ", 1)[-1])
            )
            return
        digest = file_sha256(self.folder / "manifest.json")
        self.report.manifests[str(self.folder)] = digest
        proof = self.manifest.get("source_model", {}).get("equivalence")
        if isinstance(proof, str) and proof.startswith("not checked"):
            self.report.notes.append(
                f"{self.folder}: the model was imported without an equivalence check ({proof})"
            )
        if self.pinned and digest not in self.pinned:
            self.problem(
                "manifest.json",
                "manifest",
                f"SHA-256 {digest} is not the pinned {' or '.join(sorted(self.pinned))}",
            )
        try:
            self.golden = read_golden(self.folder / "golden.json") or {}
            if not self.golden:
                self.problem("golden.json", "golden", "missing: no golden vectors to replay")
        except EdgeDigitsError as exc:  # damaged: said once, and nothing is replayed
            self.problem("golden.json", "golden", str(exc).split(": ", 1)[-1])
        if self.golden:
            self.check_golden_hash()
            if not self.check_golden_images():
                self.golden = {}  # blamed once here, not once per artifact it would replay in
        records = [a for a in self.manifest["artifacts"] if a["status"] == "ok"]
        recorded = {a["file"] for a in records}
        recorded |= {a.get("details", {}).get("header") for a in records} - {None}
        for path in sorted(self.folder.iterdir()):
            if (
                path.suffix in ARTIFACT_SUFFIXES
                and not path.name.startswith(".")
                and path.name not in recorded
            ):
                self.problem(
                    path.name, "coverage", "artifact file with no ok record in manifest.json"
                )
        for record in records:
            before = len(self.report.problems)
            self.check_record(record)
            if len(self.report.problems) == before:
                self.report.verified.append(str(self.folder / record["file"]))
        self.check_companions()

    def check_record(self, record: dict[str, Any]) -> None:
        name = record["file"]
        path = self.folder / name
        if path.is_symlink():
            self.problem(
                name,
                "file",
                f"a symbolic link (to {os.readlink(path)}); edgedigits "
                "writes real files, and an app bundle may not follow it",
            )
            return
        if not path.is_file():
            self.problem(name, "file", "missing (the manifest records it)")
            return
        size, digest = path.stat().st_size, file_sha256(path)
        if size != record.get("size_bytes"):
            self.problem(
                name, "file", f"{size} bytes, the manifest says {record.get('size_bytes')}"
            )
        if digest != record["sha256"]:
            self.problem(
                name,
                "file",
                f"SHA-256 {digest[:16]}... differs from the manifest's "
                f"{record['sha256'][:16]}... (modified since export)",
            )
            return  # the rest would describe some other file
        parity = record.get("parity") or {}
        if not parity.get("passed"):
            self.problem(name, "parity", "the export-time parity check did not pass")
        entry = self.golden.get("artifacts", {}).get(name) if self.golden else None
        if self.golden and entry is None:
            self.problem(name, "golden", "no entry in golden.json")
        elif entry is not None and entry.get("sha256") != record["sha256"]:
            self.problem(name, "golden", "golden.json's entry is for another version of the file")
            entry = None
        if record["format"] == "c":
            runnable = self.check_c_array(record, path)
            if runnable is None:
                return
            with tempfile.TemporaryDirectory(prefix="edgedigits-verify-") as tmp:
                tflite = Path(tmp) / (Path(name).stem + ".tflite")
                tflite.write_bytes(runnable)
                self.check_in_runtime(record, tflite, None if in_tflm(entry) else entry)
                if in_tflm(entry) or record.get("details", {}).get("tflm"):
                    self.check_in_runtime(
                        record, tflite, entry if in_tflm(entry) else None, tflm=True
                    )
            return
        self.check_in_runtime(record, path, entry)

    def check_in_runtime(
        self,
        record: dict[str, Any],
        path: Path,
        entry: dict[str, Any] | None,
        *,
        tflm: bool = False,
    ) -> None:
        """The artifact loads in its runtime and has the record's tensors, or, with ``tflm``, runs
        in TensorFlow Lite Micro with the arena its record states; then replays ``entry``."""
        name = record["file"]
        if tflm:
            from edgedigits.runtimes.tflm import TFLMRunner

            kind, runtime = "tflm", "TensorFlow Lite Micro"
            open_runner, check = TFLMRunner, self._check_arena
        else:
            from edgedigits.runtimes import runner_for

            kind, runtime = "tensors", "its runtime"
            open_runner, check = runner_for, self._check_tensors
        # A runtime's own log lines (ONNX Runtime's coloured errors, LiteRT's notices) are kept
        # in the report, never printed: the problem line says what went wrong, once.
        with native_stderr_captured() as log:
            try:
                runner = open_runner(path)
                runner.__enter__()
            except Exception as exc:  # noqa: BLE001 - any runtime's load error is this file's
                self.problem(name, kind, f"does not load in {runtime} ({first_line(exc)})")
                runner = None
            if runner is not None:
                try:
                    check(name, record, runner)
                    if entry is not None and self.check_tolerance(name, record, entry):
                        self.replay(name, runner, entry)
                except Exception as exc:  # noqa: BLE001 - a file that loads but cannot run
                    self.problem(
                        name, kind, f"loads but fails to run in {runtime} ({first_line(exc)})"
                    )
                finally:
                    with contextlib.suppress(Exception):
                        runner.__exit__(None, None, None)
        if log.text.strip():
            text = _ANSI.sub("", log.text)[-MAX_LOG_CHARS:]
            self.report.runtime_logs[str(self.folder / name)] = text

    def _check_tensors(self, name: str, record: dict[str, Any], runner: Any) -> None:
        for kind, tensors in (("inputs", runner.inputs), ("outputs", runner.outputs)):
            actual = [t.to_json() for t in tensors]
            if actual != record.get(kind):
                self.problem(
                    name,
                    "tensors",
                    f"{kind} are {_tensors(actual)}, the manifest "
                    f"says {_tensors(record.get(kind))}",
                )


def _tensors(items: Any) -> str:
    if not isinstance(items, list):
        return repr(items)
    parts = []
    for t in items:
        q = t.get("quantization") if isinstance(t, dict) else None
        quant = f" q({q['scale']:.6g},{q['zero_point']})" if q else ""
        parts.append(
            f"{t.get('name')} {t.get('shape')} {t.get('dtype')}{quant}"
            if isinstance(t, dict)
            else repr(t)
        )
    return "[" + "; ".join(parts) + "]"
