"""Base against head: the paired ABBA timing, the verdicts, the summary's first lines, and the
project configuration that drives 'edgedigits ci' (unit tier: nothing trained or exported)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgedigits.benchmark.compare import (
    CompareOptions,
    PairResult,
    growth_interval,
    time_pairs,
)
from edgedigits.benchmark.compare_report import CompareReport, _judge
from edgedigits.benchmark.timing import Slot
from edgedigits.cli import main
from edgedigits.errors import UsageError
from edgedigits.project_config import check_names, find_config, load_config


def _work(n: int):
    data = np.arange(n, dtype=np.float64)
    return lambda: float(np.sqrt(data).sum())


def test_abba_rounds_see_a_real_slowdown_and_not_an_equal_pair():
    same = (Slot("a", lambda: _work(20000)), Slot("b", lambda: _work(20000)))
    slower = (Slot("a", lambda: _work(20000)), Slot("b", lambda: _work(30000)))
    equal, grown = time_pairs([same, slower], rounds=12, seed=0)
    point, low, high = growth_interval(equal)
    assert low <= 1.0 <= high or abs(point - 1) < 0.05, (point, low, high)
    point, low, high = growth_interval(grown)
    assert low > 1.2, (point, low, high)  # 1.5x the work
    assert len(slower[0].round_p50) == 12  # per-file medians kept for the report


def test_growth_interval_is_the_median_with_a_bootstrap_around_it():
    ratios = np.array([1.0, 1.02, 0.98, 1.01, 0.99] * 6)
    point, low, high = growth_interval(ratios)
    assert point == pytest.approx(1.0)
    assert low <= point <= high and high - low < 0.05


def _pair(**changes) -> PairResult:
    fields = dict(
        model="digits",
        file="digits.float32.tflite",
        format="tflite",
        recipe="float32",
        runtime="litert",
        base_bytes=1000,
        head_bytes=1000,
        base_accuracy=98.0,
        head_accuracy=98.0,
        base_parity=True,
        head_parity=True,
        base_us=10.0,
        head_us=10.0,
        growth=1.0,
        ci_low=0.98,
        ci_high=1.02,
        rounds=30,
    )
    return PairResult(**{**fields, **changes})


def _report(*pairs: PairResult) -> CompareReport:
    options = CompareOptions()
    for p in pairs:
        _judge(p, options)
    ship = [{"model": "digits", "target": "mobile", "file": pairs[0].file}]
    return CompareReport(
        "b", "h", ("main", "pr"), options, list(pairs), ship_before=ship, ship_now=ship
    )


def test_the_summary_says_nothing_got_worse_in_its_first_lines():
    lines = _report(_pair()).summary_lines()
    assert lines[0].startswith("**edgedigits: pr vs main: no regression**")
    assert lines[2].startswith("* Slower: nothing beyond 1.1x (largest: digits.float32.tflite")
    assert lines[3] == "* Bigger: nothing"
    assert lines[4] == "* Less accurate: nothing"
    assert lines[5] == "* Ship now: digits mobile: digits.float32.tflite (unchanged)"


def test_the_summary_says_what_got_slower_bigger_less_accurate_and_what_to_ship():
    slow = _pair(
        growth=1.27,
        ci_low=1.21,
        ci_high=1.33,
        head_us=12.7,
        head_bytes=1250,
        base_instructions=1000.0,
        head_instructions=1250.0,
    )
    worse = _pair(
        file="digits.int8.io-float32.tflite", recipe="int8", head_accuracy=97.2, head_parity=False
    )
    report = _report(slow, worse)
    report.ship_now = [{"model": "digits", "target": "mobile", "file": "digits.float16.tflite"}]
    lines = report.summary_lines()
    assert lines[0].startswith("**edgedigits: pr vs main: 2 file(s) regressed**")
    assert lines[2] == (
        "* Slower: digits.float32.tflite 1.27x (95% interval 1.21-1.33; instructions 1.250x)"
    )
    assert lines[3] == "* Bigger: digits.float32.tflite 1,000 -> 1,250 bytes (+25.0%)"
    assert lines[4] == (
        "* Less accurate: digits.int8.io-float32.tflite 98.00% -> 97.20%, parity now FAILS"
    )
    assert lines[5] == (
        "* Ship now: digits mobile: ship digits.float16.tflite (was digits.float32.tflite) "
        "(changed)"
    )
    assert not report.passed
    assert report.failures == [
        "digits: digits.float32.tflite: 1.27x slower on litert (95% interval 1.21-1.33; "
        "limit 1.1x)",
        "digits: digits.float32.tflite: 1.250x the instructions per inference (1,000 -> 1,250; "
        "limit 1.01x)",
        "digits: digits.int8.io-float32.tflite: parity passed in the base and fails in the head",
    ]


def test_a_growth_inside_the_limit_or_an_interval_reaching_below_it_passes():
    near = _pair(growth=1.12, ci_low=1.08, ci_high=1.16)  # the interval reaches below 1.1
    tiny = _pair(base_instructions=1000.0, head_instructions=1005.0)  # 0.5%: A/A agreement
    assert _report(near, tiny).passed


CONFIG = """
[project]
name = "app"

