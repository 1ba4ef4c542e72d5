"""What the pages compute, without Streamlit.

Uploads, tuned scenarios, tables for display, ensemble draws, exports.

Everything here is a pure function of its arguments so the tests can call it directly and the
pages stay thin.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from czsim import paths
from czsim.errors import CzsimError
from czsim.experiments.sweeps import methods as sweep_methods
from czsim.groups import group_label
from czsim.parameters import ParameterTable
from czsim.scenarios import Scenario, Value, load_scenario_text
from czsim.targets import Target, target_values
from czsim.text import format_number, status_text
from czsim.ui import units
from czsim.ui.i18n import t, unit_text

#: Largest scenario file accepted from an upload; real scenario files are a few KB.
MAX_UPLOAD_BYTES = 64 * 1024

#: Quantiles drawn as the uncertainty band and its centre line.
QUANTILES = {"p10": 0.10, "p50": 0.50, "p90": 0.90}


def handle_upload(
    name: str, data: bytes, *, lang: str = "en"
) -> tuple[Scenario | None, str | None]:
    """Validate an uploaded scenario file.

    Parameters
    ----------
    name : str
        The file name as uploaded (only its suffix and base name are used).
    data : bytes
        The file's contents.
    lang : {"en", "zh"}
        Language of the app's own messages (size, type); model errors are the CLI's.

    Returns
    -------
    (Scenario, None) or (None, str)
        The loaded scenario, or the one-line error the CLI would print for the same file.
        Nothing is kept or written on error.
    """
    filename = Path(name).name or "uploaded.toml"
    if Path(filename).suffix.lower() != ".toml":
        return None, f"{filename}: {t('not_toml', lang)}"
    if len(data) > MAX_UPLOAD_BYTES:
        return None, f"{filename}: {t('too_large', lang, size=len(data), limit=MAX_UPLOAD_BYTES)}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, f"{filename}: {t('not_utf8', lang)}"
    if not text.strip():
        return None, f"{filename}: {t('empty_upload', lang)}"
    try:
        return load_scenario_text(text, filename=filename), None
    except CzsimError as exc:
        # The server's folders are nobody's business: show paths relative to the project.
        return None, str(exc).replace(str(paths.ROOT) + "/", "")


def slider_value(value: Value) -> float:
    """Return the number a slider shows for a value: the constant, or a series' last point."""
    return float(value[-1][1]) if isinstance(value, tuple) else float(value)


def effective_value(scenario: Scenario, name: str, table: ParameterTable) -> Value:
    """Return the scenario's value of ``name``, or the parameter's default if it does not set it."""
    return scenario.values.get(name, table[name].default)


def reach_rows(
    scenario: Scenario, names: Iterable[str], table: ParameterTable
) -> tuple[list[str], pd.DataFrame]:
    """Return the levers that can be moved alone and the runs that move them.

    Two rows per lever: the lever at its low, then at its high end, every other lever at the
    scenario's value. A lever whose value is a time series in ``scenario`` is left out (moving
    it as a constant would answer another question).
    """
    base = {n: effective_value(scenario, n, table) for n in names}
    moved = [n for n, v in base.items() if not isinstance(v, tuple)]
    rows = []
    for n in moved:
        for end in (table[n].low, table[n].high):
            rows.append({**{m: float(base[m]) for m in moved}, n: float(end)})
    return moved, pd.DataFrame(rows, columns=moved)


def tuned(
    base: Scenario, edits: Mapping[str, float], table: ParameterTable, lang: str = "en"
) -> Scenario:
    """Return ``base`` with the user's ``edits`` applied.

    Edits equal to the base's value are dropped, so a slider moved back to where it started
    leaves the scenario untouched.

    The tuned scenario describes its changes (both languages), and a parameter the user set is
    no longer drawn by the uncertainty analysis: it is held at the user's value.
    """
    changed = {k: v for k, v in edits.items() if effective_value(base, k, table) != v}
    if not changed:
        return base

    def described(lang: str) -> str:
        parts = [
            f"{table[k].label(lang)} "
            f"{format_value_in(table, k, effective_value(base, k, table), lang)} → "
            f"{units.shown_text(table[k], v, lang)}"
            for k, v in changed.items()
        ]
        return t("tuned_description", lang, base=base.name, changes="; ".join(parts))

    out = base.with_values(name=f"{base.name}_tuned", **changed)
    return replace(
        out,
        description_en=described("en"),
        description_zh=described("zh"),
        uncertain={k: r for k, r in base.uncertain.items() if k not in changed},
        parent=base.name,
    )


