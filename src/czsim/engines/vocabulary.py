"""What the ensemble engine's compiler knows of Vensim's vocabulary, and its refusals.

The tables mapping Vensim operators and functions (as PySD names them) to numpy code,
the control variables' names in the generated code, and the texts of the
"unsupported ... in the ensemble engine" errors with what to do instead.
"""

from __future__ import annotations

import numpy as np

SMALL_VENSIM = 1e-6  # what PySD (and Vensim) treat as zero in XIDZ, ZIDZ, RAMP, PULSE

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
    """Return the refusal message for a PySD structure the ensemble engine cannot compile.

    ``unsupported function NAME in the ensemble engine: what to do instead``, with the
    function as Vensim spells it.
    """
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
