"""Compiled kernel of the ensemble engine: the time loop as generated C, one run at a time.

The numpy engine (:mod:`.ensemble`) advances all runs together; for a small batch each
numpy call works on a handful of values and the time goes to calling numpy (about 600
calls per Euler step, 0.4 ms per step of the Changzhou model, 0.1 s per run). This module
translates the *same generated time loop* into C, element by element, compiles it once
with the machine's C compiler and runs it through ``ctypes`` (which releases the GIL, so
the engine's blocks of runs still go in parallel threads).

How: the loop's statements are evaluated on numpy *object* arrays whose elements are C
expressions, with the shapes every name has in a one-run batch (taken from the generated
initialisation, run once on the first run). Broadcasting, slicing and ``[:, None]`` are
thus numpy's own; every statement's result is stored in a C array, element by element,
so the C code does, per run, exactly what the numpy code does per run. Sums add their
terms in order (numpy adds blocks of 8 in pairs: results can differ in the last bit).

What is translated: arithmetic, ``**``, comparisons, conditional expressions on time,
``np.where``/``maximum``/``minimum`` (NaN-propagating, as numpy)/``abs``/``exp``/``log``/
``sqrt``/``floor``/``trunc``/``add.reduce``/``empty_like`` and time series. Anything
else raises :class:`Unsupported`, and the engine uses numpy for that model. The kernel is
the same function of its inputs as the numpy loop: every scenario, random draws and every
test model are checked against numpy to 1e-12 in ``tests/test_kernel.py``.

Compiled libraries are cached in ``$CZSIM_CACHE/kernels/<sha256 of the C source>.so``
(``cc -O1``; the Changzhou model's kernel compiles in a few seconds, once per machine).
``CZSIM_KERNEL=numpy`` turns the kernel off; ``CZSIM_CC`` names the compiler.
"""

from __future__ import annotations

import ast
import ctypes
import hashlib
import math
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class Unsupported(Exception):
    """The loop uses something the C translation does not cover (numpy is used)."""


# ----------------------------------------------------------------------------------
# translation: numpy statements -> C statements
# ----------------------------------------------------------------------------------
_UNARY_FUNCS = {
    "abs": "fabs",
    "exp": "exp",
    "log": "log",
    "sqrt": "sqrt",
    "floor": "floor",
    "trunc": "trunc",
    "sin": "sin",
    "cos": "cos",
    "tan": "tan",
    "arctan": "atan",
}
_REDUCE = {
    "np.add.reduce": "+",
    "np.multiply.reduce": "*",
    "np.minimum.reduce": "cz_min",
    "np.maximum.reduce": "cz_max",
}
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}

_PRELUDE = r"""
#include <math.h>
static inline double cz_max(double a, double b) { return (a != a || b != b) ? NAN : (a > b ? a : b); }
static inline double cz_min(double a, double b) { return (a != a || b != b) ? NAN : (a < b ? a : b); }
static inline double cz_mod(double a, double b) {
  /* numpy.mod (the divisor's sign), as npy_divmod */
  double m = fmod(a, b);
  if (!b) return m;
  if (m) { if ((b < 0) != (m < 0)) m += b; } else m = copysign(0.0, b);
  return m;
}
static inline double cz_pulse_train(double t, double start, double repeat, double width, double end) {
  double single = (start - 1e-06 <= t) && (t < start + width);
  double train = (start <= t) && (t < end) && (cz_mod(t - start + 1e-06, repeat) < width);
  return repeat == 0 ? single : train;
}
static inline double cz_quantum(double a, double b) { return b < 1e-06 ? a : b * trunc(a / b); }
static inline double cz_interp(double x, long n, const double *xp, const double *fp) {
  /* numpy.interp for one value: held flat outside, the slope form inside */
  if (x != x) return x;
  if (x > xp[n - 1]) return fp[n - 1];
  if (x < xp[0]) return fp[0];
  long lo = 0, hi = n - 1;
  while (hi - lo > 1) { long mid = (lo + hi) / 2; if (xp[mid] <= x) lo = mid; else hi = mid; }
  long j = (x >= xp[n - 1]) ? n - 1 : lo;
  if (j == n - 1) return fp[j];
  if (xp[j] == x) return fp[j];
  double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  double res = slope * (x - xp[j]) + fp[j];
  if (res != res) {
    res = slope * (x - xp[j + 1]) + fp[j + 1];
    if (res != res && fp[j] == fp[j + 1]) res = fp[j];
  }
  return res;
}
static inline double cz_series(double t, long n, const double *xp, const double *fp, long stride) {
  if (t <= xp[0]) return fp[0];
  if (t >= xp[n - 1]) return fp[(n - 1) * stride];
  long j = 0;
  while (j + 1 < n && xp[j + 1] <= t) j++;
  double slope = (fp[(j + 1) * stride] - fp[j * stride]) / (xp[j + 1] - xp[j]);
  return slope * (t - xp[j]) + fp[j * stride];
}
"""


