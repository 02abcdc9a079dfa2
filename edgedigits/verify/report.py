"""What ``verify`` found: one :class:`Problem` per line of the report, and the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from edgedigits.contract.recipes import artifact_suffixes

ARTIFACT_SUFFIXES = artifact_suffixes()
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
