"""The calibrated scenario: fitted values, and their intervals as [uncertain] ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd

from czsim.posterior import Posterior
from czsim.scenarios import Scenario

#: Above this absolute correlation with another fitted parameter, a parameter's marginal 95%
#: interval is not carried into [uncertain]: sweeps draw parameters independently, and
#: independent draws of strongly correlated estimates contradict the data they were fitted to
#: (e.g. two clusters' 2022 growth whose sum the observed 2022 total pins down).
MAX_CORRELATION = 0.7


def calibrated_scenario(
    base: Scenario, estimates: pd.DataFrame, obs: pd.DataFrame, covariance: pd.DataFrame
) -> Scenario:
    """Build the calibrated scenario from the base scenario and the fitted estimates.

    The result holds the base values and uncertain ranges, the fitted values, and as
    [uncertain] ranges the 95% intervals of the parameters whose estimates are not strongly
    correlated (|r| > :data:`MAX_CORRELATION`) with another's.
    """
    values = dict(base.values)
    uncertain = dict(base.uncertain)
    sd = np.sqrt(np.clip(np.diag(covariance.to_numpy()), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = covariance.to_numpy() / np.outer(sd, sd)
    np.fill_diagonal(corr, 0.0)
    max_corr = dict(
        zip(covariance.index, np.nanmax(np.abs(np.nan_to_num(corr)), axis=1), strict=True)
    )
    fitted, correlated = [], []
    for r in estimates.itertuples():
        # Six significant digits keep the file readable; far below the fitted uncertainty.
        values[r.parameter] = float(f"{r.value:.6g}")
        fitted.append(r.parameter)
        if not (r.identified and np.isfinite(r.stderr)):
            continue
        if max_corr.get(r.parameter, 0.0) > MAX_CORRELATION:
            correlated.append(r.parameter)
            uncertain.pop(r.parameter, None)
            continue
        low, high = float(f"{r.low95:.6g}"), float(f"{r.high95:.6g}")
        if low < high:
            uncertain[r.parameter] = (max(low, r.low), min(high, r.high))
    joint = [r.parameter for r in estimates.itertuples() if r.identified and np.isfinite(r.stderr)]
    posterior = None
    if joint:
        cov = covariance.loc[joint, joint].to_numpy(float)
        cov = (cov + cov.T) / 2
        posterior = Posterior(
            tuple(joint),
            tuple(values[p] for p in joint),
            tuple(tuple(float(f"{v:.6g}") for v in row) for row in cov),
        )
    years = f"{obs['year'].min()}-{obs['year'].max()}"
    left_en = (
        f" Left out of [uncertain] (sweeps draw independently) because their estimates are "
        f"correlated (|r| > {MAX_CORRELATION}) with another's: {', '.join(correlated)}."
        if correlated
        else ""
    )
    left_zh = (
        f"与其他参数估计强相关(|r|>{MAX_CORRELATION})而未列入[uncertain]:{', '.join(correlated)}。"
        if correlated
        else ""
    )
    return Scenario(
        posterior=posterior,
        name="calibrated",
        values=values,
        uncertain=uncertain,
        description_en=(
            f"{base.name} with {len(fitted)} parameters fitted to {len(obs)} "
            f"observations of {years} (model/data/observations.csv) by `czsim "
            f"calibrate`: {', '.join(fitted)}. [uncertain] holds their 95% "
            f"intervals, so sweeps use the fitted uncertainty; [posterior] their joint normal "
            f"(Laplace approximation), from which the bands draw them together.{left_en}"
        ),
        description_zh=(
            f"以{base.name}为基础,用{years}年{len(obs)}个观测值(model/data/"
            f"observations.csv)经 `czsim calibrate` 校准{len(fitted)}个参数;"
            f"[uncertain] 为其95%置信区间,敏感性分析默认采用;[posterior] 为其联合正态分布"
            f"(拉普拉斯近似),不确定性区间据此联合抽样。{left_zh}"
        ),
    )