def _num(x: float) -> str:
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INFINITY" if x > 0 else "(-INFINITY)"
    return f"({float(x)!r})"


def _obj(shape: tuple[int, ...], fill) -> np.ndarray:
    a = np.empty(shape, dtype=object)
    a.reshape(-1)[:] = [fill(j) for j in range(a.size)]
    return a


def _map(fn, *arrays):
    """Element-wise ``fn`` over broadcast object arrays (or scalar C expressions)."""
    shaped = [a for a in arrays if isinstance(a, np.ndarray)]
    if not shaped:
        return fn(*arrays)
    try:
        b = np.broadcast_arrays(
            *[a if isinstance(a, np.ndarray) else np.array(a, dtype=object) for a in arrays]
        )
    except ValueError as e:
        raise Unsupported(f"shapes do not broadcast: {e}") from None
    out = np.empty(b[0].shape, dtype=object)
    flat = out.reshape(-1)
    cols = [x.reshape(-1) if x.flags.c_contiguous else x.ravel() for x in b]
    flat[:] = [fn(*vals) for vals in zip(*cols, strict=True)]
    return out


class _Translator:
    """Evaluates the loop's statements on object arrays of C expressions."""

    def __init__(
        self,
        inputs: dict[str, tuple[int, ...]],
        series: dict[str, int],
        fixed: dict[str, np.ndarray] | None = None,
    ):
        # inputs: name -> one-run shape of the arrays the loop reads from the initialisation
        self.inputs = inputs
        self.series = series  # name of a series' x points -> their count
        self.fixed = fixed or {}  # the model's own constant arrays (index arrays for np.take)
        self.locals: dict[str, tuple[int, ...]] = {}  # C storage -> shape
        self.cnames: dict[str, str] = {}  # loop-assigned name -> its current C storage
        self.scalars = {"t", "dt", "_i"}
        self.env: dict[str, object] = {}
        self.code: list[str] = []
        self.n_temp = 0
        self.tables: set[str] = set()  # inputs read as whole tables (np.interp)
        for name, shape in inputs.items():
            self.env[name] = self._ref(f"I_{name}", shape)

    # values are: C expression strings (scalars) or object arrays of them
    @staticmethod
    def _ref(cname: str, shape: tuple[int, ...]) -> np.ndarray:
        return _obj(shape, lambda j: f"{cname}[{j}]")

    def temp(self, expr: str) -> str:
        name = f"_t{self.n_temp}"
        self.n_temp += 1
        self.code.append(f"const double {name} = {expr};")
        return name

    def storage(self, name: str, shape: tuple[int, ...]) -> str:
        """Return the C array holding ``name`` with ``shape``.

        A name the loop reads from the initialisation keeps its shape (else Unsupported);
        a loop-only temporary (``_tg`` of each delay) gets new storage for a new shape.
        """
        if name in self.inputs and self.inputs[name] != shape:
            raise Unsupported(f"{name} changes shape ({self.inputs[name]} -> {shape})")
        cname = self.cnames.get(name)
        if cname is not None and self.locals[cname] == shape:
            return cname
        cname = f"L_{name}" if cname is None else f"L_{name}_{len(self.locals)}"
        self.cnames[name] = cname
        self.locals[cname] = shape
        return cname

    def store(self, name: str, value, index=None) -> None:
        """``name = value`` or ``name[index] = value``, element by element into C storage."""
        if not isinstance(value, np.ndarray):
            value = np.array(value, dtype=object)
        if index is None:
            shape = value.shape
            target = self.storage(name, shape)
            positions = np.arange(value.size)
            flat = value.reshape(-1)
        else:
            if name not in self.cnames:
                raise Unsupported(f"{name}[...] assigned before {name}")
            target = self.cnames[name]
            shape = self.locals[target]
            positions = np.arange(math.prod(shape)).reshape(shape)[index]
            try:
                flat = np.broadcast_to(value, np.shape(positions)).reshape(-1)
            except ValueError as e:
                raise Unsupported(f"assignment does not broadcast: {e}") from None
            positions = np.reshape(positions, -1)
        reads_self = any(f"{target}[" in str(e) for e in flat)
        if reads_self:  # x = f(x) with other elements of x: through temporaries
            temps = [self.temp(str(e)) for e in flat]
            self.code.extend(
                f"{target}[{p}] = {tmp};" for p, tmp in zip(positions, temps, strict=True)
            )
        else:
            self.code.extend(f"{target}[{p}] = {e};" for p, e in zip(positions, flat, strict=True))
        self.env[name] = self._ref(target, shape)

    # ------------------------------------------------------------------ statements
    def statement(self, src: str) -> None:
        tree = ast.parse(src.strip())
        if len(tree.body) != 1:
            raise Unsupported(src)
        st = tree.body[0]
        if isinstance(st, ast.Assign) and len(st.targets) == 1:
            tgt = st.targets[0]
            if isinstance(tgt, ast.Name):
                if tgt.id == "t":
                    if ast.unparse(st.value) != "T[_i]":
                        raise Unsupported(f"statement {src.strip()!r}")
                    self.code.append("t = T[_i];")
                    return
                # np.empty_like(x): storage of x's shape, filled by the next statements
                v = st.value
                if (
                    isinstance(v, ast.Call)
                    and ast.unparse(v.func) == "np.empty_like"
                    and len(v.args) == 1
                ):
                    shape = np.shape(self.eval(v.args[0]))
                    self.env[tgt.id] = self._ref(self.storage(tgt.id, shape), shape)
                    return
                self.store(tgt.id, self.eval(v))
                return
            if isinstance(tgt, ast.Subscript) and isinstance(tgt.value, ast.Name):
                self.store(tgt.value.id, self.eval(st.value), self.index(tgt.slice))
                return
        raise Unsupported(f"statement {src.strip()!r}")

    def scalar(self, node) -> str:
        v = self.eval(node)
        if isinstance(v, np.ndarray):
            raise Unsupported(f"expected a scalar: {ast.unparse(node)}")
        return v

    # ------------------------------------------------------------------ expressions
    def index(self, node):
        if isinstance(node, ast.Tuple):
            return tuple(self.index_one(e) for e in node.elts)
        return self.index_one(node)

    def index_one(self, node):
        if isinstance(node, ast.Slice):
            parts = []
            for p in (node.lower, node.upper, node.step):
                parts.append(None if p is None else self.const_int(p))
            return slice(*parts)
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        if isinstance(node, ast.Constant) and node.value is Ellipsis:
            return Ellipsis
        return self.const_int(node)

    def const_int(self, node) -> int:
        try:
            value = ast.literal_eval(node)
        except ValueError:
            raise Unsupported(f"index {ast.unparse(node)}") from None
        if not isinstance(value, int):
            raise Unsupported(f"index {ast.unparse(node)}")
        return value

    def eval(self, node):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return "1.0" if node.value else "0.0"
            if isinstance(node.value, int | float):
                return _num(node.value)
            raise Unsupported(f"constant {node.value!r}")
        if isinstance(node, ast.Name):
            if node.id in self.scalars:
                return node.id
            if node.id in self.env:
                return self.env[node.id]
            raise Unsupported(f"name {node.id}")
        if isinstance(node, ast.Attribute) and ast.unparse(node) in ("np.nan", "np.inf"):
            return _num(float(ast.unparse(node)[3:]))
        if isinstance(node, ast.UnaryOp):
            x = self.eval(node.operand)
            if isinstance(node.op, ast.USub):
                return _map(lambda a: f"(-{a})", x)
            if isinstance(node.op, ast.UAdd):
                return x
            if isinstance(node.op, ast.Not | ast.Invert):
                return _map(lambda a: f"(double)(!({a}))", x)
            raise Unsupported(ast.unparse(node))
        if isinstance(node, ast.BinOp):
            a, b = self.eval(node.left), self.eval(node.right)
            op = type(node.op)
            if op in _BINOPS:
                s = _BINOPS[op]
                return _map(lambda x, y: f"({x} {s} {y})", a, b)
            if op is ast.Pow:
                return _map(lambda x, y: f"pow({x}, {y})", a, b)
            if op is ast.BitAnd:
                return _map(lambda x, y: f"(double)(({x}) && ({y}))", a, b)
            if op is ast.BitOr:
                return _map(lambda x, y: f"(double)(({x}) || ({y}))", a, b)
            raise Unsupported(ast.unparse(node))
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1 or type(node.ops[0]) not in _CMPOPS:
                raise Unsupported(ast.unparse(node))
            s = _CMPOPS[type(node.ops[0])]
            a, b = self.eval(node.left), self.eval(node.comparators[0])
            return _map(lambda x, y: f"(double)({x} {s} {y})", a, b)
        if isinstance(node, ast.IfExp):
            cond = self.eval(node.test)
            if isinstance(cond, np.ndarray):
                raise Unsupported(f"array condition {ast.unparse(node.test)}")
            a, b = self.eval(node.body), self.eval(node.orelse)
            if np.shape(a) != np.shape(b):
                raise Unsupported(f"branches of different shapes: {ast.unparse(node)}")
            return _map(lambda x, y: f"(({cond}) ? {x} : {y})", a, b)
        if isinstance(node, ast.Subscript):
            base = self.eval(node.value)
            if not isinstance(base, np.ndarray):
                raise Unsupported(ast.unparse(node))
            if isinstance(node.value, ast.Name) and node.value.id == "T":
                raise Unsupported("T[...]")
            try:
                return base[self.index(node.slice)]
            except IndexError as e:
                raise Unsupported(str(e)) from None
        if isinstance(node, ast.Call):
            return self.call(node)
        raise Unsupported(ast.unparse(node))

    def call(self, node):
        fname = ast.unparse(node.func)
        if node.keywords and fname not in _REDUCE and fname != "np.take":
            raise Unsupported(fname)
        if fname.endswith(".transpose") or fname == "np.take":
            args = None
        else:
            args = [self.eval(a) for a in node.args] if fname != "_series" else None
        if fname.startswith("np.") and fname[3:] in _UNARY_FUNCS and len(args) == 1:
            f = _UNARY_FUNCS[fname[3:]]
            return _map(lambda x: self.temp(f"{f}({x})"), args[0])
        if fname in ("np.maximum", "np.minimum") and len(args) == 2:
            f = "cz_max" if fname == "np.maximum" else "cz_min"
            return _map(lambda x, y: f"{f}({x}, {y})", *args)
        if fname in ("np.logical_and", "np.logical_or") and len(args) == 2:
            op = "&&" if fname == "np.logical_and" else "||"
            return _map(lambda x, y: f"(double)(({x}) {op} ({y}))", *args)
        if fname == "np.logical_not" and len(args) == 1:
            return _map(lambda x: f"(double)(!({x}))", args[0])
        if fname == "np.float64" and len(args) == 1:
            return args[0]
        if fname == "np.power" and len(args) == 2:
            return _map(lambda x, y: f"pow({x}, {y})", *args)
        if fname == "_modulo" and len(args) == 2:
            return _map(lambda x, m: f"({x} - cz_quantum({x}, {m}))", *args)
        if fname == "_quantum" and len(args) == 2:
            return _map(lambda x, m: f"cz_quantum({x}, {m})", *args)
        if fname == "np.interp" and len(args) == 3:
            return self.interp(node, args)
        if fname.endswith(".transpose") and isinstance(node.func, ast.Attribute):
            base = self.eval(node.func.value)
            axes = [self.const_int(a) for a in node.args]
            if not isinstance(base, np.ndarray) or sorted(axes) != list(range(base.ndim)):
                raise Unsupported(fname)
            return base.transpose(axes)
        if fname == "np.where" and len(args) == 3:
            return _map(lambda c, x, y: f"(({c}) ? {x} : {y})", *args)
        if fname in _REDUCE:
            return self.reduce(node, args, _REDUCE[fname])
        if fname == "np.take":
            return self.take(node)
        if fname == "_pulse_train" and len(args) == 5:
            return _map(lambda *a: f"cz_pulse_train({', '.join(a)})", *args)
        if fname == "_series":
            return self.series_call(node)
        raise Unsupported(f"function {fname}")

    def take(self, node):
        # np.take(x, K, axis=a) with K one of the model's fixed index arrays
        if len(node.args) != 2 or [k.arg for k in node.keywords] != ["axis"]:
            raise Unsupported("np.take")
        x = self.eval(node.args[0])
        idx = node.args[1]
        if not isinstance(idx, ast.Name) or idx.id not in self.fixed:
            raise Unsupported("np.take with computed indices")
        values = np.asarray(self.fixed[idx.id])
        if not isinstance(x, np.ndarray) or not np.issubdtype(values.dtype, np.integer):
            raise Unsupported("np.take")
        return np.take(x, values, axis=self.const_int(node.keywords[0].value))

    def interp(self, node, args):
        xs, ys = node.args[1], node.args[2]
        ok = all(isinstance(a, ast.Name) and len(self.inputs.get(a.id, ())) == 1 for a in (xs, ys))
        if not ok or self.inputs[xs.id] != self.inputs[ys.id]:
            raise Unsupported("np.interp of a table that is not one constant")
        n = self.inputs[xs.id][0]
        self.tables.update((xs.id, ys.id))
        return _map(lambda x: self.temp(f"cz_interp({x}, {n}, I_{xs.id}, I_{ys.id})"), args[0])

    def reduce(self, node, args, how):
        if len(args) != 1 or len(node.keywords) != 1 or node.keywords[0].arg != "axis":
            raise Unsupported(ast.unparse(node))
        axis = ast.literal_eval(node.keywords[0].value)
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        x = args[0]
        if not isinstance(x, np.ndarray):
            raise Unsupported(ast.unparse(node))
        axes = tuple(a % x.ndim for a in axes)
        keep = [a for a in range(x.ndim) if a not in axes]
        moved = np.transpose(x, keep + list(axes))
        out_shape = moved.shape[: len(keep)]
        moved = moved.reshape((*out_shape, -1))
        out = np.empty(out_shape, dtype=object)
        for idx in np.ndindex(*out_shape):
            terms = list(moved[idx])
            if not terms:
                raise Unsupported("reduction over no values")
            if how in ("+", "*"):
                expr = "(" + f" {how} ".join(str(t) for t in terms) + ")"
            else:  # running minimum/maximum, NaN-propagating like numpy's
                expr = str(terms[0])
                for term in terms[1:]:
                    expr = f"{how}({expr}, {term})"
            out[idx] = self.temp(expr)
        return out

    def series_call(self, node):
        # _series(t, xp, fp): fp (rows, k, *E) interpolated along axis 1 at t
        if len(node.args) != 3:
            raise Unsupported("_series")
        t = self.scalar(node.args[0])
        xp, fp = node.args[1], node.args[2]
        if not (isinstance(xp, ast.Name) and xp.id in self.series and isinstance(fp, ast.Name)):
            raise Unsupported("_series of an expression")
        n = self.series[xp.id]
        shape = self.inputs.get(fp.id)
        if shape is None or len(shape) < 2 or shape[1] != n:
            raise Unsupported("_series shape")
        rest = math.prod(shape[2:])
        out = np.empty((shape[0], *shape[2:]), dtype=object)
        for row in range(shape[0]):
            for e in range(rest):
                base = row * n * rest + e
                out.reshape(shape[0], rest)[row, e] = self.temp(
                    f"cz_series({t}, {n}, I_{xp.id}, I_{fp.id} + {base}, {rest})"
                )
        return out


