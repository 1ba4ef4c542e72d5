"""The ensemble engine's compiler: from PySD's abstract model to numpy source text.

``_Compiler`` holds the model's ranges, variables and generated constants, aligns and
combines sub-expressions (broadcasting over the run axis and subscript axes, hoisting
time-invariant code out of the time loop) and compiles expressions: references,
subscripts, operators and function calls. Lookups and variable definitions come from
:mod:`.definitions`, stateful functions from :mod:`.statefuls`.
"""

from __future__ import annotations

import numpy as np

from czsim.engines.definitions import _DefinitionsMixin
from czsim.engines.fragments import _Expr, _Var
from czsim.engines.model_info import ModelInfo, abstract_section, is_control, normalize
from czsim.engines.runtime import _HELPERS
from czsim.engines.statefuls import _StatefulsMixin
from czsim.engines.vocabulary import (
    _ARITH,
    _COMPARE,
    _CONTROL_KEYS,
    _ELEMENTWISE,
    _REDUCERS,
    _call_advice,
    _is_negative_literal,
    _is_number,
    _refusal,
    _vensim_name,
)
from czsim.errors import ModelError


class _Compiler(_DefinitionsMixin, _StatefulsMixin):
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
        switched = [i for i, a in enumerate(args) if a.switch is not None]
        if len(switched) == 1 and all(a.static for j, a in enumerate(args) if j != switched[0]):
            # (x if t < T else y) op z, with x, y, z static: (x op z) and (y op z) are static,
            # so both are computed once before the time loop and each step only picks one
            # (the same operations on the same values: the same results)
            i = switched[0]
            cond, then, other = args[i].switch
            branches = [
                self.hoist(self.combine(fmt, [b if j == i else a for j, a in enumerate(args)]))
                for b in (then, other)
            ]
            return _Expr(
                f"({branches[0].code} if {cond} else {branches[1].code})",
                branches[0].axes,
                branches[0].scalar,
                False,
                (cond, *branches),
            )
        if not static:
            args = [self.hoist(a) for a in args]
        codes = [f"({self.align(a, axes)})" for a in args]
        scalar = all(a.scalar for a in args)
        if scalar and any(op in fmt for op in ("/", "**", "%")):
            # Python floats (TIME, literals) raise on 1/0 and give complex numbers for
            # (-8)**0.5; numpy gives inf and NaN, as for arrays. + - * and comparisons give
            # the same IEEE results either way and stay Python floats (a numpy scalar per
            # operation costs ~8% of a single run).
            codes[0] = f"np.float64{codes[0]}"
        return _Expr(fmt.format(*codes), axes, scalar, static)

    def hoist(self, e: _Expr) -> _Expr:
        """Replace a static computed sub-expression by a name bound before the loop.

        Time-loop code then reads the name instead of recomputing the value every step.
        """
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
        """Select the subscripts ``subs`` of the array ``ident`` with dims ``dims``.

        ``subs`` is a SubscriptsReferenceStructure, or None for all elements.
        """
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
        """Compile ``ast``.

        ``mode`` says when the code runs: "run" (the equation), "init" (initial values only)
        or "ddt" (derivatives only).
        """
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
        """Compile a power chain ``a ^ b ^ c`` (PySD gives ``^`` a node of its own).

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
                branches_static = args[1].static and args[2].static
                return _Expr(
                    f"({args[1].code} if {args[0].code} else {args[2].code})",
                    args[1].axes,
                    args[1].scalar,
                    static,
                    None if static or not branches_static else (args[0].code, args[1], args[2]),
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
