"""The bench loop: every artifact x every runtime that can run it -> typed result records.

Three steps per (artifact, runtime), as in Polygraphy: run (load, full-test-set inference),
compare (parity with the Keras reference), measure (latency per batch size). The loop never
branches on the runtime; a runtime that cannot run here gives ``skipped`` rows with the reason,
and an artifact that fails to load or does not fit the data gives ``failed`` rows while the
sweep goes on.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edgedigits.benchmark.artifacts import Artifact, resolve_artifacts
from edgedigits.benchmark.parity import Parity, Tolerance, compare, family_of, load_tolerances
from edgedigits.benchmark.timing import LatencyStats, TimingOptions, harness_overhead, measure
from edgedigits.data import load_dataset
from edgedigits.errors import UsageError, first_line
from edgedigits.runtimes import RUNTIMES, Runner, parse_runtimes, quantize, runtimes_for
from edgedigits.training import DEFAULT_OUT
from edgedigits.zoo import get_spec

ACCURACY_BATCH = 256  # batch for the full-test-set accuracy pass (does not change results)


@dataclass(frozen=True)
class BenchOptions:
    """Flags of ``edgedigits bench``; the defaults are the documented ones."""

    runtimes: tuple[str, ...] = tuple(RUNTIMES)
    threads: int = 1  # runtime threads: 1 is the edge-like case
    batch_sizes: tuple[int, ...] = (1, 32)  # batch 1 and a larger batch
    xnnpack: bool = True  # LiteRT's default CPU delegate
    timing: TimingOptions = TimingOptions()
    test_limit: int | None = None  # None = the full 10,000-image test set
    tolerances: dict[str, Tolerance] = field(default_factory=lambda: load_tolerances(None))
    plots_dir: Path | None = None  # where pictures of disagreeing images go (None: none)


@dataclass
class BenchResult:
    """One row: one artifact in one runtime at one batch size (schema edgedigits.bench/1)."""

    model: str
    format: str
    recipe: str
    runtime: str
    artifact: str
    status: str  # "ok", "failed" or "skipped"
    batch: int
    threads: int
    reason: str | None = None
    provider: str | None = None  # what actually ran it: delegate, execution provider, device
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
    latency_us: dict[str, float] | None = None  # per batch: p50 p90 p99 mean std min
    latency_per_image_us: dict[str, float] | None = None
    runs: int | None = None
    throughput_per_s: float | None = None  # images per second
    peak_rss_mb: float | None = None  # peak resident memory of the process so far
    rss_load_delta_mb: float | None = None  # resident memory added by loading this artifact
    disagreement_plot: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchReport:
    results: list[BenchResult]
    harness_overhead_us: dict[str, float]
    options: BenchOptions

    @property
    def failed(self) -> list[BenchResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def parity_failures(self) -> list[BenchResult]:
        return [r for r in self.results if r.parity == "fail"]


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


class _Bench:
    def __init__(self, options: BenchOptions, data: str | Path | None,
                 log: Callable[[str], None]):
        self.options = options
        self.log = log
        self.dataset = load_dataset(data)
        n = self.dataset.num_test if options.test_limit is None else options.test_limit
        if not 1 <= n <= self.dataset.num_test:
            raise UsageError(f"--test-limit {n}: choose 1-{self.dataset.num_test}")
        self.labels = self.dataset.test_labels[:n]
        self.images = self.dataset.test_images[:n]
        self._references: dict[Path, np.ndarray] = {}

    def probabilities(self, runner: Runner, x: np.ndarray, model: str) -> np.ndarray:
        out = np.concatenate([runner.infer(x[k:k + ACCURACY_BATCH])
                              for k in range(0, len(x), ACCURACY_BATCH)])
        return get_spec(model).probabilities(out)

    def reference(self, artifact: Artifact, x: np.ndarray) -> np.ndarray | None:
        """The trained Keras model's probabilities on the test images (cached per model)."""
        if artifact.reference is None:
            return None
        if artifact.reference not in self._references:
            from edgedigits.runtimes.keras import KerasRunner

            with KerasRunner(artifact.reference) as runner:
                self._references[artifact.reference] = self.probabilities(runner, x,
                                                                          artifact.model)
        return self._references[artifact.reference]

    def rows(self, artifact: Artifact, runtime: str, status: str, **values: Any
             ) -> list[BenchResult]:
        return [BenchResult(model=artifact.model, format=artifact.format, recipe=artifact.recipe,
                            runtime=runtime, artifact=str(artifact.path), status=status, batch=b,
                            threads=self.options.threads, size_bytes=artifact.size_bytes,
                            **values) for b in self.options.batch_sizes]

    def run(self, artifact: Artifact, runner_cls: type[Runner]) -> list[BenchResult]:
        skip = runner_cls.unavailable_reason()
        if skip:
            return self.rows(artifact, runner_cls.name, "skipped", reason=skip)
        spec = get_spec(artifact.model)
        x = spec.preprocess(self.images)
        try:
            reference = self.reference(artifact, x)
        except Exception as exc:  # noqa: BLE001 - a bad reference: measure without parity
            self.log(f"  reference {artifact.reference}: {first_line(exc)}")
            reference = None
        runner = runner_cls(artifact.path, threads=self.options.threads,
                            xnnpack=self.options.xnnpack)
        try:
            rss_before = current_rss_mb()
            started = time.perf_counter()
            runner.load()
            load_ms = (time.perf_counter() - started) * 1000
            rss_delta = current_rss_mb() - rss_before
            expected = tuple(spec.input_shape)
            got = tuple(runner.inputs[0].shape[1:])
            if got != expected:
                raise UsageError(f"input shape {got} does not match the data's {expected} for "
                                 f"{artifact.model}")
            outputs = self.probabilities(runner, x, artifact.model)
            parity = self._parity(artifact, outputs, reference)
            plot = self._plot(artifact, runner_cls.name, parity, outputs)
            results = []
            for batch in self.options.batch_sizes:
                xb = quantize(np.resize(x, (batch, *x.shape[1:])), runner.inputs[0])
                stats = measure(runner.infer_raw, xb, self.options.timing)
                results.append(self._row(artifact, runner, batch, stats, load_ms, rss_delta,
                                         parity, plot))
            return results
        except Exception as exc:  # noqa: BLE001 - one bad artifact must not stop the sweep
            return self.rows(artifact, runner_cls.name, "failed", reason=first_line(exc))
        finally:
            runner.close()

    def _parity(self, artifact: Artifact, outputs: np.ndarray, reference: np.ndarray | None
                ) -> tuple[Parity | None, str]:
        family = family_of(artifact.recipe)
        if reference is None:
            return None, family
        return compare(outputs, reference, self.labels, self.options.tolerances[family]), family

    def _plot(self, artifact: Artifact, runtime: str, parity_family,
              outputs: np.ndarray) -> str | None:
        """A picture of the images where the artifact and the reference disagree."""
        parity, _ = parity_family
        if not (self.options.plots_dir and parity and parity.disagreements):
            return None
        from edgedigits import plots

        idx = np.array(parity.disagreement_indices[:32])
        reference = self._references[artifact.reference]
        path = Path(self.options.plots_dir) / f"disagreements_{artifact.file}.{runtime}.png"
        plots.digit_grid(self.images[idx], np.argmax(reference[idx], axis=1),
                         np.argmax(outputs[idx], axis=1),
                         f"{artifact.file} on {runtime}: {parity.disagreements} disagreements "
                         "(reference -> artifact)", path)
        return str(path)

    def _row(self, artifact: Artifact, runner: Runner, batch: int, stats: LatencyStats,
             load_ms: float, rss_delta: float, parity_family, plot: str | None) -> BenchResult:
        parity, family = parity_family
        values: dict[str, Any] = {}
        if parity is not None:
            values = {k: getattr(parity, k) for k in (
                "accuracy", "reference_accuracy", "accuracy_delta", "agreement", "max_abs_diff",
                "mean_abs_diff", "disagreements", "disagreement_indices", "confusion_delta")}
            values["parity"] = "pass" if parity.passed else "fail"
            values["parity_failures"] = parity.failures
        return BenchResult(
            model=artifact.model, format=artifact.format, recipe=artifact.recipe,
            runtime=runner.name, artifact=str(artifact.path), status="ok", batch=batch,
            threads=self.options.threads, provider=runner.provider,
            size_bytes=artifact.size_bytes, load_ms=round(load_ms, 3),
            tolerance_family=family, latency_us=stats.to_json(),
            latency_per_image_us=stats.per_image(batch), runs=stats.runs,
            throughput_per_s=round(batch / (stats.p50 / 1e6), 3), peak_rss_mb=round(peak_rss_mb(), 1),
            rss_load_delta_mb=round(rss_delta, 2), disagreement_plot=plot, **values)


