"""The model as a graph: dependencies between elements (from PySD's syntax trees) and loops."""

from __future__ import annotations

import dataclasses
import tomllib
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from czsim import paths
from czsim.engines.model_info import abstract_section, normalize, signed_terms
from czsim.errors import ModelError
from czsim.structure.mdl import model_path


@dataclass(frozen=True)
class FeedbackLoop:
    """A named feedback loop: a closed path through the dependency graph.

    Attributes
    ----------
    id : str
        Short label, ``R`` (reinforcing) or ``B`` (balancing) and a number.
    title : str
        What the loop is about.
    waypoints : tuple of str
        Key elements the loop passes through, in order (it closes from the last to the
        first).
    story : str
        The loop in words, including why it has its polarity.
    path : tuple of str
        Every element of the loop, found in the model by :func:`feedback_loops` (the
        shortest live-link route between consecutive waypoints); empty in
        :func:`documented_loops`.
    """

    id: str
    title: str
    waypoints: tuple[str, ...]
    story: str
    path: tuple[str, ...] = ()

    @property
    def polarity(self) -> str:
        """Return ``"reinforcing"`` for an ``R`` loop, otherwise ``"balancing"``."""
        return "reinforcing" if self.id.startswith("R") else "balancing"


#: The model's main feedback loops, by waypoints, with their stories: ``model/loops.toml``.
LOOPS_FILE = paths.ROOT / "model" / "loops.toml"


def documented_loops(path: str | Path | None = None) -> tuple[FeedbackLoop, ...]:
    """Return the feedback loops documented in ``model/loops.toml`` (paths not yet traced).

    Polarity is read from the equations by the modeller (it is not computed);
    :func:`feedback_loops` fills in each loop's full path from the dependency graph, so an
    element inserted on the way (a perception delay, say) shows up by itself, and a loop that
    the model no longer has fails loudly instead of being documented.
    """
    file = Path(path) if path is not None else LOOPS_FILE
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"cannot read the feedback loops: {exc}", file=file) from None
    return tuple(
        FeedbackLoop(
            id=entry["id"],
            title=entry["title"],
            waypoints=tuple(entry["waypoints"]),
            story=" ".join(entry["story"].split()),
        )
        for entry in data["loop"]
    )


# --------------------------------------------------------------------------------------------
# Dependency graph
# --------------------------------------------------------------------------------------------

#: Fields of PySD's expression structures that hold an initial value (INTEG, SMOOTH, DELAY,
#: TREND, ...): references there act only at the start, so they are "init" links.
_INITIAL_FIELDS = ("initial", "initial_trend")


def _references(node, out: set[str]) -> set[str]:
    """Collect the references under an abstract-syntax node that act while the model runs.

    These are the ReferenceStructure keys outside INITIAL() and outside an initial-value
    argument; they are added to ``out``, which is returned.
    """
    from pysd.translators.structures import abstract_expressions as ae

    if isinstance(node, ae.ReferenceStructure):
        out.add(node.reference)
    if isinstance(node, ae.InitialStructure):
        return out
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            if f.name not in _INITIAL_FIELDS:
                _references(getattr(node, f.name), out)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _references(item, out)
    return out


def _init_references(node, out: set[str]) -> set[str]:
    """Collect the references inside INITIAL() and the initial value of INTEG/SMOOTH/DELAY."""
    from pysd.translators.structures import abstract_expressions as ae

    if isinstance(node, ae.InitialStructure):
        return _references(node.initial, out)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            child = getattr(node, f.name)
            if f.name in _INITIAL_FIELDS:
                _references(child, out)
            _init_references(child, out)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _init_references(item, out)
    return out


def dependency_graph(model: str | Path | None = None) -> pd.DataFrame:
    """Edges A -> B where B's equation references A.

    Parameters
    ----------
    model : str or Path, optional
        The .mdl file (default ``model/changzhou.mdl``).

    Returns
    -------
    pandas.DataFrame
        Columns ``source``, ``target`` (element names) and ``kind``: ``"inflow"`` /
        ``"outflow"`` (a variable added to / subtracted from a stock's rate), ``"info"`` (any
        other use in an equation) or ``"init"`` (used only for an initial value). Self
        references are left out.
    """
    from pysd.translators.structures import abstract_expressions as ae

    path = model_path(model)
    section, _ = abstract_section(path)
    key_to_name = {normalize(e.name): e.name for e in section.elements}
    edges: dict[tuple[str, str], str] = {}
    rank = {"init": 0, "info": 1, "inflow": 2, "outflow": 2}

    def add(source_key: str, target: str, kind: str) -> None:
        source = key_to_name.get(source_key)
        if source is None or source == target:  # functions, Time, subscripts; self-loops
            return
        old = edges.get((source, target))
        if old is None or rank[kind] > rank[old]:
            edges[(source, target)] = kind

    for el in section.elements:
        for comp in el.components:
            ast = comp.ast
            for key in _init_references(ast, set()):
                add(key, el.name, "init")
            if isinstance(ast, ae.IntegStructure):
                for sign, term in signed_terms(ast.flow):
                    if isinstance(term, ae.ReferenceStructure):
                        add(term.reference, el.name, "inflow" if sign > 0 else "outflow")
                    else:
                        for key in _references(term, set()):
                            add(key, el.name, "info")
                continue
            for key in _references(ast, set()):
                add(key, el.name, "info")
    rows = [{"source": s, "target": t, "kind": k} for (s, t), k in edges.items()]
    return pd.DataFrame(rows, columns=["source", "target", "kind"])


def _shortest_path(links: dict[str, list[str]], source: str, target: str) -> list[str] | None:
    """Breadth-first shortest path ``source`` ... ``target`` (both included), or None."""
    previous: dict[str, str | None] = {source: None}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        for nxt in links.get(node, ()):
            if nxt in previous:
                continue
            previous[nxt] = node
            if nxt == target:
                path = [nxt]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return path[::-1]
            queue.append(nxt)
    return None


def feedback_loops(model: str | Path | None = None) -> list[FeedbackLoop]:
    """Find the main feedback loops (:func:`documented_loops`) with their full paths in the model.

    Between consecutive waypoints the path is the shortest route along links that act while
    the model runs (initial-value links excluded).

    Raises
    ------
    ModelError
        A documented loop is not in the model: a waypoint is not an element, or one does not
        reach the next.
    """
    path = model_path(model)
    edges = dependency_graph(path)
    live = edges[edges["kind"] != "init"]
    links: dict[str, list[str]] = defaultdict(list)
    for source, target in zip(live["source"], live["target"], strict=True):
        links[source].append(target)
    out = []
    for loop in documented_loops():
        full: list[str] = []
        for a, b in zip(loop.waypoints, (*loop.waypoints[1:], loop.waypoints[0]), strict=True):
            step = _shortest_path(links, a, b)
            if step is None:
                raise ModelError(
                    f"feedback loop {loop.id} ({loop.title}) is broken: "
                    f"'{b}' does not depend on '{a}'",
                    file=path,
                )
            full += step[:-1]  # the next leg starts at b
        out.append(dataclasses.replace(loop, path=tuple(full)))
    return out
