"""The two pictures of a CI comparison: this change's growth per file, and the history.

``growth_chart``: one bar per file, head/base latency with its 95% interval, the limit drawn, and
the instruction ratio beside it. ``history_chart``: latency and instructions per file over the
main branch's commits, with the pull request's point drawn on the same axes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgedigits.plots import pyplot, save_figure

CHART_FILES = 6  # lines per history panel: the files each target ships first


def growth_chart(report: Any, path: Path) -> Path | None:
    pairs = [p for p in report.pairs if p.growth is not None]
    if not pairs:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(pairs) + 1.5))
    names = [p.file for p in pairs]
    growth = [p.growth for p in pairs]
    errors = [[p.growth - p.ci_low for p in pairs], [p.ci_high - p.growth for p in pairs]]
    colors = ["tab:red" if p.slower else "tab:blue" for p in pairs]
    ax.barh(names, [g - 1 for g in growth], left=1, xerr=errors, color=colors, alpha=0.7)
    for k, p in enumerate(pairs):
        if p.instruction_growth:
            ax.plot(p.instruction_growth, k, "k|", markersize=12)
    ax.axvline(report.options.max_slowdown, color="tab:red", linestyle="--", label="limit")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel(
        f"{report.labels[1]} / {report.labels[0]} latency (bar: 95% interval; |: instructions)"
    )
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    save_figure(fig, path)
    return path


def history_chart(points: list[dict[str, Any]], this: dict[str, Any], path: Path) -> Path | None:
    series = points + [this]
    shipped = list(
        dict.fromkeys(f for f in this.get("files", {}) if f.split("/")[-1] in this.get("ship", []))
    )
    others = [f for f in this.get("files", {}) if f not in shipped]
    files = (shipped + others)[:CHART_FILES]
    if not files:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    x = list(range(len(series)))
    for ax, metric, label in (
        (axes[0], "us", "latency µs (batch 1)"),
        (axes[1], "instructions", "instructions per inference"),
    ):
        for name in files:
            ys = [((p["files"].get(name) or {}).get(metric)) for p in series]
            line = ax.plot(
                x[:-1], [y if y is not None else float("nan") for y in ys[:-1]], marker="."
            )
            if ys[-1] is not None:
                ax.plot(x[-1], ys[-1], marker="*", markersize=12, color=line[0].get_color())
            line[0].set_label(name.split("/")[-1])
        ax.set_ylabel(label)
        ax.set_xlabel("commits on the main branch (★ this run)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    labels = [str(p.get("commit", ""))[:7] for p in series]
    for ax in axes:
        ax.set_xticks(x, labels, rotation=60, fontsize=6)
    save_figure(fig, path)
    return path
