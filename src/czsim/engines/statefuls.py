"""Stateful part of the ensemble compiler.

INTEG, SMOOTH (N), DELAY (N), DELAY FIXED, INITIAL, TREND, FORECAST, SAMPLE IF TRUE and
ACTIVE INITIAL.

``_StatefulsMixin`` is a base of :class:`~czsim.engines.compiler._Compiler` (whose
attributes and expression methods it uses): each stateful call becomes a state with its
initialisation, derivative and update statements, as PySD's ``statefuls.py`` computes them.
"""

from __future__ import annotations

from czsim.engines.fragments import _Expr, _Stateful, _Var
from czsim.engines.vocabulary import SMALL_VENSIM, _is_number, _refusal


class _StatefulsMixin:
    """Stateful functions and ACTIVE INITIAL (mixed into ``_Compiler``)."""

    def _is_active_initial(self, ast) -> bool:
        return isinstance(ast, self.ae.CallStructure) and ast.function.reference == "active_initial"

    def _active_initial(self, var: _Var, ast, idx, keep) -> None:
        """Compile ``X = ACTIVE INITIAL(expr, init)``.

        ``init`` holds while the model is initialised (stock initial values see it), ``expr``
        from the first saved time on (PySD's ``active_initial`` with the model's stage). Only
        ``init``'s references order the initialisation, which is how ACTIVE INITIAL breaks
        initialisation loops.
        """
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