[tool.edgedigits]
models = ["models/digits.keras", "seed004_cnn"]
targets = ["web", "mobile"]
recipes = ["float32", "int8"]

[tool.edgedigits.budgets]
max_size_bytes = 250000

[tool.edgedigits.gate]
max_slowdown = 1.2
"""


def test_the_project_configuration_is_read_from_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(CONFIG)
    path = find_config(tmp_path)
    assert path == tmp_path / "pyproject.toml"
    config = load_config(path)
    check_names(config)
    assert config.model_names() == [str(tmp_path / "models/digits.keras"), "seed004_cnn"]
    assert config.gate == {"max_slowdown": 1.2}
    assert config.budgets == {"max_size_bytes": 250000}


@pytest.mark.parametrize(
    "text, message",
    [
        ("[tool.edgedigits]\nmodel = ['a']\n", r"\[tool.edgedigits\] model: unknown key"),
        ("[tool.edgedigits]\nmodels = 'a'\n", r"\[tool.edgedigits\] models: 'a' is not of type"),
        (
            "[tool.edgedigits.gate]\nmax_slowdown = 0.9\n",
            r"\[tool.edgedigits\] gate.max_slowdown: 0.9 is less than or equal to",
        ),
        (
            "[tool.edgedigits.budgets]\nmax_size = 1\n",
            r"\[tool.edgedigits\] budgets.max_size: unknown key",
        ),
        (
            "[tool.edgedigits]\ntargets = ['watch']\n",
            r"\[tool.edgedigits\] targets: unknown target",
        ),
        ("[tool.edgedigits]\nrecipes = ['int4']\n", r"\[tool.edgedigits\] recipes: unknown recipe"),
        ("[tool.edgedigits\n", r"pyproject.toml: not valid TOML"),
    ],
)
def test_each_configuration_mistake_is_one_line_naming_the_key(tmp_path, text, message):
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message) as info:
        check_names(load_config(path))
    assert "\n" not in str(info.value)


def test_commands_given_no_names_take_them_from_the_configuration(tmp_path, monkeypatch, capsys):
    (tmp_path / "edgedigits.toml").write_text('models = ["nosuchmodel"]\nout = "build"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["export"]) == 1
    captured = capsys.readouterr()
    assert "models from edgedigits.toml: nosuchmodel" in captured.out
    assert "nosuchmodel" in captured.err  # the configured name reached the command


def test_compare_refuses_a_folder_without_exports_in_one_line(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        err == f"edgedigits compare: error: base {tmp_path / 'a'}: no model folder with a "
        "manifest.json (run export first)"
    )


def test_the_history_skips_damaged_lines_and_draws_this_run_beside_it(tmp_path):
    from edgedigits.ci_charts import history_chart
    from edgedigits.ci_job import read_history

    history = tmp_path / "history.jsonl"
    good = {
        "commit": "a" * 40,
        "files": {"digits/digits.float32.tflite": {"us": 9.0, "instructions": 4e4}},
    }
    history.write_text(json.dumps(good) + "\n{not json\n[1, 2]\n" + json.dumps(good) + "\n")
    points = read_history(history)
    assert points == [good, good]
    this = {
        "commit": "b" * 40,
        "files": {"digits/digits.float32.tflite": {"us": 11.0, "instructions": 5e4}},
        "ship": ["digits.float32.tflite"],
    }
    assert history_chart(points, this, tmp_path / "history.png") == tmp_path / "history.png"
    assert (tmp_path / "history.png").stat().st_size > 1000
    assert read_history(tmp_path / "none.jsonl") == []
