"""Altair chart builders: tidy data in, a chart out.

Pure functions with no Streamlit, so they are used by the app and can be saved or tested on
their own. Every label comes in as an argument (already in the reader's language); every
chart is configured with a font list that renders Chinese (Vega draws text in the browser,
so the CJK fonts are the reader's: Debian's fonts-noto-cjk, or the platform's own).

The app rebuilds its charts on every slider move, so they are built for speed: channels are
given as classes (``alt.X("year:Q")``), not bare shorthand strings, which Altair resolves
against its schema at many times the cost, and layers are assembled in one construction.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

#: CSS font-family list for every chart: Latin first, then fonts with Chinese glyphs.
FONT = (
    '"Source Sans Pro", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", '
    '"WenQuanYi Micro Hei", "PingFang SC", "Microsoft YaHei", sans-serif'
)

REACHED = "#2e7d32"
MISSED = "#c62828"
TARGET = "#d62728"
#: Scenario colours: blues, purple, teal, brown, grey; never the target line's red (nor the
#: reached/missed colours).
PALETTE = ["#1f5fa8", "#7b3fa0", "#0f8b8d", "#a06a1f", "#5f6b7a", "#6fa8dc"]
BAND = "#4c78a8"

_DASHED = [6, 4]
_SOLID = [1, 0]


def _year_axis(title: str) -> alt.X:
    return alt.X(
        "year:Q",
        title=title,
        scale=alt.Scale(nice=False, zero=False),
        axis=alt.Axis(format="d", tickMinStep=1),
    )


def _config() -> alt.Config:
    """Return the shared look: CJK-capable font, legend below, long labels kept."""
    return alt.Config(
        font=FONT,
        legend=alt.LegendConfig(orient="bottom", labelLimit=320, titleLimit=320),
        axis=alt.AxisConfig(labelLimit=260),
    )


def _layers(*layers: alt.Chart, **properties: object) -> alt.LayerChart:
    """Layer charts and configure them in one construction.

    Built directly rather than with ``+`` and ``.configure()``: each of those deep-copies the
    whole chart, which made building a chart cost more than running the model.
    """
    return alt.LayerChart(layer=list(layers), config=_config(), **properties)


def _target_rule(value: float, label: str) -> list[alt.Chart]:
    frame = pd.DataFrame({"target": [value], "label": [label]})
    rule = (
        alt.Chart(frame)
        .mark_rule(color=TARGET, strokeDash=[4, 3], strokeWidth=2)
        .encode(y=alt.Y("target:Q"))
    )
    text = (
        alt.Chart(frame)
        .mark_text(color=TARGET, align="left", dx=4, dy=-7, fontWeight="bold")
        .encode(y=alt.Y("target:Q"), text=alt.Text("label:N"), x=alt.value(0))
    )
    return [rule, text]


def _band_area(
    chart: alt.Chart, x_title: str, y_title: str, label: str, *, opacity: float, fmt: str
) -> alt.Chart:
    """Return the P10–P90 area of a frame with columns ``year``, ``p10``, ``p90``."""
    return chart.mark_area(opacity=opacity, color=BAND).encode(
        x=_year_axis(x_title),
        y=alt.Y("p10:Q", title=y_title, scale=alt.Scale(zero=False)),
        y2=alt.Y2("p90:Q"),
        tooltip=[
            alt.Tooltip("year:Q", title=x_title),
            alt.Tooltip("p10:Q", title=f"{label} P10", format=fmt),
            alt.Tooltip("p90:Q", title=f"{label} P90", format=fmt),
        ],
    )


def scenario_lines(
    frame: pd.DataFrame,
    *,
    x_title: str,
    y_title: str,
    series_title: str,
    dashed: Sequence[str] = (),
    target: float | None = None,
    target_label: str = "",
    height: int = 320,
    band: pd.DataFrame | None = None,
    band_label: str = "P10–P90",
) -> alt.LayerChart:
    """One line per scenario over the years, with an optional target line and band.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``year``, ``value``, ``series`` (scenario label; legend order = first seen).
    dashed : sequence of str
        Series drawn dashed (the baseline, so the current scenario stands out).
    target, target_label : float, str
        A horizontal rule and its label.
    band : pandas.DataFrame, optional
        Columns ``year``, ``p10``, ``p90``: an uncertainty band drawn behind the lines.
    """
    order = list(dict.fromkeys(frame["series"]))
    dash = alt.StrokeDash(
        "series:N",
        title=series_title,
        sort=order,
        scale=alt.Scale(domain=order, range=[_DASHED if s in dashed else _SOLID for s in order]),
    )
    lines = (
        alt.Chart(frame)
        .mark_line(point=True, strokeWidth=2.5)
        .encode(
            x=_year_axis(x_title),
            y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "series:N", title=series_title, sort=order, scale=alt.Scale(range=PALETTE)
            ),
            strokeDash=dash,
            tooltip=[
                alt.Tooltip("series:N", title=series_title),
                alt.Tooltip("year:Q", title=x_title),
                alt.Tooltip("value:Q", title=y_title, format=",.0f"),
            ],
        )
    )
    rules = [] if target is None else _target_rule(target, target_label)
    behind = []
    if band is not None and len(band):
        behind.append(
            _band_area(alt.Chart(band), x_title, y_title, band_label, opacity=0.22, fmt=",.0f")
        )
    return _layers(*behind, lines, *rules, height=height)


def band_chart(
    bands: pd.DataFrame,
    *,
    x_title: str,
    y_title: str,
    band_label: str,
    median_label: str,
    target: float | None = None,
    target_label: str = "",
    height: int = 320,
) -> alt.LayerChart:
    """Chart an uncertainty band (P10–P90) and its median over the years.

    Parameters
    ----------
    bands : pandas.DataFrame
        Columns ``year``, ``p10``, ``p50``, ``p90``.
    """
    base = alt.Chart(bands).encode(x=_year_axis(x_title))
    area = _band_area(base, x_title, y_title, band_label, opacity=0.3, fmt=",.4g")
    median = base.mark_line(point=True, color=BAND, strokeWidth=2.5).encode(
        y=alt.Y("p50:Q"),
        tooltip=[
            alt.Tooltip("year:Q", title=x_title),
            alt.Tooltip("p50:Q", title=median_label, format=",.4g"),
        ],
    )
    rules = [] if target is None else _target_rule(target, target_label)
    return _layers(area, median, *rules, height=height)


def cluster_bars(
    frame: pd.DataFrame,
    *,
    cluster_title: str,
    value_title: str,
    target_title: str,
    series_title: str,
    status_title: str,
    status_domain: Sequence[str],
) -> alt.LayerChart:
    """Chart the clusters' value in the target year as bars.

    The target is shown as a black tick, and the status as a symbol at the end of each bar.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``cluster``, ``series``, ``value``, ``target``, ``status`` (text such as
        "✓ reached") and ``mark`` ("✓"/"✗"). With one series the bars are coloured by status;
        with several, by series (grouped bars).
    status_domain : sequence of str
        The reached and the missed status text, in that order (for the colour legend).
    """
    order = list(dict.fromkeys(frame["cluster"]))
    several = frame["series"].nunique() > 1
    y = alt.Y("cluster:N", title=cluster_title, sort=order)
    if several:
        color = alt.Color(
            "series:N",
            title=series_title,
            sort=list(dict.fromkeys(frame["series"])),
            scale=alt.Scale(range=PALETTE),
        )
        offset = {"yOffset": alt.YOffset("series:N", sort=list(dict.fromkeys(frame["series"])))}
    else:
        color = alt.Color(
            "status:N",
            title=status_title,
            scale=alt.Scale(domain=list(status_domain), range=[REACHED, MISSED]),
        )
        offset = {}
    tooltip = [
        alt.Tooltip("cluster:N", title=cluster_title),
        alt.Tooltip("series:N", title=series_title),
        alt.Tooltip("value:Q", title=value_title, format=",.0f"),
        alt.Tooltip("target:Q", title=target_title, format=",.0f"),
        alt.Tooltip("status:N", title=status_title),
    ]
    base = alt.Chart(frame)
    bars = base.mark_bar().encode(
        y=y, x=alt.X("value:Q", title=value_title), color=color, tooltip=tooltip, **offset
    )
    # The ✓/✗ sits past the bar and the target tick, never on top of the tick.
    marks = base.mark_text(align="left", dx=6, fontSize=13, fontWeight="bold").encode(
        y=y, x=alt.X("mark_x:Q"), text=alt.Text("mark:N"), **offset
    )
    ticks = base.mark_tick(color="black", thickness=3, size=18).encode(
        y=y, x=alt.X("target:Q"), tooltip=tooltip
    )
    # A step per bar (not a fixed height) keeps every cluster's label and bar readable.
    step = alt.Step(16) if several else alt.Step(28)
    return _layers(bars, marks, ticks, height=step)


def target_panels(
    frame: pd.DataFrame,
    *,
    x_title: str,
    series_title: str,
    dashed: Sequence[str] = (),
    columns: int = 3,
) -> dict:
    """Small multiples: one panel per target, its variable over time and the target level.

    Returns the Vega-Lite spec as a dict, written directly: the same spec Altair makes from
    :func:`target_panels_altair` (a test compares them), in a twentieth of the time (8
    panels: ~15 ms instead of ~350 ms per rerun, which was most of a lever's latency).

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``label`` (panel title, with unit), ``year``, ``value``, ``series``,
        ``target``, and optionally ``count`` (True for counts of firms, projects: the
        panel's axis and tooltip show whole numbers, never "2.3 firms").
    """
    order = list(dict.fromkeys(frame["series"]))
    color = {
        "field": "series",
        "scale": {"range": list(PALETTE)},
        "sort": order,
        "title": series_title,
        "type": "nominal",
    }
    dash = {
        "field": "series",
        "scale": {"domain": order, "range": [_DASHED if s in dashed else _SOLID for s in order]},
        "sort": order,
        "title": series_title,
        "type": "nominal",
    }
    x = {
        "axis": {"format": "d", "tickMinStep": 1},
        "field": "year",
        "scale": {"nice": False, "zero": False},
        "title": x_title,
        "type": "quantitative",
    }
    datasets: dict[str, list[dict]] = {}
    panels = []
    for k, (label, part) in enumerate(frame.groupby("label", sort=False)):
        count = bool(part["count"].iloc[0]) if "count" in part else False
        axis = {"format": ",d", "tickMinStep": 1} if count else {"format": ",.4~g"}
        records = _records(part)
        datasets[f"panel-{k}"] = records
        datasets[f"panel-{k}-target"] = records[:1]
        line = {
            "data": {"name": f"panel-{k}"},
            "mark": {"type": "line", "strokeWidth": 2},
            "encoding": {
                "color": color,
                "strokeDash": dash,
                "tooltip": [
                    {"field": "series", "title": series_title, "type": "nominal"},
                    {"field": "year", "title": x_title, "type": "quantitative"},
                    {
                        "field": "value",
                        "format": ",.0f" if count else ",.4~g",
                        "title": label,
                        "type": "quantitative",
                    },
                ],
                "x": x,
                "y": {
                    "axis": axis,
                    "field": "value",
                    "scale": {"zero": False},
                    "title": None,
                    "type": "quantitative",
                },
            },
        }
        # Not on the year axis: with the year on x the rule would become a tick per year.
        rule = {
            "data": {"name": f"panel-{k}-target"},
            "mark": {"type": "rule", "color": TARGET, "strokeDash": [4, 3]},
            "encoding": {"y": {"field": "target", "type": "quantitative"}},
        }
        panels.append(
            {
                "layer": [line, rule],
                "height": 140,
                "title": {"text": label, "fontSize": 12, "limit": 300},
                "width": 210,
            }
        )
    return {
        "config": _config_dict(),
        "concat": panels,
        "columns": columns,
        "datasets": datasets,
        "$schema": alt.SCHEMA_URL,
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (numpy scalars as Python numbers, NaN as null)."""
    rows = frame.to_dict("records")  # pandas gives Python scalars
    for row in rows:
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = row[k] = v.item()
            if isinstance(v, float) and v != v:
                row[k] = None
    return rows


@functools.cache
def _config_json() -> str:
    return json.dumps(alt.LayerChart(layer=[], config=_config()).to_dict(validate=False)["config"])


def _config_dict() -> dict:
    return json.loads(_config_json())  # a fresh copy per spec


def target_panels_altair(
    frame: pd.DataFrame,
    *,
    x_title: str,
    series_title: str,
    dashed: Sequence[str] = (),
    columns: int = 3,
) -> alt.ConcatChart:
    """Return the Altair chart that :func:`target_panels` writes as a spec (its reference)."""
    order = list(dict.fromkeys(frame["series"]))
    panels = list(dict.fromkeys(frame["label"]))
    color = alt.Color("series:N", title=series_title, sort=order, scale=alt.Scale(range=PALETTE))
    dash = alt.StrokeDash(
        "series:N",
        title=series_title,
        sort=order,
        scale=alt.Scale(domain=order, range=[_DASHED if s in dashed else _SOLID for s in order]),
    )
    charts = []
    for label in panels:
        part = frame[frame["label"] == label]
        count = bool(part["count"].iloc[0]) if "count" in part else False
        axis = alt.Axis(format=",d", tickMinStep=1) if count else alt.Axis(format=",.4~g")
        lines = (
            alt.Chart(part)
            .mark_line(strokeWidth=2)
            .encode(
                x=_year_axis(x_title),
                y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False), axis=axis),
                color=color,
                strokeDash=dash,
                tooltip=[
                    alt.Tooltip("series:N", title=series_title),
                    alt.Tooltip("year:Q", title=x_title),
                    alt.Tooltip("value:Q", title=label, format=",.0f" if count else ",.4~g"),
                ],
            )
        )
        rule = (
            alt.Chart(part.head(1))
            .mark_rule(color=TARGET, strokeDash=[4, 3])
            .encode(y=alt.Y("target:Q"))
        )
        charts.append(
            alt.layer(lines, rule, width=210, height=140).properties(
                title=alt.TitleParams(label, fontSize=12, limit=300)
            )
        )
    return alt.ConcatChart(concat=charts, columns=columns, config=_config())


