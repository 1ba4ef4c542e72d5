"""``Variable[element]``: how czsim names one element of a (possibly subscripted) variable.

The model's real name, optionally followed by one subscript element in brackets, as Vensim
writes it: ``"Industrial scale"``, ``"Cluster output[nev]"``. Parameters, targets,
observations, sweep outcomes and the engines' element overrides all use this one reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VARIABLE = re.compile(r"^(?P<name>[^\[\]]+?)\s*(?:\[(?P<element>[^\[\]]+)\])?\s*$")


@dataclass(frozen=True)
class VariableRef:
    """A model variable and, for a subscripted one, one element.

    Examples
    --------
    >>> ref = VariableRef.parse("Cluster output[nev]")
    >>> ref.name, ref.element, str(ref)
    ('Cluster output', 'nev', 'Cluster output[nev]')
    """

    name: str
    element: str | None = None

    @classmethod
    def parse(cls, text: str) -> VariableRef | None:
        """Read ``"Variable"`` or ``"Variable[element]"``; ``None`` if ``text`` is neither."""
        match = _VARIABLE.match(text) if isinstance(text, str) else None
        if not match:
            return None
        element = match.group("element")
        return cls(match.group("name").strip(), element.strip() if element else None)

    def __str__(self) -> str:
        """Return ``"Variable[element]"``, or just ``"Variable"`` when there is no element."""
        return f"{self.name}[{self.element}]" if self.element else self.name


def split_variable(text: str) -> tuple[str, str | None] | None:
    """Split ``"Variable[element]"`` into ``("Variable", "element")``.

    The element is ``None`` for a plain name; the result is ``None`` when ``text`` is neither
    form.
    """
    ref = VariableRef.parse(text)
    return None if ref is None else (ref.name, ref.element)


def join_variable(name: str, element: str | None) -> str:
    """Write ``name`` and ``element`` as ``"Variable[element]"`` (``name`` alone without one)."""
    return str(VariableRef(name, element))
