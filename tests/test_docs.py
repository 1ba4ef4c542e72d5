"""Generated documentation: it lists every element of the model file, and the commands write it."""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path

import pytest

from czsim import paths, reference, structure
from czsim.cli import main
from czsim.engines import model_info
from czsim.engines.model_info import CONTROL_NAMES
from czsim.errors import CzsimError, ModelError

MODEL = paths.MODEL_FILE

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CZSIM_REQUIRE_BROWSER"),
    reason="Graphviz's dot is not installed (CI installs it and sets CZSIM_REQUIRE_BROWSER)",
)


def pysd_names() -> tuple[set[str], set[str]]:
    """Element and subscript-range names as PySD reads the file (independent of czsim)."""
    from pysd.translators.vensim.vensim_file import VensimFile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vf = VensimFile(str(MODEL))
        vf.parse()
        section = vf.get_abstract_model().sections[0]
    return {e.name for e in section.elements}, {r.name for r in section.subscripts}


@pytest.fixture(scope="module")
def table():
    return structure.element_table()


def test_table_lists_every_element_of_the_model(table):
    elements, ranges = pysd_names()
    assert set(table["name"]) == elements | ranges
    assert table["name"].is_unique
    assert set(table.loc[table["type"] == "subscript range", "name"]) == ranges
    assert set(table.loc[table["type"] == "control", "name"]) == set(CONTROL_NAMES)


def test_table_agrees_with_model_info(table):
    info = model_info(MODEL)
    by_name = table.set_index("name")
    for name, var in info.variables.items():
        assert by_name.loc[name, "type"] == var.type, name
        assert by_name.loc[name, "dims"] == var.dims, name
        assert by_name.loc[name, "units"] == var.units, name


def test_every_variable_has_units_comment_and_equation(table):
    variables = table[table["type"] != "subscript range"]
    assert (variables["units"] != "").all()
    assert (variables["comment"] != "").all()
    assert (table["equation"] != "").all()
    assert set(table["source_kind"]) <= {"data", "fitted", "derived", "assumption", "definition"}


def test_sectors_are_the_group_headers(table):
    headers = re.findall(
        r"^\*+\s*\n\s*\.(.+?)\s*$", MODEL.read_text(encoding="utf-8"), re.MULTILINE
    )
    assert set(table["sector"]) <= set(headers)
    # the first header is the model's title: only the subscript ranges sit under it
    assert set(table.loc[table["sector"] == headers[0], "type"]) == {"subscript range"}
    for sector in (
        "Cluster output",
        "Investment and capital",
        "Firm cultivation",
        "Innovation",
        "Green",
        "Macro",
        "Policy counters",
        "Control",
    ):
        assert sector in set(table["sector"])
    assert table.set_index("name").loc["Capital", "sector"] == "Investment and capital"


def test_equation_and_source_kind_as_written(table):
    row = table.set_index("name")
    assert row.loc["Capital", "equation"] == (
        "INTEG ( Capital completions[Cluster] - Depreciation[Cluster], Initial capital[Cluster])"
    )
    assert row.loc["Industrial investment growth", "source_kind"] == "data"
    assert row.loc["Initial industrial investment", "source_kind"] == "derived"
    assert row.loc["Depreciation rate", "source_kind"] == "assumption"
    assert row.loc["Capacity", "source_kind"] == "definition"
    assert row.loc["TIME STEP", "units"] == "Year"  # "[0,?]" is an input range, not a unit


def test_source_kind_takes_the_first_keyword():
    assert structure.source_kind("Derived: x; assumption: y") == "derived"
    assert structure.source_kind("Assumption (baseline): 3. Data: z") == "assumption"
    assert structure.source_kind("Output of the cluster.") == "definition"
    assert structure.source_kind("Fitted by czsim calibrate; assumption: 1") == "fitted"


def test_what_calibration_fits_is_marked_fitted_in_the_model(table):
    """An element is "fitted" in the reference exactly when a parameter on it is fitted by
    default (``calibrate = true``), so the count of assumptions does not hide fitted numbers
    and does not pass an assumption off as fitted."""
    from czsim.names import split_variable
    from czsim.parameters import load_parameters

    params = load_parameters()
    fitted_params = {split_variable(params[n].variable)[0] for n in params if params[n].calibrate}
    fitted_kind = set(table.loc[table["source_kind"] == "fitted", "name"])
    assert fitted_params == fitted_kind