def probability_bars(
    frame: pd.DataFrame, *, label_title: str, probability_title: str
) -> alt.LayerChart:
    """Probability of reaching each target, as bars from 0 to 100%.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``label`` and ``probability`` (0–1).
    """
    order = list(frame["label"])
    base = alt.Chart(frame).encode(y=alt.Y("label:N", title=label_title, sort=order))
    bars = base.mark_bar().encode(
        x=alt.X(
            "probability:Q",
            title=probability_title,
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format="%"),
        ),
        color=alt.Color(
            "probability:Q",
            legend=None,
            scale=alt.Scale(domain=[0, 0.5, 1], range=[MISSED, "#f2b701", REACHED]),
        ),
        tooltip=[
            alt.Tooltip("label:N", title=label_title),
            alt.Tooltip("probability:Q", title=probability_title, format=".0%"),
        ],
    )
    text = base.mark_text(align="left", dx=3).encode(
        x=alt.X("probability:Q"), text=alt.Text("probability:Q", format=".0%")
    )
    return _layers(bars, text, height=alt.Step(22))


def lever_reach(
    frame: pd.DataFrame,
    *,
    lever_title: str,
    value_title: str,
    low_title: str,
    high_title: str,
    target: float,
    target_label: str,
) -> alt.LayerChart:
    """Chart how far each lever alone moves an outcome (a tornado).

    A bar runs from the outcome with the lever at its low end to the outcome at its high
    end; the scenario's value is a black tick, the target a red dashed rule.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``label``, ``low`` and ``high`` (the outcome with the lever at either end),
        ``current`` (the scenario's outcome) and ``rank`` (the order shown, 0 on top).
    """
    y = alt.Y(
        "label:N",
        title=None,
        sort=alt.EncodingSortField(field="rank", op="min", order="ascending"),
        axis=alt.Axis(labelLimit=190, labelFontSize=11),
    )
    tooltip = [
        alt.Tooltip("label:N", title=lever_title),
        alt.Tooltip("low:Q", title=low_title, format=",.0f"),
        alt.Tooltip("high:Q", title=high_title, format=",.0f"),
    ]
    base = alt.Chart(frame)
    bars = base.mark_bar(color=PALETTE[0], opacity=0.75, height=12).encode(
        y=y,
        x=alt.X("low:Q", title=value_title, scale=alt.Scale(zero=False)),
        x2=alt.X2("high:Q"),
        tooltip=tooltip,
    )
    ticks = base.mark_tick(color="black", thickness=2, size=16).encode(
        y=y, x=alt.X("current:Q"), tooltip=tooltip
    )
    rule = (
        alt.Chart(pd.DataFrame({"target": [target], "label": [target_label]}))
        .mark_rule(color=TARGET, strokeDash=[4, 3], strokeWidth=2)
        .encode(x=alt.X("target:Q"), tooltip=[alt.Tooltip("label:N", title=target_label)])
    )
    return _layers(bars, ticks, rule, height=alt.Step(22))


