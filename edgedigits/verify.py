"""``edgedigits verify``: the pre-ship check an app's CI runs on a folder of exported artifacts.

For each model folder (``<out>/<model>/`` with a ``manifest.json``), every ``ok`` record is held
against its file and its runtime, as an app would meet them:

* **file**: present, same size, same SHA-256 as recorded;
* **tensors**: the file, loaded in its runtime (LiteRT for ``.tflite``, ONNX Runtime for
  ``.onnx``), declares the recorded inputs and outputs: names, shapes, dtypes, scale/zero-point;
* **golden vectors**: each image of ``golden.json``, preprocessed by the manifest's own formula,
  run one image per call (batch 1) in that runtime, gives the recorded outputs within ``atol`` and
  the recorded class (and the recorded raw int8 values within ``atol_raw``);
* **C arrays**: the bytes of each ``.cc`` array equal the recorded TFLite bytes and the ``.tflite``
  file of the same recipe beside it; the header matches its hash; the array loads in LiteRT with
  the recorded tensors and in TensorFlow Lite Micro with the recorded arena, and replays its
  golden entry there (computed by TFLM at export, one image per ``invoke()``);
* **ORT operator config**: ``required_operators.config`` matches its recorded hash and lists
  exactly the operators of the folder's ``.ort`` files (regenerated and compared);
* **coverage**: every artifact file in the folder has a record, every record its golden entry,
  and the export-time parity check passed;
* **tolerance contract**: no golden entry allows more than its recipe promises
  (``RECIPE_INFO[recipe].golden_atol``; one raw step for integer outputs): a ``golden.json``
  whose tolerances were loosened to pass a changed file fails here;
* **pinned manifest** (``manifest_sha256``): each folder's ``manifest.json`` hashes to one of the
  pinned SHA-256s. The checks above prove the folder is consistent with its manifest; only a hash
  pinned outside the folder (an app's CI, a signed release note) proves the manifest is the one
  that was meant. The report lists each manifest's hash so it can be pinned.

Nothing is fixed or rewritten; each problem is one line naming the file and what is wrong.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits import folder_commit
from edgedigits._tf import native_stderr_captured
from edgedigits.errors import EdgeDigitsError, UsageError, first_line
from edgedigits.model_files import DEFAULT_OUT, file_sha256
from edgedigits.model_import import RECORD
from edgedigits.zoo import list_models

__all__ = ["Problem", "VerifyReport", "replay_golden", "verify"]

ARTIFACT_SUFFIXES = (".tflite", ".onnx", ".ort", ".cc", ".h")
MAX_LOG_CHARS = 4000  # of a runtime's log kept per file in the report


@dataclass(frozen=True)
class Problem:
    file: str  # path of the file (or folder) concerned
    check: str  # file, tensors, golden, c-array, coverage, parity, manifest
    message: str

    def line(self) -> str:
        return f"{self.file}: {self.check}: {self.message}"


@dataclass
class VerifyReport:
    folders: list[str] = field(default_factory=list)
    manifests: dict[str, str] = field(default_factory=dict)  # folder -> manifest.json SHA-256
    verified: list[str] = field(default_factory=list)  # artifact files that passed every check
    problems: list[Problem] = field(default_factory=list)
    # what a runtime wrote to stderr while a file was checked (kept, not printed), by file
    runtime_logs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # said, not failed (an unproven import)

    @property
    def passed(self) -> bool:
        return not self.problems and bool(self.folders)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "edgedigits.verify/1",
            "passed": self.passed,
            "folders": self.folders,
            "manifest_sha256": self.manifests,
            "verified": self.verified,
            "problems": [asdict(p) for p in self.problems],
            "runtime_logs": self.runtime_logs,
            "notes": self.notes,
        }


def _folders(targets: Sequence[str], out: Path) -> list[Path]:
    """Model names mean ``<out>/<name>``; anything else must be a folder (a model folder, or a
    folder of model folders such as ``exports/``). No targets: every model folder under out."""
    if not targets:
        targets = [str(out)]
    folders: list[Path] = []
    for target in targets:
        try:
            named = target in list_models() or (out / target / RECORD).is_file()
            path = out / target if named and not Path(target).exists() else Path(target)
            is_dir = path.is_dir()
        except OSError as exc:  # a name longer than the filesystem allows, say
            raise UsageError(f"{target[:80]}: {exc.strerror or exc}") from None
        if not is_dir:
            raise UsageError(f"{target}: not a model name or a folder")
        if (path / "manifest.json").is_file():
            folders.append(path)
            continue
        found = sorted(
            p.parent for p in path.glob("*/manifest.json") if not p.parent.name.startswith(".")
        )  # a commit's stage: not a model
        if not found:
            raise UsageError(
                f"{path}: no manifest.json there or in its subfolders; run "
                f"'edgedigits export' first"
            )
        folders.extend(found)
    return list(dict.fromkeys(folders))


def verify(
    targets: Sequence[str] = (),
    *,
    out: str | Path = DEFAULT_OUT,
    manifest_sha256: Sequence[str] = (),
    log: Callable[[str], None] = lambda _line: None,
) -> VerifyReport:
    """Check every manifest record under the targets; see the module docstring.

    Args:
        targets: model names or model folders (default: every model folder under ``out``).
        out: the exports folder names are looked up in.
        manifest_sha256: pinned SHA-256s; each folder's manifest.json must hash to one of them.
        log: where one line per verified folder goes.

    Returns:
        A ``VerifyReport``: the files verified and one ``Problem`` per failed check (nothing is
        rewritten).
    """
    pinned = {h.strip().lower() for h in manifest_sha256}
    bad = sorted(h for h in pinned if not _SHA256.fullmatch(h))
    if bad:
        raise UsageError(f"--manifest-sha256 {bad[0]}: not a SHA-256 (64 hexadecimal digits)")
    report = VerifyReport()
    for folder in _folders(list(targets), Path(out)):
        report.folders.append(str(folder))
        before = len(report.problems)
        with folder_commit.reading(folder):  # no export swaps the folder while it is read
            _FolderCheck(folder, report, pinned).run()
        log(f"{folder}: {len(report.problems) - before or 'no'} problem(s)")
    return report


def replay_golden(folder: str | Path, file: str, runner: Any) -> list[Problem]:
    """Replay ``file``'s golden vectors (its folder's ``golden.json``, through the manifest's
    preprocessing, one image per call) in an open ``runner``: another runtime or device than
    the one ``verify`` uses, a GPU say. Returns the problems (none: it matched within the
    entry's ``atol``); a file with no golden entry is one."""
    from edgedigits.export.golden import read_golden
    from edgedigits.export.manifest import read_manifest

    folder = Path(folder)
    check = _FolderCheck(folder, VerifyReport())
    check.manifest = read_manifest(folder / "manifest.json") or {}
    check.golden = read_golden(folder / "golden.json") or {}
    entry = check.golden.get("artifacts", {}).get(file)
    if entry is None:
        check.problem(file, "golden", "no golden entry for this file")
    else:
        check.replay(file, runner, entry)
    return check.report.problems


_SHA256 = re.compile(r"[0-9a-f]{64}")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # a terminal's colours, in ONNX Runtime's log lines


class _FolderCheck:
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

    def check_golden_hash(self) -> None:
        """golden.json is the file the manifest recorded: images, expected outputs and
        tolerances cannot be changed together without the manifest's hash changing too."""
        info = self.manifest.get("golden")
        if not isinstance(info, dict) or not isinstance(info.get("sha256"), str):
            self.problem(
                "golden.json",
                "golden",
                "the manifest records no SHA-256 for it "
                "(exported by an older edgedigits: re-export)",
            )
        elif file_sha256(self.folder / "golden.json") != info["sha256"]:
            self.problem(
                "golden.json",
                "golden",
                "differs from the manifest's SHA-256 (changed since export)",
            )

    def check_golden_images(self) -> bool:
        """Every golden image is 28x28 uint8 pixels: one problem for the shared file."""
        from edgedigits.data.sources import IMAGE_SHAPE

        size = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
        for k, image in enumerate(self.golden.get("images", [])):
            pixels = image.get("pixels") if isinstance(image, dict) else None
            ok = (
                isinstance(pixels, list)
                and len(pixels) == size
                and all(
                    isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 255 for p in pixels
                )
            )
            if not ok:
                count = len(pixels) if isinstance(pixels, list) else 0
                self.problem(
                    "golden.json",
                    "golden",
                    f"image {k} is not {size} pixels 0-255 ({count} values): nothing replayed",
                )
                return False
        return True

    def check_companions(self) -> None:
        """``required_operators.config``: present, as recorded, naming the operators of exactly
        the ``.ort`` files with ok records (regenerated from those files and compared)."""
        from edgedigits.export import to_ort

        companions = self.manifest.get("companions") or {}
        ort_files = sorted(
            r["file"]
            for r in self.manifest.get("artifacts", [])
            if r.get("status") == "ok" and r.get("format") == "ort"
        )
        info = companions.get(to_ort.CONFIG_NAME)
        if ort_files and info is None:
            self.problem(
                to_ort.CONFIG_NAME,
                "companion",
                "the manifest lists .ort files but no operator config",
            )
            return
        if info is None:
            return
        path = self.folder / to_ort.CONFIG_NAME
        if not path.is_file():
            self.problem(to_ort.CONFIG_NAME, "companion", "missing (the manifest records it)")
            return
        if file_sha256(path) != info.get("sha256"):
            self.problem(to_ort.CONFIG_NAME, "companion", "differs from the manifest's SHA-256")
        if info.get("covers") != ort_files:
            self.problem(
                to_ort.CONFIG_NAME,
                "companion",
                f"covers {info.get('covers')}, the manifest's .ort files are {ort_files}",
            )
        elif all((self.folder / f).is_file() for f in ort_files):
            try:
                expected = to_ort.operator_config([self.folder / f for f in ort_files])
            except EdgeDigitsError as exc:
                self.problem(
                    to_ort.CONFIG_NAME, "companion", f"cannot be regenerated: {first_line(exc)}"
                )
                return
            if path.read_text(encoding="utf-8", errors="replace") != expected:
                self.problem(
                    to_ort.CONFIG_NAME,
                    "companion",
                    "does not list exactly the operators of the .ort files",
                )

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
                self.check_in_runtime(record, tflite, None if _in_tflm(entry) else entry)
                if _in_tflm(entry) or record.get("details", {}).get("tflm"):
                    self.check_in_runtime(
                        record, tflite, entry if _in_tflm(entry) else None, tflm=True
                    )
            return
        self.check_in_runtime(record, path, entry)

    def check_c_array(self, record: dict[str, Any], path: Path) -> bytes | None:
        from edgedigits.export import to_c

        name, details = record["file"], record.get("details", {})
        header = details.get("header")
        if header:
            hpath = self.folder / header
            if not hpath.is_file():
                self.problem(header, "c-array", f"missing (the header of {name})")
            elif details.get("header_sha256") and file_sha256(hpath) != details["header_sha256"]:
                self.problem(header, "c-array", "differs from the header recorded with " + name)
        try:
            data = to_c.parse_c_array(path.read_text(encoding="utf-8"))
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            self.problem(name, "c-array", f"no byte array can be read ({first_line(exc)})")
            return None
        if details.get("tflite_bytes") is not None and len(data) != details["tflite_bytes"]:
            self.problem(
                name,
                "c-array",
                f"the array holds {len(data)} bytes, the manifest says {details['tflite_bytes']}",
            )
            return None
        import hashlib

        digest = hashlib.sha256(data).hexdigest()
        if details.get("tflite_sha256") and digest != details["tflite_sha256"]:
            self.problem(name, "c-array", "the array's bytes differ from the recorded TFLite bytes")
            return None
        tflite = self.folder / (name.removesuffix(".cc") + ".tflite")
        if tflite.is_file() and file_sha256(tflite) != digest:
            self.problem(name, "c-array", f"the array's bytes differ from {tflite.name}")
            return None
        return data

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

    def _check_arena(self, name: str, record: dict[str, Any], runner: Any) -> None:
        recorded = record.get("details", {}).get("tflm") or {}
        if recorded.get("arena_bytes") not in (None, runner.arena_bytes):
            self.problem(
                name,
                "tflm",
                f"takes a {runner.arena_bytes}-byte arena, the manifest "
                f"says {recorded['arena_bytes']}",
            )

    def check_tolerance(self, name: str, record: dict[str, Any], entry: dict[str, Any]) -> bool:
        """The golden entry allows no more than its recipe promises (contract/recipes.py)."""
        from edgedigits.contract.recipes import RECIPE_INFO, Recipe

        try:
            promised = RECIPE_INFO[Recipe(record["recipe"])].golden_atol
        except (ValueError, KeyError):
            self.problem(name, "golden", f"unknown recipe {record.get('recipe')!r}")
            return False
        ok = True
        atol = entry.get("atol")
        if (
            not isinstance(atol, (int, float))
            or isinstance(atol, bool)
            or not 0 <= atol <= promised * (1 + 1e-9)
        ):
            self.problem(
                name,
                "golden",
                f"atol {atol!r} is looser than the {record['recipe']} "
                f"recipe promises ({promised:g})",
            )
            ok = False
        raw = entry.get("atol_raw", 1)
        if "expected_raw" in entry and (
            not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= 1
        ):
            self.problem(name, "golden", f"atol_raw {raw!r} is looser than one integer step")
            ok = False
        return ok

    def replay(self, name: str, runner: Any, entry: dict[str, Any]) -> None:
        """Each golden image through the manifest's preprocessing, one image per call."""
        from edgedigits.runtimes import quantize

        pre = self.manifest.get("preprocessing", {})
        shape = [1, *pre.get("input_shape", [None, 784])[1:]]
        pixels = np.array([img["pixels"] for img in self.golden["images"]], dtype=np.float64)
        x = (pixels * pre.get("scale", 1 / 255) + pre.get("offset", 0.0)).astype(np.float32)
        expected = np.asarray(entry["expected"], dtype=np.float64)
        if len(expected) != len(x):
            self.problem(name, "golden", f"{len(expected)} expected outputs for {len(x)} images")
            return
        if not np.all(np.isfinite(expected)):
            # max() would step over a NaN: a non-finite expected value is never a pass
            self.problem(name, "golden", "golden.json's expected outputs hold NaN or infinity")
            return
        raw_expected = entry.get("expected_raw")
        worst, wrong, not_finite = 0.0, [], []
        for k in range(len(x)):
            xk = x[k].reshape(shape)
            got = np.asarray(runner.infer(xk)[0], dtype=np.float64)
            if not np.all(np.isfinite(got)):
                not_finite.append(k)
                continue
            worst = max(worst, float(np.max(np.abs(got - expected[k]))))
            if int(np.argmax(got)) != int(entry["predicted"][k]):
                wrong.append(k)
            if raw_expected is not None:
                raw = runner.infer_raw(quantize(xk, runner.inputs[0]))[0].astype(np.int64)
                raw_diff = int(np.max(np.abs(raw - np.asarray(raw_expected[k]))))
                if raw_diff > entry.get("atol_raw", 1):
                    self.problem(
                        name,
                        "golden",
                        f"image {k}: raw output differs by {raw_diff} "
                        f"(allowed {entry.get('atol_raw', 1)})",
                    )
        if not_finite:
            self.problem(name, "golden", f"outputs hold NaN or infinity on image(s) {not_finite}")
        if not math.isfinite(worst) or worst > entry["atol"]:
            self.problem(
                name,
                "golden",
                f"outputs differ from the golden vectors by up to "
                f"{worst:.3g} (allowed {entry['atol']:g})",
            )
        if wrong:
            self.problem(name, "golden", f"predicted class differs on golden image(s) {wrong}")


def _in_tflm(entry: dict[str, Any] | None) -> bool:
    """Whether a golden entry was computed in TensorFlow Lite Micro (C arrays since issue 10)."""
    return entry is not None and entry.get("runtime") == "tflm"


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