def format_value_in(table: ParameterTable, name: str, value: Value, lang: str) -> str:
    """Format a parameter value in planner units (a series as its points)."""
    p = table[name]
    if isinstance(value, tuple):
        return " → ".join(
            f"{int(y) if float(y).is_integer() else y}: {units.shown_text(p, v, lang)}"
            for y, v in value
        )
    return units.shown_text(p, value, lang)


def format_series(value: tuple[tuple[float, float], ...]) -> str:
    """``2022: 0.6 → 2025: 0.62`` for a time-series value."""
    return " → ".join(f"{int(y) if float(y).is_integer() else y}: {v:g}" for y, v in value)


def format_value(value: Value) -> str:
    """Format a parameter value as text (constants with up to 6 significant digits)."""
    return format_series(value) if isinstance(value, tuple) else f"{value:.6g}"


def step_format(step: float) -> str:
    """Return a printf format that shows as many decimals as the slider step has."""
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 2
    if not float(round(step * 10**decimals, 9)).is_integer():
        decimals += 1
    return f"%.{decimals}f"


def _display_values(result: xr.Dataset, targets: list[Target]) -> np.ndarray:
    """Return the targets' variables as ``(run, target, time)`` in display units."""
    scale = np.array([tg.display_scale for tg in targets])[None, :, None]
    return target_values(result, targets) * scale


def target_frame(result: xr.Dataset, targets: Iterable[Target], run: int = 0) -> pd.DataFrame:
    """Each tracked target's variable over time in display units.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``year``, ``value``; one row per target and saved time.
    """
    years = result["time"].values.astype(int)
    chosen = [tg for tg in targets if tg.tracked and tg.variable in result]
    values = _display_values(result, chosen)[run]
    return pd.DataFrame(
        {
            "id": np.repeat([tg.id for tg in chosen], years.size),
            "year": np.tile(years, len(chosen)),
            "value": values.reshape(-1),
        }
    )


def band_frame(result: xr.Dataset, targets: Iterable[Target]) -> pd.DataFrame:
    """P10, median and P90 over runs of each tracked target's variable, in display units.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``year``, ``p10``, ``p50``, ``p90``.
    """
    years = result["time"].values.astype(int)
    chosen = [tg for tg in targets if tg.tracked and tg.variable in result]
    # (quantile, target, time) in one call rather than one pass per target.
    q = np.quantile(_display_values(result, chosen), list(QUANTILES.values()), axis=0)
    frame = pd.DataFrame(
        {"id": np.repeat([tg.id for tg in chosen], years.size), "year": np.tile(years, len(chosen))}
    )
    for i, name in enumerate(QUANTILES):
        frame[name] = q[i].reshape(-1)
    return frame


#: The app's sampling choices -> sweep methods of the same draws.
_SAMPLERS = {"lhs": "lhs", "uniform": "mc"}


def draw_samples(
    ranges: Mapping[str, tuple[float, float]], n_runs: int, seed: int, method: str = "lhs"
) -> pd.DataFrame:
    """Draw ``n_runs`` parameter sets, each parameter uniform over its range.

    Parameters
    ----------
    ranges : mapping of parameter name to (low, high)
    n_runs : int
    seed : int
        The same seed gives the same draws, so bands do not flicker between reruns.
    method : {"lhs", "uniform"}
        Latin hypercube (stratified, steadier quantiles for few runs) or independent draws.

    Returns
    -------
    pandas.DataFrame
        One column per parameter, one row per run.
    """
    names = list(ranges)
    if method not in _SAMPLERS:
        raise ValueError(f"unknown sampling method {method!r}")
    problem = sweep_methods.make_problem(names, [ranges[n] for n in names])
    # The sweeps' own samplers, so the app and ``czsim sweep`` draw the same sample for a seed.
    x = sweep_methods.get(_SAMPLERS[method]).sample(problem, n_runs, seed)
    return pd.DataFrame(np.asarray(x, dtype=float), columns=names)


def summary(card: pd.DataFrame) -> dict[str, int]:
    """Count the reached, missed, pace-check and untracked targets, overall and by basis."""
    tracked = card[card["status"].isin(["reached", "missed"])]
    out = {
        "total": len(card),
        "reached": int((card["status"] == "reached").sum()),
        "missed": int((card["status"] == "missed").sum()),
        "untracked": int((card["status"] == "untracked").sum()),
        "pace": int((card["status"] == "pace check").sum()),
        "tracked": len(tracked),
    }
    for basis in ("model", "counter"):
        part = tracked[tracked["basis"] == basis]
        out[f"{basis}_total"] = len(part)
        out[f"{basis}_reached"] = int((part["status"] == "reached").sum())
    return out


