"""The pages: each turns the context (and its own few widgets) into one call of the package
and draws charts built by :mod:`czsim.ui.charts`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from czsim.groups import group_label, load_groups
from czsim.targets import Target, headline
from czsim.ui import charts, compute, logic
from czsim.ui.i18n import t
from czsim.ui.sidebar import Context, choice_label, choice_scenario, scenario_choices

#: The uncertainty page's sample-size choices; a few hundred runs take well under a second.
RUN_CHOICES = (100, 200, 300, 500, 1000)


def _baseline_toml() -> str:
    return compute.scenario_file("baseline").to_toml()


def _series(frame: pd.DataFrame, target_id: str, label: str) -> pd.DataFrame:
    part = frame.loc[frame["id"] == target_id, ["year", "value"]].copy()
    part["series"] = label
    return part


def _cluster_targets(targets: tuple[Target, ...]) -> list[Target]:
    return [tg for tg in targets if tg.variable == "Cluster output" and tg.tracked]


def _cluster_name(target: Target, lang: str) -> str:
    """``高端装备`` from ``高端装备集群规模``: the bar axis needs only the cluster."""
    label = target.label(lang)
    for suffix in ("集群规模", " cluster output"):
        label = label.removesuffix(suffix)
    return label


def _cluster_frame(
    cards: dict[str, pd.DataFrame], targets: tuple[Target, ...], lang: str
) -> pd.DataFrame:
    rows = []
    for series, card in cards.items():
        for tg in _cluster_targets(targets):
            row = card.loc[tg.id]
            rows.append(
                {
                    "cluster": _cluster_name(tg, lang),
                    "series": series,
                    "value": row["value"],
                    "target": row["target"],
                    "status": logic.status_text(row["status"], lang),
                    "mark": "✓" if row["status"] == "reached" else "✗",
                }
            )
    return pd.DataFrame(rows)


def _status_domain(lang: str) -> list[str]:
    return [logic.status_text("reached", lang), logic.status_text("missed", lang)]


def overview(ctx: Context) -> None:
    """Total scale against 2.5万亿 and the baseline, the ten clusters, the other groups."""
    lang = ctx.lang
    stamp = compute.inputs_stamp()
    card, frame = compute.run_scenario(ctx.toml, stamp)
    base_toml = _baseline_toml()
    base_card, base_frame = compute.run_scenario(base_toml, stamp)
    counts = logic.summary(card)
    scale = card.loc[headline().target.id]

    st.header(ctx.scenario.name)
    a, b, c = st.columns(3)
    difference = scale["value"] - base_card.loc[headline().target.id, "value"]
    a.metric(
        t("scale_metric", lang),
        f"{logic.format_number(scale['value'])} {scale['unit']} "
        f"{'✓' if scale['status'] == 'reached' else '✗'}",
        delta=t("vs_baseline", lang, delta=f"{difference:+,.0f}")
        if ctx.toml != base_toml
        else None,
    )
    b.metric(
        t("reached_metric", lang),
        t("reached_of", lang, reached=counts["reached"], tracked=counts["tracked"]),
    )
    c.metric(t("model_metric", lang), f"{counts['model_reached']} / {counts['model_total']}")
    st.markdown(t("summary", lang, **counts))

    current_label, base_label = t("current", lang), t("baseline", lang)
    # The baseline is overlaid only when it differs from what is shown.
    sources = [(frame, current_label)]
    if ctx.toml != base_toml:
        sources.append((base_frame, base_label))
    lines = [_series(source, headline().target.id, label) for source, label in sources]
    st.subheader(t("scale_title", lang))
    st.altair_chart(
        charts.scenario_lines(
            pd.concat(lines),
            x_title=t("year", lang),
            y_title=headline().target.unit,
            series_title=t("series", lang),
            dashed=[base_label],
            target=scale["target"],
            target_label=t("scale_target", lang),
        ),
        width="stretch",
    )

    st.subheader(t("clusters_title", lang))
    st.altair_chart(
        charts.cluster_bars(
            _cluster_frame({current_label: card}, ctx.targets, lang),
            cluster_title=t("cluster", lang),
            value_title=t("value_2025", lang),
            target_title=t("target", lang),
            series_title=t("series", lang),
            status_title=t("col_status", lang),
            status_domain=_status_domain(lang),
        ),
        width="stretch",
    )

    st.subheader(t("groups_title", lang))
    panels = [g.id for g in load_groups().values() if g.panel]
    groups = [g for g in panels if any(tg.group == g and tg.tracked for tg in ctx.targets)]
    group = st.radio(
        t("group_pick", lang),
        groups,
        horizontal=True,
        key="panel_group",
        format_func=lambda g: group_label(g, lang),
    )
    st.caption(t("groups_caption", lang))
    chosen = [tg for tg in ctx.targets if tg.group == group and tg.tracked]
    parts = []
    for tg in chosen:
        label = f"{tg.label(lang)} ({tg.unit})" if tg.unit else tg.label(lang)
        for source, series in sources:
            part = _series(source, tg.id, series)
            part["label"] = label
            part["target"] = card.loc[tg.id, "target"]
            parts.append(part)
    st.altair_chart(
        charts.target_panels(
            pd.concat(parts),
            x_title=t("year", lang),
            series_title=t("series", lang),
            dashed=[base_label],
        )
    )


def _status_style(status: pd.Series, lang: str) -> list[str]:
    colours = {
        logic.status_text("reached", lang): "background-color: #e8f5e9; color: #1b5e20",
        logic.status_text("missed", lang): "background-color: #ffebee; color: #b71c1c",
    }
    return [colours.get(s, "color: #616161") for s in status]


def scorecard(ctx: Context) -> None:
    """Every target: value in its year, reached or missed, gap, first year reached."""
    lang = ctx.lang
    card, _ = compute.run_scenario(ctx.toml, compute.inputs_stamp())
    st.header(t("page_scorecard", lang))
    st.caption(t("scorecard_caption", lang))
    st.markdown(t("summary", lang, **logic.summary(card)))
    left, right = st.columns(2)
    groups = ["", *dict.fromkeys(card["group"])]
    group = left.selectbox(
        t("filter_group", lang),
        groups,
        key="sc_group",
        format_func=lambda g: group_label(g, lang) if g else t("all", lang),
    )
    bases = ["", "model", "counter", "untracked"]
    basis = right.selectbox(
        t("filter_basis", lang),
        bases,
        key="sc_basis",
        format_func=lambda b: t(f"basis_{b}", lang) if b else t("all", lang),
    )
    keep = pd.Series(True, index=card.index)
    if group:
        keep &= card["group"] == group
    if basis:
        keep &= card["basis"] == basis
    shown = card[keep]
    table = logic.scorecard_table(shown, ctx.targets, lang)
    status_col = t("col_status", lang)
    st.dataframe(
        table.style.apply(_status_style, lang=lang, subset=[status_col]),
        width="stretch",
        height=min(38 + 35 * len(table), 720),
    )


def compare(ctx: Context) -> None:
    """Two or more scenarios side by side: charts overlaid, targets, differing parameters."""
    lang = ctx.lang
    st.header(t("page_compare", lang))
    options = ["current", *scenario_choices()]
    st.session_state.setdefault("compare_pick", ["file:baseline", "current"])

    def label(choice: str) -> str:
        if choice == "current":
            return t("current_label", lang, name=ctx.scenario.name)
        return t("file_label", lang, name=choice_label(choice, lang))

    picked = st.multiselect(t("compare_pick", lang), options, key="compare_pick", format_func=label)
    if len(picked) < 2:
        st.info(t("compare_need_two", lang))
        return
    scenarios = {label(c): (ctx.scenario if c == "current" else choice_scenario(c)) for c in picked}
    stamp = compute.inputs_stamp()
    runs = {name: compute.run_scenario(s.to_toml(), stamp) for name, s in scenarios.items()}
    cards = {name: run[0] for name, run in runs.items()}

    st.subheader(t("compare_scale", lang))
    lines = pd.concat([_series(run[1], headline().target.id, name) for name, run in runs.items()])
    st.altair_chart(
        charts.scenario_lines(
            lines,
            x_title=t("year", lang),
            y_title=headline().target.unit,
            series_title=t("series", lang),
            target=next(iter(cards.values())).loc[headline().target.id, "target"],
            target_label=t("scale_target", lang),
        ),
        width="stretch",
    )
    st.subheader(t("compare_clusters", lang))
    st.altair_chart(
        charts.cluster_bars(
            _cluster_frame(cards, ctx.targets, lang),
            cluster_title=t("cluster", lang),
            value_title=t("value_2025", lang),
            target_title=t("target", lang),
            series_title=t("series", lang),
            status_title=t("col_status", lang),
            status_domain=_status_domain(lang),
        ),
        width="stretch",
    )

    st.subheader(t("compare_scorecard", lang))
    st.dataframe(logic.compare_table(cards, lang), width="stretch", height=480)
    st.subheader(t("compare_params", lang))
    diff = logic.parameter_diff(scenarios, ctx.table, lang)
    if diff.empty:
        st.info(t("compare_same", lang))
    else:
        st.dataframe(diff, width="stretch")


def uncertainty(ctx: Context) -> None:
    """P10–P90 bands and the probability of reaching each target over the scenario's ranges."""
    lang = ctx.lang
    st.header(t("page_uncertainty", lang))
    st.caption(t("unc_caption", lang))
    ranges = ctx.scenario.uncertain
    if not ranges:
        st.info(t("unc_none", lang))
        return
    a, b, c = st.columns(3)
    n_runs = a.select_slider(t("unc_runs", lang), RUN_CHOICES, value=300, key="unc_runs")
    seed = int(
        b.number_input(
            t("unc_seed", lang),
            min_value=0,
            max_value=2**31 - 1,
            value=2022,
            step=1,
            key="unc_seed",
        )
    )
    method = c.radio(
        t("unc_method", lang),
        ("lhs", "uniform"),
        horizontal=True,
        key="unc_method",
        format_func=lambda m: t(f"method_{m}", lang),
    )
    bands, chances = compute.run_ensemble(ctx.toml, n_runs, seed, method, compute.inputs_stamp())
    st.caption(t("unc_runs_done", lang, n=n_runs, seed=seed))

    shown = [tg for tg in ctx.targets if tg.tracked and tg.basis == "model"]
    by_id = {tg.id: tg for tg in shown}
    target_id = st.selectbox(
        t("unc_variable", lang),
        list(by_id),
        key="unc_target",
        format_func=lambda i: by_id[i].label(lang),
    )
    chosen = by_id[target_id]
    unit = f" ({chosen.unit})" if chosen.unit else ""
    scale = chosen.display_scale
    st.altair_chart(
        charts.band_chart(
            bands[bands["id"] == target_id],
            x_title=t("year", lang),
            y_title=chosen.label(lang) + unit,
            band_label=t("unc_band", lang),
            median_label=t("unc_median", lang),
            target=chosen.value * scale,
            target_label=f"{t('target', lang)} {chosen.year}",
        ),
        width="stretch",
    )

    st.subheader(t("unc_prob_title", lang))
    probs = chances.loc[[i for i in by_id if i in chances.index]]
    frame = pd.DataFrame(
        {
            "label": [by_id[i].label(lang) for i in probs.index],
            "probability": probs["probability"].to_numpy(),
        }
    )
    st.altair_chart(
        charts.probability_bars(
            frame, label_title=t("target", lang), probability_title=t("probability", lang)
        ),
        width="stretch",
    )
    with st.expander(t("unc_all_targets", lang)):
        named = chances.join(
            pd.DataFrame(
                {
                    t("target", lang): {tg.id: tg.label(lang) for tg in ctx.targets},
                    t("col_basis", lang): {
                        tg.id: t(f"basis_{tg.basis}", lang) for tg in ctx.targets
                    },
                }
            )
        )
        st.dataframe(
            named[[t("target", lang), t("col_basis", lang), "probability", "stderr"]].rename(
                columns={"probability": t("probability", lang), "stderr": t("stderr", lang)}
            ),
            width="stretch",
            column_config={
                t("probability", lang): st.column_config.ProgressColumn(
                    format="percent", min_value=0.0, max_value=1.0
                )
            },
        )
    with st.expander(t("unc_ranges", lang)):
        st.dataframe(
            pd.DataFrame(
                {
                    t("parameter", lang): [ctx.table[n].label(lang) for n in ranges],
                    t("low", lang): [lo for lo, _ in ranges.values()],
                    t("high", lang): [hi for _, hi in ranges.values()],
                    t("units", lang): [ctx.table[n].units for n in ranges],
                },
                index=list(ranges),
            ),
            width="stretch",
        )


