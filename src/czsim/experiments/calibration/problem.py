"""The least-squares problem: scaled parameters, batched predictions, the Jacobian, the fit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from czsim import api, paths
from czsim.engines import model_info
from czsim.errors import ModelError, ParameterError, closest
from czsim.experiments.calibration.observations import DEFAULT_PARAMETERS, Operator
from czsim.names import split_variable
from czsim.parameters import Parameter, load_parameters
from czsim.scenarios import Scenario

#: Central finite-difference step in the [0, 1]-scaled parameter space (1e-5 of each range):
#: far above float64 noise in the outputs, far below the model's nonlinearity scale.
FD_STEP = 1e-5
#: A parameter whose full range moves the weighted residuals by less than this is not
#: identified by the data and is left at its initial value.
IDENTIFIED_TOLERANCE = 1e-6
Z95 = 1.959963984540054


# -------------------------------------------------------------------------------- problem


@dataclass
class Problem:
    """The least-squares problem on [0, 1]-scaled parameters; counts model runs."""

    scenario: Scenario
    params: list[Parameter]
    operator: Operator
    value: np.ndarray  # (M,)
    sigma: np.ndarray  # (M,)
    lower: np.ndarray  # (M,) bool: lower-bound rows
    n_runs: int = 0
    on_batch: Callable[[int], None] | None = None
    _cache: dict[bytes, np.ndarray] = field(default_factory=dict)

    @property
    def lo(self) -> np.ndarray:
        """Return the lower bounds of the parameters, shape (n,), in parameter units."""
        return np.array([p.low for p in self.params])

    @property
    def span(self) -> np.ndarray:
        """Return the widths ``high - low`` of the parameter ranges, shape (n,)."""
        return np.array([p.high - p.low for p in self.params])

    def to_x(self, u: np.ndarray) -> np.ndarray:
        """Scaled (..., n) -> parameter values, clipped to the bounds against rounding."""
        return np.clip(self.lo + np.asarray(u) * self.span, self.lo, self.lo + self.span)

    def predict(self, U: np.ndarray) -> np.ndarray:
        """Predict the model values in observation space for scaled points.

        ``U`` of shape (K, n) maps to (K, M), all K points in one :func:`czsim.run_many`
        batch.
        """
        X = self.to_x(np.atleast_2d(U))
        frame = pd.DataFrame(X, columns=[p.name for p in self.params])
        ds = api.run_many(
            self.scenario,
            frame,
            variables=list(self.operator.variables),
            times=list(self.operator.times),
        )
        self.n_runs += len(frame)
        if self.on_batch:
            self.on_batch(self.n_runs)
        return self.operator.apply({v: ds[v].values for v in self.operator.variables})

    def weigh(self, pred: np.ndarray) -> np.ndarray:
        """Weighted residuals ``(pred - value) / sigma``; lower bounds count only shortfalls."""
        diff = pred - self.value
        diff = np.where(self.lower, np.minimum(diff, 0.0), diff)
        return diff / self.sigma

    def residuals(self, u: np.ndarray) -> np.ndarray:
        """Return the weighted residuals (M,) at the scaled point ``u``, caching predictions."""
        key = np.asarray(u, dtype=float).tobytes()
        if key not in self._cache:
            self._cache[key] = self.predict(u)[0]
        return self.weigh(self._cache[key])

    def jacobian(self, u: np.ndarray, *, hinge: bool = True) -> np.ndarray:
        """Compute d(weighted residual)/du, shape (M, n).

        Central differences (one-sided at a bound), with all 2n perturbations and the base
        point in one batch. ``hinge=False`` differentiates the plain residuals, ignoring that
        a satisfied lower bound counts as zero.
        """
        u = np.asarray(u, dtype=float)
        n = u.size
        up = np.minimum(u + FD_STEP, 1.0)
        down = np.maximum(u - FD_STEP, 0.0)
        points = np.vstack([u, np.tile(u, (2 * n, 1))])
        points[1 + np.arange(n), np.arange(n)] = up
        points[1 + n + np.arange(n), np.arange(n)] = down
        pred = self.predict(points)
        self._cache[u.tobytes()] = pred[0]
        f = (lambda p: self.weigh(p)) if hinge else (lambda p: (p - self.value) / self.sigma)
        hi = np.array([f(p) for p in pred[1 : n + 1]])
        lo = np.array([f(p) for p in pred[n + 1 :]])
        return ((hi - lo) / (up - down)[:, None]).T


# ------------------------------------------------------------------------------ parameters


def resolve_parameters(names: Sequence[str] | None, scenario: Scenario) -> list[Parameter]:
    """Resolve and check the parameters to fit.

    Raises
    ------
    ParameterError
        Unknown name; a model constant that has no bounds in ``model/parameters.toml``; a
        parameter given as a time series by ``scenario``; a duplicate.
    """
    table = load_parameters()
    info = model_info(paths.MODEL_FILE)
    out: list[Parameter] = []
    for raw in names or DEFAULT_PARAMETERS:
        name = raw.strip()
        try:
            p = table.resolve(name)
        except ParameterError:
            split = split_variable(name)
            try:
                var = info.lookup(split[0]) if split else None
            except ModelError:
                var = None
            if var is not None:
                raise ParameterError(
                    f"'{name}' is a model variable with no bounds in model/parameters.toml; "
                    "only parameters listed there (with low and high) can be calibrated",
                    file=table.path,
                    key=name,
                ) from None
            raise ParameterError(
                f"unknown parameter '{name}'{closest(name, [*table, *info.variables])}",
                file=table.path,
                key=name,
            ) from None
        if p in out:
            raise ParameterError("listed twice", key=name)
        if isinstance(scenario.values.get(p.name), tuple):
            raise ParameterError(
                f"is a time series in scenario '{scenario.name}'; a calibrated "
                "parameter must be a constant",
                file=scenario.path,
                key=p.name,
            )
        out.append(p)
    if not out:
        raise ParameterError("no parameters to calibrate")
    return out


# ------------------------------------------------------------------------------------- fit


@dataclass(frozen=True)
class Fit:
    """Result of :func:`least_squares_fit`, in scaled ``u`` and parameter units.

    ``u`` holds the fitted scaled point (n,), ``identified`` the parameters the fitted rows
    move, ``stderr`` and ``cov`` the uncertainty in parameter units (inf stderr where a
    parameter is identified but has no gradient at the optimum), ``s2`` the residual
    variance factor, ``cost`` half the sum of squared weighted residuals and ``message``
    the optimiser's termination message.
    """

    u: np.ndarray
    identified: np.ndarray
    stderr: np.ndarray
    cov: np.ndarray  # (n, n) in parameter units; NaN rows/columns where not estimated
    s2: float
    cost: float
    message: str


def least_squares_fit(problem: Problem, u0: np.ndarray, fit_rows: np.ndarray) -> Fit:
    """Fit the identified parameters to the rows ``fit_rows`` (bool mask)."""
    n = u0.size
    j0 = problem.jacobian(u0, hinge=False)[fit_rows]
    identified = np.linalg.norm(j0, axis=0) > IDENTIFIED_TOLERANCE
    u = u0.copy()
    message = "no parameter is identified by the fitted observations"
    cost = 0.5 * float(np.sum(problem.residuals(u0)[fit_rows] ** 2))
    if identified.any():
        idx = np.flatnonzero(identified)

        def full(v: np.ndarray) -> np.ndarray:
            w = u0.copy()
            w[idx] = v
            return w

        res = least_squares(
            lambda v: problem.residuals(full(v))[fit_rows],
            u0[idx],
            jac=lambda v: problem.jacobian(full(v))[fit_rows][:, idx],
            bounds=(0.0, 1.0),
            method="trf",
            x_scale=1.0,
            xtol=1e-10,
            ftol=1e-10,
            gtol=1e-10,
            max_nfev=200,
        )
        u = full(res.x)
        cost, message = float(res.cost), str(res.message)
    jac = problem.jacobian(u)[fit_rows] / problem.span  # per parameter unit
    stderr = np.full(n, np.nan)
    full_cov = np.full((n, n), np.nan)
    active = np.linalg.norm(jac, axis=1) > 0
    cols = identified & (np.linalg.norm(jac, axis=0) > 0)
    dof = int(active.sum()) - int(cols.sum())
    # Rows no fitted parameter moves (model initial values) are checks, not evidence about the
    # fit's scale: they enter neither the residual sum nor the degrees of freedom.
    ssr = float(np.sum(problem.residuals(u)[fit_rows][active] ** 2))
    # s² = SSR/dof estimates how much worse than its stated sigmas the model fits; floored at 1
    # so that a perfect fit of exactly identified parameters does not claim zero uncertainty.
    s2 = max(1.0, ssr / dof) if dof > 0 else 1.0
    if cols.any():
        j = jac[:, cols]
        cov = s2 * np.linalg.pinv(j.T @ j)
        stderr[cols] = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        full_cov[np.ix_(cols, cols)] = cov
    stderr[identified & ~cols] = np.inf
    return Fit(
        u=u, identified=identified, stderr=stderr, cov=full_cov, s2=s2, cost=cost, message=message
    )


def parameter_estimates(problem: Problem, fit: Fit, x0: np.ndarray) -> pd.DataFrame:
    """Tabulate the fitted values with 95% intervals clipped to the bounds, one row per parameter.

    ``x0`` are the initial values in parameter units. Columns as in
    :attr:`CalibrationResult.estimates`.
    """
    x = problem.to_x(fit.u)
    lo, hi = problem.lo, problem.lo + problem.span
    with np.errstate(invalid="ignore"):
        low95 = np.where(np.isfinite(fit.stderr), np.maximum(lo, x - Z95 * fit.stderr), lo)
        high95 = np.where(np.isfinite(fit.stderr), np.minimum(hi, x + Z95 * fit.stderr), hi)
    return pd.DataFrame(
        {
            "parameter": [p.name for p in problem.params],
            "value": x,
            "stderr": fit.stderr,
            "low95": low95,
            "high95": high95,
            "initial": x0,
            "low": lo,
            "high": hi,
            "units": [p.units for p in problem.params],
            "identified": fit.identified,
        }
    )