def scorecard_table(card: pd.DataFrame, targets: Iterable[Target], lang: str) -> pd.DataFrame:
    """Return the scorecard as the table people read: labels in ``lang``, status as text.

    Returns
    -------
    pandas.DataFrame
        Index target id; columns status, label, group, basis, year, target (with comparator),
        value, unit, gap, first year reached, note (why a target is untracked).
    """
    from czsim.ui.verdict import target_text

    by_id = {tg.id: tg for tg in targets}
    reasons = {tg.id: tg.reason for tg in by_id.values()}
    rows = {}
    for tid, row in card.iterrows():
        first = row["first_year"]
        rows[tid] = {
            t("col_status", lang): status_text(row["status"], lang),
            t("col_target_label", lang): row["label_zh" if lang == "zh" else "label_en"],
            t("col_group", lang): group_label(row["group"], lang),
            t("col_basis", lang): t(f"basis_{row['basis']}", lang),
            t("col_year", lang): int(row["year"]),
            t("col_target", lang): target_text(row, by_id.get(tid)),
            t("col_value", lang): format_number(row["value"]),
            t("col_unit", lang): unit_text(row["unit"], lang),
            t("col_gap", lang): format_number(row["gap"]),
            t("col_first", lang): "" if pd.isna(first) else str(int(first)),
            t("col_note", lang): reasons.get(tid, ""),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def compare_table(
    cards: Mapping[str, pd.DataFrame], lang: str, targets: Iterable[Target] = ()
) -> tuple[pd.DataFrame, pd.Series]:
    """Put the targets of several scenarios side by side.

    Per scenario its value with ✓/✗, and for every scenario after the first its difference to
    the first; a count row on top.

    Returns
    -------
    table : pandas.DataFrame
        Index target id (plus ``reached`` for the count row).
    changed : pandas.Series of bool
        Rows whose status differs from the first scenario's in any other scenario.
    """
    from czsim.ui.verdict import target_text

    by_id = {tg.id: tg for tg in targets}
    names = list(cards)
    first = cards[names[0]]
    out = pd.DataFrame(index=first.index)
    out[t("col_target_label", lang)] = first["label_zh" if lang == "zh" else "label_en"]
    out[t("col_basis", lang)] = [t(f"basis_{b}", lang) for b in first["basis"]]
    out[t("col_target", lang)] = [
        f"{target_text(row, by_id.get(tid))} {unit_text(row['unit'], lang)}"
        for tid, row in first.iterrows()
    ]
    counts = {}
    changed = pd.Series(False, index=first.index)
    marks = {"reached": " ✓", "missed": " ✗"}
    for name, card in cards.items():
        out[name] = [
            format_number(v) + marks[s] if s in marks else status_text(s, lang)
            for v, s in zip(card["value"], card["status"], strict=True)
        ]
        counts[name] = f"{summary(card)['reached']} / {summary(card)['tracked']} ✓"
        if name != names[0]:
            diff = card["value"] - first["value"]
            out[t("compare_diff", lang, first=names[0]) + f" · {name}"] = [
                ""
                if pd.isna(d)
                else ("±0" if d == 0 else format_number(d) if d < 0 else "+" + format_number(d))
                for d in diff
            ]
            changed |= card["status"] != first["status"]
    count_row = {c: "" for c in out.columns}
    count_row[t("col_target_label", lang)] = t("compare_reached_row", lang)
    count_row.update(counts)
    table = pd.concat([pd.DataFrame([count_row], index=["reached"]), out])
    return table, pd.concat([pd.Series([False], index=["reached"]), changed])


def parameter_diff(
    scenarios: Mapping[str, Scenario], table: ParameterTable, lang: str
) -> pd.DataFrame:
    """Parameters whose value differs between ``scenarios`` (labels as columns)."""
    names = [
        n
        for n in table
        if len({format_value(effective_value(s, n, table)) for s in scenarios.values()}) > 1
    ]
    rows = []
    for name in names:
        p = table[name]
        row = {t("parameter", lang): p.label(lang)}
        for label, scenario in scenarios.items():
            row[label] = format_value_in(table, name, effective_value(scenario, name, table), lang)
        rows.append(row)
    return pd.DataFrame(rows, index=names)
