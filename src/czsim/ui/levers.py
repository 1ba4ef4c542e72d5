"""Parameter widgets.

The key-lever panel (beside the main chart) and every other parameter under "assumptions"
(search, one group at a time).

Every widget is drawn from the source of truth (:mod:`czsim.ui.state`) in planner units
(:mod:`czsim.ui.units`); its step is fine enough that a calibrated value is shown and kept
as it is, never snapped.
"""

from __future__ import annotations

import streamlit as st

from czsim.groups import group_label
from czsim.parameters import Parameter, ParameterTable
from czsim.ui import compute, logic, state, units
from czsim.ui.i18n import t


def help_text(p: Parameter, lang: str) -> str:
    """Return the tooltip of a parameter widget.

    It says what the parameter is, in both languages, where its value comes from, and its range
    in planner units.
    """
    other = p.label("en" if lang == "zh" else "zh")
    return t(
        "param_help",
        lang,
        other=other,
        source=p.source_text(lang),
        variable=p.full_variable,
        low=units.shown_text(p, p.low, lang),
        high=units.shown_text(p, p.high, lang),
        model_units=p.units,
    )


def _marks(p: Parameter, table: ParameterTable, lang: str) -> str:
    """``基准 9 %/年 · 规划 10 %/年``: where the baseline and the plan put this lever."""
    parts = []
    for name in ("baseline", "plan"):
        value = logic.slider_value(
            logic.effective_value(compute.scenario_file(name), p.name, table)
        )
        parts.append(f"{t(f'mark_{name}', lang)} {units.shown_text(p, value, lang)}")
    return " · ".join(parts)


def _widget(p: Parameter, table: ParameterTable, lang: str, *, slider: bool) -> None:
    d = units.display(p)
    value = units.to_display(p, state.current_value(p.name, table))
    low, high = units.to_display(p, p.low), units.to_display(p, p.high)
    step = units.widget_step(p, value)
    key = state.widget_key(p.name)
    label = f"{p.label(lang)} ({d.unit(lang)})"
    common = dict(
        min_value=low,
        max_value=high,
        value=value,
        step=step,
        format=units.widget_format(step, value),
        key=key,
        help=help_text(p, lang),
        on_change=state.on_widget,
        args=(p.name, key),
    )
    if slider:
        st.slider(label, **common)
    else:
        st.number_input(label, **common)
    edited = p.name in st.session_state["edits"]
    start = logic.effective_value(state.base(), p.name, table)
    note = _marks(p, table, lang) if slider else ""
    if isinstance(start, tuple) and not edited:
        note += (" · " if note else "") + t("series_note", lang, points=logic.format_series(start))
    if edited:
        note = "✎ " + note
    if note:
        st.caption(note)


def lever_panel(lang: str, *, columns: int = 2) -> None:
    """Draw the key levers, in ``columns`` columns, with the baseline's and the plan's values."""
    table = compute.parameter_table()
    levers = table.key_levers()
    cols = st.columns(columns)
    for i, p in enumerate(levers):
        with cols[i % columns]:
            _widget(p, table, lang, slider=True)


def assumptions(lang: str) -> None:
    """Draw every parameter that is not a key lever.

    Search by label (zh/en) or name, or pick a group; the chosen group stays chosen across
    reruns.
    """
    table = compute.parameter_table()
    keys = {p.name for p in table.key_levers()}
    groups = {g: [p for p in ps if p.name not in keys] for g, ps in table.groups().items()}
    groups = {g: ps for g, ps in groups.items() if ps}
    edits = st.session_state["edits"]
    query = st.text_input(t("assume_search", lang), key="assume_query").strip().lower()
    if query:
        shown = [
            p
            for ps in groups.values()
            for p in ps
            if query in p.label_zh.lower() or query in p.label_en.lower() or query in p.name
        ]
        st.caption(t("assume_hits", lang, n=len(shown)))
    else:

        def label(g: str) -> str:
            n = sum(p.name in edits for p in groups[g])
            return f"{group_label(g, lang)} ({len(groups[g])})" + (f" ✎{n}" if n else "")

        group = st.selectbox(
            t("assume_group", lang), list(groups), key="assume_group", format_func=label
        )
        shown = groups[group]
    for p in shown:
        _widget(p, table, lang, slider=False)
