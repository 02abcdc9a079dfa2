"""The checks only some formats need: a C array's bytes and header, its arena in TensorFlow
Lite Micro, and the ORT operator config that covers a folder's ``.ort`` files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgedigits.errors import EdgeDigitsError, first_line
from edgedigits.model_files import file_sha256


class FormatChecks:
    """Per-format checks of one model folder (mixed into ``FolderCheck``)."""

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

    def _check_arena(self, name: str, record: dict[str, Any], runner: Any) -> None:
        recorded = record.get("details", {}).get("tflm") or {}
        if recorded.get("arena_bytes") not in (None, runner.arena_bytes):
            self.problem(
                name,
                "tflm",
                f"takes a {runner.arena_bytes}-byte arena, the manifest "
                f"says {recorded['arena_bytes']}",
            )


def in_tflm(entry: dict[str, Any] | None) -> bool:
    """Whether a golden entry was computed in TensorFlow Lite Micro (C arrays since issue 10)."""
    return entry is not None and entry.get("runtime") == "tflm"
