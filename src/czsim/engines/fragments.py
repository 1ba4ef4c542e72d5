"""The ensemble compiler's intermediate values.

Code of sub-expressions (``_Expr``), states created by stateful functions (``_Stateful``)
and compiled variables (``_Var``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    #: A switch on time between two static values, ``(condition code, then, else)``: an
    #: operation with otherwise static operands is done on each branch before the loop.
    switch: tuple[str, _Expr, _Expr] | None = None


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
