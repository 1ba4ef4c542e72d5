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
>>> from czsim import reference, structure
>>> table = structure.element_table()             # one row per element of the .mdl
>>> dot = structure.diagram_dot(level="sector")   # Graphviz source of the sector overview
>>> paths = reference.write_docs("docs")          # model.md, model.html, diagrams, ...
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from czsim import paths
from czsim.errors import CzsimError
from czsim.structure.diagrams import diagram_dot, dot_executable, render
from czsim.structure.graph import feedback_loops
from czsim.structure.mdl import element_table, model_path, read_mdl

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
    """Return a stable, ASCII-safe anchor id for a sector or element."""
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
    numbers = input_numbers(table)
    by_number = ", ".join(f"{int(v)} {k}" for k, v in numbers.items())
    informative = numbers.drop("definition", errors="ignore")
    share = numbers.get("assumption", 0) / informative.sum() if informative.sum() else 0.0
    return (
        f"{len(table)} elements: {by_type}. Constants by source: {by_kind}. Their "
        f"{int(numbers.sum())} numbers (every subscript element counted): {by_number}; "
        f"assumptions are {share:.0%} of the numbers that are not definitions."
    )


def input_numbers(table: pd.DataFrame) -> pd.Series:
    """Return the model's input numbers by source kind, every subscript element counted.

    A constant over ``Cluster`` holds eleven numbers, one over ``(Group, Cluster)`` 33: the count
    a referee makes of how much of the model is data, fitted, derived, assumed or defined.
    """
    ranges = table[table["type"] == "subscript range"]
    size = {
        r.name: len([x for x in r.equation.split(",") if x.strip()]) for r in ranges.itertuples()
    }
    constants = table[table["type"] == "constant"]
    counts = [math.prod(size.get(d, 1) for d in dims) for dims in constants["dims"]]
    return (
        pd.Series(counts, index=constants["source_kind"].to_numpy())
        .groupby(level=0)
        .sum()
        .sort_values(ascending=False)
    )


def markdown(model: str | Path | None = None, *, diagrams: Sequence[str] = ()) -> str:
    """Render the model reference as Markdown.

    Every element is listed with its equation, units, comment and source kind, grouped by
    sector, with a table of contents and the main feedback loops.

    Parameters
    ----------
    diagrams : sequence of str
        Image files (relative to the Markdown file) embedded after the loops.
    """
    path = model_path(model)
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
.kind-fitted { color: #6f42c1; }
img { max-width: 100%; border: 1px solid #ddd; }
nav ul { columns: 2; }
"""


def html_page(model: str | Path | None = None, *, diagrams: Sequence[str] = ()) -> str:
    """Render the model reference as a standalone HTML page (same content as :func:`markdown`)."""
    path = model_path(model)
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
    """Write the model reference files into ``out_dir``.

    These are ``model.md``, ``model.html`` and, with ``diagram``, the element diagram
    ``model_diagram.svg``/``.png`` and the sector overview ``model_sectors.svg``/``.png``.

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
    path = model_path(model)
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


# --------------------------------------------------------------------------------------------
# README figures
# --------------------------------------------------------------------------------------------

#: The README's generated blocks: ``<!-- generated: NAME -->`` ... ``<!-- end generated -->``.
_BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S
)


def _scenario_table() -> str:
    """Every scenario: its parent, its description's first sentence, the headline in its year."""
    from czsim import api
    from czsim.scenarios import list_scenarios, load_scenario
    from czsim.targets import headline, scorecard
    from czsim.text import format_number

    head = headline().target
    rows = [
        "| scenario | extends | what it says | "
        f"{head.year} {head.label_en.lower()} ({head.unit}) |",
        "|---|---|---|---|",
    ]
    for name in list_scenarios():
        scenario = load_scenario(name)
        card = scorecard(api.run(scenario, variables=[head.variable]), (head,))
        first = scenario.description("en").split(". ")[0].split(": ")[0].rstrip(".")
        parent = scenario.parent or "—"
        value = format_number(card.loc[head.id, "value"])
        rows.append(f"| `{name}` | {parent} | {first} | {value} |")
    return "\n".join(rows) + "\n"


def _history_table() -> str:
    """Baseline against every observation of the last observed year (model/data)."""
    from czsim import api
    from czsim.experiments.calibration import Operator, load_observations
    from czsim.text import format_number

    obs = load_observations()
    last = obs[obs["year"] == obs["year"].max()].reset_index(drop=True)
    op = Operator.build(last)
    ds = api.run("baseline", variables=list(op.variables), times=list(op.times))
    model = {"value": op.apply({v: ds[v].values for v in op.variables})[0]}
    rows = [
        f"| {int(last['year'].iloc[0])} observation | kind | observed | baseline | error |",
        "|---|---|---|---|---|",
    ]
    for (_, o), m in zip(last.iterrows(), model["value"], strict=True):
        scale = 100.0 if o["kind"] in ("share", "growth") else 1.0
        unit = "%" if scale == 100.0 else ""
        bound = "≥ " if o["bound"] == "lower" else ""
        miss = m - o["value"]
        if o["bound"] == "lower":
            miss = min(miss, 0.0)
        error = miss * scale if scale == 100.0 else miss / o["value"] * 100
        rows.append(
            f"| {o['variable']} | {o['kind']} | {bound}{format_number(o['value'] * scale)}{unit} | "
            f"{format_number(m * scale)}{unit} | {error:+.1f}{' pt' if scale == 100.0 else '%'} |"
        )
    return "\n".join(rows) + "\n"


#: Generated README blocks by name.
README_BLOCKS = {"scenarios": _scenario_table, "history": _history_table}


def readme_text(text: str) -> str:
    """Return ``text`` (a README) with every generated block rewritten from the model."""

    def fill(match: re.Match) -> str:
        name = match.group("name")
        if name not in README_BLOCKS:
            raise CzsimError(f"unknown generated block '{name}'", key=name)
        return match.group(1) + README_BLOCKS[name]() + match.group(4)

    return _BLOCK.sub(fill, text)


def update_readme(path: str | Path | None = None) -> bool:
    """Rewrite the README's generated blocks; return whether the file changed."""
    file = Path(path) if path is not None else paths.ROOT / "README.md"
    text = file.read_text(encoding="utf-8")
    new = readme_text(text)
    if new != text:
        file.write_text(new, encoding="utf-8")
    return new != text
