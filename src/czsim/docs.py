"""Model documentation generated from ``model/changzhou.mdl``, so it can never disagree with it.

Everything here reads the model file: the element table (name, sector, type, units, equation,
comment, source kind), the dependency graph between elements, the Graphviz diagrams and the
Markdown/HTML reference written by ``czsim doc``.

Sectors are the .mdl's group headers (``****`` / ``.Name`` / ``****~``); the first header is the
model's title and its comment the model's description. Types and dims come from
:func:`czsim.engines.model_info` (the engines' own reading of the file); the dependency graph
comes from PySD's abstract syntax tree of each equation.

Examples
--------
>>> from czsim import docs
>>> table = docs.element_table()            # one row per element of the .mdl
>>> dot = docs.diagram_dot(level="sector")  # Graphviz source of the sector overview
>>> paths = docs.write_docs("docs")         # model.md, model.html, model_diagram.svg/.png, ...
"""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
import subprocess
import textwrap
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from czsim import paths
from czsim.engines.model_info import CONTROL_NAMES, abstract_section, model_info, normalize
from czsim.errors import CzsimError, ModelError

#: Columns of :func:`element_table`, in order.
COLUMNS = ("name", "sector", "type", "units", "equation", "comment", "source_kind", "dims")

#: Source kinds, by the keyword in the comment that marks each (first keyword found wins:
#: comments in the .mdl lead with the basis of their number).
SOURCE_KEYWORDS = (
    ("data", re.compile(r"\bdata:", re.IGNORECASE)),
    ("derived", re.compile(r"\bDerived\b")),
    ("assumption", re.compile(r"\bassumption\b", re.IGNORECASE)),
)

CONTROL_SECTOR = "Control"

