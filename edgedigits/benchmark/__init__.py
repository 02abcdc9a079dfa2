"""Benchmark: accuracy parity and latency of every artifact in every runtime, reports, CI gate.

``artifacts.py`` (what to bench), ``timing.py`` (interleaved latency rounds, memory),
``benchmark.py`` (the loop; parity by the contract's tolerances, ``edgedigits.contract``),
``results.py`` (its options and typed records), ``app_path.py`` (drawn digits through the
preprocessing contract),
``report.py`` (JSON, Markdown, Pareto plots), ``gate.py`` (baseline comparison for CI),
``schema.json`` (the JSON report's schema); ``compare.py``, ``instructions.py`` and
``compare_report.py`` (two exports against each other in one run: ``compare()``).
"""

from edgedigits.benchmark import gate, report, retiming
from edgedigits.benchmark.benchmark import bench
from edgedigits.benchmark.compare import CompareOptions
from edgedigits.benchmark.compare_report import CompareReport, compare
from edgedigits.benchmark.gate import DEFAULT_MAX_SLOWDOWN, check
from edgedigits.benchmark.report import machine_info, pareto_front
from edgedigits.benchmark.results import BenchOptions, BenchReport, BenchResult
from edgedigits.benchmark.timing import TimingOptions, measure
from edgedigits.comparator import Tolerance
from edgedigits.contract.tolerances import default_tolerances, load_tolerances

__all__ = [
    "DEFAULT_MAX_SLOWDOWN",
    "BenchOptions",
    "BenchReport",
    "BenchResult",
    "CompareOptions",
    "CompareReport",
    "TimingOptions",
    "Tolerance",
    "bench",
    "check",
    "compare",
    "default_tolerances",
    "gate",
    "load_tolerances",
    "machine_info",
    "measure",
    "pareto_front",
    "report",
    "retiming",
]