@dataclass(frozen=True)
class KernelPlan:
    """The C source and how to call it: which arrays go in, which are loop-local."""

    source: str
    inputs: tuple[str, ...]  # names read from the initialisation (in argument order)
    locals: tuple[tuple[str, int, str | None], ...]  # (C array, size, input it starts from)
    outputs: tuple[int, ...]  # O indices, argument order


def translate(
    step: tuple[str, ...],
    save: tuple[tuple[int, str], ...],
    shapes: dict[str, tuple[int, ...]],
    series: dict[str, int],
    fixed: dict[str, np.ndarray] | None = None,
) -> KernelPlan:
    """Translate the loop's statements (one-run ``shapes`` of the names they read).

    ``fixed``: values of the model's generated constants (the same in every call).
    """
    tr = _Translator({n: s for n, s in shapes.items() if not _is_output(n)}, series, fixed)
    # a name the loop assigns is read from its storage from the first statement on (a
    # step reads the value of the step before); the storage starts from the input
    for s in step:
        for node in ast.walk(ast.parse(s.strip())):
            if not isinstance(node, ast.Assign):
                continue
            for tgt in node.targets:
                name = tgt.value if isinstance(tgt, ast.Subscript) else tgt
                if isinstance(name, ast.Name) and name.id in tr.inputs:
                    shape = tr.inputs[name.id]
                    tr.env[name.id] = tr._ref(tr.storage(name.id, shape), shape)
    for s in step:
        tr.statement(s)
    step_code = tr.code
    tr.code = []
    out_code = []
    out_idx = []
    for i, ident in save:
        v = tr.env.get(ident)
        if v is None:
            raise Unsupported(f"saved {ident} unknown")
        oshape = shapes.get(f"O{i}")
        if oshape is None:
            raise Unsupported(f"O{i}")
        per_run = oshape[1:]  # (nt, 1, *E) -> one saved time (1, *E)
        if not isinstance(v, np.ndarray):
            v = np.array(v, dtype=object)
        try:
            flat = np.broadcast_to(v, per_run).reshape(-1)
        except ValueError:
            raise Unsupported(f"saved {ident} does not broadcast") from None
        k = len(out_idx)
        out_idx.append(i)
        out_code.extend(f"P{k}[{j}] = {e};" for j, e in enumerate(flat))
    save_temps = tr.code
    referenced = _referenced(step_code + save_temps + out_code)
    # storage named L_<name> of a name the initialisation binds starts from its value
    loc = [
        (c, math.prod(shape), c[2:] if c[2:] in shapes else None) for c, shape in tr.locals.items()
    ]
    initialised = {init for _, _, init in loc if init}
    used_inputs = tuple(n for n in shapes if n in referenced or n in initialised)
    lines = [_PRELUDE]
    lines.append(
        "int cz_run(long R, long nT, const double *T, long nsave, const long *save_steps, "
        "double dt, const double *SHARED, const double *PER_RUN, long W, const long *IN_OFF, "
        "const long *IN_RUN, double **OUT, const long *OUT_TS, const long *OUT_RS) {"
    )
    lines.append("for (long r = 0; r < R; r++) {")
    for k, name in enumerate(used_inputs):
        lines.append(
            f"const double *I_{name} = (IN_RUN[{k}] ? PER_RUN + r * W : SHARED) + IN_OFF[{k}];"
        )
    for cname, size, init in loc:
        lines.append(f"double {cname}[{max(size, 1)}];")
        if init:
            lines.append(f"for (long j = 0; j < {size}; j++) {cname}[j] = I_{init}[j];")
    lines.append("double t = T[0];")
    lines.append("long next = 0;")
    lines.append("for (long _i = 0; _i < nT; _i++) {")
    lines.append("if (_i) {")
    lines.extend(step_code)
    lines.append("}")
    lines.append("if (next < nsave && save_steps[next] == _i) {")
    for k in range(len(out_idx)):
        lines.append(f"double *P{k} = OUT[{k}] + next * OUT_TS[{k}] + r * OUT_RS[{k}];")
    lines.extend(save_temps)
    lines.extend(out_code)
    lines.append("next++;")
    lines.append("}")
    lines.append("}")  # time
    lines.append("}")  # runs
    lines.append("return 0;")
    lines.append("}")
    inputs = used_inputs
    return KernelPlan("\n".join(lines) + "\n", tuple(inputs), tuple(loc), tuple(out_idx))


