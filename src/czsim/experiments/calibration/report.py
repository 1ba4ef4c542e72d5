"""The calibration report: one PNG per observed series and a self-contained HTML page.

Each chart shows the series as the model sees it (the observation operator of
:mod:`czsim.experiments.calibration` applied year by year), calibrated (solid, with the fitted
parameters' 95% band carried forward) and uncalibrated (dashed), against the data (points with
±1 sigma bars; lower bounds as upward triangles).
"""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import PercentFormatter

from czsim.experiments.calibration.fit import CalibrationResult, trajectories
from czsim.experiments.calibration.observations import excluded_data
from czsim.plotting import use_cjk_font

#: Chinese and English labels of the observed variables (fallback: the model name).
LABELS: dict[str, tuple[str, str]] = {
    "Industrial scale": ("工业规模总量(工业开票销售)", "Industrial scale (invoiced sales)"),
    "Above scale output": ("规上工业总产值", "Above-scale industrial output"),
    "GDP": ("地区生产总值", "GDP"),
    "Manufacturing VA share of GDP": ("制造业增加值占GDP比重", "Manufacturing VA share of GDP"),
    "Manufacturing value added": ("制造业增加值", "Manufacturing value added"),
    "High tech enterprises": ("有效高新技术企业", "High-tech enterprises"),
    "National little giants": ("国家级专精特新小巨人", "National little giants"),
    "Tech retrofit share": ("技改投资占工业投资比重", "Tech-retrofit share of investment"),
    "Industrial investment": ("工业投资", "Industrial investment"),
    "Cloud enterprises": ("上云企业", "Cloud-using firms"),
    "Base stations 5G": ("5G基站", "5G base stations"),
    "Listed companies": ("上市公司", "Listed companies"),
    "Single champions": ("制造业单项冠军", "Manufacturing single champions"),
    "Group output[new_energy_industry]": ("新能源产业产值", "New-energy industry output"),
    "Cluster output[new_energy]": ("新能源集群产值", "New-energy cluster output"),
    "Cluster output[nev]": ("新能源汽车及核心零部件产值", "NEV and core parts output"),
    "Cluster output[biomedicine]": ("生物医药及新型医疗器械产值", "Biomedicine output"),
    "Cluster output[equipment]": ("高端装备产值", "High-end equipment output"),
    "National green factories": ("国家级绿色工厂", "National green factories"),
    "Provincial green factories": ("省级绿色工厂", "Provincial green factories"),
}
KIND_LABELS = {
    "level": ("", ""),
    "share": ("", ""),
    "growth": ("增速", "growth"),
    "partial_level": ("1–{m}月累计", "Jan–month {m} cumulative"),
}


