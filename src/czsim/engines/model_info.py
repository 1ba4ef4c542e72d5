"""Static description of a Vensim model, read from PySD's abstract model.

Both engines and the layers above them (parameter validation, app, docs) use
:class:`ModelInfo`; it never runs the model. The abstract model is parsed once per
process and per file content (cache keyed on the file's sha256).
Subscript handling (ranges, dims, component indices, :EXCEPT: masks) is in
:mod:`.subscripts`; its functions are importable from here as well.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from czsim.engines.subscripts import component_index, element_dims, except_mask, range_table
from czsim.errors import ModelError, closest

#: Vensim's simulation control variables; never returned as model output.
CONTROL_NAMES = ("INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER")


def normalize(name: str) -> str:
    """Return PySD's case/space-insensitive key of a Vensim name.

    PySD's parser merges components by ``name.lower().replace(" ", "_")`` and writes
    references the same way; runs of whitespace are collapsed first so that names
    wrapped over lines in the .mdl still match.
    """
    return re.sub(r"\s+", " ", name.strip()).lower().replace(" ", "_")


@dataclass(frozen=True)
class VariableInfo:
    """One model variable.

    Attributes
    ----------
    name : str
        Real name as written in the .mdl (e.g. ``"Industrial investment growth"``).
    py_name : str
        Identifier PySD gives the variable in the translated Python model.
    dims : tuple of str
        Subscript range names in declaration order; ``()`` for a scalar.
    units : str
        Units string from the .mdl (may be empty).
    comment : str
        Documentation string from the .mdl (may be empty).
    type : str
        ``"stock"`` (INTEG), ``"flow"`` (auxiliary referenced directly in a stock's
        rate), ``"auxiliary"``, ``"constant"`` (all components are numbers) or
        ``"lookup"`` (graphical function).
    default : numpy.ndarray or None
        For constants the model value, float64 shaped ``shape`` (0-d for scalars);
        ``None`` otherwise.
    shape : tuple of int
        Sizes of ``dims``.
    """

    name: str
    py_name: str
    dims: tuple[str, ...]
    units: str
    comment: str
    type: str
    default: np.ndarray | None
    shape: tuple[int, ...]


@dataclass(frozen=True, eq=False)  # identity hash: one object per file content
class ModelInfo:
    """Everything static about a model file.

    Attributes
    ----------
    path : pathlib.Path
        The .mdl file.
    sha256 : str
        Hex digest of the file content (cache key of both engines).
    variables : dict of str to VariableInfo
        All variables except the control ones, keyed by real name, in file order.
    ranges : dict of str to tuple of str
        Subscript range name -> element names.
    initial_time, final_time, time_step, saveper : float
        Control values (years).
    """

    path: Path
    sha256: str
    variables: dict[str, VariableInfo]
    ranges: dict[str, tuple[str, ...]]
    initial_time: float
    final_time: float
    time_step: float
    saveper: float
    _by_key: dict[str, str] = field(default_factory=dict, repr=False)

    def lookup(self, name: str) -> VariableInfo:
        """Return the variable called ``name``, else raise :class:`ModelError`.

        ``name`` is the exact real name, or a PySD-equivalent spelling that differs only in
        case or underscores.
        """
        if name in self.variables:
            return self.variables[name]
        real = self._by_key.get(normalize(name))
        if real is None:
            raise ModelError(
                f"unknown model variable '{name}'{closest(name, self.variables)}",
                file=self.path,
                key=name,
            )
        return self.variables[real]

    def coords(self, name: str) -> dict[str, tuple[str, ...]]:
        """Range name -> element names for each dim of variable ``name``, in order."""
        return {d: self.ranges[d] for d in self.lookup(name).dims}

    def element_index(self, range_name: str, element: str) -> int:
        """Position of ``element`` in ``range_name`` (ModelError if absent)."""
        elems = self.ranges[range_name]
        for i, e in enumerate(elems):
            if e.lower() == element.strip().lower():
                return i
        raise ModelError(
            f"'{element}' is not an element of range {range_name} (elements: {', '.join(elems)})",
            file=self.path,
            key=element,
        )


#: Seconds a file must have been left alone before its hash is reused on an unchanged
#: ``stat`` (size, inode, modification time): a file written within the filesystem's
#: timestamp granularity of the previous hash could have changed without a new time (git's
#: "racy" entries), so a recent file is always read again.
SETTLED_SECONDS = 2.0
_HASHES: dict[str, tuple[tuple[int, int, int], str]] = {}


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (reused while the file's ``stat`` is unchanged)."""
    key = str(path)
    st = os.stat(key)
    signature = (st.st_size, st.st_ino, st.st_mtime_ns)
    cached = _HASHES.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1]
    sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if time.time() - st.st_mtime_ns / 1e9 > SETTLED_SECONDS:
        if len(_HASHES) > 256:
            _HASHES.clear()
        _HASHES[key] = (signature, sha)
    return sha


