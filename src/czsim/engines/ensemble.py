"""Vectorised ensemble engine: compiles PySD's abstract model to numpy source code.

Every model array carries a leading run axis (size ``n_runs``, or 1 when the value is the
same for all runs) followed by the variable's subscript axes, so one pass of the
generated code advances all runs. The generated function is built as Python source text
and ``exec``-ed once per (model, override names, output names); the time loop contains
only straight-line numpy statements.

Numerical semantics copy PySD 3.14 (pysd/py_backend): explicit Euler
``state + ddt*dt`` with all derivatives evaluated before any state is updated; time
accumulated ``t = t + dt``; outputs saved before each step and after the last one; SMOOTH
(N)/DELAY (N)/TREND/FORECAST/SAMPLE IF TRUE states and their initialisation as in
``statefuls.py``; STEP/RAMP/PULSE/XIDZ/ZIDZ/MODULO/INTEGER/ACTIVE INITIAL/GET TIME VALUE as
in ``functions.py``; lookups held flat outside their x range. Operators follow Vensim's
precedence as PySD parses it: ``^`` (right-associative) binds tighter than unary minus,
so ``-2^2 = -4`` and ``a^-b^c = a^(-(b^c))``; every sub-expression is parenthesised in
the generated code. Scalar arithmetic is done in numpy (``1/0`` is inf, not an error).

Supported besides: :EXCEPT:, subranges, subscript ranges used as values (element
positions from 1), ELMCOUNT, :NA: (NaN, as PySD), mappings onto whole ranges
(``B: b1, b2 -> A``).

Refused at compile time (ModelError naming the element and the function as Vensim spells
it, and what to do instead): every other function (e.g. RANDOM *, VECTOR *, GET XLS/
DIRECT *, ALLOCATE *, GAME, INVERT MATRIX), DELAY N with a delay time that changes during
the run, ACTIVE INITIAL inside a larger expression, GET TIME VALUE other than (0, offset,
0), non-negative INTEG, lookups of other than "interpolate" type, macros, mappings that
list elements. Refused at run time: DELAY FIXED lengths or DELAY/SMOOTH N orders (after
PySD's lowering) that differ between runs. Dependencies are tracked per variable, so an
equation using another element of its own variable (``X[a] = X[b] + 1``) is reported as
an algebraic loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from czsim.engines.inputs import RunInputs
from czsim.engines.model_info import (
    ModelInfo,
    abstract_section,
    component_index,
    except_mask,
    is_control,
    model_info,
    normalize,
)
from czsim.errors import ModelError

SMALL_VENSIM = 1e-6  # what PySD (and Vensim) treat as zero in XIDZ, ZIDZ, RAMP, PULSE
_VIEW_ABOVE = 65536  # time-invariant results with more values are returned as views


@dataclass(frozen=True)
class _Expr:
    """Generated code for a sub-expression.

    ``axes`` names the trailing axes after the run axis ("Range" or "Range!" for an axis
    to be reduced by SUM & co.). ``scalar`` marks values without any axis (literals,
    TIME, control values), which broadcast against everything as they are. ``static``
    marks values that cannot change during a run; inside time-dependent expressions they
    are hoisted out of the time loop (computed once, same operations, same result).
    """

    code: str
    axes: tuple[str, ...]
    scalar: bool
    static: bool = False  # constant over time (known in the second compiler pass only)


@dataclass
class _Stateful:
    """A state created by INTEG/SMOOTH*/DELAY*/INITIAL inside one component."""

    init: list[str]
    ddt: list[str]
    update: list[str]
    out: _Expr
    init_deps: set[str]
    out_deps: set[str]
    dynamic: bool


@dataclass
class _Var:
    key: str
    name: str
    ident: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    assign: list[str] = field(default_factory=list)
    statefuls: list[_Stateful] = field(default_factory=list)
    run_deps: set[str] = field(default_factory=set)
    init_deps: set[str] = field(default_factory=set)
    dynamic: bool = False
    direct: bool = False  # bound to its value; else a (R, *shape) buffer filled in place
    # ACTIVE INITIAL: the statements computing the value while initialising (else assign)
    init_assign: list[str] | None = None


_ELEMENTWISE = {
    # name: (number of args, format)
    "abs": (1, "np.abs({0})"),
    "exp": (1, "np.exp({0})"),
    "ln": (1, "np.log({0})"),
    "sqrt": (1, "np.sqrt({0})"),
    "sin": (1, "np.sin({0})"),
    "cos": (1, "np.cos({0})"),
    "tan": (1, "np.tan({0})"),
    "arcsin": (1, "np.arcsin({0})"),
    "arccos": (1, "np.arccos({0})"),
    "arctan": (1, "np.arctan({0})"),
    "sinh": (1, "np.sinh({0})"),
    "cosh": (1, "np.cosh({0})"),
    "tanh": (1, "np.tanh({0})"),
    "integer": (1, "np.trunc({0})"),
    "log": (2, "(np.log({0})/np.log({1}))"),
    "power": (2, "np.power({0}, {1})"),
    "min": (2, "np.minimum({0}, {1})"),
    "max": (2, "np.maximum({0}, {1})"),
    "modulo": (2, "_modulo({0}, {1})"),
    "quantum": (2, "_quantum({0}, {1})"),
    "if_then_else": (3, "np.where({0}, {1}, {2})"),
    "xidz": (3, f"np.where(np.abs({{1}}) < {SMALL_VENSIM}, {{2}}, {{0}} / {{1}})"),
    "zidz": (2, f"np.where(np.abs({{1}}) < {SMALL_VENSIM}, 0.0, {{0}} / {{1}})"),
    "step": (2, "({0} * (t + dt / 2 > {1}))"),
    "ramp": (3, f"((t + {SMALL_VENSIM} > {{1}}) * {{0}} * (np.minimum({{2}}, t) - {{1}}))"),
    "Xramp": (2, f"((t + {SMALL_VENSIM} > {{1}}) * {{0}} * (t - {{1}}))"),
    "pulse": (2, f"np.where(({{0}} - {SMALL_VENSIM} <= t) & (t < {{0}} + {{1}}), 1.0, 0.0)"),
    "pulse_train": (4, "_pulse_train(t, {0}, {1}, {2}, {3})"),
}
# ufunc.reduce is what np.sum & co. call, minus their Python wrapper's overhead
_REDUCERS = {
    "sum": "np.add.reduce",
    "prod": "np.multiply.reduce",
    "vmin": "np.minimum.reduce",
    "vmax": "np.maximum.reduce",
}
_ARITH = {"+": "+", "-": "-", "*": "*", "/": "/", "^": "**"}
_COMPARE = {"=": "==", "<>": "!=", ">": ">", "<": "<", ">=": ">=", "<=": "<="}
_CONTROL_KEYS = {
    "initial_time": "_t0",
    "final_time": "_tf",
    "time_step": "dt",
    "saveper": "_saveper",
}


def _is_number(ast) -> bool:
    return isinstance(ast, (int, float, np.number)) and not isinstance(ast, bool)


def _is_negative_literal(ast) -> bool:
    return _is_number(ast) and ast < 0


def _vensim_name(ref: str) -> str:
    return ref.upper().replace("_", " ")


_DATA_ADVICE = (
    "it does not read external data files: give the values as constants= or "
    "series= of czsim.engines.run (or write them into the model as numbers or a lookup)"
)
# PySD structure -> (Vensim's name, what to do instead)
_STRUCTURE_NAMES = {
    "GameStructure": ("GAME", "remove GAME (it only matters for interactive gaming)"),
    "AllocateAvailableStructure": ("ALLOCATE AVAILABLE", "use the PySD engine"),
    "AllocateByPriorityStructure": ("ALLOCATE BY PRIORITY", "use the PySD engine"),
    "GetLookupsStructure": ("GET XLS LOOKUPS / GET DIRECT LOOKUPS", _DATA_ADVICE),
    "GetDataStructure": ("GET XLS DATA / GET DIRECT DATA", _DATA_ADVICE),
    "GetConstantsStructure": ("GET XLS CONSTANTS / GET DIRECT CONSTANTS", _DATA_ADVICE),
    "DataStructure": ("a data variable (:= or an empty data equation)", _DATA_ADVICE),
}
_CALL_ADVICE = {
    "random": "give the random draws as per-run constants= of czsim.engines.run",
    "vector": "use the PySD engine",
    "invert_matrix": "use the PySD engine",
    "get_": _DATA_ADVICE,
}


def _refusal(ast, what: str = "function") -> str:
    """``unsupported function NAME in the ensemble engine: what to do instead`` for a
    PySD structure, with the function as Vensim spells it."""
    cls = type(ast).__name__
    name, advice = _STRUCTURE_NAMES.get(
        cls, (cls.replace("Structure", "").upper(), "use the PySD engine")
    )
    return f"unsupported {what} {name} in the ensemble engine: {advice}"


def _call_advice(fname: str) -> str:
    for prefix, advice in _CALL_ADVICE.items():
        if fname.startswith(prefix):
            return f": {advice}"
    return " (rewrite it with supported functions, or use the PySD engine)"


# ----------------------------------------------------------------------------------
# runtime helpers (visible to generated code)
def _modulo(x, m):
    # PySD: x - quantum(x, m); quantum(a, b) = a if b < SMALL else b*integer(a/b)
    return x - _quantum(x, m)


def _quantum(a, b):
    return np.where(b < SMALL_VENSIM, a, b * np.trunc(a / b))


def _pulse_train(t, start, repeat, width, end):
    single = (start - SMALL_VENSIM <= t) & (t < start + width)
    train = (start <= t) & (t < end) & (np.mod(t - start + SMALL_VENSIM, repeat) < width)
    return np.where(repeat == 0, single, train) * 1.0


def _full(shape, value):
    """A writable float64 array of ``shape`` filled with (broadcast) ``value``."""
    return np.array(np.broadcast_to(value, shape), dtype=float)


def _state(sizes, value):
    """A float64 state ``(r, *sizes)`` holding ``value``, where r is the run axis of
    ``value`` (1 if it is the same for all runs). Euler updates broadcast it to all runs
    as soon as a per-run value flows in; until then it costs one row, not n_runs."""
    r = np.shape(value)[0] if np.ndim(value) else 1
    return np.array(np.broadcast_to(value, (r, *sizes)), dtype=float)


def _uniform_int(values, what):
    vals = np.unique(np.asarray(values))
    if vals.size != 1:
        raise ModelError(
            f"{what} differs between runs or elements ({vals.tolist()}); the "
            "ensemble engine needs one value"
        )
    return int(vals[0])


def _delay_order(order, dt, delay_time, name):
    # PySD Delay.initialize: lower the order while order*dt > min(delay time)
    dtm = np.asarray(delay_time, dtype=float)
    orders = np.full(dtm.shape, int(order))
    for i, d in np.ndenumerate(dtm):
        while orders[i] * dt > d:
            orders[i] -= 1
    return _uniform_int(orders, f"{name}: delay order after PySD's lowering")


def _fixed_order(delay_time, dt, name):
    # PySD DelayFixed.initialize: round(max(delay/dt, 1) + SMALL), Python round per value
    orders = [
        round(max(d / dt, 1) + SMALL_VENSIM) for d in np.asarray(delay_time, dtype=float).ravel()
    ]
    return _uniform_int(orders, f"{name}: DELAY FIXED length")


def _sub_lookup(x, ids, xs, ys):
    """Subscripted lookup: element-wise ``np.interp(x, xs[i], ys[i])`` with ``i = ids``."""
    x, ids = np.broadcast_arrays(np.asarray(x, dtype=float), ids)
    out = np.empty(x.shape)
    for i in np.unique(ids):
        sel = ids == i
        out[sel] = np.interp(x[sel], xs[i], ys[i])
    return out


def _series(t, xp, fp):
    """``fp`` (rows, k, ...) interpolated at ``t`` like ``np.interp``: held flat outside."""
    if t <= xp[0]:
        return fp[:, 0]
    if t >= xp[-1]:
        return fp[:, -1]
    j = int(np.searchsorted(xp, t, side="right")) - 1
    slope = (fp[:, j + 1] - fp[:, j]) / (xp[j + 1] - xp[j])
    return slope * (t - xp[j]) + fp[:, j]


_HELPERS = {
    "np": np,
    "_uniform_int": _uniform_int,
    "_modulo": _modulo,
    "_quantum": _quantum,
    "_pulse_train": _pulse_train,
    "_full": _full,
    "_state": _state,
    "_delay_order": _delay_order,
    "_fixed_order": _fixed_order,
    "_series": _series,
    "_sub_lookup": _sub_lookup,
}


# ----------------------------------------------------------------------------------
class _Compiler:
    """Translates the abstract model into source text for one set of overrides."""

    def __init__(
        self,
        info: ModelInfo,
        constants: frozenset[str],
        series: frozenset[str],
        static_vars: frozenset[str] | None = None,
    ):
        from pysd.translators.structures import abstract_expressions as ae

        self.ae = ae
        self.info = info
        self.section, _ = abstract_section(info.path)
        self.ranges = info.ranges
        self.range_by_lower = {r.lower(): r for r in self.ranges}
        self.range_by_key = {normalize(r): r for r in self.ranges}
        # "A: a1, a2 -> B": range -> ranges it maps onto
        self.mappings = {
            r.name: tuple(r.mapping) for r in self.section.subscripts if getattr(r, "mapping", None)
        }
        self.globals: dict[str, object] = dict(_HELPERS)
        self.n_state = 0
        self.vars: dict[str, _Var] = {}
        self.lookups: dict[str, tuple[str, str]] = {}  # key -> names of (xs, ys) constants
        # key -> (name of table-id array, dims, names of the xs and ys lists)
        self.sub_lookups: dict[str, tuple[str, tuple[str, ...], str, str]] = {}
        self.constants, self.series = constants, series
        self._element: str | None = None
        # second pass only: which variables never change, so hoisting is possible
        self.static_vars = static_vars
        self.hoists: list[tuple[str, str, str | None]] = []  # (name, code, owner var key)
        self._mode = "init"
        elements = {}
        for el in self.section.elements:
            if is_control(el):
                continue
            key = normalize(el.name)
            elements[key] = el
            vi = info.variables[el.name]
            if vi.type == "lookup":
                self._add_lookup(el)
            else:
                self.vars[key] = _Var(key, el.name, f"v{len(self.vars)}", vi.dims, vi.shape)
        self.active_initial = {
            k
            for k, el in elements.items()
            if any(self._is_active_initial(c.ast) for c in el.components)
        }
        for key, var in self.vars.items():
            self._compile_var(var, elements[key])

    # -- helpers -------------------------------------------------------------------
    def error(self, msg: str) -> ModelError:
        return ModelError(msg, file=self.info.path, key=self._element)

    def const(self, value) -> str:
        name = f"K{len(self.globals)}"
        self.globals[name] = value
        return name

    def size(self, axis: str) -> int:
        return len(self.ranges[axis.rstrip("!")])

    def align(self, e: _Expr, target: tuple[str, ...]) -> str:
        """Code of ``e`` transposed/expanded to broadcast against ``(run, *target)``."""
        if e.scalar:
            return e.code
        missing = [a for a in e.axes if a not in target]
        if missing:
            same = [t for t in target if t not in e.axes and self.size(t) == self.size(missing[0])]
            hint = (
                f" (to use {missing[0]}'s elements in order for {same[0]}'s, declare the "
                f"mapping '{missing[0]}: ... -> {same[0]}')"
                if same
                else ""
            )
            raise self.error(
                f"subscript {missing[0]} of the expression does not match "
                f"the equation's subscripts {list(target)}{hint}"
            )
        order = sorted(e.axes, key=target.index)
        code = e.code if e.code.isidentifier() else f"({e.code})"
        if list(order) != list(e.axes):
            perm = [0] + [1 + e.axes.index(a) for a in order]
            code = f"{code}.transpose({', '.join(map(str, perm))})"
        if len(order) < len(target):
            code += "[:, " + ", ".join(":" if a in e.axes else "None" for a in target) + "]"
        return code

    @staticmethod
    def union(exprs) -> tuple[str, ...]:
        out: list[str] = []
        for e in exprs:
            out.extend(a for a in e.axes if a not in out)
        return tuple(out)

    def combine(self, fmt: str, args: list[_Expr]) -> _Expr:
        axes = self.union(args)
        static = all(a.static for a in args)
        if not static:
            args = [self.hoist(a) for a in args]
        codes = [f"({self.align(a, axes)})" for a in args]
        scalar = all(a.scalar for a in args)
        if scalar:
            # Python floats (TIME, literals) raise on 1/0 and give complex numbers for
            # (-8)**0.5; numpy gives inf and NaN, as for arrays
            codes[0] = f"np.float64{codes[0]}"
        return _Expr(fmt.format(*codes), axes, scalar, static)

    def hoist(self, e: _Expr) -> _Expr:
        """Replace a static computed sub-expression of time-loop code by a name bound once
        before the loop."""
        if not e.static or self.static_vars is None or e.code.isidentifier():
            return e
        try:
            float(e.code)
            return e  # a literal
        except ValueError:
            pass
        if self._mode == "ddt":
            owner = None
        elif self._mode == "run" and self._var.key in self.active_initial:
            return e
        elif self._mode == "run" and self._var.key not in self.static_vars:
            owner = self._var.key
        else:
            return e
        name = f"h{len(self.hoists)}"
        self.hoists.append((name, e.code, owner))
        return _Expr(name, e.axes, e.scalar, True)

    # -- lookups ---------------------------------------------------------------------
    def _add_lookup(self, el) -> None:
        self._element = el.name
        key = normalize(el.name)
        vi = self.info.variables[el.name]
        if not vi.dims:
            if len(el.components) != 1:
                raise self.error("a lookup without subscripts must have one definition")
            self.lookups[key] = self._table(el.components[0].ast)
            return
        # one table per element: the generated code picks them with an id array that is
        # subscripted like a variable (so lookup[Range!], elements and subranges work)
        ids = np.full(vi.shape, -1)
        tables: list[tuple[np.ndarray, np.ndarray]] = []
        for comp in el.components:
            if comp.subscripts[1]:
                raise self.error(":EXCEPT: subscripts are not supported")
            idx = component_index(comp.subscripts[0], vi.dims, self.ranges, self.info.path, el.name)
            ids[idx] = len(tables)
            tables.append(self._table_arrays(comp.ast))
        if np.any(ids < 0):
            raise self.error("lookup not defined for every element")
        self.sub_lookups[key] = (
            self.const(ids[None, ...]),
            vi.dims,
            self.const([t[0] for t in tables]),
            self.const([t[1] for t in tables]),
        )

    def _table_arrays(self, ast) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(ast, self.ae.LookupsStructure):
            raise self.error(_refusal(ast, "lookup definition"))
        if getattr(ast, "type", "interpolate") != "interpolate":
            raise self.error(f"lookup type '{ast.type}' is not supported")
        xs = np.asarray(ast.x, dtype=float)
        ys = np.asarray(ast.y, dtype=float)
        order = np.argsort(xs, kind="stable")  # PySD sorts lookups by x
        return xs[order], ys[order]

    def _table(self, ast) -> tuple[str, str]:
        xs, ys = self._table_arrays(ast)
        return self.const(xs), self.const(ys)

    def call_lookup(self, table: tuple[str, str], arg: _Expr) -> _Expr:
        return _Expr(
            f"np.interp({arg.code}, {table[0]}, {table[1]})", arg.axes, arg.scalar, arg.static
        )

    # -- variables -------------------------------------------------------------------
    def _compile_var(self, var: _Var, el) -> None:
        self._element = el.name
        if var.name in self.constants:
            var.assign.append(f"{var.ident} = C[{var.name!r}]")
            var.direct = True
            return
        if var.name in self.series:
            var.assign.append(f"{var.ident} = _series(t, S[{var.name!r}][0], S[{var.name!r}][1])")
            var.direct = True
            var.dynamic = True
            return
        self._var = var
        for comp in el.components:
            idx = component_index(
                comp.subscripts[0], var.dims, self.ranges, self.info.path, el.name
            )
            keep = except_mask(comp, idx, var.dims, self.ranges, self.info.path, el.name)
            target = []
            for s, i, d in zip(comp.subscripts[0], idx, var.dims, strict=True):
                if isinstance(i, slice):
                    target.append(d)
                elif isinstance(i, list):
                    target.append(self.range_by_lower[s.lower()])
            self._target = tuple(target)
            self._memo: dict[str, _Stateful] = {}
            if isinstance(comp.ast, np.ndarray):
                sizes = tuple(self.size(a) for a in target)
                try:
                    arr = np.asarray(comp.ast, dtype=float)
                    arr = (
                        np.full((1, *sizes), arr.ravel()[0])
                        if arr.size == 1
                        else arr.reshape((1, *sizes))
                    )
                except ValueError:
                    raise self.error(
                        f"constant list has {comp.ast.size} values, expected {int(np.prod(sizes))}"
                    ) from None
                expr = _Expr(self.const(arr), self._target, False, True)
            elif self._is_active_initial(comp.ast):
                self._active_initial(var, comp.ast, idx, keep)
                continue
            else:
                expr = self.expr(comp.ast, "run")
            if var.init_assign is not None:
                var.init_assign.append(None)  # same statement as assign, filled in below
            if keep is not None:
                # :EXCEPT: writes only the elements the component keeps
                ix = self._index_code(idx)
                var.assign.append(
                    f"{var.ident}{ix} = np.where({self.const(keep[None, ...])}, "
                    f"{self.align(expr, self._target)}, {var.ident}{ix})"
                )
            elif (
                len(el.components) == 1
                and not expr.scalar
                and all(isinstance(i, slice) for i in idx)
                and set(expr.axes) == set(self._target)
            ):
                # the value already has every subscript axis, so bind it without a copy
                # into a buffer; its run axis may be 1 (same for all runs) and
                # broadcasts wherever it is used
                var.direct = True
                var.assign.append(f"{var.ident} = {self.align(expr, self._target)}")
            else:
                var.assign.append(
                    f"{var.ident}{self._index_code(idx)} = {self.align(expr, self._target)}"
                )

    def _is_active_initial(self, ast) -> bool:
        return isinstance(ast, self.ae.CallStructure) and ast.function.reference == "active_initial"

    def _active_initial(self, var: _Var, ast, idx, keep) -> None:
        """``X = ACTIVE INITIAL(expr, init)``: ``init`` while the model is initialised
        (stock initial values see it), ``expr`` from the first saved time on (PySD's
        ``active_initial`` with the model's stage). Only ``init``'s references order
        the initialisation, which is how ACTIVE INITIAL breaks initialisation loops."""
        if len(ast.arguments) != 2:
            raise self.error(f"ACTIVE INITIAL takes 2 arguments, got {len(ast.arguments)}")
        if var.init_assign is None:
            var.init_assign = [None] * len(var.assign)
        saved = set(var.init_deps)
        run_e = self.expr(ast.arguments[0], "run")
        var.init_deps = saved
        init_e = self.expr(ast.arguments[1], "init")
        var.dynamic = True  # its value changes at the end of initialisation
        ix = self._index_code(idx)
        for exp, out in ((run_e, var.assign), (init_e, var.init_assign)):
            code = self.align(exp, self._target)
            if keep is not None:
                code = f"np.where({self.const(keep[None, ...])}, {code}, {var.ident}{ix})"
            out.append(f"{var.ident}{ix} = {code}")

    def _index_code(self, idx: tuple) -> str:
        if all(isinstance(i, slice) for i in idx):
            return "[...]"
        parts = [":"]
        fancy = 0
        for i in idx:
            if isinstance(i, slice):
                parts.append(":")
            elif isinstance(i, int):
                parts.append(str(i))
            elif i == list(range(i[0], i[0] + len(i))):  # contiguous subrange -> slice
                parts.append(f"{i[0]}:{i[0] + len(i)}")
            else:
                fancy += 1
                parts.append(str(i))
        if fancy and (fancy > 1 or any(isinstance(i, int) for i in idx)):
            raise self.error(
                "non-contiguous subranges combined with other element selections are not supported"
            )
        return "[" + ", ".join(parts) + "]"

    # -- expressions -----------------------------------------------------------------
    def ref(self, key: str, subs, mode: str) -> _Expr:
        if key == "time":
            if mode == "run":
                self._var.dynamic = True
            return _Expr("t", (), True)
        if key in _CONTROL_KEYS:
            return _Expr(_CONTROL_KEYS[key], (), True, True)
        if key in self.lookups or key in self.sub_lookups:
            raise self.error(f"lookup '{key}' used without an argument")
        if key not in self.vars and key in self.range_by_key:
            # a subscript range used as a value: each element's position, from 1, in
            # the largest range containing it (a subrange counts in its parent, as PySD)
            r = self.range_by_key[key]
            if subs is not None:
                raise self.error(f"subscript range {r} used as a value cannot be subscripted")
            elems = [e.lower() for e in self.ranges[r]]
            parent = max(
                (p for p, el in self.ranges.items() if set(elems) <= {e.lower() for e in el}),
                key=lambda p: len(self.ranges[p]),
            )
            full = [e.lower() for e in self.ranges[parent]]
            positions = np.array([[full.index(e) + 1.0 for e in elems]])
            return _Expr(self.const(positions), (r,), False, True)
        if key not in self.vars:
            raise self.error(f"unknown variable '{key}'")
        if mode == "run":
            self._var.run_deps.add(key)
        if mode in ("run", "init"):
            self._var.init_deps.add(key)
        var = self.vars[key]
        static = self.static_vars is not None and key in self.static_vars
        return self.subscripted(var.ident, var.name, var.dims, subs, static)

    def subscripted(
        self, ident: str, name: str, dims: tuple[str, ...], subs, static: bool
    ) -> _Expr:
        """Select the subscripts ``subs`` (a SubscriptsReferenceStructure or None for
        all) of the array ``ident`` with dims ``dims``."""
        if subs is None:
            return _Expr(ident, dims, False, static)
        subs = list(subs.subscripts)
        if len(subs) != len(dims):
            raise self.error(f"'{name}' has {len(dims)} subscripts, referenced with {len(subs)}")
        basic, takes, axes = [":"], [], []
        for s, d in zip(subs, dims, strict=True):
            bang = s.endswith("!")
            r = self.range_by_lower.get(s.rstrip("!").lower())
            full = [e.lower() for e in self.ranges[d]]
            if r is None:
                if bang or s.lower() not in full:
                    raise self.error(f"'{s}' is not an element or range of {d}")
                basic.append(str(full.index(s.lower())))
                continue
            target = getattr(self, "_target", ())
            mapped = [
                t for t in target if t in self.mappings.get(r, ()) and self.size(t) == self.size(r)
            ]
            if not bang and r not in target and mapped:
                # a mapping "R: ... -> T" lets R's elements stand, in order, for T's in an
                # equation over T (PySD's reading)
                if r != d:
                    raise self.error(
                        f"range {r} is mapped to {mapped[0]} but is not {d} itself "
                        "(mapped subranges are not supported)"
                    )
                if mapped[0] in axes:
                    raise self.error(f"range {mapped[0]} used twice in one reference")
                basic.append(":")
                axes.append(mapped[0])
                continue
            axis_name = r + ("!" if bang else "")
            if axis_name in axes:
                raise self.error(f"range {r} used twice in one reference")
            basic.append(":")
            if r != d:
                try:
                    pos = [full.index(e.lower()) for e in self.ranges[r]]
                except ValueError:
                    raise self.error(
                        f"range {r} is not {d} or a subrange of it "
                        "(range mappings are not supported)"
                    ) from None
                takes.append((len(axes) + 1, pos))
            axes.append(axis_name)
        code = ident + ("" if all(b == ":" for b in basic) else "[" + ", ".join(basic) + "]")
        for axis, pos in takes:
            code = f"np.take({code}, {self.const(np.array(pos))}, axis={axis})"
        return _Expr(code, tuple(axes), False, static)

    def expr(self, ast, mode: str) -> _Expr:
        """Compile ``ast``; ``mode`` says when the code runs: "run" (the equation),
        "init" (initial values only) or "ddt" (derivatives only)."""
        prev, self._mode = self._mode, mode
        try:
            return self._expr(ast, mode)
        finally:
            self._mode = prev

    def _expr(self, ast, mode: str) -> _Expr:
        ae = self.ae
        if isinstance(ast, (int, float, np.number)) and not isinstance(ast, bool):
            if np.isnan(ast):  # :NA:
                return _Expr("np.nan", (), True, True)
            return _Expr(repr(float(ast)), (), True, True)
        if isinstance(ast, ae.ReferenceStructure):
            return self.ref(ast.reference, ast.subscripts, mode)
        if isinstance(ast, ae.ArithmeticStructure):
            args = [self.expr(a, mode) for a in ast.arguments]
            if len(args) == 1:
                if ast.operators[0] != "negative":
                    raise self.error(f"unsupported unary operator {ast.operators[0]}")
                # the operand is parenthesised: its code may be a sum ("-(a + b)")
                return _Expr(f"(-({args[0].code}))", args[0].axes, args[0].scalar, args[0].static)
            if "^" in ast.operators:
                return self.power_chain(ast, args)
            fmt = "{0}" + "".join(
                f" {_ARITH[op]} {{{i + 1}}}" for i, op in enumerate(ast.operators)
            )
            return self.combine(fmt, args)
        if isinstance(ast, ae.LogicStructure):
            args = [self.expr(a, mode) for a in ast.arguments]
            if len(args) == 1:
                if ast.operators[0] != ":NOT:":
                    raise self.error(f"unsupported unary operator {ast.operators[0]}")
                return self.combine("np.logical_not({0})", args)
            # PySD folds logical chains from the right
            right = args[-1]
            for op, left in zip(reversed(ast.operators), reversed(args[:-1]), strict=True):
                if op == ":AND:":
                    right = self.combine("np.logical_and({0}, {1})", [left, right])
                elif op == ":OR:":
                    right = self.combine("np.logical_or({0}, {1})", [left, right])
                elif op in _COMPARE:
                    right = self.combine(f"({{0}} {_COMPARE[op]} {{1}})", [left, right])
                else:
                    raise self.error(f"unsupported operator {op}")
            return right
        if isinstance(ast, ae.CallStructure):
            return self.call(ast, mode)
        if isinstance(ast, ae.InlineLookupsStructure):
            return self.call_lookup(self._table(ast.lookups), self.expr(ast.argument, mode))
        if isinstance(
            ast,
            (
                ae.IntegStructure,
                ae.SmoothStructure,
                ae.DelayStructure,
                ae.DelayFixedStructure,
                ae.InitialStructure,
                ae.SmoothNStructure,
                ae.DelayNStructure,
                ae.TrendStructure,
                ae.ForecastStructure,
                ae.SampleIfTrueStructure,
            ),
        ):
            return self.stateful(ast, mode)
        raise self.error(_refusal(ast))

    def power_chain(self, ast, args: list[_Expr]) -> _Expr:
        """``a ^ b ^ c`` (PySD gives ``^`` its own node, or a chain of ``^`` only).

        ``^`` is right-associative, and PySD's parser folds a unary minus into the
        number after it, so ``-2^2`` arrives as the base ``-2``: Vensim (and PySD's
        generated ``-2**2``) read it as ``-(2^2)``, so a negative literal base is
        negated after the power: ``-(2.0 ** rhs)``. Built from the right, as PySD does.
        """
        if set(ast.operators) != {"^"}:
            raise self.error(f"unexpected operator mix {ast.operators} in one power chain")
        right = args[-1]
        for left_ast, left in zip(reversed(ast.arguments[:-1]), reversed(args[:-1]), strict=True):
            if _is_negative_literal(left_ast):
                base = _Expr(repr(-float(left_ast)), (), True, True)
                right = self.combine("(-({0} ** {1}))", [base, right])
            else:
                right = self.combine("({0} ** {1})", [left, right])
        return right

    def call(self, ast, mode: str) -> _Expr:
        fname = ast.function.reference
        if fname in self.sub_lookups:
            if len(ast.arguments) != 1:
                raise self.error(f"lookup '{fname}' needs exactly one argument")
            ids, dims, xs, ys = self.sub_lookups[fname]
            which = self.subscripted(ids, fname, dims, ast.function.subscripts, True)
            arg = self.expr(ast.arguments[0], mode)
            return self.combine(f"_sub_lookup({{0}}, {{1}}, {xs}, {ys})", [arg, which])
        if fname in self.lookups:
            if ast.function.subscripts is not None or len(ast.arguments) != 1:
                raise self.error(f"lookup '{fname}' needs exactly one argument")
            return self.call_lookup(self.lookups[fname], self.expr(ast.arguments[0], mode))
        if fname in _REDUCERS:
            if len(ast.arguments) != 1:
                raise self.error(f"{_vensim_name(fname)} takes one argument")
            arg = self.expr(ast.arguments[0], mode)
            red = [i + 1 for i, a in enumerate(arg.axes) if a.endswith("!")]
            if not red:
                raise self.error(f"{_vensim_name(fname)} needs a 'Range!' subscript")
            keep = tuple(a for a in arg.axes if not a.endswith("!"))
            code = f"{_REDUCERS[fname]}({arg.code}, axis={tuple(red)})"
            return _Expr(code, keep, False, arg.static)
        if fname in _ELEMENTWISE:
            nargs, fmt = _ELEMENTWISE[fname]
            if fname == "ramp" and len(ast.arguments) == 2:
                nargs, fmt = _ELEMENTWISE["Xramp"]
            if len(ast.arguments) != nargs:
                raise self.error(
                    f"{_vensim_name(fname)} takes {nargs} arguments, got {len(ast.arguments)}"
                )
            if fname in ("step", "ramp", "pulse", "pulse_train") and mode == "run":
                self._var.dynamic = True
            args = [self.expr(a, mode) for a in ast.arguments]
            if (
                fname == "if_then_else"
                and args[0].scalar
                and args[1].axes == args[2].axes
                and args[1].scalar == args[2].scalar
            ):
                # a condition without run/subscript axes picks one branch for all runs;
                # evaluating only that branch is what PySD does, and cheaper
                static = all(a.static for a in args)
                if not static:
                    args = [self.hoist(a) for a in args]
                return _Expr(
                    f"({args[1].code} if {args[0].code} else {args[2].code})",
                    args[1].axes,
                    args[1].scalar,
                    static,
                )
            return self.combine(fmt, args)
        if fname == "pi":
            return _Expr("np.pi", (), True, True)
        if fname == "active_initial":
            raise self.error(
                "ACTIVE INITIAL is supported as the whole equation (X = ACTIVE INITIAL(expr, "
                "init)), not inside an expression: give it an auxiliary of its own"
            )
        if fname == "elmcount":
            arg = ast.arguments[0] if len(ast.arguments) == 1 else None
            key = getattr(arg, "reference", None)
            if key not in self.range_by_key:
                raise self.error("ELMCOUNT takes the name of a subscript range")
            return _Expr(repr(float(self.size(self.range_by_key[key]))), (), True, True)
        if fname == "get_time_value":
            args = ast.arguments
            if (
                len(args) != 3
                or not all(_is_number(a) for a in (args[0], args[2]))
                or args[0] != 0
                or args[2] != 0
            ):
                raise self.error(
                    "GET TIME VALUE is supported as GET TIME VALUE(0, offset, 0) (model time "
                    "plus offset); other 'relative to' and 'measure' values read the "
                    "computer's clock or are not implemented by PySD: use TIME instead"
                )
            if mode == "run":
                self._var.dynamic = True
            return self.combine("{0} + {1}", [_Expr("t", (), True), self.expr(args[1], mode)])
        raise self.error(
            f"unsupported function {_vensim_name(fname)} in the ensemble engine"
            + _call_advice(fname)
        )

    # -- statefuls -------------------------------------------------------------------
    def stateful(self, ast, mode: str) -> _Expr:
        # PySD gives SMOOTH's input and initial value as equal ASTs; keying on the text
        # lets both uses share one state instead of integrating it twice
        key = repr(ast)
        st = self._memo.get(key)
        if st is None:
            st = self._build_stateful(ast)
            self._memo[key] = st
            self._var.statefuls.append(st)
        self._var.init_deps |= st.init_deps
        if mode == "run":
            self._var.run_deps |= st.out_deps
            self._var.dynamic |= st.dynamic
        if mode in ("run", "init"):
            self._var.init_deps |= st.out_deps
        return st.out

    def _sub(self, ast, deps: set[str]) -> _Expr:
        """Compile an argument of a stateful, collecting its references into ``deps``."""
        var = self._var
        saved = (var.run_deps, var.init_deps, var.dynamic)
        var.run_deps, var.init_deps = set(), set()
        try:
            e = self.expr(ast, "init")
            deps |= var.init_deps
        finally:
            var.run_deps, var.init_deps, var.dynamic = saved
        return e

    def _ddt(self, ast) -> _Expr:
        """Compile an argument only evaluated when computing derivatives (no ordering)."""
        var = self._var
        saved = var.init_deps
        var.init_deps = set()
        try:
            e = self.expr(ast, "ddt")
            stateful_init = var.init_deps
        finally:
            var.init_deps = saved
        var.init_deps |= stateful_init
        prev, self._mode = self._mode, "ddt"
        try:
            return self.hoist(e)
        finally:
            self._mode = prev

    def _build_stateful(self, ast) -> _Stateful:
        ae = self.ae
        n = self.n_state
        self.n_state += 1
        s, d = f"s{n}", f"d{n}"
        init_deps: set[str] = set()
        out_deps: set[str] = set()
        if isinstance(ast, ae.IntegStructure):
            if ast.non_negative:
                raise self.error("unsupported function INTEG with non-negative option")
            flow = self._ddt(ast.flow)
            init = self._sub(ast.initial, init_deps)
            axes = self.union([flow, init])
            shp = self._shape_code(axes)
            return _Stateful(
                [f"{s} = _state({self._sizes(axes)}, {self.align(init, axes)})"],
                [f"{d} = {self.align(flow, axes)}"],
                [f"{s} = {s} + {d} * dt"],
                _Expr(s, axes, False),
                init_deps,
                out_deps,
                True,
            )
        if isinstance(ast, ae.InitialStructure):
            init = self._sub(ast.initial, init_deps)
            shp = self._shape_code(init.axes)
            return _Stateful(
                [f"{s} = _state({self._sizes(init.axes)}, {init.code})"],
                [],
                [],
                _Expr(s, init.axes, False, self.static_vars is not None),
                init_deps,
                out_deps,
                False,
            )
        if isinstance(ast, (ae.SmoothStructure, ae.SmoothNStructure)):
            inp = self._ddt(ast.input)
            stime = self._ddt(ast.smooth_time)
            init = self._sub(ast.initial, init_deps)
            axes = self.union([inp, stime, init])
            first = []
            if _is_number(ast.order):
                order = int(ast.order)
            else:  # SMOOTH N: the order is evaluated once, at initialisation (PySD)
                order_e = self._sub(ast.order, init_deps)
                order = f"o{n}"
                first.append(f"o{n} = _uniform_int({order_e.code}, 'SMOOTH N order')")
            shp = self._shape_code(axes, f"{order}, ")
            return _Stateful(
                [*first, f"{s} = _full({shp}, {self.align(init, axes)})"],
                # np.roll(state, 1, axis=0) with the input in front, as PySD, without
                # np.roll's overhead
                [
                    f"_tg = np.empty_like({s})",
                    f"_tg[1:] = {s}[:-1]",
                    f"_tg[0] = {self.align(inp, axes)}",
                    f"{d} = (_tg - {s}) * {order} / {self.align(stime, axes)}",
                ],
                [f"{s} = {s} + {d} * dt"],
                _Expr(f"{s}[-1]", axes, False),
                init_deps,
                out_deps,
                True,
            )
        if isinstance(ast, (ae.DelayStructure, ae.DelayNStructure)):
            inp = self._ddt(ast.input)
            dtime = self._sub(ast.delay_time, out_deps)
            init = self._sub(ast.initial, init_deps)
            init_deps |= out_deps
            if _is_number(ast.order):
                order = str(int(ast.order))
            else:  # DELAY N: the order is evaluated once, at initialisation (PySD)
                order = f"_uniform_int({self._sub(ast.order, init_deps).code}, 'DELAY N order')"
            if (
                isinstance(ast, ae.DelayNStructure)
                and self.static_vars is not None
                and not dtime.static
            ):
                # PySD's DELAY N lags the delay time through its stages; with a constant
                # delay time that is DELAY3's arithmetic, which is what is generated here
                raise self.error(
                    "DELAY N with a delay time that changes during the run is not "
                    "supported by the ensemble engine (use a constant delay time, or the "
                    "PySD engine)"
                )
            axes = self.union([inp, dtime, init])
            dt_code = self.align(dtime, axes)
            shp = self._shape_code(axes, f"o{n}, ")
            return _Stateful(
                [
                    f"o{n} = _delay_order({order}, dt, {dtime.code}, {self._element!r})",
                    f"{s} = _full({shp}, ({self.align(init, axes)}) * ({dt_code}))",
                ],
                [
                    f"_of = {s} / ({dt_code})",
                    "_if = np.empty_like(_of)",
                    "_if[1:] = _of[:-1]",
                    f"_if[0] = {self.align(inp, axes)}",
                    f"{d} = (_if - _of) * o{n}",
                ],
                [f"{s} = {s} + {d} * dt"],
                _Expr(f"({s}[-1] / ({dt_code}))", axes, False),
                init_deps,
                out_deps,
                True,
            )
        if isinstance(ast, ae.DelayFixedStructure):
            inp = self._ddt(ast.input)
            dtime = self._sub(ast.delay_time, init_deps)
            init = self._sub(ast.initial, init_deps)
            axes = self.union([inp, init])
            if dtime.axes:
                raise self.error("DELAY FIXED with a subscripted delay time is not supported")
            shp = self._shape_code(axes, f"o{n}, ")
            return _Stateful(
                [
                    f"o{n} = _fixed_order({dtime.code}, dt, {self._element!r})",
                    f"p{n} = _full({shp}, {self.align(init, axes)})",
                    f"q{n} = 0",
                    f"{s} = p{n}[0]",
                ],
                [f"{d} = {self.align(inp, axes)}"],
                [f"p{n}[q{n}] = {d}", f"q{n} = (q{n} + 1) % o{n}", f"{s} = p{n}[q{n}]"],
                _Expr(s, axes, False),
                init_deps,
                out_deps,
                True,
            )
        if isinstance(ast, (ae.TrendStructure, ae.ForecastStructure)):
            # PySD statefuls.Trend/Forecast: AV integrates (input - AV) / average time
            inp = self._ddt(ast.input)
            atime = self._ddt(ast.average_time)
            inp_i = self._sub(ast.input, init_deps)
            at_i = self._sub(ast.average_time, init_deps)
            trend_i = self._sub(ast.initial_trend, init_deps)
            inp_o = self._sub(ast.input, out_deps)
            at_o = self._sub(ast.average_time, out_deps)
            parts = [inp, atime, inp_i, at_i, trend_i, inp_o, at_o]
            trend = isinstance(ast, ae.TrendStructure)
            if not trend:
                horizon = self._sub(ast.horizon, out_deps)
                parts.append(horizon)
            axes = self.union(parts)

            def a(e: _Expr) -> str:
                return f"({self.align(e, axes)})"

            if trend:
                av0 = f"{a(inp_i)} / (1 + {a(trend_i)} * {a(at_i)})"
                den = f"{a(at_o)} * np.abs({s})"
            else:
                av0 = f"{a(inp_i)} / (1 + {a(trend_i)})"
                den = f"{a(at_o)} * {s}"
            ratio = f"np.where(np.abs({den}) < {SMALL_VENSIM}, 0.0, ({a(inp_o)} - {s}) / ({den}))"
            out = ratio if trend else f"{a(inp_o)} * (1 + {ratio} * {a(horizon)})"
            return _Stateful(
                [f"{s} = _state({self._sizes(axes)}, {av0})"],
                [f"{d} = ({a(inp)} - {s}) / {a(atime)}"],
                [f"{s} = {s} + {d} * dt"],
                _Expr(f"({out})", axes, False),
                init_deps,
                out_deps,
                True,
            )
        if isinstance(ast, ae.SampleIfTrueStructure):
            # PySD statefuls.SampleIfTrue: the value is the input while the condition
            # holds, else the last sampled one; the state samples at each step's end
            cond = self._ddt(ast.condition)
            inp = self._ddt(ast.input)
            init = self._sub(ast.initial, init_deps)
            cond_o = self._sub(ast.condition, out_deps)
            inp_o = self._sub(ast.input, out_deps)
            axes = self.union([cond, inp, init, cond_o, inp_o])

            def a(e: _Expr) -> str:
                return f"({self.align(e, axes)})"

            return _Stateful(
                [f"{s} = _state({self._sizes(axes)}, {a(init)})"],
                [f"{d} = np.where({a(cond)}, {a(inp)}, {s})"],
                [f"{s} = {d}"],
                _Expr(f"np.where({a(cond_o)}, {a(inp_o)}, {s})", axes, False),
                init_deps,
                out_deps,
                True,
            )
        raise self.error(_refusal(ast))

    def _sizes(self, axes: tuple[str, ...]) -> str:
        return "(" + "".join(f"{self.size(a)}, " for a in axes) + ")"

    def _shape_code(self, axes: tuple[str, ...], lead: str = "") -> str:
        sizes = "".join(f" {self.size(a)}," for a in axes)
        return f"({lead}R,{sizes})"


# ----------------------------------------------------------------------------------
def _toposort(nodes: dict[str, set[str]], names: dict[str, str], what: str, path) -> list[str]:
    """Depth-first topological order (file order among independent nodes)."""
    order: list[str] = []
    position = {k: i for i, k in enumerate(nodes)}
    state: dict[str, int] = {}
    stack_path: list[str] = []

    def visit(k: str) -> None:
        st = state.get(k)
        if st == 2:
            return
        if st == 1:
            loop = [*stack_path[stack_path.index(k) :], k]
            raise ModelError(
                f"algebraic loop ({what}): " + " -> ".join(names[x] for x in loop),
                file=path,
                key=names[k],
            )
        state[k] = 1
        stack_path.append(k)
        for dep in sorted(nodes[k], key=position.__getitem__):
            visit(dep)
        stack_path.pop()
        state[k] = 2
        order.append(k)

    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(nodes) + 100))
    try:
        for k in nodes:
            visit(k)
    finally:
        sys.setrecursionlimit(limit)
    return order


@dataclass(frozen=True)
class CompiledModel:
    """A generated simulation function for one (model, overrides, outputs) signature."""

    source: str
    simulate: object
    dynamic_outputs: tuple[str, ...]


def _generate(
    info: ModelInfo, constants: frozenset[str], series: frozenset[str], outputs: tuple[str, ...]
) -> CompiledModel:
    # pass 1 finds the order and which variables change over time; pass 2 generates the
    # same code with time-invariant sub-expressions hoisted out of the time loop
    static_vars = None
    for _ in range(2):
        comp = _Compiler(info, constants, series, static_vars)
        vs = comp.vars
        names = {k: v.name for k, v in vs.items()}
        run_order = _toposort({k: v.run_deps for k, v in vs.items()}, names, "equations", info.path)
        init_order = _toposort(
            {k: v.init_deps for k, v in vs.items()}, names, "initial values", info.path
        )
        # a variable is dynamic if it changes over time itself or through a dependency
        for k in run_order:
            vs[k].dynamic |= any(vs[d].dynamic for d in vs[k].run_deps)
        static_vars = frozenset(k for k, v in vs.items() if not v.dynamic)
    hoisted: dict[str | None, list[str]] = {}
    for name, code, owner in comp.hoists:
        hoisted.setdefault(owner, []).append(f"{name} = {code}")
    statefuls = [st for k in vs for st in vs[k].statefuls]
    lines = [
        "def simulate(R, T, save_steps, C, S, OUT, dt, _t0, _tf, _saveper):",
        "  with np.errstate(all='ignore'):",
    ]
    body: list[str] = []
    for v in vs.values():
        if not v.direct:
            body.append(f"{v.ident} = np.full((R,{''.join(f' {n},' for n in v.shape)}), np.nan)")
    body.append("t = T[0]")
    for k in init_order:
        for st in vs[k].statefuls:
            body.extend(st.init)
        init_assign = vs[k].init_assign
        if init_assign is None:
            body.extend(hoisted.get(k, ()))  # may use this variable's INITIAL states
            body.extend(vs[k].assign)
        else:  # ACTIVE INITIAL
            # (no hoisting in these variables: their equations may use what is not
            # initialised yet)
            body.extend(
                i if i is not None else a for i, a in zip(init_assign, vs[k].assign, strict=True)
            )
    body.extend(hoisted.get(None, ()))  # used only by derivatives, in the loop
    if any(v.init_assign is not None for v in vs.values()):
        # initialisation is over: ACTIVE INITIAL variables take their equations, and
        # what depends on them is computed again before the first save, as in PySD
        for k in run_order:
            if vs[k].dynamic:
                body.extend(vs[k].assign)
    # variables that never change are returned once (as broadcast views), not saved
    by_name = {v.name: v for v in vs.values()}
    dynamic_outputs = tuple(n for n in outputs if by_name[n].dynamic)
    out_idx = {name: i for i, name in enumerate(dynamic_outputs)}
    save = [f"O{out_idx[v.name]}[_k] = {v.ident}" for v in vs.values() if v.name in out_idx]
    body.append("O = [OUT[n] for n in OUT_NAMES]")
    body.extend(f"O{i} = O[{i}]" for i in range(len(dynamic_outputs)))
    body.append("_next = 0")
    body.append("_nsave = len(save_steps)")
    body.append("for _i in range(len(T)):")
    loop = []
    loop.append("if _i:")
    step = []
    for st in statefuls:
        step.extend(st.ddt)
    for st in statefuls:
        step.extend(st.update)
    step.append("t = T[_i]")
    for k in run_order:
        if vs[k].dynamic:
            step.extend(vs[k].assign)
    loop.extend("  " + s for s in (step or ["pass"]))
    loop.append("if _next < _nsave and save_steps[_next] == _i:")
    loop.extend("  " + s for s in ["_k = _next", *save, "_next += 1"])
    body.extend("  " + s for s in loop)
    body.append(
        "return {"
        + ", ".join(f"{n!r}: {by_name[n].ident}" for n in outputs if not by_name[n].dynamic)
        + "}"
    )
    lines.extend("    " + s for s in body)
    source = "\n".join(lines) + "\n"
    glb = dict(comp.globals)
    glb["OUT_NAMES"] = dynamic_outputs
    exec(compile(source, f"<czsim ensemble {info.path.name}>", "exec"), glb)
    return CompiledModel(source=source, simulate=glb["simulate"], dynamic_outputs=dynamic_outputs)


@lru_cache(maxsize=64)
def _starts(sizes: tuple[int, ...], nt: int) -> np.ndarray:
    """Offsets of every (variable, saved time) block in the flat output buffer."""
    offsets = np.cumsum([0, *sizes[:-1]])
    return np.concatenate(
        [o + np.arange(nt) * (size // nt) for o, size in zip(offsets, sizes, strict=True)]
    )


@lru_cache(maxsize=64)
def compiled(
    path: str, sha: str, constants: frozenset[str], series: frozenset[str], outputs: tuple[str, ...]
) -> CompiledModel:
    """Compile (once per process and signature) the model at ``path`` with content ``sha``."""
    return _generate(model_info(path), constants, series, outputs)


def check(model_path) -> None:
    """Compile the model with no overrides; raise :class:`ModelError` if unsupported."""
    info = model_info(model_path)
    compiled(str(info.path), info.sha256, frozenset(), frozenset(), ())


def run(info: ModelInfo, inputs: RunInputs) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run all runs of ``inputs`` in one vectorised pass.

    Returns
    -------
    dict of str to numpy.ndarray
        Real name -> float64 array ``(n_runs, n_times, *shape)``.
    dict of str to numpy.ndarray
        The variables that may hold NaN or infinity, with the indices of the saved times
        where they may (empty: every value is finite).
    """
    model = compiled(
        str(info.path),
        info.sha256,
        frozenset(inputs.constants),
        frozenset(inputs.series),
        inputs.variables,
    )
    nt = len(inputs.times)
    # time-major buffers make every save one contiguous copy; the (run, time, ...)
    # result is a transposed view of them. All of them are slices of one flat block, so
    # one reduction afterwards tells whether any saved value is NaN or infinite.
    shapes = [(nt, inputs.n_runs, *info.variables[n].shape) for n in model.dynamic_outputs]
    sizes = [math.prod(s) for s in shapes]
    block = np.empty(sum(sizes))
    out = {}
    offset = 0
    for n, shape, size in zip(model.dynamic_outputs, shapes, sizes, strict=True):
        out[n] = block[offset : offset + size].reshape(shape)
        offset += size
    static = model.simulate(
        inputs.n_runs,
        inputs.step_times.tolist(),
        inputs.save_steps.tolist(),
        inputs.constants,
        inputs.series,
        out,
        inputs.time_step,
        info.initial_time,
        inputs.final_time,
        info.saveper,
    )
    result = {n: a.swapaxes(0, 1) for n, a in out.items()}
    # a sum is NaN or infinite if any term is (or, rarely, if it overflows: then the
    # caller's exact check finds nothing); one pass gives the sum of every (variable,
    # saved time), so only the suspects are looked at again
    suspects: dict[str, np.ndarray] = {}
    if block.size:
        bad = ~np.isfinite(np.add.reduceat(block, _starts(tuple(sizes), nt)))
        bad = bad.reshape(len(sizes), nt)
        if bad.any():
            for i in np.flatnonzero(bad.any(axis=1)):
                suspects[model.dynamic_outputs[i]] = np.flatnonzero(bad[i])
    small_static: list[np.ndarray] = []
    for n, value in static.items():
        # time-invariant: a big result is a read-only view repeating the one value over
        # time (and over runs when it is the same for all) instead of n_times copies; a
        # small one is copied, which is faster than making the view
        v = np.asarray(value, dtype=float)
        if v.size > 4096:
            if not np.isfinite(np.add.reduce(v, axis=None)):
                suspects[n] = np.zeros(1, dtype=int)
        else:
            small_static.append(v.ravel())
        v = v.reshape((*v.shape[:1], 1, *v.shape[1:]))
        shape = (inputs.n_runs, nt, *info.variables[n].shape)
        if v.size * nt < _VIEW_ABOVE:
            result[n] = np.empty(shape)
            result[n][...] = v
        else:
            result[n] = np.broadcast_to(v, shape)
    # the small ones are checked together (one call instead of one per variable)
    if small_static and not np.isfinite(np.add.reduce(np.concatenate(small_static))):
        for n, value in static.items():
            if np.size(value) <= 4096 and not np.all(np.isfinite(value)):
                suspects[n] = np.zeros(1, dtype=int)
    return result, suspects
