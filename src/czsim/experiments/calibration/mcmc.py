"""The Laplace approximation of the calibration, checked against an MCMC sample (emcee).

:func:`calibrate` reports the fitted parameters' covariance ``s² (JᵀJ)⁻¹`` — a normal
approximation at the optimum — and the calibrated scenario's ``[posterior]`` is that normal.
:func:`check_laplace` samples the actual posterior of the same fit (the weighted least-squares
likelihood with the same ``s²``, flat priors over each parameter's bounds) with emcee's affine
invariant ensemble sampler, all walkers of a step in one batch of model runs, and tabulates both
side by side, so one can see where the normal is a fair summary and where it is not (a
parameter against a bound has a truncated posterior the normal ignores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from czsim.errors import InputError
from czsim.experiments.calibration.fit import CalibrationResult
from czsim.experiments.calibration.observations import Operator
from czsim.experiments.calibration.problem import Problem, resolve_parameters


@dataclass(frozen=True)
class LaplaceCheck:
    """Outcome of :func:`check_laplace`.

    ``table`` has one row per fitted parameter: ``laplace_mean, laplace_sd, mcmc_mean,
    mcmc_sd, sd_ratio`` (MCMC / Laplace), ``mean_shift`` (in Laplace standard deviations) and
    ``near_bound`` (the Laplace 95% interval crosses a bound). ``acceptance`` is emcee's mean
    acceptance fraction; ``n_runs`` the model runs used.
    """

    table: pd.DataFrame
    acceptance: float
    n_runs: int
    n_samples: int


def check_laplace(
    result: CalibrationResult, *, walkers: int = 32, steps: int = 300, seed: int = 0
) -> LaplaceCheck:
    """Sample the posterior of ``result``'s fit and compare it with its normal approximation.

    The first half of each chain is discarded as burn-in. Walkers start in a small ball
    around the optimum (0.1 Laplace standard deviations).
    """
    import emcee

    if walkers < 4 or steps < 10:
        raise InputError(
            f"need at least 4 walkers and 10 steps, got {walkers} and {steps}", key="mcmc"
        )
    est = result.estimates[result.estimates["identified"] & np.isfinite(result.estimates["stderr"])]
    names = list(est["parameter"])
    if not names:
        raise InputError("no fitted parameter has a finite standard error", key="mcmc")
    walkers = max(walkers, 2 * len(names) + 2)
    obs = result.observations
    problem = Problem(
        scenario=result.scenario,
        params=resolve_parameters(names, result.scenario),
        operator=Operator.build(obs),
        value=obs["value"].to_numpy(float),
        sigma=obs["sigma"].to_numpy(float),
        lower=(obs["bound"] == "lower").to_numpy(),
    )
    mean = est["value"].to_numpy(float)
    sd = est["stderr"].to_numpy(float)
    lo, span = problem.lo, problem.span
    s2 = result.s2

    def log_prob(u: np.ndarray) -> np.ndarray:
        u = np.atleast_2d(u)
        out = np.full(len(u), -np.inf)
        inside = ((u >= 0) & (u <= 1)).all(axis=1)
        if inside.any():
            pred = problem.predict(u[inside])
            r = np.array([problem.weigh(p) for p in pred])
            out[inside] = -0.5 * np.sum(r**2, axis=1) / s2
        return out

    rng = np.random.default_rng(seed)
    u0 = (mean - lo) / span
    start = u0 + 0.1 * (sd / span) * rng.standard_normal((walkers, len(names)))
    start = np.clip(start, 1e-9, 1 - 1e-9)
    sampler = emcee.EnsembleSampler(walkers, len(names), log_prob, vectorize=True)
    sampler.random_state = np.random.RandomState(seed).get_state()
    sampler.run_mcmc(start, steps, progress=False)
    chain = sampler.get_chain(discard=steps // 2, flat=True)
    x = lo + chain * span
    m_mean, m_sd = x.mean(axis=0), x.std(axis=0, ddof=1)
    low95, high95 = mean - 1.96 * sd, mean + 1.96 * sd
    table = pd.DataFrame(
        {
            "laplace_mean": mean,
            "laplace_sd": sd,
            "mcmc_mean": m_mean,
            "mcmc_sd": m_sd,
            "sd_ratio": m_sd / sd,
            "mean_shift": (m_mean - mean) / sd,
            "near_bound": (low95 < lo) | (high95 > lo + span),
        },
        index=pd.Index(names, name="parameter"),
    )
    return LaplaceCheck(
        table=table,
        acceptance=float(np.mean(sampler.acceptance_fraction)),
        n_runs=problem.n_runs,
        n_samples=len(chain),
    )