def spec(chart: alt.TopLevelMixin) -> dict:
    """Return the Vega-Lite spec of a chart, without validating it.

    The spec is not validated against the schema on every rerun (the charts are fixed code,
    validated by the tests): validation cost more than the model run.
    """
    return chart.to_dict(validate=False)


# ----------------------------------------------------------------------------------
# specs from templates: a chart built once per structure, its data replaced on each rerun
# ----------------------------------------------------------------------------------
_MISSING = object()
_TEMPLATES: collections.OrderedDict = collections.OrderedDict()
_MAX_TEMPLATES = 256


def cached_spec(build, frames: dict[str, pd.DataFrame | None], **kwargs) -> dict:
    """Return ``spec(build(**frames, **kwargs))``, from a template when one applies.

    A rerun after a lever moves draws the same charts with new numbers: building them with
    Altair each time cost ~50 ms a chart. The first call for a structure (``build``, its
    keyword arguments, each frame's columns, types, length and every non-numeric value)
    builds the chart twice: with the frames, and with their numbers moved. If the two specs
    differ only in the datasets that are those frames' rows, the spec is kept as a template
    and later calls only write the new rows into it. Otherwise (the structure depends on
    the numbers, or a dataset is computed from a frame) every call builds with Altair.
    """
    key = (build.__qualname__, repr(sorted(kwargs.items())), *_frame_keys(frames))
    entry = _TEMPLATES.get(key, _MISSING)
    if entry is _MISSING:
        entry = _template(build, frames, kwargs)
        _TEMPLATES[key] = entry
        while len(_TEMPLATES) > _MAX_TEMPLATES:
            _TEMPLATES.popitem(last=False)
    if entry is None:
        return spec(build(**frames, **kwargs))
    text, roles = entry
    rows = {arg: _records(frames[arg]) for arg in set(roles.values())}
    # datasets named by their content, as Altair names them: new numbers, a new spec
    names = {
        arg: "data-" + hashlib.md5(json.dumps(r, sort_keys=True).encode()).hexdigest()
        for arg, r in rows.items()
    }
    for arg, name in names.items():
        text = text.replace(json.dumps(f"<{arg}>"), json.dumps(name))
    out = json.loads(text)
    out.setdefault("datasets", {}).update({names[arg]: r for arg, r in rows.items()})
    return out