def model(ctx: Context) -> None:
    """The model's structure diagram and a searchable table of every element."""
    lang = ctx.lang
    elements, dot = compute.model_docs()
    st.header(t("page_model", lang))
    st.subheader(t("model_diagram", lang))
    st.graphviz_chart(dot, width="stretch")
    st.subheader(t("model_elements", lang))
    left, right = st.columns([2, 1])
    query = left.text_input(t("model_search", lang), key="model_query").strip()
    sector = right.selectbox(
        t("model_sector", lang),
        ["", *dict.fromkeys(elements["sector"])],
        key="model_sector",
        format_func=lambda x: x or t("all", lang),
    )
    shown = elements[elements["sector"] == sector] if sector else elements
    if query:
        text = shown[["name", "sector", "units", "equation", "comment"]].astype(str)
        hit = text.apply(lambda col: col.str.contains(query, case=False, regex=False)).any(axis=1)
        shown = shown[hit]
    st.caption(t("model_count", lang, shown=len(shown), total=len(elements)))
    st.dataframe(
        shown[["name", "sector", "type", "units", "equation", "comment"]],
        width="stretch",
        hide_index=True,
    )


#: The function that draws each page, by name.
RENDERERS = {
    "overview": overview,
    "scorecard": scorecard,
    "compare": compare,
    "uncertainty": uncertainty,
    "model": model,
}
