"""Reading the .mdl text: elements, sectors, comments, and the element table.

Sectors are the .mdl's group headers (``****`` / ``.Name`` / ``****~``); the first header is the
model's title and its comment the model's description. Types and dims come from
:func:`czsim.engines.model_info` (the engines' own reading of the file).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from czsim import paths
from czsim.engines.model_info import CONTROL_NAMES, abstract_section, model_info, normalize
from czsim.errors import ModelError

#: Columns of :func:`element_table`, in order.
COLUMNS = ("name", "sector", "type", "units", "equation", "comment", "source_kind", "dims")

#: Source kinds, by the keyword in the comment that marks each (first keyword found wins:
#: comments in the .mdl lead with the basis of their number).
SOURCE_KEYWORDS = (
    ("data", re.compile(r"\bdata:", re.IGNORECASE)),
    ("fitted", re.compile(r"\bfitted by czsim calibrate\b", re.IGNORECASE)),
    ("derived", re.compile(r"\bDerived\b")),
    ("assumption", re.compile(r"\bassumption\b", re.IGNORECASE)),
)

CONTROL_SECTOR = "Control"


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
    """Classify an element's source from its comment.

    The result is ``"data"``, ``"fitted"``, ``"derived"``, ``"assumption"`` or
    ``"definition"``.

    The first of the keywords ``Data:``, ``Fitted by czsim calibrate``, ``Derived``,
    ``assumption`` in the comment decides;
    a comment with none of them defines the element (an identity or accounting relation).
    """
    found = [(m.start(), kind) for kind, rx in SOURCE_KEYWORDS if (m := rx.search(comment))]
    return min(found)[1] if found else "definition"


def model_path(model: str | Path | None) -> Path:
    """Return ``model`` as a Path, or the default model file when it is ``None``."""
    return Path(model) if model is not None else paths.MODEL_FILE


def _equation(entry: MdlEntry) -> str:
    if len(entry.equations) == 1:
        eq = entry.equations[0]
        # a single subscripted component: drop the "[Cluster] =" that only repeats the dims
        return re.sub(r"^\[[^\]]*\]\s*=\s*", "", eq)
    return "; ".join(entry.equations)


def element_table(model: str | Path | None = None) -> pd.DataFrame:
    """Tabulate the elements of the model file, one row each.

    The elements are variables, lookups, control variables and subscript ranges.

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
        ``source_kind`` (data, fitted, derived, assumption or definition) and ``dims`` (tuple of
        subscript ranges), in file order.

    Raises
    ------
    ModelError
        The file cannot be read, or the text reading and PySD's reading of it name different
        elements.
    """
    path = model_path(model)
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
    """Check that the text reading finds exactly the elements PySD finds.

    Otherwise the docs would silently drop or invent something.

    Raises
    ------
    ModelError
        The two readings name different elements.
    """
    section, _ = abstract_section(path)
    pysd_names = {normalize(e.name) for e in section.elements}
    pysd_names |= {normalize(r.name) for r in section.subscripts}
    ours = {normalize(n) for n in entries}
    if ours != pysd_names:
        missing, extra = sorted(pysd_names - ours), sorted(ours - pysd_names)
        raise ModelError(
            f"documentation reader and PySD disagree: missing {missing}, extra {extra}", file=path
        )