def _is_output(name: str) -> bool:
    return name[:1] == "O" and name[1:].isdigit()


def _referenced(code: list[str]) -> set[str]:
    text = "\n".join(code)
    names = set()
    pos = 0
    while True:
        j = text.find("I_", pos)
        if j < 0:
            return names
        k = j + 2
        while k < len(text) and (text[k].isalnum() or text[k] == "_"):
            k += 1
        names.add(text[j + 2 : k])
        pos = k


# ----------------------------------------------------------------------------------
# compiling and loading
# ----------------------------------------------------------------------------------
#: ``-O0`` compiles the Changzhou model's kernel in 0.4 s, ``-O1`` in 2 s and runs it about
#: twice as fast; both give the same bits (no contraction into FMA, no fast-math: every
#: operation is IEEE's), so a batch of :data:`OPTIMISE_RUNS` runs or more, where the run
#: time counts, uses ``-O1`` and a smaller one ``-O0``, where the compile time counts. The
#: batch is the engine's whole call, not one thread's block of it: the app's 100-run verdict
#: ensemble on a new lever value took 50 ms at ``-O0``; compiled once per machine (the
#: library is cached on disk), ``-O1`` pays for itself from a few dozen runs.
FAST, OPTIMISED = "-O0", "-O1"
OPTIMISE_RUNS = 64
_FLAGS = ("-fPIC", "-shared", "-ffp-contract=off", "-fno-fast-math", "-w")
_LOCK = threading.Lock()
_LIBRARIES: dict[str, object] = {}


