"""Write results to CSV, NetCDF or Excel, chosen by the file's suffix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xarray as xr

from czsim.errors import CzsimError

FORMATS = (".csv", ".nc", ".xlsx")


def tidy(result: xr.Dataset) -> pd.DataFrame:
    """Results as a wide table: one row per (run, time), one column per variable element
    (``Cluster output[nev]``)."""
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


def write_results(
    result: xr.Dataset, path: str | Path, scorecard: pd.DataFrame | None = None
) -> Path:
    """Write ``result`` to ``path`` (.csv, .nc or .xlsx); Excel also gets a scorecard sheet."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise CzsimError(
            f"unknown output format '{suffix or path.name}'; use one of {', '.join(FORMATS)}",
            file=path,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".nc":
        clean = result.copy()
        clean.attrs = {k: str(v) for k, v in clean.attrs.items()}
        clean.to_netcdf(path)
    elif suffix == ".csv":
        tidy(result).to_csv(path)
    else:
        with pd.ExcelWriter(path) as writer:
            tidy(result).to_excel(writer, sheet_name="results")
            if scorecard is not None:
                scorecard.to_excel(writer, sheet_name="scorecard")
    return path
