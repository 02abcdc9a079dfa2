"""The export report: one ``ArtifactRecord`` per file attempted, as JSON and Markdown.

What ``export()`` returns and the CLI prints: which files failed, which failed their recipe's
promise (and which ``--auto-fix`` file repairs each), and one table row per file with its size,
its gzip size, its size against the float32 file and its parity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgedigits.contract.recipes import Recipe
from edgedigits.export.manifest import ArtifactRecord
from edgedigits.markdown import table


@dataclass
class ExportReport:
    """All artifact records of one ``export`` call."""

    records: list[ArtifactRecord] = field(default_factory=list)

    @property
    def failed(self) -> list[ArtifactRecord]:
        return [r for r in self.records if not r.ok]

    @property
    def parity_failures(self) -> list[ArtifactRecord]:
        return [r for r in self.records if r.ok and r.parity and not r.parity["passed"]]

    def repaired_by(self, record: ArtifactRecord) -> ArtifactRecord | None:
        """The passing repaired file (``int8-fixed`` or ``int8-mixed``) that ``--auto-fix``
        made for a failing int8 one."""
        if record.recipe != Recipe.INT8.value:
            return None
        repairs = (Recipe.INT8_FIXED.value, Recipe.INT8_MIXED.value)
        return next(
            (
                r
                for r in self.records
                if r.recipe in repairs
                and r.model == record.model
                and r.format == record.format
                and r.parity_passed
            ),
            None,
        )

    @property
    def all_good(self) -> bool:
        """No failed artifact, and no parity failure that was not repaired by --auto-fix."""
        return not self.failed and all(self.repaired_by(r) for r in self.parity_failures)

    def to_markdown(self) -> str:
        """One row per artifact: size, gzip size, ratio to float32 (same model and format),
        parity."""
        float_sizes = {
            (r.model, r.format): r.size_bytes
            for r in self.records
            if r.ok and r.recipe == "float32"
        }
        rows = []
        for r in self.records:
            if not r.ok:
                rows.append(
                    [r.model, r.format, r.recipe, r.file, "", "", "", "", "", f"FAILED: {r.reason}"]
                )
                continue
            base = float_sizes.get((r.model, r.format))
            p = r.parity or {}
            rows.append(
                [
                    r.model,
                    r.format,
                    r.recipe,
                    r.file,
                    f"{r.size_bytes:,}",
                    f"{r.gzip_size_bytes:,}",
                    f"{r.size_bytes / base:.3f}" if base else "",
                    f"{100 * p.get('agreement', 0):.2f}",
                    f"{p.get('max_abs_diff', 0):.2e}",
                    "ok" if p.get("passed") else "PARITY FAIL",
                ]
            )
        lines = table(
            [
                "model",
                "format",
                "recipe",
                "file",
                "size (bytes)",
                "gzip (bytes)",
                "size / float32",
                "agreement %",
                "max abs diff",
                "status",
            ],
            rows,
            "llllrrrrrl",
        )
        return "\n".join(lines) + "\n"
