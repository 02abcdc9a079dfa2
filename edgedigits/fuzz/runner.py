"""Running fuzz cases: one forked process per case, judged by how it ended.

A case runs in a child forked from this process (which has imported the readers, not run
TensorFlow), its stdout and stderr sent to files. The parent waits with a deadline and reads the
child's peak memory from ``wait4`` (its own and its waited-for children's, such as the HDF5
reader), less the memory the fork started with. Outcomes:

* ``accepted``: exit 0 (the file was read, or the folder verified);
* ``refused``: a non-zero exit whose every stderr line is the CLI's own (``edgedigits ...``),
  with no traceback: the promise for bad input;
* ``traceback``, ``noisy`` (anything else on stderr: a runtime's log, a warning), ``signal``
  (a crash), ``hang`` (past ``CASE_TIMEOUT_S``) and ``memory`` (a peak past ``MAX_PEAK_MB``)
  are failures. A failing input is kept (``keep``) to become a regression test.

A case is its family, seed file, campaign seed and number: ``replay`` makes the same bytes again.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgedigits.fuzz.families import Family
from edgedigits.fuzz.mutate import mutate_bytes
from edgedigits.markdown import table

OUTCOMES = ("accepted", "refused", "traceback", "noisy", "signal", "hang", "memory")
FAILURES = frozenset(OUTCOMES[2:])
CASE_TIMEOUT_S = 60
MAX_PEAK_MB = 1024
DEEP_TIMEOUT_S = 600
ACCEPTED_SAMPLE = 50  # accepted case numbers kept per family (for the whole-import sample)


@dataclass
class CaseResult:
    family: str
    case: int
    seed_file: str
    outcome: str
    seconds: float
    peak_mb: float
    said: str  # the last line on stderr (a refusal's line, a traceback's last line)


@dataclass
class FamilyTally:
    family: str
    entry: str
    cases: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    seconds: float = 0.0
    peak_mb: float = 0.0
    failures: list[CaseResult] = field(default_factory=list)
    accepted_sample: list[int] = field(default_factory=list)  # the first accepted cases

    def add(self, result: CaseResult) -> None:
        if result.outcome == "accepted" and len(self.accepted_sample) < ACCEPTED_SAMPLE:
            self.accepted_sample.append(result.case)
        self.cases += 1
        self.outcomes[result.outcome] += 1
        self.seconds += result.seconds
        self.peak_mb = max(self.peak_mb, result.peak_mb)
        if result.outcome in FAILURES:
            self.failures.append(result)


@dataclass
class FuzzReport:
    seed: int
    families: list[FamilyTally]
    deep: list[CaseResult] = field(default_factory=list)  # accepted model files, fully imported

    @property
    def failed(self) -> int:
        return sum(len(t.failures) for t in self.families) + sum(
            r.outcome in FAILURES for r in self.deep
        )

    def to_json(self) -> dict[str, Any]:
        return {"schema": "edgedigits.fuzz/1", **asdict(self)}

    def to_markdown(self) -> str:
        rows = [
            [t.family, t.entry, f"{t.cases:,}"]
            + [f"{t.outcomes[o]:,}" for o in OUTCOMES]
            + [f"{t.peak_mb:.0f}", f"{t.seconds / max(t.cases, 1):.2f}"]
            for t in self.families
        ]
        text = "\n".join(
            table(
                ["family", "read by", "cases", *OUTCOMES, "peak MB", "s/case"],
                rows,
                align="llr" + "r" * (len(OUTCOMES) + 2),
            )
        )
        if self.deep:
            counts = {o: sum(r.outcome == o for r in self.deep) for o in OUTCOMES}
            text += (
                f"\n\nAccepted model files taken through the whole `edgedigits import`: "
                f"{len(self.deep)} (" + ", ".join(f"{v} {k}" for k, v in counts.items() if v) + ")."
            )
        return text


def case_rng(seed: int, family: str, case: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(family.encode()), case])


def case_bytes(family: Family, root: Path, seed: int, case: int) -> tuple[Path, bytes]:
    """The seed file case ``case`` mutates, and its mutated bytes."""
    rng = case_rng(seed, family.name, case)
    seeds = family.seeds(root)
    source = seeds[int(rng.integers(len(seeds)))]
    data = source.read_bytes()
    try:
        return source, family.mutate(rng, data)
    except Exception:  # noqa: BLE001 - a structure the mutator could not rebuild: plain bytes
        return source, mutate_bytes(rng, data)


def classify(status: int, peak_mb: float, stderr: str, timed_out: bool) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    if timed_out:
        return "hang"
    if os.WIFSIGNALED(status):
        return "signal"
    if "Traceback (most recent call last)" in stderr:
        return "traceback"
    if peak_mb > MAX_PEAK_MB:
        return "memory"
    code = os.WEXITSTATUS(status)
    if any(not line.startswith("edgedigits ") for line in lines):
        return "noisy"
    if code == 0:
        return "accepted"
    return "refused" if lines else "noisy"


def _rss_kb() -> int:
    """This process's resident memory now (what a fork starts with, shared)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_in_child(
    entry: Any, workdir: Path, timeout_s: float = CASE_TIMEOUT_S
) -> tuple[str, str, float]:
    """Run ``entry()`` in a forked child; its outcome, its stderr and its peak memory in MB.

    The peak is what the case added to the memory it started with: a fork shares its parent's
    pages, which the kernel counts in the child's resident size from the start."""
    err_path, out_path = workdir / "stderr.txt", workdir / "stdout.txt"
    sys.stdout.flush()
    sys.stderr.flush()
    start_path, peak_path = workdir / "rss_at_start.txt", workdir / "peak.txt"
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 70
        try:
            start_path.write_text(str(_rss_kb()))  # what the fork begins with (shared pages)
            os.setpgid(0, 0)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            for fd, path in ((1, out_path), (2, err_path)):
                target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(target, fd)
                os.close(target)
            # whatever stood in for them (pytest's capture, say) writes to the files now
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - lives as long as the child
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            # a crash's Python stack goes to the case's stderr (not to a descriptor the parent
            # gave faulthandler, such as pytest's terminal)
            faulthandler.enable(file=sys.stderr)
            code = int(entry())
        except BaseException:  # noqa: BLE001 - a traceback is an outcome here, written out
            import traceback

            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
                own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                peak_path.write_text(f"{own} {kids}")
            os._exit(code)
    status, usage, timed_out = _wait(pid, timeout_s)
    stderr = err_path.read_text(errors="replace") if err_path.exists() else ""
    peak_mb = _peak_mb(start_path, peak_path, usage.ru_maxrss)
    return classify(status, peak_mb, stderr, timed_out), stderr, peak_mb


