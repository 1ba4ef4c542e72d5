"""Definitions part of the ensemble compiler: lookup tables and variables' equations.

``_DefinitionsMixin`` is a base of :class:`~czsim.engines.compiler._Compiler` (whose
attributes and expression methods it uses): it turns lookup definitions into constant
tables and each component of a variable (subscripts, :EXCEPT:, constant lists) into
assignment statements.
"""

from __future__ import annotations

import numpy as np

from czsim.engines.fragments import _Expr, _Stateful, _Var
from czsim.engines.model_info import normalize
from czsim.engines.subscripts import component_index, except_mask
from czsim.engines.vocabulary import _refusal


class _DefinitionsMixin:
    """Lookups and variable components (mixed into ``_Compiler``)."""

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
