"""Errors for people: one line that names the file, the key and what would be right.

Every error raised for bad input derives from :class:`CzsimError`; the CLI prints its message
and exits with status 2, without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class CzsimError(Exception):
    """Bad input a person can fix. ``str(err)`` is the one line shown to them."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.key = key
        self.line = line
        self.message = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        if self.key:
            where = f"{where} [{self.key}]" if where else f"[{self.key}]"
        return f"{where}: {self.message}" if where else self.message


class ModelError(CzsimError):
    """The model file cannot be read, translated or compiled."""


class ScenarioError(CzsimError):
    """A scenario file is malformed or names something that does not exist."""


class ParameterError(CzsimError):
    """A parameter value is unknown, of the wrong type, or outside its bounds."""


def closest(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""``."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""
