"""The model as a structure, read from ``model/changzhou.mdl`` so it can never disagree with it.

:mod:`.mdl` reads the text (elements, sectors, comments, source kinds); :mod:`.graph` builds
the dependency graph from PySD's syntax trees and traces the documented feedback loops
(``model/loops.toml``); :mod:`.diagrams` draws both with Graphviz.
"""

from czsim.structure.diagrams import diagram_dot, dot_executable, render, render_svg
from czsim.structure.graph import FeedbackLoop, dependency_graph, documented_loops, feedback_loops
from czsim.structure.mdl import COLUMNS, MdlEntry, element_table, read_mdl, source_kind

__all__ = [
    "COLUMNS",
    "FeedbackLoop",
    "MdlEntry",
    "dependency_graph",
    "diagram_dot",
    "documented_loops",
    "dot_executable",
    "element_table",
    "feedback_loops",
    "read_mdl",
    "render",
    "render_svg",
    "source_kind",
]
