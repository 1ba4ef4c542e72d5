"""Batched evaluation shared by the decision tools: many variants of one scenario in one call.

A :class:`Batch` turns "the scenario, with these parameters changed run by run" into the
ensemble engine's inputs and returns the outcomes (a variable in a year) of every run. A run's
change of a parameter is either a constant (:class:`PerRun`) or a choice among whole values,
constants or time series (:class:`Choice`), so time-series parameters take part like any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from czsim import engines, paths
from czsim.engines import TimeSeries, model_info
from czsim.errors import ParameterError
from czsim.parameters import Parameter, ParameterTable, load_parameters, split_variable
from czsim.scenarios import Scenario, Value, load_scenario
from czsim.targets import Target, load_targets

#: Most runs in one engine call; larger batches are split (memory stays bounded).
MAX_RUNS_PER_CALL = 20_000


@dataclass(frozen=True)
class Outcome:
    """A model variable (or one element of it) in one year.

    ``scale`` converts model units to display units (100 for shares shown in %).
    """

    key: str
    variable: str
    element: str | None
    year: float
    scale: float = 1.0
    unit: str = ""


def outcome_of(target: Target) -> Outcome:
    """Return the outcome a target is scored on."""
    return Outcome(
        key=target.id,
        variable=target.variable,
        element=target.element,
        year=float(target.year),
        scale=100.0 if target.unit == "%" else 1.0,
        unit=target.unit,
    )


def variable_outcome(text: str, year: float) -> Outcome:
    """Return an outcome from ``"Variable"`` or ``"Variable[element]"`` in ``year``."""
    split = split_variable(text)
    if split is None:
        raise ParameterError(f"cannot read variable {text!r}", key=text)
    return Outcome(key=text, variable=split[0], element=split[1], year=float(year))


@dataclass(frozen=True)
class PerRun:
    """A constant per run, shape ``(R,)``.

    Where ``keep`` is true the scenario's own value (possibly a time series) is used instead.
    """

    values: np.ndarray
    keep: np.ndarray | None = None


@dataclass(frozen=True)
class Choice:
    """Run ``r`` uses ``options[which[r]]`` (a constant or a time series)."""

    options: tuple[Value, ...]
    which: np.ndarray


Varying = PerRun | Choice


@dataclass(frozen=True)
class _Varied:
    """A parameter's scenario value and how it varies run by run."""

    base: Value
    vary: Varying


@dataclass
class Context:
    """What the decision tools run on: a model, its parameter table and its targets."""

    model: Path
    table: ParameterTable
    targets: tuple[Target, ...]
    info: object = field(repr=False, default=None)

    def __post_init__(self) -> None:
        """Read the model's information into ``info``."""
        self.info = model_info(self.model)

    def target(self, key: str | Target) -> Target:
        """Return the target with id ``key`` (a :class:`Target` is returned as it is)."""
        if isinstance(key, Target):
            return key
        for t in self.targets:
            if t.id == key:
                return t
        raise ParameterError(f"unknown target '{key}'", key=str(key))

    def carried(self) -> list[Target]:
        """Tracked targets of basis ``"model"`` whose variable is in the model."""
        names = set(self.info.variables) if hasattr(self.info, "variables") else None
        out = []
        for t in self.targets:
            if not t.tracked or t.basis != "model" or t.value is None:
                continue
            if names is not None and t.variable not in names:
                continue
            out.append(t)
        return out

    def scenario(self, scenario: Scenario | str | Path | None) -> Scenario:
        """Return ``scenario`` as a Scenario (``None``: the parameter table's defaults)."""
        if scenario is None:
            return Scenario(name="defaults", table=self.table)
        return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)

    def levers(self, levers: Sequence[str | Parameter] | None) -> list[Parameter]:
        """Return the parameters of ``levers`` (``None``: the table's key levers)."""
        if levers is None:
            chosen = self.table.key_levers()
            if not chosen:
                raise ParameterError("no key levers flagged (key = true) in the parameter table")
            return chosen
        return [p if isinstance(p, Parameter) else self.table.resolve(p) for p in levers]


def context(
    model: str | Path | None = None,
    table: ParameterTable | None = None,
    targets: Sequence[Target] | None = None,
) -> Context:
    """Return the project's model, parameters and targets unless given."""
    return Context(
        model=Path(model or paths.MODEL_FILE),
        table=table if table is not None else load_parameters(),
        targets=tuple(targets) if targets is not None else load_targets(),
    )


