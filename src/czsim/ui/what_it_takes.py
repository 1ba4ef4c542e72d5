"""The "What it takes" page: break-even of each key lever, a combined solution, attribution.

Each answer comes from :mod:`czsim.decisions` on the scenario being tuned; results are cached
by the scenario's TOML text, so returning to a scenario costs nothing. The combined solution
runs only when asked (a few seconds: an optimisation over batches of runs).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from czsim import decisions
from czsim.decisions import figures
from czsim.scenarios import load_scenario_text
from czsim.targets import headline
from czsim.text import format_number
from czsim.ui.i18n import t


@st.cache_data(max_entries=32, show_spinner=False)
def _break_even(toml_text: str, target_id: str) -> pd.DataFrame:
    return decisions.break_even(target_id, load_scenario_text(toml_text))


@st.cache_data(max_entries=16, show_spinner=False)
def _solution(
    toml_text: str, target_id: str, levers: tuple[str, ...], probability: float | None
) -> dict:
    sol = decisions.what_it_takes(
        target_id, load_scenario_text(toml_text), list(levers), probability=probability
    )
    return {
        "status": sol.status,
        "levers": sol.levers,
        "value": sol.value,
        "probability": sol.probability,
        "distance": sol.distance,
        "n_runs": sol.n_runs,
    }


@st.cache_data(max_entries=16, show_spinner=False)
def _attribution(base_toml: str, other: str, target_id: str) -> decisions.Attribution:
    return decisions.attribute(load_scenario_text(base_toml), other, target_id)


def _label(row: pd.Series, lang: str) -> str:
    return row["label_zh"] if lang == "zh" else row["label_en"]


def render(ctx) -> None:
    """Draw the page for the scenario being tuned (``ctx`` from :func:`czsim.ui.sidebar`)."""
    lang = ctx.lang
    st.header(t("wit_header", lang))
    st.caption(t("wit_caption", lang))
    model_targets = [tg for tg in ctx.targets if tg.tracked and tg.basis == "model"]
    by_id = {tg.id: tg for tg in model_targets}
    head = headline().target.id
    target_id = st.selectbox(
        t("wit_target", lang),
        list(by_id),
        index=list(by_id).index(head) if head in by_id else 0,
        format_func=lambda i: by_id[i].label(lang),
        key="wit_target",
    )
    target = by_id[target_id]

    st.subheader(t("wit_break_even", lang))
    with st.spinner(t("wit_running", lang)):
        table = _break_even(ctx.toml, target_id)
    shown = pd.DataFrame(
        {
            t("wit_col_lever", lang): [_label(r, lang) for _, r in table.iterrows()],
            t("wit_col_status", lang): [
                t(f"wit_status_{s.replace(' ', '_')}", lang) for s in table["status"]
            ],
            t("wit_col_current", lang): [format_number(v) for v in table["current"]],
            t("wit_col_break_even", lang): [format_number(v) for v in table["break_even"]],
            t("wit_col_distance", lang): [format_number(v) for v in table["distance"]],
            t("wit_col_best", lang): [format_number(v) for v in table["best_value"]],
        }
    )
    left, right = st.columns([3, 2])
    left.dataframe(shown, hide_index=True, use_container_width=True)
    fig = figures.break_even_bars(table, target=target_id, lang=lang)
    right.pyplot(fig)

    st.subheader(t("wit_combined", lang))
    levers = tuple(p.name for p in ctx.table.key_levers() if p.kind == "lever")
    st.caption(t("wit_combined_caption", lang, n=len(levers)))
    use_p = st.checkbox(t("wit_with_probability", lang), key="wit_use_p")
    probability = (
        st.slider(t("wit_probability", lang), 0.5, 0.95, 0.8, 0.05, key="wit_p") if use_p else None
    )
    if st.button(t("wit_solve", lang), key="wit_solve"):
        with st.spinner(t("wit_running", lang)):
            st.session_state["wit_result"] = (
                target_id,
                ctx.toml,
                _solution(ctx.toml, target_id, levers, probability),
            )
    kept = st.session_state.get("wit_result")
    if kept and kept[0] == target_id and kept[1] == ctx.toml:
        sol = kept[2]
        verdict = t(f"wit_sol_{sol['status'].replace(' ', '_')}", lang)
        st.markdown(
            t(
                "wit_solution",
                lang,
                verdict=verdict,
                value=format_number(sol["value"] * target.display_scale),
                unit=target.unit,
                p=f"{100 * sol['probability']:.0f}",
                distance=f"{sol['distance']:.2f}",
                runs=sol["n_runs"],
            )
        )
        frame = sol["levers"][["current", "setting", "change", "change_fraction"]]
        st.dataframe(frame.map(format_number), use_container_width=True)

    st.subheader(t("wit_waterfall", lang))
    with st.spinner(t("wit_running", lang)):
        result = _attribution(ctx.toml, "plan", target_id)
    st.caption(
        t(
            "wit_waterfall_caption",
            lang,
            diff=format_number(result.difference),
            inter=format_number(result.interaction_total),
        )
    )
    fig = figures.waterfall(result)
    st.pyplot(fig)
