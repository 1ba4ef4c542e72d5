"""Every file czsim writes or reads as a table, chosen by the file's suffix.

Writers go through :func:`temporary_sibling`: the new file is written next to the target and
renamed over it only when complete, so a failure (disk full, Ctrl-C) never leaves half a file
and never destroys the previous one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import xarray as xr

from czsim.errors import DataError, OutputError, os_error_message

#: Result formats ``write_results`` accepts (``czsim run --out``).
FORMATS = (".csv", ".nc", ".xlsx")
#: Table formats ``write_table`` accepts (``czsim compare --out`` and the decision commands).
TABLE_FORMATS = (".csv", ".xlsx")

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def temporary_sibling(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    On error the temporary file is removed, so ``path`` is either the old file or the whole
    new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give the result the usual permissions.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _probe(folder: Path, target: Path) -> None:
    """Create and remove a file in ``folder``: the one sure test that writing will work."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".czsim-probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        reason = os_error_message(exc).split(": ")[-1]
        raise OutputError(f"cannot write here: {reason}", file=target) from None


def _existing_ancestor(path: Path) -> Path:
    """Return the nearest ancestor of ``path`` that exists; a file on the way is an error."""
    folder = path.parent
    while True:
        try:
            info = folder.stat()
        except FileNotFoundError:
            if folder.parent == folder:
                raise OutputError("no existing folder on the path", file=path) from None
            folder = folder.parent
            continue
        except OSError as exc:
            raise OutputError(os_error_message(exc).split(": ")[-1], file=path) from None
        if not stat.S_ISDIR(info.st_mode):
            raise OutputError(f"{folder} is a file, not a folder", file=path)
        return folder


def _stat(path: Path) -> os.stat_result | None:
    """Return ``path``'s status, ``None`` if it does not exist; OutputError if unreadable."""
    try:
        return path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(os_error_message(exc).split(": ")[-1], file=path) from None


def check_output_file(path: str | Path, formats: tuple[str, ...] | None = None) -> Path:
    """Check, before any long work, that a file can be written at ``path``.

    Raises :class:`OutputError` naming the path if it is a folder, a part of its path is a
    file, its suffix is not one of ``formats``, or its folder is not writable (probed by
    creating and removing a file there). Nothing is left behind.
    """
    path = Path(path)
    info = _stat(path)
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputError("is a folder; give a file name", file=path)
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise OutputError("is not a regular file (a pipe, device or socket)", file=path)
    if formats is not None:
        _suffix(path, formats)
    _probe(_existing_ancestor(path), path)
    return path


def check_output_folder(path: str | Path) -> Path:
    """Check, before any long work, that ``path`` is or can become a writable folder."""
    path = Path(path)
    info = _stat(path)
    if info is not None:
        if not stat.S_ISDIR(info.st_mode):
            raise OutputError("exists and is not a folder", file=path)
        _probe(path, path)
    else:
        _probe(_existing_ancestor(path), path)
    return path


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` through ``write(file)`` into a temporary sibling, then rename it."""
    with temporary_sibling(path) as tmp, tmp.open("wb") as f:
        write(f)
    return path


def write_text(path: Path, text: str) -> Path:
    """Atomically write UTF-8 text to ``path``."""
    return atomic_write(Path(path), lambda f: f.write(text.encode("utf-8")))


#: Largest CSV data file czsim reads.
MAX_CSV_BYTES = 50_000_000


def read_csv(path: str | Path, *, what: str = "CSV file") -> pd.DataFrame:
    """Read a CSV data file as text cells (no NA conversion), in bounded time.

    Raises :class:`DataError` with the file (and the line, where it is known) for a missing,
    special, oversized or unreadable file, text that is not UTF-8 (a BOM is fine), an empty
    file or a row with the wrong number of fields.
    """
    import io as _io
    import re

    from czsim.tomlfile import decode, read_bytes

    path = Path(path)
    text = decode(
        read_bytes(path, error=DataError, limit=MAX_CSV_BYTES, what=what),
        path=path,
        error=DataError,
    )
    import csv

    reader = csv.reader(_io.StringIO(text))
    try:
        header = next(reader, None)
        if not header:
            raise DataError("is empty: expected a header line and rows", file=path)
        for row in reader:
            if row and len(row) != len(header):
                # pandas would shift such a row into the index or pad it: refuse it instead.
                raise DataError(
                    f"malformed CSV: {len(row)} fields, but the header has {len(header)}",
                    file=path,
                    line=reader.line_num,
                )
    except csv.Error as exc:
        raise DataError(f"malformed CSV: {exc}", file=path, line=reader.line_num) from None
    try:
        return pd.read_csv(_io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError("is empty: expected a header line and rows", file=path) from None
    except (pd.errors.ParserError, ValueError) as exc:
        message = " ".join(str(exc).split())
        match = re.search(r"line (\d+)", message)
        line = int(match.group(1)) if match else None
        message = re.sub(r"^Error tokenizing data\. C error: ", "", message)
        raise DataError(f"malformed CSV: {message}", file=path, line=line) from None


def tidy(result: xr.Dataset) -> pd.DataFrame:
    """Return results as a wide table.

    One row per (run, time), one column per variable element (``Cluster output[nev]``).
    """
    columns: dict[str, pd.Series] = {}
    for name, da in result.data_vars.items():
        extra = [d for d in da.dims if d not in ("run", "time")]
        if not extra:
            columns[name] = da.to_series()
            continue
        stacked = da.stack(element=extra).transpose("run", "time", "element")
        for i, key in enumerate(stacked["element"].values):
            label = ",".join(key) if isinstance(key, tuple) else str(key)
            columns[f"{name}[{label}]"] = (
                stacked.isel(element=i).drop_vars(["element", *extra], errors="ignore").to_series()
            )
    return pd.DataFrame(columns)


def _suffix(path: Path, allowed: tuple[str, ...]) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise OutputError(
            f"unknown output format '{suffix or path.name}'; use one of {', '.join(allowed)}",
            file=path,
        )
    return suffix


def write_results(
    result: xr.Dataset, path: str | Path, scorecard: pd.DataFrame | None = None
) -> Path:
    """Write ``result`` to ``path`` (.csv, .nc or .xlsx); Excel also gets a scorecard sheet."""
    path = Path(path)
    suffix = _suffix(path, FORMATS)
    with temporary_sibling(path) as tmp:
        if suffix == ".nc":
            clean = result.copy()
            clean.attrs = {k: str(v) for k, v in clean.attrs.items()}
            clean.to_netcdf(tmp)
        elif suffix == ".csv":
            tidy(result).to_csv(tmp)
        else:
            with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
                tidy(result).to_excel(writer, sheet_name="results")
                if scorecard is not None:
                    scorecard.to_excel(writer, sheet_name="scorecard")
    return path


def write_table(frame: pd.DataFrame, path: str | Path, *, sheet: str = "table") -> Path:
    """Write one table to ``path`` (.csv or .xlsx, by suffix) and return the path."""
    path = Path(path)
    suffix = _suffix(path, TABLE_FORMATS)
    with temporary_sibling(path) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp)
        else:
            with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
                frame.to_excel(writer, sheet_name=sheet)
    return path
