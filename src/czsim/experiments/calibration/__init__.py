"""Calibration to history: fit assumption parameters to observed data with least squares.

The observations (``model/data/observations.csv``, sources copied in ``model/data/sources.csv``)
have columns ``id, variable`` (the model's real name, ``Name[element]`` for a subscripted one),
``year, value`` (model units: 亿元, fractions), ``kind, months, bound, sigma, source`` (an id of
``sources.csv``) and ``note``. They are compared with the model through an *observation
operator* chosen by each row's ``kind``:

``level``
    The model value at the year (a stock's end-of-year level, a flow's annual rate).
``share``
    As ``level``, for a fraction in [0, 1] (partial-year shares are treated as the year's).
``growth``
    Annual growth vs the previous year, ``m(Y) / m(Y-1) - 1``. The model starts at 2021, so a
    growth is only defined from 2022 on (2021 growth rates are left out: they need 2020).
``partial_level``
    A cumulative January-to-month-``months`` total of a flow. Matched as the model's annual
    rate at the mid-point of the period times ``months / 12``. The value of a flow at model time
    Y stands for the middle of calendar year Y, so the period's mid-point lies
    ``delta = (months / 2 - 6) / 12`` years from Y; the rate there is interpolated
    log-linearly (constant growth within the year): ``m(Y) * (m(Y) / m(Y-1)) ** delta``.
    Seasonality (Chinese industry sells more in the fourth quarter) is ignored; rows of this
    kind carry a wider sigma for it.

A row with ``bound = "lower"`` is a lower limit ("超…", "突破…"): only a model value below it
counts as an error. Weighted residuals are ``(model - observed) / sigma`` with ``sigma`` in the
variable's units (for growth and shares in fraction points).

The fit (:func:`calibrate`) runs :func:`scipy.optimize.least_squares` (trust-region
reflective, bounds from ``model/parameters.toml``) on parameters scaled to [0, 1] by their
bounds. Its Jacobian comes from central finite differences that are evaluated in ONE
:func:`czsim.run_many` batch with the base point (the ensemble engine runs the 2n+1 parameter
sets in one vectorised pass). Standard errors come from ``cov = s² (JᵀJ)⁻¹`` at the solution,
with ``s² = max(1, SSR / dof)`` over the rows some parameter moves: the sigmas are stated
uncertainties, so s² = 1 is the known-variance case, and a fit worse than they allow widens the
intervals. A parameter the fitted rows do not move at all is reported as not identified and
kept at its starting value.

Why the default parameters (:data:`DEFAULT_PARAMETERS`): the model starts in 2021 from 2021
data, so only the 2022 observations (and the 2021 flows that are not initial values) depend on
parameters. Each default parameter is an assumption (or a history value) that one or more of
those observations pins down, with no lever fitted alongside it that could explain the same
data: the 2022 change of Changzhou's market share (what the national markets and prices of
``model/data/markets.csv`` leave unexplained) for the clusters with their own 2022 figure (new
energy, NEV, biomedicine: Jan-Aug growth) and one common shift for the others (the total's
level and growth, above-scale output, equipment's Jan-Aug revenue, the new-energy industry),
the manufacturing value-added ratio (GDP, its manufacturing share and manufacturing
value added in 2021-2022), the retrofit-share adjustment
time (retrofit share 2022), the utilisation elasticity of investment (investment growth 2022)
and the national promotion fraction (national little giants 2022). Left out although they
touch the data: levers (e.g. the high-tech certification rate, the green factory rates, the
investment trend), which are policy choices; the high-tech renewal fraction, confounded with
the certification-rate lever on a single point; the above-scale output ratio, a pure
reporting conversion that changes no other variable; and non-manufacturing GDP growth, which
stays at its data-derived 5.4%: fitted to the one 2022 GDP figure it absorbed the misfit of the
constant value-added ratio (falling to 3.1%) and carried an implausible services slowdown into
the projection (manufacturing 47% of GDP by 2025).

Observations of the shared data left out of ``observations.csv`` are listed, with the reason,
in ``model/data/excluded.csv`` (:func:`excluded_data`, shown in the report).
"""

from czsim.experiments.calibration.backtest import Backtest
from czsim.experiments.calibration.fit import (
    CalibrationResult,
    calibrate,
    simulate_observations,
    trajectories,
)
from czsim.experiments.calibration.observations import (
    CALIBRATED_FILE,
    DEFAULT_PARAMETERS,
    EXCLUDED_FILE,
    OBSERVATIONS_FILE,
    SOURCES_FILE,
    Operator,
    excluded_data,
    load_observations,
)
from czsim.experiments.calibration.problem import resolve_parameters
from czsim.experiments.calibration.scenario import MAX_CORRELATION
from czsim.experiments.calibration.stats import fit_statistics, theil

__all__ = [
    "CALIBRATED_FILE",
    "DEFAULT_PARAMETERS",
    "EXCLUDED_FILE",
    "MAX_CORRELATION",
    "OBSERVATIONS_FILE",
    "SOURCES_FILE",
    "Backtest",
    "CalibrationResult",
    "Operator",
    "calibrate",
    "excluded_data",
    "fit_statistics",
    "load_observations",
    "resolve_parameters",
    "simulate_observations",
    "theil",
    "trajectories",
]
