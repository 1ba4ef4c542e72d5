"""The parameter table: every input a user may change, read from ``model/parameters.toml``.

Sliders in the app, SALib problems in sweeps and scenario validation are all derived from it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from czsim import paths
from czsim.counters import COUNTERS_FILE, counter_parameters
from czsim.errors import ParameterError, closest
from czsim.groups import check_group
from czsim.names import join_variable, split_variable
from czsim.tomlfile import key_lines, read_toml

_REQUIRED = (
    "name",
    "variable",
    "default",
    "low",
    "high",
    "step",
    "units",
    "group",
    "kind",
    "label_zh",
    "label_en",
    "source",
)


@dataclass(frozen=True)
class Parameter:
    """One user-changeable input.

    ``variable`` is the model's real name; ``element`` is the subscript element for a
    subscripted variable (``None`` for a scalar). ``kind`` is ``"lever"`` (a policy choice) or
    ``"assumption"`` (something we do not know). ``key`` marks the dozen or so key levers: the
    policy's main instruments and the growth assumptions planners argue about (``key = true``
    in ``model/parameters.toml``; default false). The decision tools and the app's lever panel
    use that list.
    """

    name: str
    variable: str
    element: str | None
    default: float
    low: float
    high: float
    step: float
    units: str
    group: str
    kind: str
    label_zh: str
    label_en: str
    source: str
    calibrate: bool = False
    key: bool = False
    #: The source text in Chinese (``source_zh`` in the table); counters' sources are written
    #: in English in ``model/counters.tsv``, so theirs says so in Chinese and keeps the original.
    source_zh: str = ""

    def source_text(self, lang: str = "en") -> str:
        """Return where the value comes from, in ``lang`` (English when no translation)."""
        if lang == "zh" and self.source_zh:
            return self.source_zh
        return self.source

    @property
    def full_variable(self) -> str:
        """``Variable[element]`` as written in Vensim."""
        return join_variable(self.variable, self.element)

    def label(self, lang: str = "en") -> str:
        """Return the label in ``lang`` (``"zh"`` or ``"en"``)."""
        return self.label_zh if lang == "zh" else self.label_en

    def check(
        self,
        value: object,
        *,
        file: str | Path | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> float:
        """Return ``value`` as a float, checked to be a number within ``[low, high]``.

        Raise :class:`ParameterError` if it is not a number within ``[low, high]`` (Python
        and numpy numbers are accepted, booleans are not).
        """
        key = key or self.name
        if not is_number(value):
            raise ParameterError(
                f"expected a number for {self.name}, got {type(value).__name__} {value!r}",
                file=file,
                key=key,
                line=line,
            )
        value = float(value)
        if not math.isfinite(value):
            raise ParameterError(f"{value} is not a finite number", file=file, key=key, line=line)
        if not self.low <= value <= self.high:
            raise ParameterError(
                f"{value:g} is outside the allowed range [{self.low:g}, {self.high:g}] "
                f"({self.units})",
                file=file,
                key=key,
                line=line,
            )
        return value


def is_number(value: object) -> bool:
    """Return True for real numbers (int, float, numpy scalars); False for booleans and the rest."""
    import numpy as np

    if isinstance(value, bool | np.bool_):
        return False
    return isinstance(value, numbers.Real)


class ParameterTable(Mapping[str, Parameter]):
    """The parameters by code-safe name; also looked up by ``Variable[element]``."""

    def __init__(self, parameters: list[Parameter], *, path: Path | None = None) -> None:
        self._by_name = {p.name: p for p in parameters}
        self._by_variable = {p.full_variable: p for p in parameters}
        self.path = path

    def __getitem__(self, key: str) -> Parameter:
        """Return the parameter with code-safe name ``key``."""
        return self._by_name[key]

    def __iter__(self) -> Iterator[str]:
        """Iterate over the code-safe names, in table order."""
        return iter(self._by_name)

    def __len__(self) -> int:
        """Return the number of parameters."""
        return len(self._by_name)

    def resolve(
        self, key: str, *, file: str | Path | None = None, line: int | None = None
    ) -> Parameter:
        """Find a parameter by code-safe name or by model variable (``"Var[elem]"``)."""
        if not isinstance(key, str):
            raise ParameterError(
                f"a parameter name is text, got {type(key).__name__} {key!r}", file=file
            )
        if key in self._by_name:
            return self._by_name[key]
        if key in self._by_variable:
            return self._by_variable[key]
        hint = closest(key, [*self._by_name, *self._by_variable]) if len(key) <= 200 else ""
        shown = key if len(key) <= 200 else key[:200] + "…"
        raise ParameterError(f"unknown parameter '{shown}'{hint}", file=file, key=shown, line=line)

    def groups(self) -> dict[str, list[Parameter]]:
        """Parameters by group, in table order."""
        out: dict[str, list[Parameter]] = {}
        for p in self._by_name.values():
            out.setdefault(p.group, []).append(p)
        return out

    def key_levers(self) -> list[Parameter]:
        """Return the parameters flagged ``key = true``, in table order."""
        return [p for p in self._by_name.values() if p.key]

    def defaults(self) -> dict[str, float]:
        """Default value of every parameter, by name."""
        return {p.name: p.default for p in self._by_name.values()}


def _parse(entry: dict, index: int, path: Path, lines: dict) -> Parameter:
    key = f"parameter[{index}]"
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise ParameterError(f"missing {', '.join(missing)}", file=path, key=key)
    split = split_variable(str(entry["variable"]))
    if split is None:
        raise ParameterError(f"cannot read variable {entry['variable']!r}", file=path, key=key)
    values = {}
    for k in ("default", "low", "high", "step"):
        v = entry[k]
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ParameterError(f"{k} must be a number", file=path, key=f"{entry['name']}.{k}")
        values[k] = float(v)
    if not values["low"] < values["high"]:
        raise ParameterError("low must be below high", file=path, key=entry["name"])
    if not values["low"] <= values["default"] <= values["high"]:
        raise ParameterError("default outside [low, high]", file=path, key=entry["name"])
    if entry["kind"] not in ("lever", "assumption"):
        raise ParameterError("kind must be 'lever' or 'assumption'", file=path, key=entry["name"])
    check_group(
        entry["group"],
        file=path,
        line=lines.get(("parameter", index, "group")),
        key=f"{entry['name']}.group",
    )
    if not isinstance(entry.get("calibrate", False), bool):
        raise ParameterError("calibrate must be true or false", file=path, key=entry["name"])
    key_flag = entry.get("key", False)
    if not isinstance(key_flag, bool):
        raise ParameterError("key must be true or false", file=path, key=f"{entry['name']}.key")
    return Parameter(
        name=entry["name"],
        variable=split[0],
        element=split[1],
        **values,
        units=entry["units"],
        group=entry["group"],
        kind=entry["kind"],
        label_zh=entry["label_zh"],
        label_en=entry["label_en"],
        source=entry["source"],
        source_zh=str(entry.get("source_zh", "")),
        calibrate=entry.get("calibrate", False),
        key=key_flag,
    )


def _counter_labels() -> dict[str, tuple[str, str]]:
    """Counter element -> (zh, en) label of the target it carries, from ``targets.toml``."""
    out = {}
    for entry in read_toml(paths.TARGETS_FILE).get("target", []):
        ref = split_variable(str(entry.get("variable", "")))
        if ref and ref[0] == "Policy counter" and ref[1]:
            out[ref[1]] = (entry["label_zh"], entry["label_en"])
    return out


@cache
def _load(path: Path, mtime: float) -> ParameterTable:
    data = read_toml(path, error=ParameterError)
    lines = key_lines(path.read_text(encoding="utf-8"))
    entries = data.get("parameter", [])
    params = [_parse(e, i, path, lines) for i, e in enumerate(entries)]
    # The counters' rates come from model/counters.tsv, their labels from the targets they carry.
    offset = len(entries)
    for i, entry in enumerate(counter_parameters(_counter_labels()), start=offset):
        params.append(_parse(entry, i, COUNTERS_FILE, {}))
    names = [p.name for p in params]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ParameterError(f"duplicate names: {', '.join(sorted(dupes))}", file=path)
    return ParameterTable(params, path=path)


def load_parameters(path: str | Path | None = None) -> ParameterTable:
    """Read the parameter table (cached until the file changes).

    Examples
    --------
    >>> table = load_parameters()
    >>> table["industrial_investment_growth"].units
    '1/Year'
    """
    path = Path(path) if path else paths.PARAMETERS_FILE
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise ParameterError("file not found", file=path) from None
    return _load(path.resolve(), mtime)
