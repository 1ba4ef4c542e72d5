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

When a C compiler is there, the time loop of the generated function runs as C instead
(:mod:`.kernel`: the same statements translated element by element, one run at a time,
equal to the numpy loop to 1e-12); the numpy code stays the reference and the fallback.

This module generates the simulation function and runs it; the compiler is in
:mod:`.compiler` (with :mod:`.definitions` and :mod:`.statefuls`), the tables and refusal
texts in :mod:`.vocabulary`, the functions the generated code calls in :mod:`.runtime`.
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from czsim.engines import kernel
from czsim.engines.compiler import _Compiler
from czsim.engines.inputs import RunInputs
from czsim.engines.model_info import ModelInfo, model_info
from czsim.engines.vocabulary import SMALL_VENSIM as SMALL_VENSIM
from czsim.errors import ModelError

_VIEW_ABOVE = 65536  # time-invariant results with more values are returned as views
#: Fewest runs per thread: below it, a batch runs in one thread (threads would cost more
#: than they save on small arrays).
MIN_BLOCK = 512
#: Most runs per block: a bigger batch runs block by block, so its working arrays stay
#: bounded. Big blocks are faster (measured, 10,000 runs in 2 threads: 2.9 s in 2 blocks,
#: 3.5 s in blocks of 4096, 4.9 s in blocks of 1024: each operation's call costs the same
#: whatever the block), and a batch's memory is mostly its results anyway.
MAX_BLOCK = 32768
#: Batches up to this many runs use the compiled kernel (:mod:`.kernel`) when a C compiler
#: is there; bigger ones the numpy code, whose per-call cost is then spread over many runs.
KERNEL_MAX_RUNS = 1 << 30
#: Fewest runs per thread with the kernel: it has no per-call cost to spread, so two
#: threads pay off from a few dozen runs (1,000 runs: 0.46 s in one thread; the app's
#: 100 verdict runs go in two blocks of 50).
KERNEL_MIN_BLOCK = 32


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
    #: for the compiled kernel (:mod:`.kernel`): the initialisation as a function returning
    #: its namespace and the time-invariant results, the time step's statements and the
    #: saves ``(output index, variable)``
    prologue_source: str = ""
    step: tuple[str, ...] = ()
    save: tuple[tuple[int, str], ...] = ()
    namespace: dict = field(default_factory=dict, compare=False, repr=False)
    kernels: dict = field(default_factory=dict, compare=False, repr=False)


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
    static_return = (
        "{"
        + ", ".join(f"{n!r}: {by_name[n].ident}" for n in outputs if not by_name[n].dynamic)
        + "}"
    )
    prologue = [
        "def prologue(R, T, save_steps, C, S, OUT, dt, _t0, _tf, _saveper):",
        "  with np.errstate(all='ignore'):",
        *("    " + s for s in body),
        f"    return locals(), {static_return}",
    ]
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
    body.append("return " + static_return)
    lines.extend("    " + s for s in body)
    source = "\n".join(lines) + "\n"
    glb = dict(comp.globals)
    glb["OUT_NAMES"] = dynamic_outputs
    exec(compile(source, f"<czsim ensemble {info.path.name}>", "exec"), glb)
    return CompiledModel(
        source=source,
        simulate=glb["simulate"],
        dynamic_outputs=dynamic_outputs,
        prologue_source="\n".join(prologue) + "\n",
        step=tuple(step),
        save=tuple((out_idx[v.name], v.ident) for v in vs.values() if v.name in out_idx),
        namespace=glb,
    )


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


