"""The bench loop: every artifact x every runtime that can run it -> typed result records.

Per model, three steps as in Polygraphy: run (load every artifact in every runtime, full test set
as a deployed app would run it), compare (parity with the Keras reference), measure (latency of
every artifact x runtime x batch size, in interleaved rounds so noise hits all rows of the model
alike, including the reference row the gate divides by). The loop never branches on the runtime;
a runtime that cannot run here gives ``skipped`` rows with the reason, and an artifact that fails
to load or does not fit the data gives ``failed`` rows while the sweep goes on.

Two latencies per row: ``latency_us``, the call an app makes per inference (set input, run, read
output, bindings cached at load), and ``compute_us``, the runtime's own work on an input already
bound (LiteRT ``invoke()``, ONNX Runtime ``run_with_iobinding``, the Keras call without copying
the result back). ``binding_us`` is their difference: what moving data in and out costs per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.benchmark.app_path import AppPath
from edgedigits.benchmark.artifacts import (
    INTEGRITY_OK,
    Artifact,
    benched_artifacts,
    integrity,
)
from edgedigits.benchmark.results import BenchOptions, BenchReport, BenchResult
from edgedigits.benchmark.timing import LatencyStats, Slot, current_rss_mb, peak_rss_mb, run_rounds
from edgedigits.comparator import Parity, compare
from edgedigits.contract.tolerances import family_of
from edgedigits.data import load_dataset
from edgedigits.errors import ModelFileError, first_line
from edgedigits.model_files import DEFAULT_OUT
from edgedigits.model_files.shapes import batch_for
from edgedigits.runtimes import (
    RUNTIMES,
    Runner,
    RuntimeUnavailable,
    quantize,
    runtimes_for,
)
from edgedigits.runtimes.batching import (
    LARGE_BATCH,
    DeployedOutputs,
    infer_as_deployed,
    infer_batched,
)
from edgedigits.zoo import get_spec

PROFILE_RUNS = 50  # profiled inferences per artifact with --profile


# Batches whose compute (the runtime's work on an input already bound) is timed beside the app's
# call. At batch 1 binding is a visible share of a few-microsecond call (the report's binding
# line); at larger batches the call is the compute, and a second slot per row would cost the
# pipeline ~5 s per model at the timing floor for a figure equal to the latency.
COMPUTE_BATCHES = (1,)
REFERENCE_RUNNER = "keras"  # the runtime whose outputs on the trained model are the reference


@dataclass
class _Loaded:
    """One artifact loaded in one runtime, scored, waiting for its latency rounds."""

    artifact: Artifact
    runner: Runner
    values: dict[str, Any]  # row fields common to every batch size


class _Bench:
    def __init__(self, options: BenchOptions, data: str | Path | None, log: Callable[[str], None]):
        self.options = options
        self.log = log
        self.dataset = load_dataset(data)
        options.validate(self.dataset.num_test)
        n = self.dataset.num_test if options.test_limit is None else options.test_limit
        self.labels = self.dataset.test_labels[:n]
        self.images = self.dataset.test_images[:n]
        self._references: dict[Path, np.ndarray] = {}
        self._integrity: dict[Path, str | None] = {}
        self._inputs: dict[str, np.ndarray] = {}
        self._scoring_batches: dict[str, int] = {}
        self.app_path = AppPath(self.images, self.labels)

    def inputs(self, model: str) -> np.ndarray:
        """The test images preprocessed for ``model`` (cached: every artifact of a model in
        every runtime scores the same array, and preprocessing 10,000 images is ~30 ms)."""
        if model not in self._inputs:
            self._inputs = {model: get_spec(model).preprocess(self.images)}  # one model at a time
        return self._inputs[model]

    def scoring_batch(self, model: str, keras_model: Any = None) -> int:
        """Images per call when scoring ``model``'s artifacts: from its Keras model's activation
        size (``model_files.shapes.batch_for``), learnt with its reference, else LARGE_BATCH."""
        if keras_model is not None:
            self._scoring_batches[model] = batch_for(keras_model, cap=LARGE_BATCH)
        return self._scoring_batches.get(model, LARGE_BATCH)

    def reference(self, artifact: Artifact, x: np.ndarray) -> np.ndarray | None:
        """The trained Keras model's probabilities on the test images (cached per model)."""
        if artifact.reference is None:
            return None
        if artifact.reference not in self._references:
            from edgedigits.runtimes.keras import KerasRunner

            with KerasRunner(artifact.reference) as runner:
                batch = self.scoring_batch(artifact.model, runner.model)
                self._references[artifact.reference] = get_spec(artifact.model).probabilities(
                    infer_batched(runner, x, batch)
                )
        return self._references[artifact.reference]

    def rows(
        self, artifact: Artifact, runtime: str, status: str, **values: Any
    ) -> list[BenchResult]:
        return [
            BenchResult(
                model=artifact.model,
                format=artifact.format,
                recipe=artifact.recipe,
                runtime=runtime,
                artifact=str(artifact.path),
                status=status,
                batch=b,
                threads=self.options.threads,
                size_bytes=artifact.size_bytes,
                **values,
            )
            for b in self.options.batch_sizes
        ]

    def model_group(self, artifacts: list[Artifact]) -> list[BenchResult]:
        """Load and score every artifact of one model in every runtime, then time them all in
        interleaved rounds, then close them."""
        results: list[BenchResult] = []
        loaded: list[_Loaded] = []
        try:
            for artifact in artifacts:
                runners = runtimes_for(artifact.path, list(self.options.runtimes))
                self.log(f"  {artifact.file}: {', '.join(r.name for r in runners)}")
                for runner_cls in runners:
                    outcome = self.load_and_score(artifact, runner_cls)
                    if isinstance(outcome, _Loaded):
                        loaded.append(outcome)
                    else:
                        results.extend(outcome)
            results.extend(self.time_all(loaded))
        finally:
            for item in loaded:
                item.runner.close()
        return results

    def load_and_score(
        self, artifact: Artifact, runner_cls: type[Runner]
    ) -> _Loaded | list[BenchResult]:
        skip = runner_cls.unavailable_reason()
        if skip:
            return self.rows(artifact, runner_cls.name, "skipped", reason=skip)
        spec = get_spec(artifact.model)
        x = self.inputs(artifact.model)
        reference_error = None
        # The keras runtime on the trained model *is* the reference: its scoring fills the cache
        # rather than loading and running the same model twice (~3 s per model).
        is_reference = (
            runner_cls.name == REFERENCE_RUNNER
            and artifact.reference is not None
            and artifact.path == artifact.reference
            and artifact.reference not in self._references
        )
        try:
            reference = None if is_reference else self.reference(artifact, x)
        except Exception as exc:  # noqa: BLE001 - a bad reference: measure, and say so
            reference_error = (
                f"reference {artifact.reference.name} could not be loaded "
                f"({first_line(exc, 160)}): parity not checked"
            )
            self.log(f"    {reference_error}")
            reference = None
        runner = runner_cls(
            artifact.path,
            **{name: getattr(self.options, name) for name in runner_cls.bench_options},
        )
        try:
            rss_before = current_rss_mb()
            started = time.perf_counter()
            runner.load()
            load_ms = (time.perf_counter() - started) * 1000
            rss_delta = current_rss_mb() - rss_before
            expected = tuple(spec.input_shape)
            got = tuple(runner.inputs[0].shape[1:])
            if got != expected:
                raise ModelFileError(
                    f"input shape {got} does not match the data's {expected} for {artifact.model}"
                )
            if is_reference:
                self.scoring_batch(artifact.model, getattr(runner, "model", None))
            deployed = infer_as_deployed(runner, x, batch=self.scoring_batch(artifact.model))
            outputs = spec.probabilities(deployed.outputs)
            if is_reference:
                reference = self._references[artifact.reference] = outputs
            parity, family = self._parity(artifact, outputs, reference)
            values = self._parity_values(parity, family, deployed)
            if reference_error:
                values.update(parity="fail", parity_failures=[reference_error])
            values["integrity"] = self.integrity(artifact)
            if self.app_path.first_time(artifact.path):  # once per file, in its first runtime
                values.update(self.app_path.score(spec, runner, self.scoring_batch(artifact.model)))
            values.update(
                arena_bytes=runner.arena_bytes,
                flash_bytes=runner.flash_bytes,
                budget_failures=self._budget_failures(runner),
            )
            values.update(
                provider=runner.provider,
                load_ms=round(load_ms, 3),
                rss_load_delta_mb=round(rss_delta, 2),
                disagreement_plot=self._plot(artifact, runner_cls.name, parity, outputs),
            )
            if self.options.profile:
                values.update(self._profile(runner, x[:1]))
            status = f"{runner.provider}; acc {parity.accuracy}%" if parity else runner.provider
            self.log(f"    {runner_cls.name}: loaded: {status}")
            return _Loaded(artifact, runner, values)
        except RuntimeUnavailable as exc:
            runner.close()
            self.log(f"    {runner_cls.name}: skipped: {exc}")
            return self.rows(artifact, runner_cls.name, "skipped", reason=str(exc))
        except Exception as exc:  # noqa: BLE001 - one bad artifact must not stop the sweep
            runner.close()
            reason = first_line(exc).removeprefix(f"{artifact.path}: ")  # the row names it
            self.log(f"    {runner_cls.name}: failed: {reason}")
            return self.rows(artifact, runner_cls.name, "failed", reason=reason)

    def _budget_failures(self, runner: Runner) -> list[str]:
        return self.options.budget.failures(runner.arena_bytes, runner.flash_bytes)

    def integrity(self, artifact: Artifact) -> str | None:
        if artifact.path not in self._integrity:
            self._integrity[artifact.path] = integrity(artifact)
            if self._integrity[artifact.path] not in (None, INTEGRITY_OK):
                self.log(f"    {artifact.file}: {self._integrity[artifact.path]}")
        return self._integrity[artifact.path]

    def _profile(self, runner: Runner, x: np.ndarray) -> dict[str, Any]:
        try:
            ops = runner.profile(quantize(x, runner.inputs[0]), PROFILE_RUNS)
        except Exception as exc:  # noqa: BLE001 - a profile is extra information
            return {"profile": None, "profile_note": f"profiling failed: {first_line(exc)}"}
        return {
            "profile": None if ops is None else [o.to_json() for o in ops],
            "profile_note": runner.profile_note,
        }

    def time_all(self, loaded: list[_Loaded]) -> list[BenchResult]:
        """One slot per (artifact, runtime, batch, kind), all timed in the same rounds."""
        slots: list[Slot] = []
        for item in loaded:
            x = get_spec(item.artifact.model).preprocess(self.images[:1])
            for batch in self._batches(item.runner):
                xb = quantize(np.repeat(x, batch, axis=0), item.runner.inputs[0])
                slots.append(
                    Slot((id(item), batch, "latency"), partial(_app_call, item.runner, xb))
                )
                if batch in COMPUTE_BATCHES and item.runner.bind(xb) is not None:
                    slots.append(Slot((id(item), batch, "compute"), partial(item.runner.bind, xb)))
        stats = run_rounds(slots, self.options.timing)
        errors = {s.key: s.error for s in slots if s.error}
        results = []
        for item in loaded:
            for batch in self.options.batch_sizes:
                key = (id(item), batch, "latency")
                if batch not in self._batches(item.runner):
                    results.extend(
                        r
                        for r in self.rows(
                            item.artifact,
                            item.runner.name,
                            "skipped",
                            provider=item.runner.provider,
                            reason=f"{item.runner.single_image_reason}; only batch 1 is timed",
                        )
                        if r.batch == batch
                    )
                    continue
                if key not in stats:
                    failed = self.rows(
                        item.artifact,
                        item.runner.name,
                        "failed",
                        reason=errors.get(key, "no timing samples"),
                        provider=item.runner.provider,
                    )
                    results.extend(r for r in failed if r.batch == batch)
                    continue
                results.append(
                    self._row(item, batch, stats[key], stats.get((id(item), batch, "compute")))
                )
        return results

    def _batches(self, runner: Runner) -> list[int]:
        return [b for b in self.options.batch_sizes if b == 1 or not runner.single_image]

    def _parity(
        self, artifact: Artifact, outputs: np.ndarray, reference: np.ndarray | None
    ) -> tuple[Parity | None, str]:
        family = family_of(artifact.recipe)
        if reference is None:
            return None, family
        tolerance = self.options.tolerances[artifact.recipe]
        return compare(outputs, reference, self.labels, tolerance), family

    @staticmethod
    def _parity_values(
        parity: Parity | None, family: str, deployed: DeployedOutputs
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            "tolerance_family": family,
            "parity_batch": deployed.batch,
            "batch_invariance_max_diff": float(f"{deployed.invariance_max_diff:.3g}"),
        }
        if parity is not None:
            values.update(
                {
                    k: getattr(parity, k)
                    for k in (
                        "accuracy",
                        "reference_accuracy",
                        "accuracy_delta",
                        "agreement",
                        "max_abs_diff",
                        "mean_abs_diff",
                        "disagreements",
                        "disagreement_indices",
                        "confusion_delta",
                    )
                }
            )
            values["parity"] = "pass" if parity.passed else "fail"
            values["parity_failures"] = parity.failures
        return values

    def _plot(
        self, artifact: Artifact, runtime: str, parity: Parity | None, outputs: np.ndarray
    ) -> str | None:
        """A picture of the images where the artifact and the reference disagree."""
        if not (self.options.plots_dir and parity and parity.disagreements):
            return None
        from edgedigits import plots

        idx = np.array(parity.disagreement_indices[:32])
        reference = self._references[artifact.reference]
        path = Path(self.options.plots_dir) / f"disagreements_{artifact.file}.{runtime}.png"
        plots.digit_grid(
            self.images[idx],
            np.argmax(reference[idx], axis=1),
            np.argmax(outputs[idx], axis=1),
            f"{artifact.file} on {runtime}: {parity.disagreements} disagreements "
            "(reference -> artifact)",
            path,
        )
        return str(path)

    def _row(
        self, item: _Loaded, batch: int, stats: LatencyStats, compute: LatencyStats | None
    ) -> BenchResult:
        artifact = item.artifact
        return BenchResult(
            model=artifact.model,
            format=artifact.format,
            recipe=artifact.recipe,
            runtime=item.runner.name,
            artifact=str(artifact.path),
            status="ok",
            batch=batch,
            threads=self.options.threads,
            size_bytes=artifact.size_bytes,
            latency_us=stats.to_json(),
            latency_per_image_us=stats.per_image(batch),
            compute_us=compute.to_json() if compute else None,
            binding_us=round(stats.p50 - compute.p50, 3) if compute else None,
            round_p50_us=list(stats.round_p50),
            runs=stats.runs,
            throughput_per_s=round(batch / (stats.p50 / 1e6), 3),
            peak_rss_mb=round(peak_rss_mb(), 1),
            **item.values,
        )


