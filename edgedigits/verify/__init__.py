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

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgedigits import folder_commit
from edgedigits.errors import UsageError
from edgedigits.imported import RECORD
from edgedigits.model_files import DEFAULT_OUT
from edgedigits.verify.folder import FolderCheck
from edgedigits.verify.report import ARTIFACT_SUFFIXES, Problem, VerifyReport
from edgedigits.zoo import list_models

__all__ = ["ARTIFACT_SUFFIXES", "Problem", "VerifyReport", "replay_golden", "verify"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


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
    workspace: Any = None,  # an export.workspace.Workspace (not imported: a light import)
) -> VerifyReport:
    """Check every manifest record under the targets; see the module docstring.

    Args:
        targets: model names or model folders (default: every model folder under ``out``).
        out: the exports folder names are looked up in.
        manifest_sha256: pinned SHA-256s; each folder's manifest.json must hash to one of them.
        log: where one line per verified folder goes.
        workspace: a command's models and folder, already resolved: their folders are verified.

    Returns:
        A ``VerifyReport``: the files verified and one ``Problem`` per failed check (nothing is
        rewritten).
    """
    pinned = {h.strip().lower() for h in manifest_sha256}
    bad = sorted(h for h in pinned if not _SHA256.fullmatch(h))
    if bad:
        raise UsageError(f"--manifest-sha256 {bad[0]}: not a SHA-256 (64 hexadecimal digits)")
    report = VerifyReport()
    folders = (
        [workspace.out / name for name in workspace.names]
        if workspace is not None
        else _folders(list(targets), Path(out))
    )
    for folder in folders:
        report.folders.append(str(folder))
        before = len(report.problems)
        with folder_commit.reading(folder):  # no export swaps the folder while it is read
            FolderCheck(folder, report, pinned).run()
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
    check = FolderCheck(folder, VerifyReport())
    check.manifest = read_manifest(folder / "manifest.json") or {}
    check.golden = read_golden(folder / "golden.json") or {}
    entry = check.golden.get("artifacts", {}).get(file)
    if entry is None:
        check.problem(file, "golden", "no golden entry for this file")
    else:
        check.replay(file, runner, entry)
    return check.report.problems