#: Node shapes and colours of the element diagram, by element type.
_NODE_STYLE = {
    "stock": 'shape=box, style="filled,rounded", fillcolor="#dbe9f6", penwidth=1.4',
    "flow": 'shape=ellipse, style=filled, fillcolor="#fdf0d5", color="#b8860b"',
    "auxiliary": 'shape=plaintext, fontcolor="#333333"',
    "constant": 'shape=plaintext, fontsize=9, fontcolor="#777777"',
    "lookup": "shape=note, fontsize=9",
}
_EDGE_STYLE = {
    "inflow": 'color="#1a7f37", penwidth=2.6, arrowhead=normal',
    # declared flow -> stock like every dependency, but drawn pointing out of the stock, the
    # way the material moves
    "outflow": 'color="#c0392b", penwidth=2.6, dir=back, arrowtail=normal',
    "info": 'color="#8c8c8c", penwidth=0.8, arrowsize=0.6',
    "init": 'color="#bbbbbb", penwidth=0.6, style=dotted, arrowsize=0.5',
}
_FONT = "Noto Sans CJK SC"


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
        :data:`MAIN_LOOPS`.
    """

    id: str
    title: str
    waypoints: tuple[str, ...]
    story: str
    path: tuple[str, ...] = ()

    @property
    def polarity(self) -> str:
        return "reinforcing" if self.id.startswith("R") else "balancing"


#: The model's main feedback loops, by waypoints. Polarity is read from the equations (it is
#: not computed). :func:`feedback_loops` fills in each loop's full path from the dependency
#: graph, so an element inserted on the way (a perception delay, say) shows up by itself, and a
#: loop that the model no longer has fails loudly instead of being documented.
MAIN_LOOPS = (
    FeedbackLoop(
        "R1",
        "Innovation-led growth",
        (
            "Cluster output",
            "RD spending",
            "Valid invention patents",
            "Productivity index",
            "Market share effect",
            "Captured demand",
        ),
        "More output funds more R&D (a fixed R&D intensity), R&D adds invention patents, a "
        "larger patent stock raises productivity, higher productivity wins Changzhou's firms a "
        "larger share of their markets, and captured demand becomes output.",
    ),
    FeedbackLoop(
        "R2",
        "智改数转 (transformation) pays for itself",
        (
            "Cluster output",
            "Average utilisation",
            "Industrial investment",
            "Tech retrofit investment",
            "Transformation",
            "Transformed firms",
            "Perceived transformed share",
            "Productivity index",
            "Market share effect",
            "Captured demand",
        ),
        "Output raises capacity utilisation, which, as firms perceive it (accelerator), raises "
        "industrial investment "
        "and so technology-retrofit investment; retrofit speeds transformation of diagnosed "
        "firms, the transformed share raises productivity after a delay, and productivity wins "
        "market share and output.",
    ),
    FeedbackLoop(
        "B1",
        "Demand pressure steers investment",
        ("Capital", "Capacity", "Investment attractiveness", "Cluster investment"),
        "Investment is allocated to clusters whose captured demand presses on their capacity; "
        "the investment becomes capital and capacity, which relieves the pressure and turns "
        "investment towards other clusters.",
    ),
    FeedbackLoop(
        "B2",
        "Utilisation limits investment",
        (
            "Capital",
            "Capacity",
            "Average utilisation",
            "Industrial investment",
            "Cluster investment",
        ),
        "New capacity lowers average utilisation when demand does not keep up, and lower "
        "utilisation lowers industrial investment (the accelerator working in reverse).",
    ),
    FeedbackLoop(
        "B3",
        "Market saturation",
        ("Cluster demand", "Demand saturation", "Demand increase"),
        "As a cluster's demand approaches its market ceiling, the saturation factor falls and "
        "demand growth slows: growth cannot run away.",
    ),
    FeedbackLoop(
        "B4",
        "Depreciation",
        ("Capital", "Depreciation"),
        "A larger capital stock writes off more capital each year, so capital only grows while "
        "investment exceeds depreciation.",
    ),
)


# --------------------------------------------------------------------------------------------
# Reading the .mdl text
# --------------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\*+\s*\n\s*\.(?P<name>[^\n]+?)\s*\n\s*\*+\s*~(?P<comment>.*)$", re.DOTALL)
_NAME_END = re.compile(r"[=:(\[]")


@dataclass
class MdlEntry:
    """One element as written in the .mdl (components merged)."""

    name: str
    sector: str
    kind: str  # "element" or "range"
    equations: list[str] = dataclasses.field(default_factory=list)
    units: str = ""
    comment: str = ""


def _squash(text: str) -> str:
    """Collapse runs of whitespace (the .mdl wraps long lines with tabs)."""
    return re.sub(r"\s+", " ", text).strip()


def read_mdl(path: str | Path) -> tuple[str, str, dict[str, MdlEntry], list[tuple[str, str]]]:
    """Read a Vensim text model into its title, description, elements and sectors.

    Parameters
    ----------
    path : str or Path
        The .mdl file.

    Returns
    -------
    title : str
        Name of the first group header.
    description : str
        That header's comment.
    entries : dict of str to MdlEntry
        Elements and subscript ranges keyed by name, in file order.
    sectors : list of (str, str)
        Group headers after the title: (name, comment), in file order.
    """
    text = Path(path).read_text(encoding="utf-8")
    text = re.sub(r"^\s*\{UTF-8\}", "", text)
    # the sketch (diagram) section, if any, is not part of the equations
    text = text.split("\\\\\\---///", 1)[0]
    title = description = ""
    sector = ""
    sectors: list[tuple[str, str]] = []
    entries: dict[str, MdlEntry] = {}
    for chunk in text.split("|"):
        chunk = chunk.strip()
        if not chunk:
            continue
        header = _HEADER.match(chunk)
        if header:
            name, comment = _squash(header["name"]), _squash(header["comment"])
            if not title:
                title, description = name, comment
            else:
                sectors.append((name, comment))
            sector = name
            continue
        parts = chunk.split("~", 2)
        if len(parts) != 3:
            raise ModelError(
                f"cannot read element (expected 'equation ~ units ~ comment'): "
                f"{_squash(chunk)[:60]}",
                file=path,
            )
        equation, units, comment = parts
        end = _NAME_END.search(equation)
        if end is None:
            raise ModelError(f"cannot find the name in: {_squash(equation)[:60]}", file=path)
        name = _squash(equation[: end.start()])
        rest = equation[end.start() :]
        is_range = rest.startswith(":") and not rest.startswith(":=")
        body = _squash(rest[1:]) if is_range or rest.startswith("=") else _squash(rest)
        # a subscripted element written in several components keeps each component's subscripts
        home = CONTROL_SECTOR if name.upper() in CONTROL_NAMES else sector
        entry = entries.setdefault(name, MdlEntry(name, home, "range" if is_range else "element"))
        entry.equations.append(body)
        # Vensim's optional "[min,max,step]" after the units is an input range, not a unit
        entry.units = entry.units or _squash(re.sub(r"\[[^\]]*\]\s*$", "", units))
        entry.comment = entry.comment or _squash(comment)
    return title, description, entries, sectors


def source_kind(comment: str) -> str:
    """``"data"``, ``"derived"``, ``"assumption"`` or ``"definition"`` from a comment.

    The first of the keywords ``Data:``, ``Derived``, ``assumption`` in the comment decides;
    a comment with none of them defines the element (an identity or accounting relation).
    """
    found = [(m.start(), kind) for kind, rx in SOURCE_KEYWORDS if (m := rx.search(comment))]
    return min(found)[1] if found else "definition"


def _model_path(model: str | Path | None) -> Path:
    return Path(model) if model is not None else paths.MODEL_FILE


def _equation(entry: MdlEntry) -> str:
    if len(entry.equations) == 1:
        eq = entry.equations[0]
        # a single subscripted component: drop the "[Cluster] =" that only repeats the dims
        return re.sub(r"^\[[^\]]*\]\s*=\s*", "", eq)
    return "; ".join(entry.equations)


def element_table(model: str | Path | None = None) -> pd.DataFrame:
    """One row per element of the model file: variables, lookups, control variables and
    subscript ranges.

    Parameters
    ----------
    model : str or Path, optional
        The .mdl file (default ``model/changzhou.mdl``).

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``sector`` (group header the element sits under), ``type`` (stock,
        flow, auxiliary, constant, lookup, control or subscript range), ``units``,
        ``equation`` (as written, whitespace collapsed; a range's elements), ``comment``,
        ``source_kind`` (data, derived, assumption or definition) and ``dims`` (tuple of
        subscript ranges), in file order.

    Raises
    ------
    ModelError
        The file cannot be read, or the text reading and PySD's reading of it name different
        elements.
    """
    path = _model_path(model)
    info = model_info(path)
    _, _, entries, _ = read_mdl(path)
    _check_against_pysd(path, entries)
    rows = []
    for entry in entries.values():
        if entry.kind == "range":
            vtype, dims = "subscript range", ()
        elif entry.name.upper() in CONTROL_NAMES:
            vtype, dims = "control", ()
        else:
            var = info.lookup(entry.name)
            vtype, dims = var.type, var.dims
        rows.append(
            {
                "name": entry.name,
                "sector": entry.sector,
                "type": vtype,
                "units": entry.units,
                "equation": _equation(entry),
                "comment": entry.comment,
                "source_kind": source_kind(entry.comment),
                "dims": dims,
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _check_against_pysd(path: Path, entries: dict[str, MdlEntry]) -> None:
    """The text reading must find exactly the elements PySD finds: otherwise the docs would
    silently drop or invent something."""
    section, _ = abstract_section(path)
    pysd_names = {normalize(e.name) for e in section.elements}
    pysd_names |= {normalize(r.name) for r in section.subscripts}
    ours = {normalize(n) for n in entries}
    if ours != pysd_names:
        missing, extra = sorted(pysd_names - ours), sorted(ours - pysd_names)
        raise ModelError(
            f"documentation reader and PySD disagree: missing {missing}, extra {extra}", file=path
        )


# --------------------------------------------------------------------------------------------
# Dependency graph
# --------------------------------------------------------------------------------------------

#: Fields of PySD's expression structures that hold an initial value (INTEG, SMOOTH, DELAY,
#: TREND, ...): references there act only at the start, so they are "init" links.
_INITIAL_FIELDS = ("initial", "initial_trend")


def _references(node, out: set[str]) -> set[str]:
    """Collect the ReferenceStructure keys under an abstract-syntax node that act while the
    model runs (not those inside INITIAL() or an initial-value argument)."""
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
    """References inside INITIAL() and inside the initial value of INTEG/SMOOTH/DELAY."""
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


def _signed_terms(node, sign: int = 1) -> list[tuple[int, object]]:
    """Split a stock's rate into its top-level added (+1) and subtracted (-1) terms."""
    from pysd.translators.structures import abstract_expressions as ae

    if isinstance(node, ae.ArithmeticStructure):
        if node.operators == ["negative"]:
            return _signed_terms(node.arguments[0], -sign)
        if set(node.operators) <= {"+", "-"}:
            terms = _signed_terms(node.arguments[0], sign)
            for op, arg in zip(node.operators, node.arguments[1:], strict=True):
                terms += _signed_terms(arg, sign if op == "+" else -sign)
            return terms
    return [(sign, node)]


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

    path = _model_path(model)
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
                for sign, term in _signed_terms(ast.flow):
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
    """The main feedback loops (:data:`MAIN_LOOPS`) with their full paths in the model.

    Between consecutive waypoints the path is the shortest route along links that act while
    the model runs (initial-value links excluded).

    Raises
    ------
    ModelError
        A documented loop is not in the model: a waypoint is not an element, or one does not
        reach the next.
    """
    path = _model_path(model)
    edges = dependency_graph(path)
    live = edges[edges["kind"] != "init"]
    links: dict[str, list[str]] = defaultdict(list)
    for source, target in zip(live["source"], live["target"], strict=True):
        links[source].append(target)
    out = []
    for loop in MAIN_LOOPS:
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


# --------------------------------------------------------------------------------------------
# Diagrams
# --------------------------------------------------------------------------------------------


def _q(text: str) -> str:
    """A DOT string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _wrap(name: str, width: int = 18) -> str:
    return "\n".join(textwrap.wrap(name, width)) or name


def _diagram_nodes(table: pd.DataFrame, edges: pd.DataFrame) -> set[str]:
    """Elements drawn in the element diagram: stocks, flows and auxiliaries that take part in
    the running model. Constants, control variables and auxiliaries used only to initialise
    stocks are left out to keep about 80 nodes legible."""
    dynamic = table[table["type"].isin(["stock", "flow", "auxiliary", "lookup"])]
    used_live = set(edges.loc[edges["kind"] != "init", "source"])
    # a constant that is itself a stock's inflow (a build rate) is the stock's only driver
    keep = set(edges.loc[edges["kind"].isin(["inflow", "outflow"]), "source"])
    constants = set(table.loc[table["type"] == "constant", "name"])
    live = edges[edges["kind"] != "init"]
    for _, row in dynamic.iterrows():
        name = row["name"]
        inputs = set(live.loc[live["target"] == name, "source"])
        # an auxiliary that nothing uses while running and that only combines constants is an
        # initialisation detail (e.g. Initial capital), not structure
        if row["type"] == "auxiliary" and name not in used_live and inputs <= constants:
            continue
        keep.add(name)
    return keep


def diagram_dot(
    model: str | Path | None = None,
    *,
    sectors: Iterable[str] | None = None,
    level: Literal["element", "sector"] = "element",
) -> str:
    """Graphviz DOT source of the model's structure.

    Parameters
    ----------
    model : str or Path, optional
        The .mdl file (default ``model/changzhou.mdl``).
    sectors : iterable of str, optional
        Element level only: draw these sectors (names of group headers); elements of other
        sectors that they reference are drawn greyed at the edge. Default: every sector.
    level : {"element", "sector"}
        ``"element"``: stocks (boxes), flows (ellipses) and auxiliaries (text), one cluster per
        sector; green/red thick arrows are a stock's inflows/outflows, thin grey arrows
        information links. ``"sector"``: one node per sector, arrows weighted by the number of
        element links between sectors, labelled with the main feedback loops running along
        them.

    Returns
    -------
    str
        DOT source (render with ``dot -Tsvg``).
    """
    path = _model_path(model)
    table = element_table(path)
    edges = dependency_graph(path)
    if level == "sector":
        return _sector_dot(path, table, edges)
    if level != "element":
        raise CzsimError(
            f"unknown diagram level '{level}' (use 'element' or 'sector')", key="level"
        )
    _, _, _, all_sectors = read_mdl(path)
    sector_names = [s for s, _ in all_sectors if s != CONTROL_SECTOR]
    chosen = list(sector_names if sectors is None else sectors)
    unknown = [s for s in chosen if s not in sector_names]
    if unknown:
        raise CzsimError(
            f"unknown sector(s) {unknown} (sectors: {', '.join(sector_names)})", key="sectors"
        )
    nodes = _diagram_nodes(table, edges)
    sector_of = dict(zip(table["name"], table["sector"], strict=True))
    type_of = dict(zip(table["name"], table["type"], strict=True))
    rate_constants = set(edges.loc[edges["kind"].isin(["inflow", "outflow"]), "source"])
    type_of.update({n: "flow" for n in rate_constants if type_of[n] == "constant"})
    drawn = {n for n in nodes if sector_of[n] in chosen}
    shown = edges[
        edges["target"].isin(drawn) & edges["source"].isin(nodes) & (edges["kind"] != "init")
    ]
    ghosts = set(shown["source"]) - drawn

    lines = [
        "digraph changzhou {",
        f"  graph [rankdir=LR, fontname={_q(_FONT)}, fontsize=13, newrank=true, "
        "nodesep=0.18, ranksep=0.45, compound=true, labelloc=t, "
        f"label={_q('czsim model structure (generated from model/changzhou.mdl)')}];",
        f'  node [fontname={_q(_FONT)}, fontsize=10, margin="0.05,0.02", height=0.3];',
        f"  edge [fontname={_q(_FONT)}, fontsize=8];",
    ]
    for i, sector in enumerate(chosen):
        members = sorted(
            (n for n in drawn if sector_of[n] == sector), key=list(table["name"]).index
        )
        if not members:
            continue
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(
            f'    label={_q(sector)}; style="rounded,filled"; fillcolor="#f7f7f7"; '
            'color="#999999"; fontsize=12;'
        )
        for n in members:
            lines.append(f"    {_q(n)} [label={_q(_wrap(n))}, {_NODE_STYLE[type_of[n]]}];")
        lines.append("  }")
    for n in sorted(ghosts):
        lines.append(
            f'  {_q(n)} [label={_q(_wrap(n))}, shape=plaintext, fontcolor="#aaaaaa", '
            f"fontsize=9, tooltip={_q(sector_of[n])}];"
        )
    for row in shown.itertuples(index=False):
        lines.append(f"  {_q(row.source)} -> {_q(row.target)} [{_EDGE_STYLE[row.kind]}];")
    lines += _legend_lines()
    lines.append("}")
    return "\n".join(lines) + "\n"


def _legend_lines() -> list[str]:
    return [
        "  subgraph cluster_legend {",
        '    label="Legend"; fontsize=11; style=rounded; color="#cccccc";',
        f'    legend_inflow [label="inflow", {_NODE_STYLE["flow"]}];',
        f'    legend_stock [label="stock", {_NODE_STYLE["stock"]}];',
        f'    legend_outflow [label="outflow", {_NODE_STYLE["flow"]}];',
        f'    legend_aux [label="auxiliary", {_NODE_STYLE["auxiliary"]}];',
        "    legend_inflow -> legend_stock [" + _EDGE_STYLE["inflow"] + "];",
        "    legend_outflow -> legend_stock [" + _EDGE_STYLE["outflow"] + "];",
        "    legend_aux -> legend_inflow ["
        + _EDGE_STYLE["info"]
        + ', label="information link", fontcolor="#8c8c8c"];',
        "  }",
    ]


def sector_links(model: str | Path | None = None) -> pd.DataFrame:
    """Number of element links between sectors (initial-value links excluded).

    Returns
    -------
    pandas.DataFrame
        Columns ``source``, ``target`` (sector names) and ``links`` (count); within-sector
        links are included with ``source == target``.
    """
    path = _model_path(model)
    table = element_table(path)
    return _sector_links(table, dependency_graph(path))


def _sector_links(table: pd.DataFrame, edges: pd.DataFrame) -> pd.DataFrame:
    sector_of = dict(zip(table["name"], table["sector"], strict=True))
    live = edges[edges["kind"] != "init"]
    counts = Counter(
        (sector_of[s], sector_of[t]) for s, t in zip(live["source"], live["target"], strict=True)
    )
    rows = [{"source": s, "target": t, "links": n} for (s, t), n in counts.items()]
    return pd.DataFrame(rows, columns=["source", "target", "links"])


def _loop_sector_edges(
    loops: Sequence[FeedbackLoop], sector_of: dict[str, str]
) -> dict[tuple[str, str], list[str]]:
    """For each (sector, sector) pair, the loops that cross it (a self pair when a loop stays
    inside one sector)."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for loop in loops:
        secs = [sector_of[n] for n in loop.path]
        if len(set(secs)) == 1:
            out[(secs[0], secs[0])].append(loop.id)
            continue
        for a, b in zip(secs, (*secs[1:], secs[0]), strict=True):
            if a != b and loop.id not in out[(a, b)]:
                out[(a, b)].append(loop.id)
    return out


_SECTOR_TITLE = "Sectors of the model and their links (generated from model/changzhou.mdl)"


def _sector_dot(path: Path, table: pd.DataFrame, edges: pd.DataFrame) -> str:
    _, _, _, sectors = read_mdl(path)
    names = [s for s, _ in sectors if s != CONTROL_SECTOR]
    links = _sector_links(table, edges)
    sector_of = dict(zip(table["name"], table["sector"], strict=True))
    loops = feedback_loops(path)
    loop_edges = _loop_sector_edges(loops, sector_of)
    counts = table.groupby(["sector", "type"]).size()

    lines = [
        "digraph sectors {",
        f"  graph [rankdir=LR, fontname={_q(_FONT)}, fontsize=13, nodesep=0.5, "
        f"ranksep=0.9, labelloc=t, "
        f"label={_q(_SECTOR_TITLE)}];",
        f'  node [fontname={_q(_FONT)}, fontsize=11, shape=box, style="rounded,filled", '
        'fillcolor="#dbe9f6", margin="0.15,0.08"];',
        f'  edge [fontname={_q(_FONT)}, fontsize=9, color="#666666"];',
    ]
    for i, name in enumerate(names):
        parts = [
            f"{int(counts[(name, t)])} {plural if counts[(name, t)] != 1 else t}"
            for t, plural in (
                ("stock", "stocks"),
                ("flow", "flows"),
                ("auxiliary", "auxiliaries"),
                ("constant", "constants"),
            )
            if (name, t) in counts
        ]
        label = _wrap(name, 22) + "\n" + ", ".join(parts)
        lines.append(f"  s{i} [label={_q(label)}];")
    index = {n: i for i, n in enumerate(names)}
    biggest = max(int(links["links"].max()), 1) if len(links) else 1
    for row in links.itertuples(index=False):
        if row.source not in index or row.target not in index:
            continue
        ids = loop_edges.get((row.source, row.target), [])
        if row.source == row.target and not ids:
            continue  # internal links are summarised by the node's counts
        width = 0.8 + 3.5 * row.links / biggest
        colour = "#b03a2e" if ids else "#666666"
        label = f"{row.links}" + (f"  {' '.join(ids)}" if ids else "")
        lines.append(
            f"  s{index[row.source]} -> s{index[row.target]} [label={_q(label)}, "
            f'penwidth={width:.2f}, color="{colour}", fontcolor="{colour}"];'
        )
    legend = "".join(
        "\\l    ".join(
            textwrap.wrap(
                f"{lp.id} ({lp.polarity}) {lp.title}: " + " → ".join(lp.path) + f" → {lp.path[0]}",
                90,
            )
        )
        + "\\l"
        for lp in loops
    )
    lines.append(
        f'  loops [shape=note, style=filled, fillcolor="#fffbe6", fontsize=9, '
        f'label="Main feedback loops (edge labels: element links, loop ids)\\l{legend}"];'
    )
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_executable() -> str:
    """Path of Graphviz's ``dot``; :class:`CzsimError` with the install hint if missing."""
    exe = shutil.which("dot")
    if exe is None:
        raise CzsimError(
            "Graphviz's 'dot' program is not installed: install Debian's "
            "'graphviz' package (apt-get install graphviz), or skip the picture "
            "with --no-diagram",
            key="dot",
        )
    return exe


def render(dot_source: str, out: str | Path) -> Path:
    """Render DOT source to ``out`` with Graphviz's ``dot`` (format from the suffix:
    .svg, .png or .pdf).

    Raises
    ------
    CzsimError
        ``dot`` is not installed, or it failed.
    """
    out = Path(out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in ("svg", "png", "pdf"):
        raise CzsimError(f"cannot render '{out.suffix}' (use .svg, .png or .pdf)", file=out)
    exe = dot_executable()
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [exe, f"-T{fmt}", "-o", str(out)]
    if fmt == "png":
        args.insert(1, "-Gdpi=110")
    proc = subprocess.run(args, input=dot_source.encode("utf-8"), capture_output=True, check=False)
    if proc.returncode != 0:
        raise CzsimError(f"dot failed: {proc.stderr.decode('utf-8', 'replace').strip()}", file=out)
    return out


def render_svg(dot_source: str) -> str:
    """SVG text of DOT source (for display in notebooks: ``IPython.display.SVG``)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return render(dot_source, Path(tmp) / "d.svg").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Markdown and HTML reference
# --------------------------------------------------------------------------------------------

_TYPE_ORDER = ("stock", "flow", "auxiliary", "constant", "lookup", "subscript range", "control")
_PLURAL = {
    "stock": "stocks",
    "flow": "flows",
    "auxiliary": "auxiliaries",
    "constant": "constants",
    "lookup": "lookups",
    "subscript range": "subscript ranges",
    "control": "control variables",
}


def _anchor(text: str) -> str:
    """A stable, ASCII-safe anchor id for a sector or element."""
    slug = re.sub(r"[^0-9a-z]+", "-", text.lower()).strip("-")
    return slug or "section"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _dims_text(dims: tuple[str, ...]) -> str:
    return f"[{', '.join(dims)}]" if dims else ""


def _sections(path: Path) -> tuple[str, str, list[tuple[str, str, pd.DataFrame]]]:
    title, description, _, sectors = read_mdl(path)
    table = element_table(path)
    groups = [
        (
            "Subscript ranges",
            "The dimensions of subscripted elements.",
            table[table["type"] == "subscript range"],
        )
    ]
    for name, comment in sectors:
        groups.append(
            (name, comment, table[(table["sector"] == name) & (table["type"] != "subscript range")])
        )
    return title, description, [g for g in groups if len(g[2])]


def _summary(table: pd.DataFrame) -> str:
    counts = table["type"].value_counts()
    kinds = table[table["type"] == "constant"]["source_kind"].value_counts()
    by_type = ", ".join(
        f"{int(counts[t])} {t if counts[t] == 1 else _PLURAL[t]}"
        for t in _TYPE_ORDER
        if t in counts
    )
    by_kind = ", ".join(f"{int(v)} {k}" for k, v in kinds.items())
    return f"{len(table)} elements: {by_type}. Constants by source: {by_kind}."


def markdown(model: str | Path | None = None, *, diagrams: Sequence[str] = ()) -> str:
    """The model reference as Markdown: every element with its equation, units, comment and
    source kind, grouped by sector, with a table of contents and the main feedback loops.

    Parameters
    ----------
    diagrams : sequence of str
        Image files (relative to the Markdown file) embedded after the loops.
    """
    path = _model_path(model)
    title, description, groups = _sections(path)
    table = element_table(path)
    out = [
        f"# {title}",
        "",
        f"*Generated by `czsim doc` from `model/{path.name}`; do not edit by hand.*",
        "",
        description,
        "",
        _summary(table),
        "",
        "## Contents",
        "",
    ]
    out.append("- [Feedback loops](#feedback-loops)")
    for name, _, frame in groups:
        out.append(f"- [{name}](#{_anchor(name)}) ({len(frame)})")
    out += ["", "## Feedback loops", ""]
    for lp in feedback_loops(path):
        chain = " → ".join(lp.path) + f" → {lp.path[0]}"
        out += [f"**{lp.id} {lp.title}** ({lp.polarity}): {chain}. {lp.story}", ""]
    for image in diagrams:
        out += [f"![{Path(image).stem}]({image})", ""]
    for name, comment, frame in groups:
        out += [
            f'<a id="{_anchor(name)}"></a>',
            "",
            f"## {name}",
            "",
            comment,
            "",
            "| Name | Type | Units | Equation | Source | Comment |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in frame.itertuples(index=False):
            eq = f"`{_md_cell(row.equation)}`" if row.equation else ""
            out.append(
                f"| **{_md_cell(row.name)}**{_dims_text(row.dims)} | {row.type} | "
                f"{_md_cell(row.units)} | {eq} | {row.source_kind} | "
                f"{_md_cell(row.comment)} |"
            )
        out.append("")
    return "\n".join(out)


_CSS = """
body { font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; font-size: 0.88em; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left; }
th { background: #eef3f8; }
code { font-size: 0.92em; background: #f5f5f5; padding: 0 2px; word-break: break-word; }
.kind-data { color: #1a7f37; } .kind-derived { color: #1f5fa8; }
.kind-assumption { color: #b35900; } .kind-definition { color: #555; }
img { max-width: 100%; border: 1px solid #ddd; }
nav ul { columns: 2; }
"""


def html_page(model: str | Path | None = None, *, diagrams: Sequence[str] = ()) -> str:
    """The model reference as a standalone HTML page (same content as :func:`markdown`)."""
    path = _model_path(model)
    title, description, groups = _sections(path)
    table = element_table(path)
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{e(title)}</h1>",
        f"<p><em>Generated by <code>czsim doc</code> from <code>model/{e(path.name)}</code>; "
        "do not edit by hand.</em></p>",
        f"<p>{e(description)}</p>",
        f"<p>{e(_summary(table))}</p>",
        "<nav><h2>Contents</h2><ul>",
        '<li><a href="#feedback-loops">Feedback loops</a></li>',
    ]
    for name, _, frame in groups:
        out.append(f'<li><a href="#{_anchor(name)}">{e(name)}</a> ({len(frame)})</li>')
    out += ["</ul></nav>", '<h2 id="feedback-loops">Feedback loops</h2>']
    for lp in feedback_loops(path):
        chain = " → ".join(lp.path) + f" → {lp.path[0]}"
        out.append(
            f"<p><strong>{e(lp.id)} {e(lp.title)}</strong> ({lp.polarity}): "
            f"{e(chain)}. {e(lp.story)}</p>"
        )
    for image in diagrams:
        out.append(
            f'<p><a href="{e(image)}"><img src="{e(image)}" alt="{e(Path(image).stem)}"></a></p>'
        )
    for name, comment, frame in groups:
        out += [
            f'<h2 id="{_anchor(name)}">{e(name)}</h2>',
            f"<p>{e(comment)}</p>",
            "<table><thead><tr><th>Name</th><th>Type</th><th>Units</th><th>Equation</th>"
            "<th>Source</th><th>Comment</th></tr></thead><tbody>",
        ]
        for row in frame.itertuples(index=False):
            out.append(
                f'<tr id="{_anchor(row.name)}"><td><strong>{e(row.name)}</strong>'
                f"{e(_dims_text(row.dims))}</td><td>{e(row.type)}</td><td>{e(row.units)}</td>"
                f"<td><code>{e(row.equation)}</code></td>"
                f'<td class="kind-{row.source_kind}">{row.source_kind}</td>'
                f"<td>{e(row.comment)}</td></tr>"
            )
        out.append("</tbody></table>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


#: Diagram files written by :func:`write_docs` (stem, level).
DIAGRAMS = (("model_diagram", "element"), ("model_sectors", "sector"))


def write_docs(
    out_dir: str | Path = "docs", *, model: str | Path | None = None, diagram: bool = True
) -> list[Path]:
    """Write the model reference: ``model.md``, ``model.html`` and, with ``diagram``, the
    element diagram ``model_diagram.svg``/``.png`` and sector overview
    ``model_sectors.svg``/``.png``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created if needed).
    model : str or Path, optional
        The .mdl file (default ``model/changzhou.mdl``).
    diagram : bool
        Render the diagrams with Graphviz's ``dot``. Without it the Markdown and HTML are
        written anyway and embed the diagrams only if they already exist in ``out_dir``.

    Returns
    -------
    list of Path
        Files written.

    Raises
    ------
    CzsimError
        ``diagram`` is true and Graphviz's ``dot`` is not installed (nothing is written).
    """
    out_dir = Path(out_dir)
    path = _model_path(model)
    if diagram:
        dot_executable()  # fail before writing anything
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if diagram:
        for stem, level in DIAGRAMS:
            source = diagram_dot(path, level=level)
            for suffix in (".svg", ".png"):
                written.append(render(source, out_dir / f"{stem}{suffix}"))
    # overview first, then the detail
    images = [
        f"{stem}.svg" for stem, _ in reversed(DIAGRAMS) if (out_dir / f"{stem}.svg").is_file()
    ]
    md = out_dir / "model.md"
    md.write_text(markdown(path, diagrams=images), encoding="utf-8")
    page = out_dir / "model.html"
    page.write_text(html_page(path, diagrams=images), encoding="utf-8")
    return [md, page, *written]


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