def bench(targets: Sequence[str] = (), *, all_models: bool = False,
          out: str | Path = DEFAULT_OUT, data: str | Path | None = None,
          options: BenchOptions | None = None, log: Callable[[str], None] = print
          ) -> BenchReport:
    """Bench model names (their .keras and exported files) or artifact files; see module doc."""
    options = options or BenchOptions()
    parse_runtimes(list(options.runtimes))  # validates names
    if options.threads < 1:
        raise UsageError(f"--threads {options.threads}: must be at least 1")
    if any(b < 1 for b in options.batch_sizes):
        raise UsageError(f"--batch {options.batch_sizes}: batch sizes must be at least 1")
    artifacts = resolve_artifacts(list(targets), all_models, out)
    job = _Bench(options, data, log)
    overhead = harness_overhead()
    results: list[BenchResult] = []
    for k, artifact in enumerate(artifacts, 1):
        runners = runtimes_for(artifact.path, list(options.runtimes))
        log(f"[{k}/{len(artifacts)}] {artifact.file}: {', '.join(r.name for r in runners)}")
        for runner_cls in runners:
            rows = job.run(artifact, runner_cls)
            for row in rows[:1]:
                note = row.reason if row.status != "ok" else (
                    f"acc {row.accuracy}% p50 {row.latency_us['p50']:.1f} us"
                    if row.accuracy is not None else f"p50 {row.latency_us['p50']:.1f} us")
                log(f"    {runner_cls.name}: {row.status}: {note}")
            results.extend(rows)
    return BenchReport(results, overhead.to_json(), options)