def _peak_mb(start_path: Path, peak_path: Path, waited_kb: int) -> float:
    """What a case added to memory: the child's own peak less what its fork began with (the
    parent's pages it shares count in its resident size from the start), or the peak of a
    process it ran (the HDF5 reader), whichever is larger. A child killed before it could say
    is judged by ``wait4``'s peak less its start."""
    try:
        start = int(start_path.read_text())
    except (OSError, ValueError):
        start = 0
    try:
        own, kids = (int(v) for v in peak_path.read_text().split())
    except (OSError, ValueError):
        own, kids = waited_kb, 0
    return max(own - start, kids, 0) / 1024


def _wait(pid: int, timeout_s: float) -> tuple[int, Any, bool]:
    """Wait for ``pid`` (a process group leader) at most ``timeout_s``, then kill its group.
    Returns its wait status, its resource usage (peak memory: its own and its waited-for
    children's) and whether it ran out of time."""
    started, timed_out, pause = time.monotonic(), False, 0.002
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - started > timeout_s:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            timed_out = True
            break
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)  # anything the case left running
    return status, usage, timed_out


def run_case(family: Family, root: Path, seed: int, case: int, work: Path) -> CaseResult:
    source, data = case_bytes(family, root, seed, case)
    case_dir = Path(tempfile.mkdtemp(prefix=f"case{case}-", dir=work))
    try:
        entry = family.stage(data, source, root, case_dir)
        started = time.perf_counter()
        outcome, stderr, peak_mb = run_in_child(entry, case_dir)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(case_dir, ignore_errors=True)
    lines = [line for line in stderr.splitlines() if line.strip()]
    return CaseResult(
        family.name,
        case,
        source.name,
        outcome,
        round(seconds, 3),
        round(peak_mb, 1),
        lines[-1][:300] if lines else "",
    )


def corpus_name(label: str, source: Path) -> str:
    """A kept case's file name: a label, ``--``, then the seed file it mutated (which a verify
    family needs to stage it: the artifact it replaces)."""
    return f"{label}--{source.name}"


def corpus_seed(path: Path, family: Family, root: Path) -> Path:
    """The seed file a kept case (named by ``corpus_name``) mutated."""
    name = path.name.split("--", 1)[1]
    return next(p for p in family.seeds(root) if p.name == name)


def keep(result: CaseResult, family: Family, root: Path, seed: int, into: Path) -> Path:
    """Write a failing case's bytes (replayed from its numbers) where a test can pick it up."""
    source, data = case_bytes(family, root, seed, result.case)
    folder = into / family.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / corpus_name(f"{result.outcome}-s{seed}-c{result.case}", source)
    path.write_bytes(data)
    return path


def deep_import(path: Path, work: Path) -> CaseResult:
    """``edgedigits import`` on an accepted model file, as a user runs it (a new process: it
    builds, scores and checks the model in TensorFlow and in the Keras that wrote it)."""
    out = Path(tempfile.mkdtemp(prefix="deep-", dir=work))
    started = time.perf_counter()
    with open(out / "stderr.txt", "w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgedigits", "import", str(path), "--out", str(out / "o")],
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        status, usage, timed_out = _wait(proc.pid, DEEP_TIMEOUT_S)
        proc.returncode = 0  # reaped by _wait
        err.seek(0)
        stderr = err.read()
    shutil.rmtree(out, ignore_errors=True)
    lines = [line for line in stderr.splitlines() if line.strip()]
    peak = usage.ru_maxrss / 1024
    return CaseResult(
        "import",
        0,
        path.name,
        # the whole import runs TensorFlow (~1.1 GB for any model): memory is not judged here
        classify(status, 0.0, stderr, timed_out),
        round(time.perf_counter() - started, 2),
        round(peak, 1),
        lines[-1][:300] if lines else "",
    )


def run_family(
    family: Family,
    root: Path,
    *,
    seed: int,
    cases: int,
    budget_s: float | None = None,
    keep_into: Path | None = None,
    log: Any = print,
) -> FamilyTally:
    """Up to ``cases`` cases of ``family`` (fewer if ``budget_s`` runs out first)."""
    tally = FamilyTally(family.name, family.entry)
    family.warm(root)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{family.name}-") as work:
        for case in range(cases):
            if budget_s is not None and time.monotonic() - started > budget_s:
                break
            result = run_case(family, root, seed, case, Path(work))
            tally.add(result)
            if result.outcome in FAILURES:
                log(f"  {family.name} case {case}: {result.outcome}: {result.said}")
                if keep_into is not None:
                    keep(result, family, root, seed, keep_into)
    return tally
