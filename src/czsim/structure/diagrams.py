"""Graphviz diagrams of the model: every element, or the sectors and their loops."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import pandas as pd

from czsim.errors import CzsimError
from czsim.structure.graph import FeedbackLoop, dependency_graph, feedback_loops
from czsim.structure.mdl import CONTROL_SECTOR, element_table, model_path, read_mdl

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


# --------------------------------------------------------------------------------------------
# Diagrams
# --------------------------------------------------------------------------------------------


def _q(text: str) -> str:
    """Quote ``text`` as a DOT string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _wrap(name: str, width: int = 18) -> str:
    return "\n".join(textwrap.wrap(name, width)) or name


def _diagram_nodes(table: pd.DataFrame, edges: pd.DataFrame) -> set[str]:
    """Choose the elements drawn in the element diagram.

    These are the stocks, flows and auxiliaries that take part in the running model.
    Constants, control variables and auxiliaries used only to initialise stocks are left out
    to keep about 80 nodes legible.
    """
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
    path = model_path(model)
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
    """Map each (sector, sector) pair to the feedback loops that cross it.

    A loop that stays inside one sector maps to a self pair ``(sector, sector)``.
    """
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
    """Render DOT source to ``out`` with Graphviz's ``dot``.

    The format comes from the suffix: .svg, .png or .pdf.

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
