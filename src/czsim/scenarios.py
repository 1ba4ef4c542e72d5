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
    [posterior]                           # fitted parameters drawn jointly (czsim.posterior)
    parameters = ["manufacturing_va_ratio"]
    mean = [0.206]
    covariance = [[5.2e-06]]

Loading resolves the chain of parents, validates every name and value against
``model/parameters.toml`` and returns a frozen :class:`Scenario`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from czsim import paths
from czsim.errors import CzsimError, InputTypeError, ParameterError, ScenarioError, closest
from czsim.parameters import ParameterTable, load_parameters
from czsim.posterior import Posterior
from czsim.scenario_values import (
    Value,
    check_range,
    check_text,
    check_value,
)
from czsim.tomlfile import key_lines, read_toml_text

_TOP_KEYS = {
    "name",
    "extends",
    "description_en",
    "description_zh",
    "description",
    "parameters",
    "uncertain",
    "posterior",
}


#: Longest scenario name and ``extends`` value accepted.
MAX_NAME = 200


@dataclass(frozen=True)
class Scenario:
    """A resolved scenario: every change from the model defaults along its chain of parents.

    ``values`` maps parameter names to constants or time series; ``uncertain`` maps parameter
    names to ``(low, high)`` ranges. Frozen: use :meth:`with_values` to derive a new one.
    The constructor validates everything against ``model/parameters.toml`` (names, types,
    bounds; numpy numbers are accepted) and raises :class:`ParameterError` or
    :class:`ScenarioError`. ``origins`` maps a parameter name to the ``(file, line)`` where
    its value was written, for error messages.
    """

    name: str
    values: Mapping[str, Value] = field(default_factory=dict)
    uncertain: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    description_en: str = ""
    description_zh: str = ""
    parent: str | None = None
    path: Path | None = None
    origins: Mapping[str, tuple[str, int | None]] = field(
        default_factory=dict, compare=False, repr=False
    )
    #: The parameter table the scenario is validated against (default: the project's
    #: ``model/parameters.toml``); another model's table makes a scenario of that model.
    table: ParameterTable | None = field(default=None, compare=False, repr=False)
    #: Fitted parameters drawn jointly by the bands (:mod:`czsim.posterior`); None if none.
    posterior: Posterior | None = None

    def __post_init__(self) -> None:
        """Validate the fields, resolve parameter names and freeze the mappings."""
        check_text(self.name, "name", limit=MAX_NAME)
        if not self.name.strip():
            raise ScenarioError("a scenario needs a name", key="name")
        for key in ("description_en", "description_zh"):
            check_text(getattr(self, key), key)
        if self.parent is not None:
            check_text(self.parent, "parent", limit=MAX_NAME)
        for key, mapping in (("values", self.values), ("uncertain", self.uncertain)):
            if not isinstance(mapping, Mapping):
                raise InputTypeError(
                    f"{key} must be a mapping of parameter names, got {type(mapping).__name__}",
                    key=key,
                )
        table = self.table if self.table is not None else load_parameters()
        values: dict[str, Value] = {}
        for key, raw in self.values.items():
            param = table.resolve(key)
            if param.name in values:
                raise ParameterError(
                    f"given twice (as '{param.name}' and as '{param.full_variable}')", key=key
                )
            values[param.name] = check_value(raw, param.name, table, file=None)
        uncertain: dict[str, tuple[float, float]] = {}
        for key, rng in self.uncertain.items():
            param = table.resolve(key)
            if param.name in uncertain:
                raise ParameterError("range given twice", key=f"uncertain.{key}")
            try:
                low, high = rng
            except (TypeError, ValueError):
                raise ParameterError(
                    f"an uncertainty range is (low, high), got {rng!r}", key=f"uncertain.{key}"
                ) from None
            uncertain[param.name] = check_range(param, low, high, file=None, key=f"uncertain.{key}")
        if self.posterior is not None:
            if not isinstance(self.posterior, Posterior):
                raise InputTypeError(
                    f"posterior must be a Posterior, got {type(self.posterior).__name__}",
                    key="posterior",
                )
            names = tuple(table.resolve(n).name for n in self.posterior.parameters)
            if names != self.posterior.parameters:
                object.__setattr__(self, "posterior", replace(self.posterior, parameters=names))
        object.__setattr__(self, "values", MappingProxyType(values))
        object.__setattr__(self, "uncertain", MappingProxyType(uncertain))
        object.__setattr__(self, "origins", MappingProxyType(dict(self.origins)))

    def description(self, lang: str = "en") -> str:
        """Return the description in ``lang``, falling back to the other language."""
        first, second = (
            (self.description_zh, self.description_en)
            if lang == "zh"
            else (self.description_en, self.description_zh)
        )
        return first or second

    def value(self, name: str, table: ParameterTable | None = None) -> Value:
        """Return the scenario's value of parameter ``name`` (its default when unchanged)."""
        table = table or load_parameters()
        return self.values.get(name, table[name].default)

    def with_values(self, name: str | None = None, **values: object) -> Scenario:
        """Return a copy with ``values`` changed.

        The values are validated; a value equal to the default of the parameter is still
        recorded.
        """
        table = load_parameters()
        checked = dict(self.values)
        for key, raw in values.items():
            param = table.resolve(key)
            checked[param.name] = check_value(raw, param.name, table, file=None)
        changed = {n: v for n, v in checked.items() if n not in self.values or self.values[n] != v}
        posterior = self.posterior.given(changed) if self.posterior is not None else None
        return replace(self, name=name or self.name, values=checked, path=None, posterior=posterior)

    def to_toml(self) -> str:
        """Return a self-contained scenario file (no ``extends``).

        :func:`load_scenario` reads it back to an equal scenario.
        """
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
        if self.posterior is not None:
            lines += ["", *self.posterior.to_toml()]
        return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    """Quote ``text`` as a TOML basic string.

    Backslash, quote and every control character are escaped.
    """
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0xD800 else "\ufffd")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _read_posterior(raw: object, table: ParameterTable, path: Path, at) -> Posterior:
    """Parse and check a ``[posterior]`` table (errors name the file, line and key)."""
    line = at("posterior")
    if not isinstance(raw, Mapping) or set(raw) != {"parameters", "mean", "covariance"}:
        raise ScenarioError(
            "[posterior] has parameters, mean and covariance",
            file=path,
            key="posterior",
            line=line,
        )
    names = raw["parameters"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ScenarioError(
            "posterior.parameters is a list of names",
            file=path,
            key="posterior.parameters",
            line=at("posterior", "parameters"),
        )
    resolved = [table.resolve(n, file=path, line=at("posterior", "parameters")).name for n in names]
    try:
        return Posterior(tuple(resolved), tuple(raw["mean"]), tuple(map(tuple, raw["covariance"])))
    except ScenarioError as exc:
        raise ScenarioError(exc.message, file=path, key=exc.key, line=line) from None
    except TypeError:
        raise ScenarioError(
            "mean is a list of numbers and covariance a list of lists",
            file=path,
            key="posterior",
            line=line,
        ) from None


def _follow_changed_values(
    uncertain: dict[str, tuple[float, float]],
    parent: Scenario,
    values: Mapping[str, Value],
    changed: Mapping[str, str],
    table: ParameterTable,
) -> None:
    """Move each inherited range with the value the child sets (in place).

    A child that sets a parameter to a new constant keeps the parent's range for it shifted by
    the change (same width, clipped to the parameter's bounds), so its bands are drawn around
    its own assumption, not the parent's: ``slowdown``'s market growth is uncertain around
    slowdown's rates. A time series replaces the range (it is a path, not a point to draw
    around). A range in the child's own ``[uncertain]`` replaces this one.
    """
    for name in changed:
        if name not in uncertain:
            continue
        new = values[name]
        old = parent.values.get(name, table[name].default)
        if not isinstance(new, int | float) or not isinstance(old, int | float):
            del uncertain[name]
            continue
        p = table[name]
        low, high = uncertain[name]
        shift = float(new) - float(old)
        low, high = max(p.low, round(low + shift, 12)), min(p.high, round(high + shift, 12))
        if low < high:
            uncertain[name] = (low, high)
        else:
            del uncertain[name]


def _resolve_parent(
    extends: object, path: Path, folder: Path, *, line: int | None, upload: bool = False
) -> Path:
    """Find the parent's file: a scenario name, looked up beside the file, then in ``scenarios/``.

    Only files directly in those folders are reachable: no absolute paths, no folders, no
    ``..``.
    """
    shown = path.name if upload else path

    def fail(message: str) -> ScenarioError:
        return ScenarioError(message, file=shown, key="extends", line=line)

    if not isinstance(extends, str) or not extends.strip():
        raise fail('extends must be the name of a scenario (e.g. "baseline")')
    if len(extends) > MAX_NAME:
        raise fail(f"extends is {len(extends)} characters long; the limit is {MAX_NAME}")
    name = extends[:-5] if extends.endswith(".toml") else extends
    if (
        "/" in name
        or "\\" in name
        or "\0" in name
        or name in (".", "..")
        or name.startswith(".")
        or Path(name).is_absolute()
    ):
        raise fail(
            f"extends names a scenario in the same folder or in scenarios/ "
            f'(e.g. "baseline"), not a path: {extends!r}'
        )
    # Beside the file first, then the project's scenarios/, so that a scenario saved anywhere
    # can still extend "baseline".
    folders = dict.fromkeys((folder, paths.SCENARIO_DIR))
    for place in folders:
        candidate = place / f"{name}.toml"
        try:
            if candidate.is_file():
                return candidate
        except OSError:  # a symlink loop, an unreadable folder: not found here
            continue
    known = [p.stem for place in folders for p in place.glob("*.toml")]
    where = "scenarios/" if upload else " or ".join(str(f) for f in folders)
    raise fail(f"parent scenario '{extends}' not found in {where}{closest(name, known)}")


def _load(
    path: Path,
    table: ParameterTable,
    chain: tuple[Path, ...],
    folder: Path | None = None,
    *,
    upload: bool = False,
    reads: list[Path] | None = None,
) -> Scenario:
    """Load ``path``; its parent is looked up in ``folder`` (default: the file's folder).

    ``reads``, if given, collects every file read and every folder searched for a parent.
    """
    data, text = read_toml_text(path, error=ScenarioError)  # refuses symlink loops first
    if reads is not None:
        reads.append(path)
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        raise ScenarioError("cannot resolve the path (a symlink loop?)", file=path) from None
    if real in chain:
        cycle = " -> ".join(p.stem for p in (*chain, real))
        raise ScenarioError(f"cyclic extends: {cycle}", file=path, key="extends")
    lines = key_lines(text)

    def at(*key: str) -> int | None:
        """Return the line of ``key`` (or of the nearest enclosing key written in the file)."""
        for n in range(len(key), 0, -1):
            if key[:n] in lines:
                return lines[key[:n]]
        return None

    for key in data:
        if key not in _TOP_KEYS:
            raise ScenarioError(
                f"unknown key '{key}'{closest(key, _TOP_KEYS)}", file=path, key=key, line=at(key)
            )
    for key in ("name", "description_en", "description_zh", "description"):
        if key in data:
            check_text(
                data[key], key, limit=MAX_NAME if key == "name" else None, file=path, line=at(key)
            )
    if "name" in data and not data["name"].strip():
        raise ScenarioError("name must not be empty", file=path, key="name", line=at("name"))
    parent = None
    if "extends" in data:
        parent_path = _resolve_parent(
            data["extends"], path, folder or path.parent, line=at("extends"), upload=upload
        )
        if reads is not None:  # a new file beside it could change which parent is found
            reads.extend(dict.fromkeys((folder or path.parent, paths.SCENARIO_DIR)))
        parent = _load(parent_path, table, (*chain, real), reads=reads)
    values = dict(parent.values) if parent else {}
    uncertain = dict(parent.uncertain) if parent else {}
    origins = dict(parent.origins) if parent else {}
    raw_values = data.get("parameters", {})
    if not isinstance(raw_values, Mapping):
        raise ScenarioError(
            "[parameters] must be a table", file=path, key="parameters", line=at("parameters")
        )
    seen: dict[str, str] = {}
    for key, raw in raw_values.items():
        line = at("parameters", key)
        param = table.resolve(key, file=path, line=line)
        if param.name in seen:
            raise ParameterError(
                f"{param.name} is given twice (as '{seen[param.name]}' and as '{key}')",
                file=path,
                key=f"parameters.{key}",
                line=line,
            )
        seen[param.name] = key
        values[param.name] = check_value(raw, param.name, table, file=path, line=line)
        origins[param.name] = (str(path), line)
    posterior = parent.posterior if parent else None
    if parent is not None:
        _follow_changed_values(uncertain, parent, values, seen, table)
        if posterior is not None:
            posterior = posterior.given({n: values[n] for n in seen})
    if "posterior" in data:
        posterior = _read_posterior(data["posterior"], table, path, at)
    raw_uncertain = data.get("uncertain", {})
    if not isinstance(raw_uncertain, Mapping):
        raise ScenarioError(
            "[uncertain] must be a table", file=path, key="uncertain", line=at("uncertain")
        )
    seen = {}
    for key, rng in raw_uncertain.items():
        line = at("uncertain", key)
        param = table.resolve(key, file=path, line=line)
        ukey = f"uncertain.{key}"
        if param.name in seen:
            raise ParameterError(
                f"{param.name} is given twice (as '{seen[param.name]}' and as '{key}')",
                file=path,
                key=ukey,
                line=line,
            )
        seen[param.name] = key
        if not isinstance(rng, Mapping) or set(rng) != {"low", "high"}:
            raise ScenarioError(
                "an uncertainty range is { low = ..., high = ... }", file=path, key=ukey, line=line
            )
        uncertain[param.name] = check_range(
            param, rng["low"], rng["high"], file=path, key=ukey, line=line
        )
    return Scenario(
        name=data.get("name", path.stem),
        values=values,
        uncertain=uncertain,
        description_en=data.get("description_en", data.get("description", "")),
        description_zh=data.get("description_zh", ""),
        parent=parent.name if parent else None,
        path=path,
        origins=origins,
        posterior=posterior,
    )


def load_scenario(source: str | Path) -> Scenario:
    """Load a scenario file, or a scenario of ``scenarios/`` by name.

    Raises :class:`~czsim.errors.ScenarioError` (or ``ParameterError``) with the file, line and
    key for malformed TOML, unknown names, bad values, a missing or cyclic parent, and for
    files that cannot be read (missing, a folder, a pipe or device, a symlink loop, no
    permission, larger than 1 MB).

    Examples
    --------
    >>> plan = load_scenario("plan")
    >>> plan.parent
    'baseline'
    """
    if not isinstance(source, str | Path):
        raise InputTypeError(
            f"a scenario is a name, a path or a Scenario, got {type(source).__name__}",
            key="scenario",
        )
    text = str(source)
    if not text.strip() or "\0" in text:
        raise ScenarioError(f"no scenario named {text!r}", key="scenario")
    if len(text) > 4096:
        raise ScenarioError(f"scenario name or path is {len(text)} characters long", key="scenario")
    path = Path(source)
    try:
        exists = path.exists()
    except OSError:
        exists = True  # a symlink loop or name too long: let the reader say so
    if not path.suffix and not exists:
        named = paths.SCENARIO_DIR / f"{source}.toml"
        if "/" in text or len(text) > MAX_NAME or not named.is_file():
            raise ScenarioError(
                f"no scenario named '{text[:MAX_NAME]}'{closest(text, list_scenarios())}",
                file=named if len(text) <= MAX_NAME else None,
            )
        path = named
    return _cached_load(path, load_parameters())


#: Files (and folders) younger than this are read again on every load: a write within the
#: same clock tick could leave the size and time unchanged (git's "racy" rule).
SETTLED_SECONDS = 2.0
_LOADED: dict[tuple[str, int], tuple[tuple, ParameterTable, Scenario]] = {}


def _signature(files: list[Path]) -> tuple | None:
    """Return the files' stats, or None if one is too recent to be trusted unchanged."""
    out = []
    now = time.time()
    for f in files:
        st = os.stat(f)
        if now - st.st_mtime_ns / 1e9 <= SETTLED_SECONDS:
            return None
        out.append((str(f), st.st_size, st.st_ino, st.st_mtime_ns))
    return tuple(out)


def _cached_load(path: Path, table: ParameterTable) -> Scenario:
    """Load like :func:`_load`, reusing the result while nothing it read has changed.

    Nothing read: no file of the ``extends`` chain, no folder searched for a parent, and the
    same parameter table. Scenarios are frozen, so the same object can be handed out again.
    Errors are never cached.
    """
    key = (str(path.absolute()), id(table))
    hit = _LOADED.get(key)
    if hit is not None and hit[1] is table:
        try:
            if _signature([Path(f[0]) for f in hit[0]]) == hit[0]:
                return hit[2]
        except OSError:
            pass
    reads: list[Path] = []
    scenario = _load(path, table, (), reads=reads)
    try:
        signature = _signature(reads)
    except OSError:
        signature = None
    if signature is not None:
        if len(_LOADED) > 64:
            _LOADED.clear()
        _LOADED[key] = (signature, table, scenario)
    return scenario


#: Largest upload :func:`load_scenario_text` accepts.
MAX_UPLOAD_BYTES = 100_000


def load_scenario_text(
    text: str | bytes, *, filename: str = "uploaded.toml", base_dir: str | Path | None = None
) -> Scenario:
    """Load a scenario from TOML text (an upload).

    ``extends`` is resolved in ``base_dir`` (default ``scenarios/``) only: no paths, no
    ``..``.

    Errors name ``filename`` (never a path on the server); uploads larger than
    :data:`MAX_UPLOAD_BYTES` or nested too deeply are refused. Nothing is written anywhere.
    """
    import tempfile

    shown = Path(str(filename)).name[:MAX_NAME] or "uploaded.toml"
    if isinstance(text, str):
        data = text.encode("utf-8", errors="surrogatepass")
    elif isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
    else:
        raise InputTypeError(f"an upload is text or bytes, got {type(text).__name__}", file=shown)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ScenarioError(
            f"upload is {len(data):,} bytes; the limit is {MAX_UPLOAD_BYTES:,}", file=shown
        )
    base_dir = Path(base_dir) if base_dir else paths.SCENARIO_DIR
    with tempfile.TemporaryDirectory() as tmp:
        stem = Path(shown).stem
        staged = Path(tmp) / (
            stem + ".toml" if stem and not stem.startswith(".") else "uploaded.toml"
        )
        staged.write_bytes(data)
        try:
            scenario = _load(staged, load_parameters(), (), folder=base_dir, upload=True)
        except CzsimError as exc:
            where = exc.file
            if where == str(staged):
                where = shown
            elif where is not None:
                where = Path(where).name  # a parent in scenarios/: its name, not the path
            raise type(exc)(exc.message, file=where, line=exc.line, key=exc.key) from None
    origins = {
        k: ((shown, line) if f == str(staged) else (Path(f).name, line))
        for k, (f, line) in scenario.origins.items()
    }
    name = scenario.name if scenario.name != staged.stem else Path(shown).stem or scenario.name
    return replace(scenario, path=None, origins=origins, name=name)


def list_scenarios() -> list[str]:
    """Names of the scenarios in ``scenarios/``."""
    return sorted(p.stem for p in paths.SCENARIO_DIR.glob("*.toml"))


def default_scenario() -> Scenario:
    """Return the scenario of the model's own defaults, with no changes."""
    return Scenario(name="defaults")
