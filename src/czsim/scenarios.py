"""Scenarios: files that name a parent and list only what they change.

A scenario file (TOML)::

    extends = "baseline"                  # parent: a name in the same folder, or a path
    description_en = "..."
    description_zh = "..."
    [parameters]                          # code-safe names (or "Variable[element]")
    industrial_investment_growth = 0.10   # a constant
    desired_tech_retrofit_share = { 2022 = 0.56, 2025 = 0.62 }   # a time series (linear)
    [uncertain]                           # ranges for sweeps and uncertainty bands
    industrial_investment_growth = { low = 0.03, high = 0.12 }

Loading resolves the chain of parents, validates every name and value against
``model/parameters.toml`` and returns a frozen :class:`Scenario`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from czsim import paths
from czsim.errors import CzsimError, ScenarioError, closest
from czsim.parameters import ParameterTable, load_parameters
from czsim.tomlfile import read_toml

#: A value is a constant or a time series: ``((year, value), ...)`` sorted by year.
Value = float | tuple[tuple[float, float], ...]

_TOP_KEYS = {
    "name",
    "extends",
    "description_en",
    "description_zh",
    "description",
    "parameters",
    "uncertain",
}


@dataclass(frozen=True)
class Scenario:
    """A resolved scenario: every change from the model defaults along its chain of parents.

    ``values`` maps parameter names to constants or time series; ``uncertain`` maps parameter
    names to ``(low, high)`` ranges. Frozen: use :meth:`with_values` to derive a new one.
    """

    name: str
    values: Mapping[str, Value] = field(default_factory=dict)
    uncertain: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    description_en: str = ""
    description_zh: str = ""
    parent: str | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        object.__setattr__(self, "uncertain", MappingProxyType(dict(self.uncertain)))

    def description(self, lang: str = "en") -> str:
        """The description in ``lang``, falling back to the other language."""
        first, second = (
            (self.description_zh, self.description_en)
            if lang == "zh"
            else (self.description_en, self.description_zh)
        )
        return first or second

    def value(self, name: str, table: ParameterTable | None = None) -> Value:
        """The scenario's value of parameter ``name`` (its default when unchanged)."""
        table = table or load_parameters()
        return self.values.get(name, table[name].default)

    def with_values(self, name: str | None = None, **values: object) -> Scenario:
        """Return a copy with ``values`` changed (validated; a value equal to the default of
        the parameter is still recorded)."""
        table = load_parameters()
        checked = dict(self.values)
        for key, raw in values.items():
            param = table.resolve(key)
            checked[param.name] = _check_value(raw, param.name, table, file=None)
        return replace(self, name=name or self.name, values=checked, path=None)

    def to_toml(self) -> str:
        """A self-contained scenario file (no ``extends``) that :func:`load_scenario` reads back
        to an equal scenario."""
        lines = [f"name = {_quote(self.name)}"]
        if self.description_en:
            lines.append(f"description_en = {_quote(self.description_en)}")
        if self.description_zh:
            lines.append(f"description_zh = {_quote(self.description_zh)}")
        lines += ["", "[parameters]"]
        for key, value in self.values.items():
            if isinstance(value, tuple):
                body = ", ".join(
                    f"{int(t) if float(t).is_integer() else t} = {v!r}" for t, v in value
                )
                lines.append(f"{key} = {{ {body} }}")
            else:
                lines.append(f"{key} = {value!r}")
        if self.uncertain:
            lines += ["", "[uncertain]"]
            for key, (low, high) in self.uncertain.items():
                lines.append(f"{key} = {{ low = {low!r}, high = {high!r} }}")
        return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _number(raw: object, *, file, key: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ScenarioError(
            f"expected a number, got {type(raw).__name__} {raw!r}", file=file, key=key
        )
    value = float(raw)
    if not math.isfinite(value):
        raise ScenarioError(f"{raw!r} is not a finite number", file=file, key=key)
    return value


def _check_value(raw: object, name: str, table: ParameterTable, *, file) -> Value:
    param = table[name]
    if isinstance(raw, Mapping):
        if not raw:
            raise ScenarioError(
                "a time series needs at least one {year = value} point", file=file, key=name
            )
        points = []
        for year, v in raw.items():
            try:
                t = float(year)
            except (TypeError, ValueError):
                raise ScenarioError(
                    f"time series keys must be years, got {year!r}", file=file, key=f"{name}.{year}"
                ) from None
            points.append((t, param.check(v, file=file, key=f"{name}.{year}")))
        return tuple(sorted(points))
    if isinstance(raw, tuple):  # already a validated series (from another Scenario)
        return tuple((float(t), param.check(v, file=file, key=name)) for t, v in raw)
    return param.check(raw, file=file, key=name)


def _resolve_parent(extends: object, path: Path, folder: Path) -> Path:
    if not isinstance(extends, str) or not extends:
        raise ScenarioError(
            "extends must be the name or path of a scenario", file=path, key="extends"
        )
    candidate = Path(extends)
    if candidate.suffix != ".toml":
        candidate = candidate.with_suffix(".toml")
    if candidate.is_absolute():
        if candidate.is_file():
            return candidate
        raise ScenarioError(f"parent scenario '{extends}' not found", file=path, key="extends")
    # Beside the file first, then the project's scenarios/, so that a scenario saved anywhere
    # can still extend "baseline".
    folders = dict.fromkeys((folder, paths.SCENARIO_DIR))
    for place in folders:
        if (place / candidate).is_file():
            return place / candidate
    known = [p.stem for place in folders for p in place.glob("*.toml")]
    raise ScenarioError(
        f"parent scenario '{extends}' not found in "
        f"{' or '.join(str(f) for f in folders)}{closest(extends, known)}",
        file=path,
        key="extends",
    )


def _load(
    path: Path, table: ParameterTable, chain: tuple[Path, ...], folder: Path | None = None
) -> Scenario:
    """Load ``path``; its parent is looked up in ``folder`` (default: the file's folder)."""
    if path.resolve() in chain:
        cycle = " -> ".join(p.stem for p in (*chain, path.resolve()))
        raise ScenarioError(f"cyclic extends: {cycle}", file=path, key="extends")
    data = read_toml(path, error=ScenarioError)
    for key in data:
        if key not in _TOP_KEYS:
            raise ScenarioError(f"unknown key '{key}'{closest(key, _TOP_KEYS)}", file=path, key=key)
    parent = None
    if "extends" in data:
        parent_path = _resolve_parent(data["extends"], path, folder or path.parent)
        parent = _load(parent_path, table, (*chain, path.resolve()))
    values = dict(parent.values) if parent else {}
    uncertain = dict(parent.uncertain) if parent else {}
    raw_values = data.get("parameters", {})
    if not isinstance(raw_values, Mapping):
        raise ScenarioError("[parameters] must be a table", file=path, key="parameters")
    for key, raw in raw_values.items():
        param = table.resolve(key, file=path)
        values[param.name] = _check_value(raw, param.name, table, file=path)
    raw_uncertain = data.get("uncertain", {})
    if not isinstance(raw_uncertain, Mapping):
        raise ScenarioError("[uncertain] must be a table", file=path, key="uncertain")
    for key, rng in raw_uncertain.items():
        param = table.resolve(key, file=path)
        ukey = f"uncertain.{key}"
        if not isinstance(rng, Mapping) or set(rng) != {"low", "high"}:
            raise ScenarioError(
                "an uncertainty range is { low = ..., high = ... }", file=path, key=ukey
            )
        low = param.check(_number(rng["low"], file=path, key=ukey), file=path, key=f"{ukey}.low")
        high = param.check(_number(rng["high"], file=path, key=ukey), file=path, key=f"{ukey}.high")
        if not low < high:
            raise ScenarioError(
                f"empty or inverted range: low {low:g} must be below high {high:g}",
                file=path,
                key=ukey,
            )
        uncertain[param.name] = (low, high)
    for key in ("name", "description_en", "description_zh", "description"):
        if key in data and not isinstance(data[key], str):
            raise ScenarioError(f"{key} must be text", file=path, key=key)
    return Scenario(
        name=data.get("name", path.stem),
        values=values,
        uncertain=uncertain,
        description_en=data.get("description_en", data.get("description", "")),
        description_zh=data.get("description_zh", ""),
        parent=parent.name if parent else None,
        path=path,
    )


def load_scenario(source: str | Path) -> Scenario:
    """Load a scenario file, or a scenario of ``scenarios/`` by name.

    Raises :class:`~czsim.errors.ScenarioError` (or ``ParameterError``) with the file, line and
    key for malformed TOML, unknown names, bad values, a missing or cyclic parent.

    Examples
    --------
    >>> plan = load_scenario("plan")
    >>> plan.parent
    'baseline'
    """
    path = Path(source)
    if not path.suffix and not path.exists():
        named = paths.SCENARIO_DIR / f"{source}.toml"
        if not named.is_file():
            raise ScenarioError(
                f"no scenario named '{source}'{closest(str(source), list_scenarios())}", file=named
            )
        path = named
    return _load(path, load_parameters(), ())


def load_scenario_text(
    text: str | bytes, *, filename: str = "uploaded.toml", base_dir: str | Path | None = None
) -> Scenario:
    """Load a scenario from TOML text (an upload), resolving ``extends`` in ``base_dir``
    (default ``scenarios/``). Errors name ``filename``; nothing is written anywhere else."""
    import tempfile

    base_dir = Path(base_dir) if base_dir else paths.SCENARIO_DIR
    data = text.encode("utf-8") if isinstance(text, str) else text
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / Path(filename).name
        staged.write_bytes(data)
        try:
            scenario = _load(staged, load_parameters(), (), folder=base_dir)
        except CzsimError as exc:
            shown = filename if exc.file == str(staged) else exc.file
            raise type(exc)(exc.message, file=shown, line=exc.line, key=exc.key) from None
    return replace(scenario, path=None)


def list_scenarios() -> list[str]:
    """Names of the scenarios in ``scenarios/``."""
    return sorted(p.stem for p in paths.SCENARIO_DIR.glob("*.toml"))


def default_scenario() -> Scenario:
    """The model's own defaults, with no changes."""
    return Scenario(name="defaults")
