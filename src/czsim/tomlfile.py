"""Read TOML files with errors that name the file and the line."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

from czsim.errors import CzsimError, os_error_message

#: Largest TOML file czsim reads (scenario files and uploads are a few KB).
MAX_BYTES = 1_000_000
#: Deepest nesting of arrays and inline tables accepted (tomllib recurses per level).
MAX_NESTING = 50

_BOM = b"\xef\xbb\xbf"


def read_bytes(
    path: str | Path,
    *,
    error: type[CzsimError] = CzsimError,
    limit: int = MAX_BYTES,
    what: str = "file",
) -> bytes:
    """Read a regular file of at most ``limit`` bytes, in bounded time.

    A FIFO, device or socket is refused without blocking on it; so are folders, symlink
    loops, unreadable and oversized files: each raises ``error`` naming the file.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error("file not found", file=path) from None
    except IsADirectoryError:
        raise error(f"is a folder, not a {what}", file=path) from None
    except OSError as exc:
        raise error(f"cannot open: {os_error_message(exc).split(': ')[-1]}", file=path) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"is a folder, not a {what}", file=path)
        if not stat.S_ISREG(info.st_mode):
            raise error(
                f"is not a regular file (a pipe, device or socket), not a {what}", file=path
            )
        if info.st_size > limit:
            raise error(f"is {info.st_size:,} bytes; the limit is {limit:,}", file=path)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read: {os_error_message(exc).split(': ')[-1]}", file=path) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise error(f"is larger than the limit of {limit:,} bytes", file=path)
    return data


def decode(data: bytes, *, path: str | Path, error: type[CzsimError] = CzsimError) -> str:
    """Decode ``data`` as UTF-8 text (a byte-order mark is dropped).

    ``error`` names line and column of the first byte that is not UTF-8.
    """
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path, line=line
        ) from None


def nesting_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` outside strings and comments (an upper bound is enough)."""
    depth = deepest = 0
    quote = ""
    comment = escaped = False
    for ch in text:
        if comment:
            comment = ch != "\n"
        elif quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            comment = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest


def parse_toml(
    text: str, *, path: str | Path, error: type[CzsimError] = CzsimError
) -> dict[str, Any]:
    """Parse TOML text; malformed TOML or too deep nesting raises ``error`` with the line."""
    if nesting_depth(text) > MAX_NESTING:
        raise error(f"nested more than {MAX_NESTING} levels deep", file=path)
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise error(f"nested more than {MAX_NESTING} levels deep", file=path) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        message = re.sub(r"\s*\(at end of document\)", " at the end of the file", message)
        raise error(f"malformed TOML: {message}", file=path, line=line) from None


def read_toml_text(
    path: str | Path, *, error: type[CzsimError] = CzsimError
) -> tuple[dict[str, Any], str]:
    """Parse ``path`` and also return its text (for :func:`key_lines`)."""
    text = decode(read_bytes(path, error=error, what="TOML file"), path=path, error=error)
    return parse_toml(text, path=path, error=error), text


def read_toml(path: str | Path, *, error: type[CzsimError] = CzsimError) -> dict[str, Any]:
    """Parse the TOML file ``path``.

    A missing, unreadable or special file or malformed TOML raises ``error`` with file and
    line.
    """
    return read_toml_text(path, error=error)[0]


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