def current_value(scenario: Scenario, p: Parameter, year: float) -> float:
    """Return the scenario's value of ``p`` as a number: a time series is read at ``year``."""
    v = scenario.values.get(p.name, p.default)
    if isinstance(v, tuple):
        return float(np.interp(year, [t for t, _ in v], [x for _, x in v]))
    return float(v)


def _knots(value: Value) -> list[float]:
    return [t for t, _ in value] if isinstance(value, tuple) else []


def _curve(value: Value, times: np.ndarray) -> np.ndarray | float:
    if isinstance(value, tuple):
        return np.interp(times, [t for t, _ in value], [x for _, x in value])
    return float(value)


class Batch:
    """Run ``scenario`` with per-run changes and read ``outcomes``.

    Parameters
    ----------
    ctx : Context
    scenario : Scenario
        Values shared by all runs.
    outcomes : sequence of Outcome
        What to read; the run ends at the latest year.
    """

    def __init__(self, ctx: Context, scenario: Scenario, outcomes: Sequence[Outcome]) -> None:
        self.ctx = ctx
        self.scenario = scenario
        self.outcomes = list(outcomes)
        self.years = sorted({o.year for o in self.outcomes})
        self.variables = sorted({o.variable for o in self.outcomes})
        self.n_calls = 0
        self.n_runs = 0

    def run(self, varying: Mapping[str, Varying], n_runs: int) -> dict[str, np.ndarray]:
        """Outcome values (model units) by outcome key, each of shape ``(n_runs,)``."""
        out: dict[str, list[np.ndarray]] = {o.key: [] for o in self.outcomes}
        for start in range(0, n_runs, MAX_RUNS_PER_CALL):
            stop = min(n_runs, start + MAX_RUNS_PER_CALL)
            part = {k: _slice(v, start, stop) for k, v in varying.items()}
            for k, v in self._run(part, stop - start).items():
                out[k].append(v)
        return {k: np.concatenate(v) for k, v in out.items()}

    def _run(self, varying: Mapping[str, Varying], n_runs: int) -> dict[str, np.ndarray]:
        constants, series = self.inputs(varying, n_runs)
        result = engines.run(
            self.ctx.model,
            n_runs=n_runs,
            constants=constants,
            series=series,
            variables=self.variables,
            times=self.years,
        )
        self.n_calls += 1
        self.n_runs += n_runs
        times = result["time"].values
        values = {}
        for o in self.outcomes:
            var = result.variables[o.variable]
            arr = var.transpose("run", "time", ...).values
            at = int(np.flatnonzero(np.isclose(times, o.year))[0])
            arr = arr[:, at]
            if o.element is not None:
                dim = next(d for d in var.dims if d not in ("run", "time"))
                arr = arr[:, result.indexes[dim].get_loc(o.element)]
            values[o.key] = np.broadcast_to(np.asarray(arr, dtype=float), (n_runs,)).copy()
        return values

    def inputs(
        self, varying: Mapping[str, Varying], n_runs: int
    ) -> tuple[dict[str, np.ndarray], dict[str, TimeSeries]]:
        """Return the engine's ``constants`` and ``series`` for ``n_runs`` runs."""
        table, info = self.ctx.table, self.ctx.info
        by_variable: dict[str, dict[str | None, object]] = {}
        for name, value in self.scenario.values.items():
            p = table[name]
            by_variable.setdefault(p.variable, {})[p.element] = value
        for name, value in varying.items():
            p = table.resolve(name)
            _check_range(p, value)
            base = self.scenario.values.get(p.name, p.default)
            by_variable.setdefault(p.variable, {})[p.element] = _Varied(base, value)
        constants: dict[str, np.ndarray] = {}
        series: dict[str, TimeSeries] = {}
        for variable, elements in by_variable.items():
            var = info.lookup(variable)
            default = np.asarray(var.default, dtype=float)
            # whole-variable values first, then elements
            order = sorted(elements, key=lambda e: e is not None)
            knots: list[float] = []
            per_run = False
            for e in order:
                spec = elements[e]
                if isinstance(spec, _Varied):
                    per_run = True
                    knots += _knots(spec.base)
                    if isinstance(spec.vary, Choice):
                        for option in spec.vary.options:
                            knots += _knots(option)
                else:
                    knots += _knots(spec)
            lead = n_runs if per_run else 1
            if knots:
                times = np.unique(np.asarray(knots, dtype=float))
                arr = np.broadcast_to(default, (lead, times.size, *default.shape)).copy()
            else:
                times = None
                arr = np.broadcast_to(default, (lead, *default.shape)).copy()
            for e in order:
                idx = info.element_index(var.dims[0], e) if e is not None else ...
                _fill(arr, times, idx, elements[e])
            if times is None:
                constants[variable] = arr if per_run else arr[0]
            else:
                series[variable] = TimeSeries(times=times, values=arr if per_run else arr[0])
        return constants, series


