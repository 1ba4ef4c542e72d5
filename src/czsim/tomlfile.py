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
