"""The fuzz tier: seeded, structure-aware mutation of real files through the entry a user's
command reads them with, one forked process per case, judged by how it ends.

``families.py`` registers what is read (model files, artifacts, records, data), ``mutate.py``
how bytes and structures are changed, ``runner.py`` how a case runs and is judged, and
``seeds.py`` makes the real files mutated (from the shipped weights). ``bench/fuzz.py`` runs a
campaign and commits its table; ``tests/test_fuzz.py`` runs a bounded one in CI.
"""

from edgedigits.fuzz.families import FAMILIES, Family
from edgedigits.fuzz.runner import (
    FAILURES,
    OUTCOMES,
    CaseResult,
    FamilyTally,
    FuzzReport,
    case_bytes,
    classify,
    corpus_name,
    corpus_seed,
    deep_import,
    run_case,
    run_family,
    run_in_child,
)

__all__ = [
    "FAILURES",
    "FAMILIES",
    "OUTCOMES",
    "CaseResult",
    "Family",
    "FamilyTally",
    "FuzzReport",
    "case_bytes",
    "classify",
    "corpus_name",
    "corpus_seed",
    "deep_import",
    "run_case",
    "run_family",
    "run_in_child",
]