def _is_series(spec: object) -> bool:
    return isinstance(spec, tuple) and all(isinstance(x, tuple) for x in spec)


def _put(arr: np.ndarray, times, rows, idx, value) -> None:
    """Write a constant, a per-row array or a series into ``arr[rows, (time,) idx]``.

    ``arr`` is ``(lead, *dims)`` (constants, ``times`` None) or ``(lead, T, *dims)``;
    ``idx`` is an element index of the first dim or ``...`` for the whole variable.
    """
    series = times is not None
    n_dims = arr.ndim - (2 if series else 1)
    if isinstance(value, np.ndarray):  # one constant per selected row
        block = value.reshape((-1,) + (1,) * (1 if series else 0))
    elif isinstance(value, tuple):  # a time series
        block = np.asarray(_curve(value, times))[None, :]
    else:
        block = np.asarray(float(value))
    if idx is ...:
        arr[rows] = block.reshape(block.shape + (1,) * n_dims) if block.ndim else block
    elif series:
        arr[rows, :, idx] = block
    else:
        arr[rows, idx] = block.reshape(-1) if block.ndim else block


def _fill(arr: np.ndarray, times, idx, spec) -> None:
    every = slice(None)
    if not isinstance(spec, _Varied):
        _put(arr, times, every, idx, spec)
        return
    base, vary = spec.base, spec.vary
    if isinstance(vary, PerRun):
        values = np.asarray(vary.values, dtype=float)
        if vary.keep is None:
            _put(arr, times, every, idx, values)
            return
        keep = np.asarray(vary.keep, dtype=bool)
        if keep.any():
            _put(arr, times, keep, idx, base)
        if (~keep).any():
            _put(arr, times, ~keep, idx, values[~keep])
        return
    which = np.asarray(vary.which)
    for j, option in enumerate(vary.options):
        rows = which == j
        if rows.any():
            _put(arr, times, rows, idx, option)


def _check_range(p: Parameter, value: Varying) -> None:
    if isinstance(value, PerRun):
        arr = np.asarray(value.values, dtype=float)
        if value.keep is not None:
            arr = arr[~np.asarray(value.keep, dtype=bool)]
        checked = arr
    else:
        checked = np.asarray(
            [x for o in value.options for x in ([v for _, v in o] if _is_series(o) else [o])],
            dtype=float,
        )
    bad = ~np.isfinite(checked) | (checked < p.low - 1e-12) | (checked > p.high + 1e-12)
    if bad.any():
        raise ParameterError(
            f"value(s) outside [{p.low:g}, {p.high:g}], e.g. {checked[bad][0]:g}", key=p.name
        )


def _slice(value: Varying, start: int, stop: int) -> Varying:
    if isinstance(value, PerRun):
        keep = None if value.keep is None else np.asarray(value.keep)[start:stop]
        return PerRun(np.asarray(value.values)[start:stop], keep)
    return Choice(value.options, np.asarray(value.which)[start:stop])


def draws(
    scenario: Scenario,
    n_draws: int,
    seed: int,
    exclude: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """Seeded draws of the scenario's uncertainty, shape ``(n_draws,)`` each.

    The ranges of ``[uncertain]`` uniformly (the same as a sweep's ``"random"`` sample,
    ``numpy.random.default_rng(seed)``, columns in the scenario's order), the fitted
    parameters of ``[posterior]`` jointly (:func:`czsim.uncertainty.draw`). Parameters in
    ``exclude`` (the levers being decided) are not drawn: the decision sets them.
    """
    from czsim import uncertainty

    if n_draws <= 0:
        return {}
    frame = uncertainty.draw(scenario, n_draws, seed, method="random", exclude=exclude)
    return {n: frame[n].to_numpy(copy=True) for n in frame.columns}