def test_the_summary_counts_every_number_by_source(table):
    from czsim.reference import input_numbers

    numbers = input_numbers(table)
    constants = table[table["type"] == "constant"]
    # Cluster has 11 elements, Group 3: a (Group, Cluster) constant counts 33 numbers
    group_member = constants.set_index("name").loc["Group member"]
    assert group_member["dims"] == ("Group", "Cluster")
    assert numbers.sum() > len(constants)
    assert set(numbers.index) <= {"data", "fitted", "derived", "assumption", "definition"}
    md = (paths.ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    assert f"Their {int(numbers.sum())} numbers" in md


def test_dependency_graph_distinguishes_flows():
    edges = structure.dependency_graph()
    kind = {(s, t): k for s, t, k in edges.itertuples(index=False)}
    assert kind[("Capital starts", "Capital under construction")] == "inflow"
    assert kind[("Cluster investment", "Capital starts")] == "info"
    assert kind[("Capital completions", "Capital")] == "inflow"
    assert kind[("Capital completions", "Capital under construction")] == "outflow"
    assert kind[("Depreciation", "Capital")] == "outflow"
    assert kind[("Capital", "Capacity")] == "info"
    assert kind[("Initial capital", "Capital")] == "init"
    assert not (edges["source"] == edges["target"]).any()


def test_feedback_loops_are_closed_paths_of_live_links():
    edges = structure.dependency_graph()
    live = set(
        zip(
            edges.loc[edges["kind"] != "init", "source"],
            edges.loc[edges["kind"] != "init", "target"],
            strict=True,
        )
    )
    loops = structure.feedback_loops()
    assert {lp.id for lp in loops} >= {"R1", "R2", "B1", "B2", "B3"}
    for lp in loops:
        assert set(lp.waypoints) <= set(lp.path)
        for a, b in zip(lp.path, (*lp.path[1:], lp.path[0]), strict=True):
            assert (a, b) in live, (lp.id, a, b)


def test_broken_loop_is_reported(tmp_path):
    original = MODEL.read_text(encoding="utf-8")
    text = original.replace(
        "RD intensity * Industrial scale", "RD intensity * Initial industrial scale"
    )
    assert text != original
    edited = tmp_path / "edited.mdl"
    edited.write_text(text, encoding="utf-8")
    with pytest.raises(ModelError, match="R1"):
        structure.feedback_loops(edited)


def test_element_diagram_is_legible():
    dot = structure.diagram_dot()
    nodes = re.findall(r'^\s+"[^"]+" \[label=', dot, re.MULTILINE)
    assert 40 <= len(nodes) <= 130  # legible: the SVG zooms, constants are left out
    assert "cluster_" in dot and "Capital" in dot
    assert '"Capital starts" -> "Capital under construction"' in dot
    # constants are left out, except build rates that are a stock's only inflow
    assert '"Depreciation rate" [' not in dot


def test_sector_diagram_names_the_loops():
    dot = structure.diagram_dot(level="sector")
    assert "R1" in dot and "B3" in dot and "Cluster output" in dot


def test_diagram_of_some_sectors():
    dot = structure.diagram_dot(sectors=["Innovation"])
    assert '"Valid invention patents" [' in dot
    assert '"Capital" [' not in dot
    with pytest.raises(CzsimError, match="unknown sector"):
        structure.diagram_dot(sectors=["Nope"])


def test_doc_command_writes_markdown_and_html(tmp_path, table):
    assert main(["doc", "--out", str(tmp_path), "--no-diagram"]) == 0
    md = (tmp_path / "model.md").read_text(encoding="utf-8")
    page = (tmp_path / "model.html").read_text(encoding="utf-8")
    for name in table["name"]:
        assert f"**{name}**" in md, name
        assert f"<strong>{name}</strong>" in page, name
    assert "## Contents" in md and "Feedback loops" in md
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


@needs_dot
def test_diagram_command_writes_svg(tmp_path):
    out = tmp_path / "d.svg"
    assert main(["diagram", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    assert "<svg" in out.read_text(encoding="utf-8")
    sector = tmp_path / "s.svg"
    assert main(["diagram", "--level", "sector", "--out", str(sector)]) == 0
    assert "<svg" in sector.read_text(encoding="utf-8")


@needs_dot
def test_doc_command_embeds_diagrams(tmp_path):
    assert main(["doc", "--out", str(tmp_path)]) == 0
    for name in ("model_diagram.svg", "model_diagram.png", "model_sectors.svg"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert "model_diagram.svg" in (tmp_path / "model.md").read_text(encoding="utf-8")


def test_missing_dot_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(structure.diagrams.shutil, "which", lambda _: None)
    with pytest.raises(CzsimError, match="graphviz"):
        reference.write_docs(tmp_path)
    assert not (tmp_path / "model.md").exists()
    assert main(["diagram", "--out", str(tmp_path / "d.svg")]) == 2
    written = reference.write_docs(tmp_path, diagram=False)
    assert [p.name for p in written] == ["model.md", "model.html"]


def test_committed_docs_are_up_to_date(tmp_path):
    committed = Path(paths.ROOT) / "docs" / "model.md"
    reference.write_docs(tmp_path, diagram=False)
    # the committed file embeds the diagrams, which a run without dot may not have
    strip = re.compile(r"^!\[.*\]\(.*\)\n\n", re.MULTILINE)
    assert strip.sub("", committed.read_text(encoding="utf-8")) == strip.sub(
        "", (tmp_path / "model.md").read_text(encoding="utf-8")
    ), "docs/ is stale: run `czsim doc`"


def test_readme_lists_the_documented_loops():
    """The README's loop list is checked against model/loops.toml, the single source."""
    readme = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^- \*\*([RB]\d+)\*\* \((reinforcing|balancing)\) ([^:]+):", readme, re.M)
    loops = structure.documented_loops()
    assert [(i, p, t) for i, p, t in listed] == [(lp.id, lp.polarity, lp.title) for lp in loops]


def test_readme_figures_are_current():
    """The README's scenario table and history check are generated (czsim doc --readme)."""
    readme = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count("<!-- generated: ") == 2
    assert reference.readme_text(readme) == readme, "README is stale: run czsim doc --readme"