def _frame_keys(frames: dict[str, pd.DataFrame | None]) -> list[tuple]:
    keys = []
    for arg, f in frames.items():
        if f is None:
            keys.append((arg, None))
            continue
        fixed = [c for c in f.columns if not _is_number_column(f[c])]
        keys.append(
            (
                arg,
                len(f),
                tuple(f.columns),
                tuple(str(t) for t in f.dtypes),
                tuple(tuple(f[c].tolist()) for c in fixed),
            )
        )
    return keys


def _is_number_column(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _moved(f: pd.DataFrame | None, k: int) -> pd.DataFrame | None:
    """``f`` with every number changed (by a different amount for each frame)."""
    if f is None:
        return None
    g = f.copy()
    for c in g.columns:
        if _is_number_column(g[c]):
            g[c] = g[c] + (k + 1) * (7 if pd.api.types.is_integer_dtype(g[c]) else 0.37)
    return g


def _roles(built: dict, frames: dict[str, pd.DataFrame | None]) -> dict[str, str] | None:
    """Dataset name -> the frame whose rows it holds; None if two frames share one."""
    rows = {arg: _records(f) for arg, f in frames.items() if f is not None}
    roles = {}
    for name, values in built.get("datasets", {}).items():
        owners = [arg for arg, r in rows.items() if r == values]
        if len(owners) > 1:
            return None
        if owners:
            roles[name] = owners[0]
    return roles


def _normalised(built: dict, roles: dict[str, str]) -> dict:
    """``built`` with its frames' datasets left out and their references named by role."""

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"name"} and node["name"] in roles:
                return {"name": f"<{roles[node['name']]}>"}
            return {k: walk(v) for k, v in node.items() if k != "datasets"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    other = {k: v for k, v in built.get("datasets", {}).items() if k not in roles}
    return {**walk(built), "datasets": other}


def _template(build, frames, kwargs) -> tuple[str, dict[str, str]] | None:
    first = spec(build(**frames, **kwargs))
    roles = _roles(first, frames)
    if roles is None or set(roles.values()) != {a for a, f in frames.items() if f is not None}:
        return None  # a frame's rows are not one dataset of the spec: not a template
    moved = {arg: _moved(f, k) for k, (arg, f) in enumerate(frames.items())}
    second = spec(build(**moved, **kwargs))
    moved_roles = _roles(second, moved)
    template = _normalised(first, roles)
    if moved_roles is None or template != _normalised(second, moved_roles):
        return None  # the structure depends on the numbers
    if not template["datasets"]:
        del template["datasets"]
    return json.dumps(template), roles


def draw(chart: alt.TopLevelMixin | dict, width: str = "content") -> None:
    """Show ``chart`` (or a spec written as a dict) in Streamlit, unvalidated (see :func:`spec`)."""
    import streamlit as st

    st.vega_lite_chart(chart if isinstance(chart, dict) else spec(chart), width=width)