def _parse_cache(sha: str) -> Path:
    """Where PySD's parse of a file with this content is kept (per PySD version)."""
    import pysd

    from czsim.engines.pysd_engine import cache_root

    return cache_root() / "parsed" / f"{sha}-pysd{pysd.__version__}.pickle"


def _parsed(path: str, sha: str):
    """Return PySD's abstract model of ``path``, from the disk cache when it is there.

    Parsing (parsimonious) takes ~2 s for the Changzhou model, paid by every new process: a
    command, a Dask worker's first chunk. The parse depends only on the file's bytes and
    PySD's version, which make the key; only a successful parse is written, atomically. An
    unreadable cache entry is parsed again.
    """
    import pickle

    from czsim.io import atomic_write

    cached = _parse_cache(sha)
    try:
        am = pickle.loads(cached.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        pass
    else:  # the same bytes may have been parsed under another name: the paths are this file's
        here = Path(path)
        am.original_path = here
        for i, section in enumerate(am.sections):
            section.path = here.with_suffix(".py") if i == 0 else here.parent / section.path.name
        return am
    from pysd.translators.vensim.vensim_file import VensimFile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vf = VensimFile(path)
            vf.parse()
            am = vf.get_abstract_model()
    except Exception as err:  # PySD raises many exception types for bad files
        raise ModelError(f"cannot parse Vensim model: {err}", file=path) from err
    try:
        data = pickle.dumps(am, protocol=pickle.HIGHEST_PROTOCOL)
        cached.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cached, lambda f: f.write(data))
        _prune(cached.parent)
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        pass  # no cache (read-only disk, an object PySD cannot pickle): parse next time
    return am


#: Parses kept on disk; the least recently written go first (an edited model leaves one each).
PARSES_KEPT = 64


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[PARSES_KEPT:]:
        old.unlink(missing_ok=True)


@lru_cache(maxsize=16)
def _abstract_section_cached(path: str, sha: str):
    # sha is part of the key so an edited file is parsed again; the checks below run on a
    # cached parse too
    am = _parsed(path, sha)
    macros = [s for s in am.sections if getattr(s, "type", "main") == "macro"]
    if macros:
        m = macros[0]
        raise ModelError(
            f"macro {m.name.upper()}({', '.join(m.params)}) (:MACRO:) is not supported: "
            "write its equations into the model where it is used",
            file=path,
            key=m.name.upper(),
        )
    main = am.sections[0]
    for r in main.subscripts:
        if not all(isinstance(m, str) for m in getattr(r, "mapping", None) or ()):
            raise ModelError(
                f"subscript mapping {r.name} -> {', '.join(map(str, r.mapping))} lists "
                "elements; only mappings onto whole ranges (A: a1, a2 -> B) are "
                "supported: write the mapped equations per element",
                file=path,
                key=r.name,
            )
    return main


