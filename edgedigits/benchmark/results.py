"""What a bench run takes and gives: its options, one typed record per artifact x runtime x batch,
and the report that holds them (serialized by ``report.py`` to JSON and Markdown)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgedigits.benchmark.timing import TimingOptions
from edgedigits.comparator import Tolerance
from edgedigits.contract.tolerances import default_tolerances
from edgedigits.errors import UsageError
from edgedigits.mcu_budget import MCUBudget
from edgedigits.runtimes import DEFAULT_RUNTIMES, RUNTIMES, parse_runtimes


@dataclass(frozen=True)
class BenchOptions:
    """Flags of ``edgedigits bench``; the defaults are the documented ones."""

    runtimes: tuple[str, ...] = DEFAULT_RUNTIMES
    threads: int = 1  # runtime threads: 1 is the edge-like case
    batch_sizes: tuple[int, ...] = (1, 32)  # batch 1 and a larger batch
    xnnpack: bool = True  # LiteRT's default CPU delegate
    timing: TimingOptions = TimingOptions()
    test_limit: int | None = None  # None = the full 10,000-image test set
    tolerances: dict[str, Tolerance] = field(default_factory=default_tolerances)
    plots_dir: Path | None = None  # where pictures of disagreeing images go (None: none)
    profile: bool = False  # per-operator time breakdown where the runtime exposes one
    max_arena_bytes: int | None = None  # budgets for runtimes that measure them (tflm): rows
    max_flash_bytes: int | None = None  # over budget fail, and so does --check

    def validate(self, num_test: int | None = None) -> None:
        """Every option, with its flag's name, before any work (``num_test``: the data's size)."""
        if not self.runtimes:
            raise UsageError(
                f"--runtimes: no runtime named; choose from {', '.join(RUNTIMES)}, all"
            )
        parse_runtimes(list(self.runtimes))  # unknown names list the valid ones
        if not _whole(self.threads, 1):
            raise UsageError(f"--threads {self.threads}: must be a whole number, at least 1")
        if not self.batch_sizes or not all(_whole(b, 1) for b in self.batch_sizes):
            raise UsageError(f"--batch {self.batch_sizes}: batch sizes must be at least 1")
        t = self.timing
        for flag, value, minimum in (
            ("--warmup", t.warmup, 0),
            ("--rounds", t.rounds, 1),
            ("--min-runs", t.min_runs, 1),
        ):
            if not _whole(value, minimum):
                raise UsageError(f"{flag} {value}: must be a whole number, at least {minimum}")
        if not (isinstance(t.min_seconds, (int, float)) and 0 < t.min_seconds < float("inf")):
            raise UsageError(f"--min-seconds {t.min_seconds}: must be a positive, finite number")
        if self.test_limit is not None:
            if not _whole(self.test_limit, 1):
                raise UsageError(f"--test-limit {self.test_limit}: must be at least 1")
            if num_test is not None and self.test_limit > num_test:
                raise UsageError(
                    f"--test-limit {self.test_limit}: the test split has "
                    f"{num_test} images; choose 1-{num_test}"
                )
        for recipe, tolerance in self.tolerances.items():
            tolerance.validate(f"tolerance of {recipe!r}")
        self.budget.validate()
        measuring = [n for n, cls in RUNTIMES.items() if cls.measures_memory]
        if self.budget and not set(measuring) & set(parse_runtimes(list(self.runtimes))):
            raise UsageError(
                f"{self.budget.flags()}: no runtime in --runtimes measures flash "
                f"and arena; add {', '.join(measuring)}"
            )

    @property
    def budget(self) -> MCUBudget:
        return MCUBudget(self.max_arena_bytes, self.max_flash_bytes)


def _whole(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


@dataclass
class BenchResult:
    """One row: one artifact in one runtime at one batch size (schema edgedigits.bench/2)."""

    model: str
    format: str
    recipe: str
    runtime: str
    artifact: str
    status: str  # "ok", "failed" or "skipped"
    batch: int
    threads: int
    reason: str | None = None
    provider: str | None = None  # what executed, as the runtime reports it (or "unverified")
    integrity: str | None = None  # the file against its manifest record (None: no manifest)
    size_bytes: int | None = None
    load_ms: float | None = None
    accuracy: float | None = None
    reference_accuracy: float | None = None
    accuracy_delta: float | None = None
    agreement: float | None = None
    max_abs_diff: float | None = None
    mean_abs_diff: float | None = None
    disagreements: int | None = None
    disagreement_indices: list[int] | None = None
    confusion_delta: list[list[int]] | None = None
    parity: str | None = None  # "pass", "fail", or None without a reference
    parity_failures: list[str] = field(default_factory=list)
    tolerance_family: str | None = None
    parity_batch: int | None = None  # batch the test set was scored at: 1 if outputs depend on it
    batch_invariance_max_diff: float | None = None  # probe: batch 1 vs one batch
    # the app's call, per batch: p50 p90 p99 mean std min
    latency_us: dict[str, float] | None = None
    latency_per_image_us: dict[str, float] | None = None
    compute_us: dict[str, float] | None = None  # the runtime's work alone (None: not separable)
    binding_us: float | None = None  # p50 latency - p50 compute: data in and out per call
    round_p50_us: list[float] | None = None  # latency p50 of each interleaved round (gate CI)
    runs: int | None = None
    throughput_per_s: float | None = None  # images per second
    peak_rss_mb: float | None = None  # peak resident memory of the process so far
    rss_load_delta_mb: float | None = None  # resident memory added by loading this artifact
    disagreement_plot: str | None = None
    profile: list[dict[str, Any]] | None = None  # per-operator kernel time, batch 1 (--profile)
    profile_note: str | None = None  # where the profile came from, or why there is none
    arena_bytes: int | None = None  # measured working memory (tflm); None where not measured
    flash_bytes: int | None = None  # model data in flash (tflm)
    budget_failures: list[str] = field(default_factory=list)  # over --max-arena/flash-bytes
    # drawn digits (benchmark/app_path.py): the same digits as MNIST has them, then drawn and
    # prepared by the preprocessing contract, then drawn and squashed whole to 28x28
    app_path_images: int | None = None
    app_path_mnist_accuracy: float | None = None
    app_path_accuracy: float | None = None
    naive_path_accuracy: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchReport:
    results: list[BenchResult]
    options: BenchOptions

    @property
    def failed(self) -> list[BenchResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def parity_failures(self) -> list[BenchResult]:
        return [r for r in self.results if r.parity == "fail"]

    @property
    def over_budget(self) -> list[BenchResult]:
        return [r for r in self.results if r.budget_failures]