def compiler() -> str | None:
    """Return the C compiler (``CZSIM_CC``, else ``cc``/``gcc`` on the path), or None."""
    env = os.environ.get("CZSIM_CC", "").strip()
    if env:
        return shutil.which(env)
    return shutil.which("cc") or shutil.which("gcc")


def enabled() -> bool:
    """Whether the engine uses compiled kernels (``CZSIM_KERNEL=numpy`` turns them off)."""
    return os.environ.get("CZSIM_KERNEL", "").strip().lower() != "numpy" and bool(compiler())


def _cache_dir() -> Path:
    from czsim.engines.pysd_engine import cache_root

    return cache_root() / "kernels"


def load(source: str, opt: str = FAST):
    """Return ``source``'s ``cz_run``, compiled once per machine (cached by hash).

    Raises :class:`Unsupported` when there is no compiler or it fails.
    """
    flags = (opt, *_FLAGS)
    sha = hashlib.sha256((source + " ".join(flags)).encode()).hexdigest()
    with _LOCK:
        fn = _LIBRARIES.get(sha)
        if fn is not None:
            return fn
        folder = _cache_dir()
        lib_path = folder / f"{sha}.so"
        if not lib_path.is_file():
            cc = compiler()
            if cc is None:
                raise Unsupported("no C compiler")
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory(dir=folder) as tmp:
                    c_file = Path(tmp) / "kernel.c"
                    c_file.write_text(source, encoding="utf-8")
                    so_tmp = Path(tmp) / "kernel.so"
                    done = subprocess.run(
                        [cc, *flags, "-o", str(so_tmp), str(c_file), "-lm"],
                        capture_output=True,
                        text=True,
                        timeout=600,
                    )
                    if done.returncode != 0:
                        raise Unsupported(f"{cc} failed: {done.stderr.strip()[:300]}")
                    os.replace(so_tmp, lib_path)  # atomic: others see all or nothing
            except (OSError, subprocess.SubprocessError) as e:
                raise Unsupported(f"cannot compile: {e}") from None
        try:
            lib = ctypes.CDLL(str(lib_path))
        except OSError as e:
            raise Unsupported(f"cannot load {lib_path.name}: {e}") from None
        fn = lib.cz_run
        fn.argtypes = [
            ctypes.c_long,
            ctypes.c_long,
            ctypes.c_void_p,
            ctypes.c_long,
            ctypes.c_void_p,
            ctypes.c_double,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_long,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        fn.restype = ctypes.c_int
        _LIBRARIES[sha] = fn
        return fn


# ----------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------
class _SeriesNames(ast.NodeTransformer):
    """``S['name'][0]``/``[1]`` -> names ``_sx<k>``/``_sy<k>`` bound by the runner."""

    def __init__(self):
        self.keys: dict[str, int] = {}

    def visit_Subscript(self, node):
        inner = node.value
        if (
            isinstance(inner, ast.Subscript)
            and isinstance(inner.value, ast.Name)
            and inner.value.id == "S"
            and isinstance(inner.slice, ast.Constant)
            and isinstance(node.slice, ast.Constant)
            and node.slice.value in (0, 1)
        ):
            k = self.keys.setdefault(inner.slice.value, len(self.keys))
            return ast.Name(id=f"_s{'xy'[node.slice.value]}{k}", ctx=ast.Load())
        return self.generic_visit(node)


@dataclass
class _Prepared:
    """What a model's kernel needs once: rewritten statements, the prologue function."""

    step: tuple[str, ...]
    series_keys: dict[str, int]
    names: tuple[str, ...]  # names the statements read or save, and the outputs
    prologue: object


@dataclass
class _Entry:
    """One translation: for the arrays' shapes of one batch size."""

    plan: KernelPlan
    layout: tuple[tuple[str, int | None], ...]  # (input, run axis in the batch's array)
    offsets: np.ndarray  # where each input starts in its buffer
    per_run: np.ndarray  # 1: in the per-run buffer, 0: in the shared one
    width: int  # values per run in the per-run buffer
    functions: dict[str, object]


def _prepared(model) -> _Prepared:
    prep = model.kernels.get("prepared")
    if prep is None:
        rewriter = _SeriesNames()
        step = []
        names: set[str] = set()
        for s in model.step:
            tree = rewriter.visit(ast.parse(s.strip()))
            step.append(ast.unparse(tree))
            names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {ident for _, ident in model.save}
        names |= {f"O{i}" for i, _ in model.save}
        glb = dict(model.namespace)
        exec(compile(model.prologue_source, "<czsim kernel prologue>", "exec"), glb)
        prep = _Prepared(tuple(step), rewriter.keys, tuple(sorted(names)), glb["prologue"])
        model.kernels["prepared"] = prep
    return prep


def _namespace(model, prep: _Prepared, args: tuple) -> tuple[dict, dict]:
    ns, static = prep.prologue(*args)
    values = {}
    for name in prep.names:
        if name in ns:
            values[name] = ns[name]
        elif name in model.namespace and _numeric(model.namespace[name]):
            values[name] = model.namespace[name]
    S = args[4]
    for key, k in prep.series_keys.items():
        xs, ys = S[key]
        values[f"_sx{k}"] = np.asarray(xs, dtype=float)
        values[f"_sy{k}"] = ys
    return values, static


def _numeric(v) -> bool:
    return isinstance(v, np.ndarray | float | int | np.generic)


def simulate(
    model, R, T, save_steps, C, S, OUT, dt, t0, tf, saveper, *, batch: int | None = None
) -> dict | None:
    """Run one block of runs with the compiled kernel; None if this model cannot use it.

    Writes the saved values into ``OUT`` and returns the time-invariant results, as the
    generated numpy function does. ``batch`` is the size of the whole batch this block is
    part of (default ``R``): it chooses the optimisation level.
    """
    if "unsupported" in model.kernels:
        return None
    args = (R, T, save_steps, C, S, OUT, dt, t0, tf, saveper)
    try:
        prep = _prepared(model)
        values, static = _namespace(model, prep, args)
        key = (R == 1, *(np.shape(values[n]) if n in values else None for n in prep.names))
        entry = model.kernels.get(key)
        if entry is None:
            entry = model.kernels[key] = _build(model, prep, values, args)
        opt = OPTIMISED if (R if batch is None else batch) >= OPTIMISE_RUNS else FAST
        fn = entry.functions.get(opt)
        if fn is None:
            fn = entry.functions[opt] = load(entry.plan.source, opt)
        _call(entry, fn, values, R, T, save_steps, dt)
        return static
    except Unsupported as e:
        model.kernels["unsupported"] = str(e)
        return None


def reason(model) -> str | None:
    """Why ``model`` (a compiled numpy model) runs without the kernel, if it does."""
    return model.kernels.get("unsupported")


def _build(model, prep, values, args) -> _Entry:
    """Translate and compile for the one-run shapes behind ``values``' shapes."""
    R = args[0]
    if R == 1:
        one = values
    else:
        _, T, save_steps, C, S, OUT, dt, t0, tf, saveper = args

        def first(a):
            return a[:1] if np.ndim(a) and np.shape(a)[0] == R else a

        one, _ = _namespace(
            model,
            prep,
            (
                1,
                T,
                save_steps,
                {k: first(v) for k, v in C.items()},
                {k: (t, first(v)) for k, (t, v) in S.items()},
                {k: v[:, :1] for k, v in OUT.items()},
                dt,
                t0,
                tf,
                saveper,
            ),
        )
    shapes = {n: np.shape(v) for n, v in one.items() if _numeric(v)}
    series = {f"_sx{k}": len(one[f"_sx{k}"]) for k in prep.series_keys.values()}
    fixed = {n: v for n, v in model.namespace.items() if n in shapes and isinstance(v, np.ndarray)}
    plan = translate(prep.step, model.save, shapes, series, fixed)
    # where each input's run axis is in the batch's arrays (None: shared by all runs)
    layout = []
    offsets, per_run = [], []
    width = shared = 0
    for name in plan.inputs:
        full, single = np.shape(values[name]), shapes[name]
        diff = [a for a, (x, y) in enumerate(zip(full, single, strict=False)) if x != y]
        if len(full) != len(single) or len(diff) > 1 or (diff and single[diff[0]] != 1):
            raise Unsupported(f"{name}: run axis not found ({full} vs {single})")
        size = math.prod(single)
        if diff:
            layout.append((name, diff[0]))
            offsets.append(width)
            per_run.append(1)
            width += size
        else:
            layout.append((name, None))
            offsets.append(shared)
            per_run.append(0)
            shared += size
    return _Entry(
        plan,
        tuple(layout),
        np.array(offsets, dtype=np.int64),
        np.array(per_run, dtype=np.int64),
        width,
        {},
    )


def _call(entry: _Entry, fn, values, R, T, save_steps, dt) -> None:
    shared, per_run = [], []
    for name, axis in entry.layout:
        v = values[name]
        if axis is None:
            shared.append(np.ravel(v))
        else:
            per_run.append((np.moveaxis(v, axis, 0) if axis else np.asarray(v)).reshape(R, -1))
    buf_s = np.concatenate(shared).astype(float, copy=False) if shared else np.zeros(1)
    buf_r = (
        np.ascontiguousarray(np.concatenate(per_run, axis=1), dtype=float)
        if per_run
        else np.zeros(1)
    )
    outs = [values[f"O{i}"] for i in entry.plan.outputs]  # (nt, R, *E) views of one buffer
    for o in outs:
        if o.dtype != np.float64 or (o.ndim > 2 and not o[0, 0].flags.c_contiguous):
            raise Unsupported("output layout")  # pragma: no cover - the engine's buffers
    optr = np.array([o.__array_interface__["data"][0] for o in outs] or [0], dtype=np.uint64)
    ots = np.array([o.strides[0] // 8 for o in outs] or [0], dtype=np.int64)
    ors = np.array([o.strides[1] // 8 for o in outs] or [0], dtype=np.int64)
    times = np.ascontiguousarray(T, dtype=float)
    saves = np.ascontiguousarray(save_steps, dtype=np.int64)
    fn(
        R,
        len(times),
        times.ctypes.data,
        len(saves),
        saves.ctypes.data,
        float(dt),
        buf_s.ctypes.data,
        buf_r.ctypes.data,
        entry.width,
        entry.offsets.ctypes.data,
        entry.per_run.ctypes.data,
        optr.ctypes.data,
        ots.ctypes.data,
        ors.ctypes.data,
    )