def threads() -> int:
    """Threads the ensemble engine uses for a large batch of runs.

    ``CZSIM_THREADS`` (1 = one thread), else the cores this process may use.
    """
    env = os.environ.get("CZSIM_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ModelError(
                f"CZSIM_THREADS must be a whole number, got {env!r}", key="CZSIM_THREADS"
            ) from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _blocks(n_runs: int, n_threads: int, min_block: int | None = None) -> list[tuple[int, int]]:
    """Split the runs into blocks of consecutive runs.

    One block per thread, at least ``min_block`` (default :data:`MIN_BLOCK`) runs each, and
    at most :data:`MAX_BLOCK`, so a big batch's working arrays stay bounded.
    """
    least = MIN_BLOCK if min_block is None else min_block
    count = max(1, min(n_threads, n_runs // least), math.ceil(n_runs / MAX_BLOCK))
    edges = [n_runs * i // count for i in range(count + 1)]
    return list(itertools.pairwise(edges))


def _simulate_blocks(
    model: CompiledModel, info: ModelInfo, inputs: RunInputs, out: dict
) -> tuple[dict, str]:
    """Run the generated simulation, over blocks of runs in threads for a large batch.

    numpy releases the GIL inside each operation on a block's arrays, so blocks advance in
    parallel. No operation mixes runs, but numpy picks the summation order of a reduction
    (``SUM`` over a subscript) by the array's size, so a run's results can differ in the
    last bit (measured: at most 8.5e-16 relative) with the size of the batch or block it
    is computed in, as they already did between batch sizes. Time-invariant results come
    back per block, shaped ``(1, ...)`` when they are the same for every run (blocks have at
    least two runs, so a per-run result never looks shared).
    """
    R = inputs.n_runs

    use_kernel = R <= KERNEL_MAX_RUNS and kernel.enabled() and kernel.reason(model) is None
    used = []

    def call(lo: int, hi: int) -> dict:
        def part(a: np.ndarray) -> np.ndarray:
            return a if a.shape[0] == 1 else a[lo:hi]  # (1 or R, ...): shared or per run

        args = (
            hi - lo,
            inputs.step_times.tolist(),
            inputs.save_steps.tolist(),
            {k: part(v) for k, v in inputs.constants.items()},
            {k: (t, part(v)) for k, (t, v) in inputs.series.items()},
            {k: v[:, lo:hi] for k, v in out.items()},
            inputs.time_step,
            info.initial_time,
            inputs.final_time,
            info.saveper,
        )
        if use_kernel:
            static = kernel.simulate(model, *args, batch=R)
            if static is not None:
                used.append("C")
                return static
        used.append("numpy")
        return model.simulate(*args)

    n_threads = threads()
    blocks = _blocks(R, n_threads, KERNEL_MIN_BLOCK if use_kernel else None)
    if len(blocks) == 1:
        return call(0, R), used[0]
    if n_threads == 1:
        parts = [call(*b) for b in blocks]
    else:
        with ThreadPoolExecutor(
            min(n_threads, len(blocks)), thread_name_prefix="czsim-ensemble"
        ) as pool:
            parts = list(pool.map(lambda b: call(*b), blocks))
    return _join_static(parts), "C" if set(used) == {"C"} else "numpy"


def _join_static(parts: list[dict]) -> dict:
    """Time-invariant results of all blocks: one value if shared by all runs, else stacked."""
    static = {}
    for name in parts[0]:
        values = [np.asarray(p[name], dtype=float) for p in parts]
        shared = values[0].ndim == 0 or values[0].shape[0] == 1
        static[name] = values[0] if shared else np.concatenate(values)
    return static


def run(
    info: ModelInfo, inputs: RunInputs
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], str]:
    """Run all runs of ``inputs`` in one vectorised pass.

    Returns
    -------
    dict of str to numpy.ndarray
        Real name -> float64 array ``(n_runs, n_times, *shape)``.
    dict of str to numpy.ndarray
        The variables that may hold NaN or infinity, with the indices of the saved times
        where they may (empty: every value is finite).
    str
        ``"C"`` if the compiled kernel ran the time loop (:mod:`.kernel`), else ``"numpy"``.
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
    static, path = _simulate_blocks(model, info, inputs, out)
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
    return result, suspects, path
