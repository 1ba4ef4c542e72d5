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
data: the 2022 demand growth of the clusters with a 2022 figure (equipment: Jan-Aug revenue;
new energy, NEV, biomedicine: Jan-Aug growth; the rest of industry: the total's level and
growth), the manufacturing value-added ratio (GDP, its manufacturing share and manufacturing
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
in :data:`EXCLUDED_DATA` (shown in the report).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from czsim import api, paths
from czsim.engines import model_info
from czsim.errors import CzsimError, ModelError, ParameterError, closest
from czsim.parameters import Parameter, load_parameters, split_variable
from czsim.scenarios import Scenario, default_scenario

DATA_DIR = paths.ROOT / "model" / "data"
OBSERVATIONS_FILE = DATA_DIR / "observations.csv"
SOURCES_FILE = DATA_DIR / "sources.csv"
CALIBRATED_FILE = paths.SCENARIO_DIR / "calibrated.toml"

KINDS = ("level", "share", "growth", "partial_level")
COLUMNS = ("id", "variable", "year", "value", "kind", "months", "bound", "sigma", "source", "note")

#: Parameters fitted by default (see the module docstring for the reasons).
DEFAULT_PARAMETERS = (
    "demand_growth_2022_equipment",
    "demand_growth_2022_new_energy",
    "demand_growth_2022_nev",
    "demand_growth_2022_biomedicine",
    "demand_growth_2022_other_industry",
    "manufacturing_va_ratio",
    "retrofit_share_adjustment_time",
    "utilisation_elasticity_of_investment",
    "national_promotion_fraction",
)

#: Figures of ``shared/data/changzhou_observations_2012_2022.csv`` not compared with the model.
EXCLUDED_DATA = (
    ("All figures for 2012-2020", "before the model starts (2021, from 2021 levels)"),
    (
        "Growth in 2021: industrial investment +22.3%, above-scale output +24.8%, technical "
        "renovation +16.2%, GDP +9.1%",
        "a 2021 growth needs a 2020 model value",
    ),
    (
        "Above-scale output growth 2022 (+12.0% / +11.8%)",
        "basis (current or comparable prices) "
        "not stated; the model is nominal, and the 2022 level (>15000) is used instead",
    ),
    (
        "Above-scale value-added growth 2021-2022, real GDP growth",
        "real (comparable-price) growth; the model is nominal",
    ),
    ("GDP, value added and manufacturing share for Jan-Sep", "duplicate the full-year figures"),
    (
        "High-tech manufacturing share (高技术制造业) 2021-2022",
        "a different statistic from the "
        "model's high-tech industry share (高新技术产业), for which no 2021-2022 value was found",
    ),
    (
        "Above-scale revenue Jan-Aug 2022 (营业收入), top-17 firms' share",
        "revenue, neither the model's invoiced sales nor its above-scale output",
    ),
    (
        "High-tech investment share, energy-intensive share, equipment share 52.6%, private "
        "economy share, budget revenue, general-taxpayer sales, firm count",
        "no model variable",
    ),
    (
        "Net increases (765 high-tech firms, 53 little giants)",
        "differences of levels already compared",
    ),
)

#: Central finite-difference step in the [0, 1]-scaled parameter space (1e-5 of each range):
#: far above float64 noise in the outputs, far below the model's nonlinearity scale.
FD_STEP = 1e-5
#: A parameter whose full range moves the weighted residuals by less than this is not
#: identified by the data and is left at its initial value.
IDENTIFIED_TOLERANCE = 1e-6
Z95 = 1.959963984540054


# ----------------------------------------------------------------------------- observations


def load_observations(source: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """Read and validate observations.

    Parameters
    ----------
    source : path, DataFrame or None
        A CSV file with columns :data:`COLUMNS` (default ``model/data/observations.csv``), or
        an equivalent DataFrame (errors then name ``<observations>``).

    Returns
    -------
    pandas.DataFrame
        One row per observation: the CSV columns (``year`` int, ``value`` and ``sigma`` float,
        ``months`` float, NaN unless ``partial_level``; ``bound`` ``""`` or ``"lower"``) plus
        ``base`` (the model's real variable name), ``element`` (subscript element or ``""``),
        ``series`` (one label per variable, kind and months) and ``line`` (CSV line number;
        for a DataFrame the row number from 1).

    Raises
    ------
    CzsimError
        One line naming the file, line and ``<id>.<column>`` of the first bad entry: unknown
        model variable or element, year outside the model's time, growth in the first year,
        unknown kind, non-positive sigma, missing months, unknown source id, duplicate id.
    """
    if isinstance(source, pd.DataFrame):
        # Missing cells become empty text, as in a CSV read without NA conversion.
        frame, file = source.astype(object).where(source.notna(), "").astype(str), "<observations>"
        first_line = 1  # rows of a frame are numbered from 1
    else:
        file = Path(source) if source is not None else OBSERVATIONS_FILE
        if not file.is_file():
            raise CzsimError("file not found", file=file)
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
        first_line = 2  # line 1 is the header
    missing = [
        c
        for c in COLUMNS
        if c not in frame.columns and c not in ("months", "bound", "note", "source")
    ]
    if missing:
        raise CzsimError(
            f"missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}", file=file
        )
    for c in ("months", "bound", "note", "source"):
        if c not in frame.columns:
            frame[c] = ""
    if frame.empty:
        raise CzsimError("no observations", file=file)
    known_sources = _source_ids(file)
    info = model_info(paths.MODEL_FILE)
    first, last = int(info.initial_time), int(info.final_time)
    rows, seen = [], set()
    for i, raw in enumerate(frame.to_dict("records")):
        line = i + first_line
        oid = str(raw["id"]).strip() or f"row{line}"

        def fail(msg: str, column: str, _oid: str = oid, _line: int = line) -> CzsimError:
            return CzsimError(msg, file=file, line=_line, key=f"{_oid}.{column}")

        if oid in seen:
            raise fail(f"duplicate id '{oid}'", "id")
        seen.add(oid)
        base, element = _check_variable(str(raw["variable"]).strip(), info, fail)
        kind = str(raw["kind"]).strip()
        if kind not in KINDS:
            raise fail(
                f"unknown kind '{kind}'{closest(kind, KINDS)}; one of {', '.join(KINDS)}", "kind"
            )
        year = _number(raw["year"], fail, "year")
        if not float(year).is_integer() or not first <= year <= last:
            raise fail(f"year {raw['year']} is outside the model's time {first}-{last}", "year")
        year = int(year)
        if kind == "growth" and year == first:
            raise fail(
                f"a growth in {first} needs the model's {first - 1} value, before it "
                f"starts; the first comparable growth is {first + 1}",
                "year",
            )
        value = _number(raw["value"], fail, "value")
        if kind == "share" and not 0 <= value <= 1:
            raise fail(f"a share is a fraction in [0, 1], got {value:g}", "value")
        sigma = _number(raw["sigma"], fail, "sigma")
        if not sigma > 0:
            raise fail(f"sigma must be positive (model units), got {sigma:g}", "sigma")
        months = math.nan
        if kind == "partial_level":
            months = _number(raw["months"], fail, "months")
            if not (float(months).is_integer() and 1 <= months <= 11):
                raise fail(
                    f"months is the number of months covered (1-11), got {raw['months']}", "months"
                )
        bound = str(raw["bound"]).strip()
        if bound not in ("", "lower"):
            raise fail(f"bound must be empty or 'lower', got '{bound}'", "bound")
        src = str(raw["source"]).strip()
        if known_sources is not None and src and src not in known_sources:
            raise fail(
                f"unknown source '{src}'{closest(src, known_sources)} (see sources.csv)", "source"
            )
        variable = f"{base}[{element}]" if element else base
        series = variable + {"growth": " growth", "partial_level": f" Jan-{months:.0f}m"}.get(
            kind, ""
        )
        rows.append(
            {
                "id": oid,
                "variable": variable,
                "year": year,
                "value": value,
                "kind": kind,
                "months": months,
                "bound": bound,
                "sigma": sigma,
                "source": src,
                "note": str(raw["note"]),
                "base": base,
                "element": element,
                "series": series,
                "line": line,
            }
        )
    return pd.DataFrame(rows)


def _source_ids(file: str | Path) -> set[str] | None:
    """Source ids from ``sources.csv`` beside an observations file (None if there is none)."""
    if not isinstance(file, Path):
        return None
    sources = file.parent / "sources.csv"
    if not sources.is_file():
        return None
    return set(pd.read_csv(sources, dtype=str, keep_default_na=False)["id"])


def _number(raw: object, fail: Callable[[str, str], CzsimError], column: str) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise fail(f"expected a number, got {raw!r}", column) from None
    if not math.isfinite(value):
        raise fail(f"expected a finite number, got {raw!r}", column)
    return value


def _check_variable(text: str, info, fail: Callable[[str, str], CzsimError]) -> tuple[str, str]:
    """Split ``Variable[element]`` and check both against the model."""
    split = split_variable(text)
    if split is None:
        raise fail(
            f"cannot read variable '{text}' (expected 'Name' or 'Name[element]')", "variable"
        )
    name, element = split[0], split[1] or ""
    try:
        var = info.lookup(name)
    except ModelError:
        raise fail(
            f"unknown model variable '{name}'{closest(name, info.variables)}", "variable"
        ) from None
    if var.type == "lookup":
        raise fail(f"'{var.name}' is a lookup table, not an output", "variable")
    if len(var.dims) > 1:
        raise fail(
            f"'{var.name}' has {len(var.dims)} subscripts; only one is supported", "variable"
        )
    if var.dims and not element:
        raise fail(
            f"'{var.name}' is subscripted by {var.dims[0]}: name one element, e.g. "
            f"'{var.name}[{info.ranges[var.dims[0]][0]}]'",
            "variable",
        )
    if element and not var.dims:
        raise fail(f"'{var.name}' has no subscripts, but [{element}] was given", "variable")
    if element:
        elements = info.ranges[var.dims[0]]
        match_el = [e for e in elements if e.lower() == element.lower()]
        if not match_el:
            raise fail(
                f"'{element}' is not an element of {var.dims[0]}{closest(element, elements)}",
                "variable",
            )
        element = match_el[0]
    return var.name, element


# ----------------------------------------------------------------------- observation operator


@dataclass(frozen=True)
class Operator:
    """Maps model output to observation space (see the module docstring).

    Attributes
    ----------
    variables : tuple of str
        Real names of the model variables to save.
    times : tuple of float
        Years to save (contiguous, from the model's initial time).
    rows : tuple of tuple
        Per observation ``(base, element_index or None, kind, t, t_ref, months)`` where ``t``
        and ``t_ref`` index ``times`` (``t_ref`` is the previous year, or the next year for a
        partial period in the first year; -1 when unused).
    """

    variables: tuple[str, ...]
    times: tuple[float, ...]
    rows: tuple[tuple, ...]

    @classmethod
    def build(cls, obs: pd.DataFrame) -> Operator:
        """The operator for the rows of :func:`load_observations`'s frame."""
        info = model_info(paths.MODEL_FILE)
        first = int(info.initial_time)
        last = max(int(obs["year"].max()), first + 1)
        times = tuple(float(y) for y in range(first, last + 1))
        rows = []
        for r in obs.itertuples():
            var = info.variables[r.base]
            elem = info.element_index(var.dims[0], r.element) if r.element else None
            t = int(r.year) - first
            if r.kind == "growth":
                t_ref = t - 1
            elif r.kind == "partial_level":
                t_ref = t - 1 if t > 0 else t + 1
            else:
                t_ref = -1
            rows.append((r.base, elem, r.kind, t, t_ref, r.months))
        variables = tuple(dict.fromkeys(r[0] for r in rows))
        return cls(variables=variables, times=times, rows=tuple(rows))

    def apply(self, data: Mapping[str, np.ndarray]) -> np.ndarray:
        """Model values in observation space.

        Parameters
        ----------
        data : mapping of str to ndarray
            Variable -> array ``(R, T, *dims)`` saved at :attr:`times`.

        Returns
        -------
        ndarray, shape (R, M)
            One column per observation row.
        """
        cols = []
        for base, elem, kind, t, t_ref, months in self.rows:
            arr = data[base]
            series = arr[..., elem] if elem is not None else arr  # (R, T)
            now = series[:, t]
            if kind == "growth":
                with np.errstate(divide="ignore", invalid="ignore"):
                    cols.append(now / series[:, t_ref] - 1.0)
            elif kind == "partial_level":
                delta = (months / 2.0 - 6.0) / 12.0
                with np.errstate(divide="ignore", invalid="ignore"):
                    factor = (now / series[:, t_ref]) if t_ref < t else (series[:, t_ref] / now)
                    cols.append(now * factor**delta * months / 12.0)
            else:
                cols.append(now)
        return np.column_stack(cols)


# -------------------------------------------------------------------------------- problem


@dataclass
class _Problem:
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
        return np.array([p.low for p in self.params])

    @property
    def span(self) -> np.ndarray:
        return np.array([p.high - p.low for p in self.params])

    def to_x(self, u: np.ndarray) -> np.ndarray:
        """Scaled (..., n) -> parameter values, clipped to the bounds against rounding."""
        return np.clip(self.lo + np.asarray(u) * self.span, self.lo, self.lo + self.span)

    def predict(self, U: np.ndarray) -> np.ndarray:
        """Model values in observation space for scaled points ``U`` (K, n) -> (K, M), in one
        :func:`czsim.run_many` batch."""
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
        key = np.asarray(u, dtype=float).tobytes()
        if key not in self._cache:
            self._cache[key] = self.predict(u)[0]
        return self.weigh(self._cache[key])

    def jacobian(self, u: np.ndarray, *, hinge: bool = True) -> np.ndarray:
        """d(weighted residual)/du, shape (M, n): central differences (one-sided at a bound),
        all 2n perturbations and the base point in one batch."""
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


# --------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Backtest:
    """Out-of-sample check: fit on observations before ``holdout_from``, forecast the rest.

    Attributes
    ----------
    holdout_from : int
        First held-out year.
    estimates : pandas.DataFrame
        The fit on the early observations (same columns as :attr:`CalibrationResult.estimates`).
    forecast : pandas.DataFrame
        One row per held-out observation: ``id, series, kind, year, observed, model,
        model_error, model_pct_error, naive, naive_method, naive_error, no_change,
        no_change_error``. ``naive`` is the average growth of the fitted years carried forward
        (or the series' observed previous growth); NaN with the reason in ``naive_method``
        where the fitted years do not define it. ``no_change`` is the last fitted value.
    notes : tuple of str
        Plain statements of what the data allow (shown in the CLI and the report).
    """

    holdout_from: int
    estimates: pd.DataFrame
    forecast: pd.DataFrame
    notes: tuple[str, ...]


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of :func:`calibrate`.

    Attributes
    ----------
    estimates : pandas.DataFrame
        One row per parameter: ``parameter, value, stderr, low95, high95, initial, low, high,
        units, identified``. Intervals are ``value ± 1.96 stderr`` clipped to the bounds; an
        unidentified parameter keeps its initial value with NaN stderr and the full bounds.
    fit : pandas.DataFrame
        One row per series (variable, kind): ``n, years, mean_error, rmse, mape_pct,
        mape_pct_initial, theil_u, u_bias, u_variance, u_covariance`` (Theil statistics only
        where a series has at least 2 points; bounds count as satisfied points).
    residuals : pandas.DataFrame
        One row per observation: ``id, series, variable, kind, year, observed, bound, sigma,
        model, initial_model, error, pct_error, weighted`` (``error`` is zero for a satisfied
        lower bound).
    scenario : Scenario
        Self-contained scenario with the fitted values and their 95% intervals as uncertain
        ranges (other uncertain ranges inherited from the base scenario).
    n_runs : int
        Model runs used (fit, Jacobians and back-test).
    wall_time : float
        Seconds.
    backtest : Backtest or None
        Present when ``holdout_from`` was given.
    base : Scenario
        The uncalibrated scenario the fit started from.
    observations : pandas.DataFrame
        The validated observations (see :func:`load_observations`).
    covariance : pandas.DataFrame
        Parameter covariance ``s² (JᵀJ)⁻¹`` (parameter units², index and columns the
        parameters); NaN for parameters not estimated.
    s2 : float
        Residual variance factor used for the covariance (``max(1, SSR/dof)``).
    cost : float
        Final ``0.5 * sum(weighted residuals²)`` over the fitted rows.
    message : str
        The optimiser's termination message.
    """

    estimates: pd.DataFrame
    fit: pd.DataFrame
    residuals: pd.DataFrame
    scenario: Scenario
    n_runs: int
    wall_time: float
    backtest: Backtest | None
    base: Scenario
    observations: pd.DataFrame
    covariance: pd.DataFrame
    s2: float
    cost: float
    message: str


# ------------------------------------------------------------------------------ parameters


def resolve_parameters(names: Sequence[str] | None, scenario: Scenario) -> list[Parameter]:
    """The parameters to fit, checked.

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
class _Fit:
    u: np.ndarray
    identified: np.ndarray
    stderr: np.ndarray
    cov: np.ndarray  # (n, n) in parameter units; NaN rows/columns where not estimated
    s2: float
    cost: float
    message: str


def _least_squares(problem: _Problem, u0: np.ndarray, fit_rows: np.ndarray) -> _Fit:
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
    return _Fit(
        u=u, identified=identified, stderr=stderr, cov=full_cov, s2=s2, cost=cost, message=message
    )


def _estimates(problem: _Problem, fit: _Fit, x0: np.ndarray) -> pd.DataFrame:
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


# ------------------------------------------------------------------------------- statistics


def theil(model: np.ndarray, observed: np.ndarray) -> dict[str, float]:
    """Theil inequality statistics of a series.

    Parameters
    ----------
    model, observed : ndarray, shape (N,)
        Paired values, N >= 2.

    Returns
    -------
    dict
        ``theil_u`` = RMSE / (RMS(model) + RMS(observed)) in [0, 1], and the shares of the
        mean squared error due to bias (``u_bias``, different means), unequal variation
        (``u_variance``, different standard deviations) and imperfect covariation
        (``u_covariance``); the three add up to 1 (Sterman 1984). NaN if the error is zero.
    """
    m, o = np.asarray(model, float), np.asarray(observed, float)
    mse = float(np.mean((m - o) ** 2))
    denom = math.sqrt(np.mean(m**2)) + math.sqrt(np.mean(o**2))
    out = {"theil_u": math.sqrt(mse) / denom if denom > 0 else math.nan}
    if mse <= 0:
        return out | {"u_bias": math.nan, "u_variance": math.nan, "u_covariance": math.nan}
    sm, so = float(np.std(m)), float(np.std(o))
    cov = float(np.mean((m - m.mean()) * (o - o.mean())))
    out["u_bias"] = (m.mean() - o.mean()) ** 2 / mse
    out["u_variance"] = (sm - so) ** 2 / mse
    out["u_covariance"] = 2.0 * (sm * so - cov) / mse
    return out


def _compared(model: np.ndarray, observed: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """The model value as it counts against the data: a satisfied lower bound counts as met."""
    return np.where(lower & (model >= observed), observed, model)


def fit_statistics(residuals: pd.DataFrame) -> pd.DataFrame:
    """Fit statistics per series of a residual table (see :attr:`CalibrationResult.fit`)."""
    out = []
    for series, g in residuals.groupby("series", sort=False):
        lower = (g["bound"] == "lower").to_numpy()
        obs = g["observed"].to_numpy(float)
        mod = _compared(g["model"].to_numpy(float), obs, lower)
        ini = _compared(g["initial_model"].to_numpy(float), obs, lower)
        err = mod - obs
        with np.errstate(divide="ignore", invalid="ignore"):  # an observed 0 gives inf, not a crash
            mape, mape_ini = (float(np.mean(np.abs((x - obs) / obs)) * 100) for x in (mod, ini))
        row = {
            "series": series,
            "variable": g["variable"].iat[0],
            "kind": g["kind"].iat[0],
            "n": len(g),
            "years": ", ".join(str(y) for y in g["year"]),
            "mean_error": float(err.mean()),
            "rmse": float(np.sqrt(np.mean(err**2))),
            "mape_pct": mape,
            "mape_pct_initial": mape_ini,
        }
        stats = (
            theil(mod, obs)
            if len(g) >= 2
            else dict.fromkeys(("theil_u", "u_bias", "u_variance", "u_covariance"), math.nan)
        )
        out.append(row | stats)
    return pd.DataFrame(out)


def _residual_table(obs: pd.DataFrame, model: np.ndarray, initial: np.ndarray) -> pd.DataFrame:
    lower = (obs["bound"] == "lower").to_numpy()
    value = obs["value"].to_numpy(float)
    compared = _compared(model, value, lower)
    table = obs[["id", "series", "variable", "kind", "year"]].copy()
    table["observed"] = value
    table["bound"] = obs["bound"].to_numpy()
    table["sigma"] = obs["sigma"].to_numpy(float)
    table["model"] = model
    table["initial_model"] = initial
    table["error"] = compared - value
    with np.errstate(divide="ignore", invalid="ignore"):
        table["pct_error"] = (compared - value) / np.abs(value) * 100
    table["weighted"] = (compared - value) / table["sigma"]
    return table.reset_index(drop=True)


# -------------------------------------------------------------------------------- backtest


def _naive(fitted: pd.DataFrame, row) -> tuple[float, str, float]:
    """Naive forecast, its method and the no-change forecast of one held-out row."""
    same = fitted[fitted["series"] == row.series].sort_values("year")
    if row.kind == "growth":
        if len(same):
            return float(same["value"].mean()), "mean fitted growth", math.nan
        return math.nan, "undefined: no fitted growth", math.nan
    if same.empty:
        return math.nan, "undefined: no fitted point", math.nan
    last_year, last = int(same["year"].iat[-1]), float(same["value"].iat[-1])
    steps = int(row.year) - last_year
    if len(same) >= 2:
        first_year, first = int(same["year"].iat[0]), float(same["value"].iat[0])
        g = (last / first) ** (1.0 / (last_year - first_year)) - 1.0
        return last * (1 + g) ** steps, "mean fitted growth", last
    growth = fitted[
        (fitted["variable"] == row.variable)
        & (fitted["kind"] == "growth")
        & (fitted["year"] <= last_year)
    ].sort_values("year")
    if len(growth):
        g = float(growth["value"].iat[-1])
        return last * (1 + g) ** steps, "observed previous growth", last
    return math.nan, "undefined: 1 fitted point, no growth", last


def _backtest(
    problem: _Problem, obs: pd.DataFrame, u0: np.ndarray, x0: np.ndarray, holdout_from: int
) -> Backtest:
    fit_rows = (obs["year"] < holdout_from).to_numpy()
    held = ~fit_rows
    if not fit_rows.any() or not held.any():
        raise CzsimError(
            f"holdout from {holdout_from} leaves "
            f"{'no observations to fit' if not fit_rows.any() else 'nothing held out'}"
            f" (observations cover {obs['year'].min()}-{obs['year'].max()})",
            key="holdout_from",
        )
    fit = _least_squares(problem, u0, fit_rows)
    pred = problem.predict(fit.u)[0]
    fitted = obs[fit_rows]
    rows = []
    for i in np.flatnonzero(held):
        r = obs.iloc[i]
        naive, method, no_change = _naive(fitted, r)
        lower = r.bound == "lower"

        def err(v: float, _r=r, _lower=lower) -> float:
            if math.isnan(v):
                return math.nan
            return 0.0 if (_lower and v >= _r.value) else v - _r.value

        pct = err(pred[i]) / abs(r.value) * 100 if r.value else math.nan
        rows.append(
            {
                "id": r.id,
                "series": r.series,
                "kind": r.kind,
                "year": int(r.year),
                "observed": r.value,
                "bound": r.bound,
                "model": pred[i],
                "model_error": err(pred[i]),
                "model_pct_error": pct,
                "naive": naive,
                "naive_method": method,
                "naive_error": err(naive),
                "no_change": no_change,
                "no_change_error": err(no_change),
            }
        )
    forecast = pd.DataFrame(rows)
    est = _estimates(problem, fit, x0)
    moved = np.linalg.norm(problem.jacobian(fit.u, hinge=False)[fit_rows], axis=1) > 0
    notes = [
        f"Fitted on {int(fit_rows.sum())} observations before {holdout_from} "
        f"({int((~moved).sum())} of them model initial values that no parameter moves); "
        f"{int(held.sum())} held out."
    ]
    n_id = int(est["identified"].sum())
    notes.append(
        f"{n_id} of {len(est)} parameters are identified by the early data"
        + (
            ""
            if n_id == len(est)
            else f"; the others ({', '.join(est.loc[~est['identified'], 'parameter'])}) "
            "stay at the scenario's values"
        )
        + "."
    )
    n_naive = int(forecast["naive"].notna().sum())
    if n_naive < len(forecast):
        notes.append(
            f"The naive forecast (average growth of the fitted years) is defined for "
            f"{n_naive} of {len(forecast)} held-out observations: the others have fewer "
            "than two fitted years and no observed earlier growth. The no-change "
            "forecast (last fitted value) is shown where a series has a fitted point."
        )
    if n_id < len(est):
        notes.append(
            "Caveat: parameters the early data do not identify keep the scenario's "
            "values; where those were set by hand from the held-out figures (as the "
            "baseline's 2022 demand growths were), the back-test flatters the model."
        )
    return Backtest(holdout_from=holdout_from, estimates=est, forecast=forecast, notes=tuple(notes))


# ----------------------------------------------------------------------------- calibrate


def calibrate(
    params: Sequence[str] | None = None,
    *,
    scenario: str | Path | Scenario | None = None,
    observations: str | Path | pd.DataFrame | None = None,
    holdout_from: int | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> CalibrationResult:
    """Fit parameters to observed history by weighted nonlinear least squares.

    Parameters
    ----------
    params : sequence of str, optional
        Parameter names (or ``Variable[element]``) from ``model/parameters.toml``; default
        :data:`DEFAULT_PARAMETERS`.
    scenario : str, Path or Scenario, optional
        The scenario whose other values hold during the fit; its values of ``params`` are the
        starting point. Default: the model's own defaults, so that the result holds only what
        was fitted (``baseline`` extends ``calibrated``; starting from baseline would carry the
        previous calibration's values into the new one).
    observations : path or DataFrame, optional
        Default ``model/data/observations.csv`` (see :func:`load_observations`).
    holdout_from : int, optional
        Also run a back-test that fits on observations before this year and forecasts the
        rest (the main fit always uses every observation).
    progress : callable, optional
        Called as ``progress(stage, runs)`` after every batch of model runs, with the stage
        ("fit" or "back-test") and the number of runs so far; the command line shows it as a
        live status line.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    CzsimError
        Bad observations, parameters or holdout year (one line naming file, row and key).
    """
    start = time.perf_counter()
    base = default_scenario() if scenario is None else api.as_scenario(scenario)
    obs = load_observations(observations)
    chosen = resolve_parameters(params, base)
    if holdout_from is not None:
        holdout_from = int(holdout_from)
    x0 = np.array([float(base.value(p.name)) for p in chosen])
    problem = _Problem(
        scenario=base,
        params=chosen,
        operator=Operator.build(obs),
        value=obs["value"].to_numpy(float),
        sigma=obs["sigma"].to_numpy(float),
        lower=(obs["bound"] == "lower").to_numpy(),
    )
    u0 = (x0 - problem.lo) / problem.span
    all_rows = np.ones(len(obs), dtype=bool)
    update = progress or (lambda stage, runs: None)
    problem.on_batch = lambda runs: update("fit", runs)
    fit = _least_squares(problem, u0, all_rows)
    initial_pred = problem.predict(u0)[0]
    final_pred = problem.predict(fit.u)[0]
    backtest = None
    if holdout_from is not None:
        problem.on_batch = lambda runs: update("back-test", runs)
        backtest = _backtest(problem, obs, u0, x0, holdout_from)
    estimates = _estimates(problem, fit, x0)
    names = [p.name for p in chosen]
    residuals = _residual_table(obs, final_pred, initial_pred)
    calibrated = _scenario(base, estimates, obs, pd.DataFrame(fit.cov, index=names, columns=names))
    return CalibrationResult(
        estimates=estimates,
        fit=fit_statistics(residuals),
        residuals=residuals,
        scenario=calibrated,
        n_runs=problem.n_runs,
        wall_time=time.perf_counter() - start,
        backtest=backtest,
        base=base,
        observations=obs,
        covariance=pd.DataFrame(fit.cov, index=names, columns=names),
        s2=fit.s2,
        cost=fit.cost,
        message=fit.message,
    )


#: Above this absolute correlation with another fitted parameter, a parameter's marginal 95%
#: interval is not carried into [uncertain]: sweeps draw parameters independently, and
#: independent draws of strongly correlated estimates contradict the data they were fitted to
#: (e.g. two clusters' 2022 growth whose sum the observed 2022 total pins down).
MAX_CORRELATION = 0.7


def _scenario(
    base: Scenario, estimates: pd.DataFrame, obs: pd.DataFrame, covariance: pd.DataFrame
) -> Scenario:
    """The calibrated scenario: base values and ranges, fitted values and 95% intervals of the
    parameters whose estimates are not strongly correlated with another's."""
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
    years = f"{obs['year'].min()}-{obs['year'].max()}"
    left_en = (
        f" Left out of [uncertain] because their estimates are correlated (|r| > "
        f"{MAX_CORRELATION}) with another's: {', '.join(correlated)}."
        if correlated
        else ""
    )
    left_zh = (
        f"与其他参数估计强相关(|r|>{MAX_CORRELATION})而未列入[uncertain]:{', '.join(correlated)}。"
        if correlated
        else ""
    )
    return Scenario(
        name="calibrated",
        values=values,
        uncertain=uncertain,
        description_en=(
            f"{base.name} with {len(fitted)} parameters fitted to {len(obs)} "
            f"observations of {years} (model/data/observations.csv) by `czsim "
            f"calibrate`: {', '.join(fitted)}. [uncertain] holds their 95% "
            f"intervals, so sweeps use the fitted uncertainty.{left_en}"
        ),
        description_zh=(
            f"以{base.name}为基础,用{years}年{len(obs)}个观测值(model/data/"
            f"observations.csv)经 `czsim calibrate` 校准{len(fitted)}个参数;"
            f"[uncertain] 为其95%置信区间,敏感性分析默认采用。{left_zh}"
        ),
    )


# ---------------------------------------------------------------------- synthetic data, plots


def simulate_observations(
    values: Mapping[str, float],
    *,
    scenario: str | Path | Scenario | None = None,
    observations: str | Path | pd.DataFrame | None = None,
    noise: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Observations generated by the model itself (for identifiability checks and tests).

    Parameters
    ----------
    values : mapping of parameter name to value
        The "true" parameters, applied on top of ``scenario`` (default: the model's defaults,
        the base :func:`calibrate` starts from).
    observations : path or DataFrame, optional
        Rows whose variables, years and kinds are reproduced (default: the real ones).
    noise : float
        Gaussian noise in units of each row's sigma (0: exact model values).
    seed : int
        Seed of the noise.

    Returns
    -------
    pandas.DataFrame
        Same columns as the CSV, ``value`` replaced and ``bound`` cleared (synthetic values are
        points, not limits).
    """
    obs = load_observations(observations)
    base = default_scenario() if scenario is None else api.as_scenario(scenario)
    frame = pd.DataFrame({k: [float(v)] for k, v in values.items()})
    op = Operator.build(obs)
    ds = api.run_many(base, frame, variables=list(op.variables), times=list(op.times))
    pred = op.apply({v: ds[v].values for v in op.variables})[0]
    rng = np.random.default_rng(seed)
    out = obs[list(COLUMNS)].copy()
    out["value"] = pred + noise * obs["sigma"].to_numpy(float) * rng.standard_normal(len(obs))
    out["bound"] = ""
    out["months"] = out["months"].map(lambda m: "" if math.isnan(m) else str(int(m)))
    out["source"] = ""
    return out


def trajectories(result: CalibrationResult, years: Sequence[int] | None = None) -> pd.DataFrame:
    """Each observed series as the model sees it, year by year, calibrated and uncalibrated.

    The 95% band is the fitted parameter uncertainty carried forward to the series by
    linearisation: ``1.96 sqrt(g C gᵀ)`` with ``g`` the central-difference gradient of the
    series value with respect to the estimated parameters (one batch of 2n runs) and ``C`` the
    covariance of :attr:`CalibrationResult.covariance`.

    Returns
    -------
    pandas.DataFrame
        Columns ``series, year, calibrated, initial, low95, high95`` for every model year where
        the series' operator is defined (growth from the second year).
    """
    info = model_info(paths.MODEL_FILE)
    first, last = int(info.initial_time), int(info.final_time)
    years = list(years) if years is not None else list(range(first, last + 1))
    proto = result.observations.drop_duplicates("series")
    rows = [
        r._asdict() | {"year": y}
        for r in proto.itertuples(index=False)
        for y in years
        if not (r.kind == "growth" and y == first)
    ]
    grid = pd.DataFrame(rows)
    op = Operator.build(grid)
    est = result.estimates
    table = load_parameters()
    x = est["value"].to_numpy(float)
    lo, hi = est["low"].to_numpy(float), est["high"].to_numpy(float)
    cov = result.covariance.to_numpy(float)
    cols = np.flatnonzero(np.isfinite(np.diag(cov)))
    up = np.minimum(x[cols] + FD_STEP * (hi - lo)[cols], hi[cols])
    down = np.maximum(x[cols] - FD_STEP * (hi - lo)[cols], lo[cols])
    points = np.vstack([est["initial"].to_numpy(float), x, np.tile(x, (2 * cols.size, 1))])
    points[2 + np.arange(cols.size), cols] = up
    points[2 + cols.size + np.arange(cols.size), cols] = down
    frame = pd.DataFrame(points, columns=[table[p].name for p in est["parameter"]])
    ds = api.run_many(result.base, frame, variables=list(op.variables), times=list(op.times))
    pred = op.apply({v: ds[v].values for v in op.variables})
    grad = ((pred[2 : 2 + cols.size] - pred[2 + cols.size :]) / (up - down)[:, None]).T
    sd = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", grad, cov[np.ix_(cols, cols)], grad), 0, None))
    return pd.DataFrame(
        {
            "series": grid["series"],
            "year": grid["year"],
            "calibrated": pred[1],
            "initial": pred[0],
            "low95": pred[1] - Z95 * sd,
            "high95": pred[1] + Z95 * sd,
        }
    )


# ------------------------------------------------------------------------------------ CLI