def series_title(variable: str, kind: str, months: float = math.nan) -> str:
    """``中文 · English`` title of a series."""
    zh, en = LABELS.get(variable, (variable, variable))
    kzh, ken = KIND_LABELS[kind]
    if kind == "partial_level":
        kzh, ken = kzh.format(m=int(months)), ken.format(m=int(months))
    return f"{zh}{kzh} · {en}{' ' + ken if ken else ''}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def plot_series(result: CalibrationResult, out_dir: str | Path) -> list[Path]:
    """Write one PNG per observed series to ``out_dir``; return their paths in series order."""
    use_cjk_font()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    traj = trajectories(result)
    obs = result.observations
    written = []
    for series, points in obs.groupby("series", sort=False):
        first = points.iloc[0]
        line = traj[traj["series"] == series]
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        ax.plot(line["year"], line["initial"], "--", color="0.45", label="未校准 uncalibrated")
        ax.fill_between(
            line["year"],
            line["low95"],
            line["high95"],
            color="C0",
            alpha=0.18,
            lw=0,
            label="参数95%区间 fitted 95% band",
        )
        ax.plot(line["year"], line["calibrated"], "-", color="C0", lw=2, label="校准后 calibrated")
        point = points[points["bound"] != "lower"]
        bound = points[points["bound"] == "lower"]
        if len(point):
            ax.errorbar(
                point["year"],
                point["value"],
                yerr=point["sigma"],
                fmt="o",
                color="C3",
                capsize=4,
                label="观测 data (±1σ)",
            )
        if len(bound):
            ax.plot(
                bound["year"],
                bound["value"],
                "^",
                color="C3",
                ms=9,
                mfc="none",
                mew=2,
                label="观测下限 data: lower bound",
            )
        if first["kind"] in ("growth", "share"):
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_title(series_title(first["variable"], first["kind"], first["months"]), fontsize=11)
        ax.set_xlabel("年份 year")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        path = out_dir / f"{_slug(series)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    """Render ``frame`` as an HTML table with numbers to ``digits`` significant digits.

    NaN shows as a blank cell.
    """

    def fmt(v: object) -> str:
        if isinstance(v, float):
            if math.isnan(v):
                return ""
            if abs(v) < 1e-9:  # round-off of an exact fit, not a result
                return "0"
            return f"{v:,.1f}" if abs(v) >= 1000 else f"{v:.{digits}g}"
        return str(v)

    return frame.to_html(
        index=False,
        formatters={c: fmt for c in frame.columns},
        border=0,
        classes="t",
        escape=True,
        na_rep="",
    )


def write_report(result: CalibrationResult, out_dir: str | Path) -> Path:
    """Write the calibration report.

    Parameters
    ----------
    result : CalibrationResult
    out_dir : str or Path
        Folder (created if needed) for ``<series>.png`` files and ``report.html``.

    Returns
    -------
    Path
        The HTML page; it embeds the charts (base64), so it can be mailed on its own.
    """
    out_dir = Path(out_dir)
    pngs = plot_series(result, out_dir)
    est = result.estimates.drop(columns=["low", "high"])
    fit = result.fit.drop(columns=["variable"])
    res = result.residuals.drop(columns=["variable"])
    figures = "\n".join(
        f'<figure><img alt="{html.escape(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"></figure>'
        for p in pngs
    )
    backtest = ""
    if result.backtest is not None:
        bt = result.backtest
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in bt.notes)
        backtest = (
            f"<h2>回测 Back-test (fit before {bt.holdout_from}, forecast the rest)</h2>"
            f"<ul>{notes}</ul>"
            f"<h3>Forecast vs naive 预测与朴素预测</h3>{_table(bt.forecast)}"
            f"<h3>Estimates on the early data 早期数据估计</h3>"
            f"{_table(bt.estimates.drop(columns=['low', 'high']))}"
        )
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>模型校准报告 · Calibration report</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Noto Sans SC", sans-serif; margin: 2em; color: #222; }}
table.t {{ border-collapse: collapse; font-size: 0.85em; margin-bottom: 1.5em; }}
table.t th, table.t td {{ border-bottom: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
table.t th {{ background: #f2f2f2; }}
figure {{ display: inline-block; margin: 0.5em; }}
img {{ max-width: 640px; }}
</style></head><body>
<h1>模型校准报告 · Calibration report</h1>
<p>Scenario <b>{html.escape(result.base.name)}</b> fitted to {len(result.observations)}
observations; {result.n_runs} model runs in {result.wall_time:.1f} s; residual variance factor
s² = {result.s2:.3g}; optimiser: {html.escape(result.message)}</p>
<p>Intervals are linearised 95% intervals (value ± 1.96 stderr, cov = s²(JᵀJ)⁻¹) clipped to the
parameter bounds. Errors are model − observed; a satisfied lower bound counts as no error.
Theil U and its bias/variance/covariance shares need at least two points in a series.</p>
<h2>参数估计 Fitted parameters</h2>
{_table(est)}
<h2>拟合统计 Fit per series</h2>
{_table(fit)}
<h2>观测与残差 Observations and residuals</h2>
{_table(res)}
{backtest}
<h2>未使用的数据 Data not compared with the model</h2>
{_table(excluded_data().rename(columns={"why_not": "why not"}))}
<h2>图 Charts</h2>
{figures}
</body></html>
"""
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
