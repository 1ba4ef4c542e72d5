"""Figures of a sweep, with Chinese and English labels, written as PNG and SVG.

* ``indices``: tornado chart of the sensitivity indices of one outcome (S1/ST with
  confidence bars, mu*/sigma, or SRC).
* ``probabilities``: probability of reaching each tracked target, with standard error bars.
* ``fan``: the main outcome's P5–P95 and P25–P75 bands and median over time, with the
  target line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from czsim.io import temporary_sibling
from czsim.plotting import use_cjk_font

FORMATS = ("png", "svg")
DPI = 150
#: Parameters drawn in the tornado chart: more are unreadable (and each CJK label costs
#: milliseconds to lay out and draw three times); indices.csv holds them all.
TOP_PARAMETERS = 25
#: zlib level of the PNGs: 1 encodes them about 1.6x faster than the default 6, files within 10%
PNG_OPTIONS = {"pil_kwargs": {"compress_level": 1}}
INDEX_LABELS = {
    "S1": "一阶 S1 first order",
    "ST": "总效应 ST total",
    "mu_star": "μ* 平均绝对效应 mean |elementary effect|",
    "sigma": "σ 效应离散度 spread of effects",
    "SRC": "标准化回归系数 SRC",
}


def _save(fig, out: Path, stem: str) -> list[Path]:
    from matplotlib import pyplot as plt

    paths = []
    # Lay out once for both formats (bbox_inches="tight" would draw every file twice).
    fig.set_dpi(DPI)  # the layout's renderer is then the PNG's: its text metrics are reused
    fig.tight_layout()
    # SVG text stays text (searchable, and much faster to write than glyph outlines); the
    # font list names the CJK font first, so viewers pick a Chinese font.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        for fmt in FORMATS:
            path = out / f"{stem}.{fmt}"
            with temporary_sibling(path) as tmp:
                fig.savefig(tmp, dpi=DPI, format=fmt, **(PNG_OPTIONS if fmt == "png" else {}))
            paths.append(path)
    plt.close(fig)
    return paths


def plot_indices(
    indices: pd.DataFrame,
    outcome: str,
    labels: Mapping[str, str],
    out: Path,
    *,
    title: str,
    top: int = TOP_PARAMETERS,
) -> list[Path]:
    """Draw a tornado chart of the sensitivity indices of ``outcome``.

    Only scalar rows (no time) are charted, the most influential parameter (by ST, mu* or
    abs(SRC)) on top; only the ``top`` strongest are drawn, and the title says how many
    weaker ones ``indices.csv`` holds. ``labels`` maps parameter name -> label. Returns the
    files written.
    """
    from matplotlib import pyplot as plt

    rows = indices[(indices["outcome"] == outcome) & indices["time"].isna()]
    kinds = [k for k in ("ST", "S1", "mu_star", "sigma", "SRC") if k in set(rows["index"])]
    wide = rows.pivot(index="parameter", columns="index", values="value")
    conf = rows.pivot(index="parameter", columns="index", values="conf")
    order = wide[kinds[0]].abs().sort_values(kind="stable").index
    params = list(order[-top:])
    if len(order) > len(params):
        weaker = len(order) - len(params)
        title += f"\n({weaker} 个较弱参数见 indices.csv; {weaker} weaker parameters in indices.csv)"
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.38 * len(params)))
    height = 0.8 / len(kinds)
    y = np.arange(len(params))
    for i, kind in enumerate(kinds):
        err = conf.loc[params, kind].to_numpy(dtype=float)
        ax.barh(
            y + (i - (len(kinds) - 1) / 2) * height,
            wide.loc[params, kind],
            height,
            xerr=np.where(np.isfinite(err), err, 0.0) if np.isfinite(err).any() else None,
            capsize=2,
            label=INDEX_LABELS[kind],
        )
    ax.set_yticks(y, [labels.get(p, p) for p in params], fontsize=8)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("敏感性指数 Sensitivity index")
    fig.suptitle(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, out, "indices")


def plot_probabilities(
    probs: pd.DataFrame, labels: Mapping[str, str], out: Path, *, title: str
) -> list[Path]:
    """Horizontal bars: probability (0–1) of reaching each target, ± one standard error."""
    from matplotlib import pyplot as plt

    probs = probs.sort_values("probability")
    fig, ax = plt.subplots(figsize=(11, 1.4 + 0.22 * len(probs)))
    y = np.arange(len(probs))
    colors = np.where(probs["probability"] >= 0.5, "#2a9d8f", "#e76f51")
    ax.barh(y, probs["probability"], xerr=probs["stderr"], color=colors, capsize=1.5)
    ax.set_yticks(y, [labels.get(i, i) for i in probs.index], fontsize=6.5)
    ax.set_xlim(0, 1)
    ax.axvline(0.5, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("达成概率 Probability of reaching the target")
    fig.suptitle(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, out, "probabilities")


def plot_fan(
    years: np.ndarray,
    series: np.ndarray,
    target: float,
    target_year: int,
    out: Path,
    *,
    title: str,
    ylabel: str,
) -> list[Path]:
    """Draw a fan chart of ``series``, shape ``(runs, years)``.

    The chart shows the P5–P95 and P25–P75 bands, the median, and the target as a horizontal
    line marked at ``target_year``. Returns the files written.
    """
    from matplotlib import pyplot as plt

    p5, p25, p50, p75, p95 = np.percentile(series, [5, 25, 50, 75, 95], axis=0)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    ax.fill_between(years, p5, p95, alpha=0.2, color="#1d3557", label="P5–P95")
    ax.fill_between(years, p25, p75, alpha=0.4, color="#1d3557", label="P25–P75")
    ax.plot(years, p50, color="#1d3557", linewidth=2, label="中位数 median")
    ax.axhline(
        target, color="#e63946", linestyle="--", linewidth=1.2, label=f"目标 target {target:,.0f}"
    )
    ax.plot([target_year], [target], marker="o", color="#e63946")
    ax.set_xlabel("年份 Year")
    ax.set_ylabel(ylabel)
    fig.suptitle(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, out, "fan")


def write_figures(
    indices: pd.DataFrame,
    probs: pd.DataFrame,
    years: np.ndarray,
    main: np.ndarray | None,
    *,
    outcome: str | None,
    param_labels: Mapping[str, str],
    target_labels: Mapping[str, str],
    target: float,
    target_year: int,
    scenario: str,
    method: str,
    out: Path,
    hidden: int = 0,
) -> list[Path]:
    """Write every figure that has data; return the files written.

    ``indices`` and ``probs`` are :class:`SweepResult`-style tables (``probs`` already
    filtered, ``hidden`` rows left out); ``main`` is the main outcome ``(runs, years)``
    over ``years``; ``outcome`` the scalar outcome whose indices are charted.
    """
    use_cjk_font()
    files: list[Path] = []
    if outcome is not None and not indices.empty:
        files += plot_indices(
            indices,
            outcome,
            param_labels,
            out,
            title=f"{scenario} · {method}: 敏感性 sensitivity of {outcome}",
        )
    if not probs.empty:
        note = (
            f"\n({hidden} counter targets with probability 0 or 1 not shown: see probabilities.csv)"
            if hidden
            else ""
        )
        files += plot_probabilities(
            probs,
            target_labels,
            out,
            title=f"{scenario} · {method}: 目标达成概率 probability of reaching each target{note}",
        )
    if main is not None:
        files += plot_fan(
            years,
            main,
            target,
            target_year,
            out,
            title=f"{scenario} · {method}: 工业规模总量 Industrial scale",
            ylabel="亿元 (100 million yuan)",
        )
    return files