def _app_call(runner: Runner, x: np.ndarray) -> Callable[[], Any]:
    """The app's per-inference call on ``x``, after one untimed call that sets the batch size."""
    runner.infer_raw(x)
    return partial(runner.infer_raw, x)


def bench(
    targets: Sequence[str] = (),
    *,
    all_models: bool = False,
    out: str | Path = DEFAULT_OUT,
    data: str | Path | None = None,
    options: BenchOptions | None = None,
    log: Callable[[str], None] = print,
    workspace: Any = None,  # an export.workspace.Workspace (not imported: a light import)
) -> BenchReport:
    """Bench model names (their .keras and exported files) or artifact files; see module doc.

    Args:
        targets: zoo model names (every artifact exported beside the trained model) or files.
        all_models: every trained zoo model under ``out``.
        out: the folder ``train``/``export`` wrote to.
        data: the data source (None: the embedded MNIST).
        options: runtimes, threads, batch sizes, timing, tolerances, profiling.
        log: progress lines.
        workspace: the models and folder of a pre-flight already run (``pipeline`` passes
            its own, after its export): their artifacts are benched, with no second check.

    Returns:
        A ``BenchReport``: one ``BenchResult`` per artifact x runtime x batch size.
    """
    options = options or BenchOptions()
    options.validate()
    artifacts = benched_artifacts(targets, all_models, out, data, log, workspace)
    job = _Bench(options, data, log)
    results: list[BenchResult] = []
    groups: dict[str, list[Artifact]] = {}
    for artifact in artifacts:
        groups.setdefault(artifact.model, []).append(artifact)
    for k, (model, group) in enumerate(groups.items(), 1):
        log(f"[{k}/{len(groups)}] {model}: {len(group)} artifact(s)")
        results.extend(job.model_group(group))
    order = {(str(a.path)): i for i, a in enumerate(artifacts)}
    runtime_order = {name: i for i, name in enumerate(RUNTIMES)}
    results.sort(key=lambda r: (order.get(r.artifact, 0), runtime_order.get(r.runtime, 0), r.batch))
    return BenchReport(results, options)
