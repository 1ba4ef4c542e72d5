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


class InputError(CzsimError, ValueError):
    """An argument of the API or the command line is out of range or malformed."""


class InputTypeError(CzsimError, TypeError):
    """An argument of the API has the wrong type."""


class LimitError(CzsimError, ValueError):
    """A request would need more memory, time or disk than czsim allows (the limit is named)."""


class OutputError(CzsimError):
    """An output path cannot be written (checked before long work starts)."""


class DataError(CzsimError, ValueError):
    """A data file (CSV of observations, sources, exclusions) is malformed."""


class ClusterError(CzsimError):
    """A Dask scheduler cannot be reached, has no workers, or keeps losing them."""


class ModelError(CzsimError):
    """The model file cannot be read, translated or compiled."""


class ScenarioError(CzsimError, ValueError):
    """A scenario file is malformed or names something that does not exist."""


class ParameterError(CzsimError, ValueError):
    """A parameter value is unknown, of the wrong type, or outside its bounds."""


def closest(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""``."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


def os_error_message(exc: OSError) -> str:
    """One line for an :class:`OSError`: what happened and to which file, no traceback."""
    import errno
    import os

    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.ENOENT: "no such file or folder",
        errno.EISDIR: "is a folder",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EEXIST: "already exists",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.ELOOP: "too many levels of symbolic links (a symlink loop)",
        errno.ENAMETOOLONG: "file name too long",
        errno.EROFS: "read-only file system",
        errno.ECONNREFUSED: "connection refused",
    }
    reason = (
        reasons.get(exc.errno)
        or exc.strerror
        or (os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__)
    )
    where = exc.filename if exc.filename is not None else ""
    if exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    return f"{where}: {reason}" if where else reason
