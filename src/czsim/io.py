"""Every file czsim writes or reads as a table, chosen by the file's suffix.

Writers go through :func:`temporary_sibling`: the new file is written next to the target and
renamed over it only when complete, so a failure (disk full, Ctrl-C) never leaves half a file
and never destroys the previous one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import xarray as xr

from czsim.errors import CzsimError

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


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` through ``write(file)`` into a temporary sibling, then rename it."""
    with temporary_sibling(path) as tmp, tmp.open("wb") as f:
        write(f)
    return path


def write_text(path: Path, text: str) -> Path:
    """Atomically write UTF-8 text to ``path``."""
    return atomic_write(Path(path), lambda f: f.write(text.encode("utf-8")))


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
        raise CzsimError(
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
