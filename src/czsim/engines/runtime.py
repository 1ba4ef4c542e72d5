"""Runtime helpers of the ensemble engine: the functions the generated code calls.

``_HELPERS`` is the namespace the generated simulation function is executed in (numpy as
``np`` and every helper below); their semantics copy PySD's (see :mod:`.ensemble`).
"""

from __future__ import annotations

import numpy as np

from czsim.engines.vocabulary import SMALL_VENSIM
from czsim.errors import ModelError


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
    """Return a writable float64 array of ``shape`` filled with (broadcast) ``value``."""
    return np.array(np.broadcast_to(value, shape), dtype=float)


def _state(sizes, value):
    """Return a float64 state ``(r, *sizes)`` holding ``value``.

    ``r`` is the run axis of ``value`` (1 if it is the same for all runs). Euler updates
    broadcast it to all runs as soon as a per-run value flows in; until then it costs one
    row, not n_runs.
    """
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