def abstract_section(path: str | Path):
    """Return ``(section, sha256)`` of PySD's abstract model of ``path`` (cached)."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ModelError("model file not found", file=path)
    sha = file_sha256(path)
    return _abstract_section_cached(str(path), sha), sha


def _is_number(ast) -> bool:
    return isinstance(ast, (int, float, np.number, np.ndarray)) and not isinstance(ast, bool)


def signed_terms(node, sign: int = 1) -> list[tuple[int, object]]:
    """Split a stock's rate into its top-level added (+1) and subtracted (-1) terms.

    ``-(a - b)`` gives ``[(-1, a), (+1, b)]``; anything that is not a sum, difference or
    negation (a product, a function call) is one term.
    """
    from pysd.translators.structures import abstract_expressions as ae

    if isinstance(node, ae.ArithmeticStructure):
        if node.operators == ["negative"]:
            return signed_terms(node.arguments[0], -sign)
        if set(node.operators) <= {"+", "-"}:
            terms = signed_terms(node.arguments[0], sign)
            for op, arg in zip(node.operators, node.arguments[1:], strict=True):
                terms += signed_terms(arg, sign if op == "+" else -sign)
            return terms
    return [(sign, node)]


def _stock_flow_refs(section) -> set[str]:
    """Return the keys of variables that are terms of an INTEG rate.

    A term is the whole rate, or an operand of its top-level sum or difference
    (:func:`signed_terms`; a factor like a growth rate is not a flow).
    """
    from pysd.translators.structures import abstract_expressions as ae

    return {
        term.reference
        for el in section.elements
        for c in el.components
        if isinstance(c.ast, ae.IntegStructure)
        for _, term in signed_terms(c.ast.flow)
        if isinstance(term, ae.ReferenceStructure)
    }


_CONTROL_KEYS = tuple(normalize(c) for c in CONTROL_NAMES)


def is_control(element) -> bool:
    """Tell whether ``element`` is INITIAL TIME, FINAL TIME, TIME STEP or SAVEPER.

    Any spelling PySD accepts counts (case, spaces or underscores: ``FINAL_TIME``,
    ``Time Step``).
    """
    from pysd.translators.structures import abstract_model as am

    return isinstance(element, am.AbstractControlElement) or normalize(element.name) in (
        _CONTROL_KEYS
    )


def _control_values(section, path) -> dict[str, float]:
    """Values of the control variables, keyed ``initial_time`` etc.

    A control may be any expression PySD accepts that does not change over time: numbers,
    other controls (``SAVEPER = TIME STEP``), model constants, arithmetic, comparisons,
    IF THEN ELSE, MIN, MAX, ABS, INTEGER. It is evaluated once, before the run.
    """
    from pysd.translators.structures import abstract_expressions as ae

    asts = {}
    for el in section.elements:
        key = normalize(el.name)
        if len(el.components) == 1 and not el.components[0].subscripts[0]:
            asts[key] = (el.name, el.components[0].ast)
    done: dict[str, float] = {}
    arith = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
        "^": lambda a, b: a**b,
    }
    logic = {
        "=": lambda a, b: float(a == b),
        "<>": lambda a, b: float(a != b),
        "<": lambda a, b: float(a < b),
        ">": lambda a, b: float(a > b),
        "<=": lambda a, b: float(a <= b),
        ">=": lambda a, b: float(a >= b),
        ":AND:": lambda a, b: float(bool(a) and bool(b)),
        ":OR:": lambda a, b: float(bool(a) or bool(b)),
    }
    calls = {
        "min": min,
        "max": max,
        "abs": abs,
        "integer": lambda a: float(int(a)),
        "if_then_else": None,
    }

    def value(key: str, owner: str, seen: tuple[str, ...]) -> float:
        if key in done:
            return done[key]
        if key in seen or key not in asts:
            raise ModelError(
                f"control variable refers to '{key}', which is not a constant "
                "(use a number, another control variable or a constant)",
                file=path,
                key=owner,
            )
        name, ast = asts[key]
        done[key] = evaluate(ast, name, (*seen, key))
        return done[key]

    def evaluate(ast, owner: str, seen: tuple[str, ...]) -> float:
        if _is_number(ast) and np.ndim(ast) == 0:
            return float(ast)
        if isinstance(ast, ae.ReferenceStructure) and ast.subscripts is None:
            if ast.reference == "time":
                raise ModelError(
                    "a control variable cannot depend on Time (use a number)",
                    file=path,
                    key=owner,
                )
            return value(ast.reference, owner, seen)
        args = [evaluate(a, owner, seen) for a in getattr(ast, "arguments", ())]
        if isinstance(ast, ae.ArithmeticStructure):
            if ast.operators == ["negative"]:
                return -args[0]
            if set(ast.operators) == {"^"}:  # right-associative
                out = args[-1]
                for a_ast, a in zip(reversed(ast.arguments[:-1]), reversed(args[:-1]), strict=True):
                    out = -((-a) ** out) if _is_number(a_ast) and a < 0 else a**out
                return out
            out = args[0]
            for op, b in zip(ast.operators, args[1:], strict=True):
                out = arith[op](out, b)
            return out
        if isinstance(ast, ae.LogicStructure):
            if ast.operators == [":NOT:"]:
                return float(not args[0])
            out = args[-1]
            for op, a in zip(reversed(ast.operators), reversed(args[:-1]), strict=True):
                out = logic[op](a, out)
            return out
        if isinstance(ast, ae.CallStructure) and ast.function.reference in calls:
            fname = ast.function.reference
            if fname == "if_then_else" and len(args) == 3:
                return args[1] if args[0] else args[2]
            return float(calls[fname](*args))
        raise ModelError(
            "control variables must be numbers or expressions of constants "
            "(+ - * / ^, comparisons, IF THEN ELSE, MIN, MAX, ABS, INTEGER)",
            file=path,
            key=owner,
        )

    out = {}
    for el in section.elements:
        if is_control(el):
            key = normalize(el.name)
            try:
                out[key] = value(key, el.name, ())
            except (ArithmeticError, ValueError, TypeError) as err:
                raise ModelError(
                    f"cannot evaluate control variable: {err}", file=path, key=el.name
                ) from None
    return out


@lru_cache(maxsize=16)
def _model_info_cached(path: str, sha: str) -> ModelInfo:
    from pysd.builders.python.namespace import NamespaceManager
    from pysd.translators.structures import abstract_model as am

    section, _ = abstract_section(path)
    ranges = range_table(section, path)
    # replay the PySD builder's namespace construction so py names are identical
    ns = NamespaceManager([])
    for el in section.elements:
        ns.add_to_namespace(el.name)
    flows = _stock_flow_refs(section)
    from pysd.translators.structures import abstract_expressions as ae

    control = _control_values(section, path)
    variables: dict[str, VariableInfo] = {}
    for el in section.elements:
        if is_control(el):
            continue
        dims = element_dims(el, ranges, path)
        shape = tuple(len(ranges[d]) for d in dims)
        comps = el.components
        default = None
        if any(isinstance(c, am.AbstractLookup) for c in comps):
            vtype = "lookup"
        elif any(isinstance(c.ast, ae.IntegStructure) for c in comps):
            vtype = "stock"
        elif all(_is_number(c.ast) for c in comps):
            vtype = "constant"
            default = np.full(shape, np.nan)
            for c in comps:
                idx = component_index(c.subscripts[0], dims, ranges, path, el.name)
                keep = except_mask(c, idx, dims, ranges, path, el.name)
                target = default[idx] if dims else default
                try:
                    value = np.asarray(c.ast, dtype=float)
                    # one number for a whole range is broadcast, a list must match
                    value = (
                        np.broadcast_to(value.ravel()[0], np.shape(target))
                        if value.size == 1
                        else value.reshape(np.shape(target))
                    )
                except ValueError:
                    raise ModelError(
                        f"constant list has {np.size(c.ast)} values, expected {np.size(target)}",
                        file=path,
                        key=el.name,
                    ) from None
                if keep is not None:
                    default[idx] = np.where(keep, value, default[idx])
                elif dims:
                    default[idx] = value
                else:
                    default = np.array(value, dtype=float)
        elif normalize(el.name) in flows:
            vtype = "flow"
        else:
            vtype = "auxiliary"
        variables[el.name] = VariableInfo(
            name=el.name,
            py_name=ns.namespace[el.name],
            dims=dims,
            units=el.units or "",
            comment=el.documentation or "",
            type=vtype,
            default=default,
            shape=shape,
        )
    missing = [c for c in CONTROL_NAMES if normalize(c) not in control]
    if not missing and not control["time_step"] > 0:
        raise ModelError("TIME STEP must be positive", file=path, key="TIME STEP")
    if missing:
        raise ModelError(f"missing control variables: {', '.join(missing)}", file=path)
    return ModelInfo(
        path=Path(path),
        sha256=sha,
        variables=variables,
        ranges=ranges,
        initial_time=control["initial_time"],
        final_time=control["final_time"],
        time_step=control["time_step"],
        saveper=control["saveper"],
        _by_key={normalize(n): n for n in variables},
    )


def model_file(text: str) -> Path:
    """Return a file holding the model text ``text``, written once per machine and content.

    The file is ``czsim-models-<user>/<sha256>.mdl`` in the system's temporary folder: a
    Dask worker given a model's text (not a path, which need not exist on its machine)
    parses and compiles it once, as both are cached by the content's sha256.
    """
    import getpass
    import tempfile

    from czsim.io import write_text

    data = text.encode("utf-8")
    sha = hashlib.sha256(data).hexdigest()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        user = str(os.getuid())
    path = Path(tempfile.gettempdir()) / f"czsim-models-{user}" / f"{sha}.mdl"
    if not (path.is_file() and file_sha256(path) == sha):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, text)  # atomic: another process may be writing the same file
    return path


def model_info(model_path: str | Path) -> ModelInfo:
    """Return the :class:`ModelInfo` of a .mdl file (parsed once per file content)."""
    path = Path(model_path).resolve()
    if not path.is_file():
        raise ModelError("model file not found", file=path)
    return _model_info_cached(str(path), file_sha256(path))
