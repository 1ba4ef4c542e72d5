"""Read TOML files with errors that name the file and the line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from czsim.errors import CzsimError


def read_toml(path: str | Path, *, error: type[CzsimError] = CzsimError) -> dict[str, Any]:
    """Parse ``path``; a missing file or malformed TOML raises ``error`` with file and line."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise error("file not found", file=path) from None
    except IsADirectoryError:
        raise error("is a folder, not a TOML file", file=path) from None
    try:
        return tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text ({exc.reason})", file=path) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        message = re.sub(r"\s*\(at end of document\)", " at the end of the file", message)
        raise error(f"malformed TOML: {message}", file=path, line=line) from None


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r'^\s*((?:"[^"]*"|\'[^\']*\'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"[^"]*"|\'[^\']*\'|[A-Za-z0-9_\-]+))*)\s*='
)
_PART = re.compile(r'"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_\-]+)')


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(a or b or c for a, b, c in _PART.findall(dotted))


def key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map every key of a TOML document to the line (1-based) where it is written.

    Keys are tuples of the table path and the key; an array of tables contributes its index,
    so the ``variable`` of the third ``[[target]]`` is ``("target", 2, "variable")``. Table
    headers map too (``("uncertain",)``). Keys inside inline tables map to their line.
    tomllib parses but does not say where a value was; this is for error messages only.
    """
    out: dict[tuple[str | int, ...], int] = {}
    counts: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    in_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string:
            in_string = line.count('"""') % 2 == 0
            continue
        header = _HEADER.match(line)
        if header:
            path = _parts(header.group(2))
            if header.group(1) == "[[":
                index = counts.get(path, 0)
                counts[path] = index + 1
                table = (*path, index)
            else:
                table = path
            out.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            full = (*table, *_parts(key.group(1)))
            out.setdefault(full, number)
            rest = line[key.end() :]
            for inner in re.finditer(r"[{,]\s*((?:\"[^\"]*\"|[A-Za-z0-9_\-.]+))\s*=", rest):
                out.setdefault((*full, *_parts(inner.group(1))), number)
            if rest.count('"""') % 2 == 1:
                in_string = True
    return out
