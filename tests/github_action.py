"""Run a composite action's ``run`` steps the way a GitHub runner does, on this machine.

What it does as the runner would: inputs default from ``action.yml`` and are overridden by
``with``; ``${{ ... }}`` in a step's ``env`` is filled from the inputs and the ``github`` context;
each step runs with ``bash --noprofile --norc -eo pipefail``, in the repository, with
``GITHUB_STEP_SUMMARY`` pointing at a file; after a failure only ``if: always()`` steps run.
What it does not: ``uses:`` steps (setup-python, the cache, upload-artifact) are GitHub's own
actions; the caller's ``PATH`` (a virtual environment) stands in for setup-python, and a plain
folder for the cache.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


@dataclass
class StepRun:
    name: str
    returncode: int | None  # None: skipped (a `uses:` step, or after a failure)
    output: str = ""


def _lookup(context: dict[str, Any], path: str) -> str:
    value: Any = context
    for part in path.split("."):
        value = value[part]
    return str(value)


def run_action(
    action: Path, repo: Path, inputs: dict[str, str], env: dict[str, str], timeout: float = 900
) -> tuple[list[StepRun], str]:
    """Run ``action``'s steps in ``repo``; returns the steps and the step summary's text."""
    doc = yaml.safe_load(action.read_text())
    assert doc["runs"]["using"] == "composite"
    values = {k: str(v.get("default", "")) for k, v in doc["inputs"].items()}
    unknown = set(inputs) - set(values)
    assert not unknown, f"inputs the action does not declare: {unknown}"
    values.update(inputs)
    context = {
        "inputs": values,
        "github": {
            "action_path": str(action.parent),
            "run_id": "1",
            "ref": env.get("GITHUB_REF", ""),
            "event": {"repository": {"default_branch": "main"}},
        },
    }
    summary = repo / ".step-summary.md"
    summary.write_text("")
    failed, runs = False, []
    for step in doc["runs"]["steps"]:
        name = step.get("name", step.get("uses", "?"))
        always = "always()" in str(step.get("if", ""))
        if "uses" in step or (failed and not always):
            runs.append(StepRun(name, None))
            continue
        step_env = {
            k: EXPRESSION.sub(lambda m: _lookup(context, m[1]), str(v))
            for k, v in (step.get("env") or {}).items()
        }
        assert "${{" not in step["run"], f"{name}: expressions belong in env, not in run"
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=repo,
            env={**os.environ, **env, **step_env, "GITHUB_STEP_SUMMARY": str(summary)},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        runs.append(StepRun(name, proc.returncode, proc.stdout + proc.stderr))
        failed = failed or proc.returncode != 0
    return runs, summary.read_text()
