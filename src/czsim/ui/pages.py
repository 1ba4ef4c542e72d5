"""The pages.

Each turns the context (and its own few widgets) into one call of the package and draws
charts built by :mod:`czsim.ui.charts`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from czsim.groups import group_label, load_groups
from czsim.parameters import ParameterTable
from czsim.targets import Target, headline
from czsim.ui import (
    charts,
    compute,
    levers,
    logic,
    pages_more,
    state,
    units,
    verdict,
    what_it_takes,
)
from czsim.ui.charts import draw
from czsim.ui.i18n import scenario_name, t, unit_text
from czsim.ui.sidebar import (
    Context,
    choice_label,
    context,
    downloads,
    scenario_choices,
    share_body,
)
from czsim.ui.state import scenario_of as choice_scenario


def _baseline_toml() -> str:
    return compute.scenario_file("baseline").to_toml()


def _series(frame: pd.DataFrame, target_id: str, label: str) -> pd.DataFrame:
    # on arrays: a rerun calls this a dozen times, and .loc with a mask cost ~2 ms a call
    mask = frame["id"].to_numpy() == target_id
    return pd.DataFrame(
        {
            "year": frame["year"].to_numpy()[mask],
            "value": frame["value"].to_numpy()[mask],
            "series": label,
        }
    )


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
                    "mark_x": max(row["value"], row["target"]),
                }
            )
    return pd.DataFrame(rows)


def _draw_clusters(cards: dict[str, pd.DataFrame], ctx: Context, lang: str) -> None:
    """Draw the clusters' 2025 values against their targets for each scenario in ``cards``."""
    draw(
        charts.cached_spec(
            charts.cluster_bars,
            {"frame": _cluster_frame(cards, ctx.targets, lang)},
            cluster_title=t("cluster", lang),
            value_title=t("value_2025", lang),
            target_title=t("target", lang),
            series_title=t("series", lang),
            status_title=t("col_status", lang),
            status_domain=_status_domain(lang),
        ),
        width="stretch",
    )


def reach_frame(
    reach: pd.DataFrame, current: float, table: ParameterTable, lang: str
) -> pd.DataFrame:
    """Return the tornado's rows: one per lever, in the table's order.

    ``rank`` 0 is the largest reach; ``flat`` marks the levers that move the outcome by no more than 0.05% over their range.
    """
    frame = pd.DataFrame(
        {
            "label": [table[n].label(lang) for n in reach.index],
            "low": reach[["low", "high"]].min(axis=1).to_numpy(),
            "high": reach[["low", "high"]].max(axis=1).to_numpy(),
            "current": current,
        }
    )
    span = (frame["high"] - frame["low"]).to_numpy()
    frame["flat"] = span <= 5e-4 * frame["high"].abs()
    # drawn largest first by this number, the rows staying in the table's order: a lever
    # move that reorders the bars then only changes numbers, and the chart's template holds
    frame["rank"] = np.argsort(np.argsort(-span, kind="stable"), kind="stable").astype(float)
    return frame


def _draw_reach(ctx: Context, row: pd.Series, lang: str, stamp: tuple[int, ...]) -> None:
    """Draw how far each key lever alone moves the headline (the others as they are now)."""
    head = headline().target
    reach = compute.lever_reach(ctx.toml, stamp)
    if reach.empty:
        return
    st.markdown(
        f"**{t('reach_title', lang, year=head.year)}**", help=t("reach_help", lang, year=head.year)
    )
    frame = reach_frame(reach, float(row["value"]), compute.parameter_table(), lang)
    flat = frame.pop("flat")
    draw(
        charts.cached_spec(
            charts.lever_reach,
            {"frame": frame[~flat].reset_index(drop=True)},
            lever_title=t("reach_lever", lang),
            value_title=unit_text(head.unit, lang),
            low_title=t("reach_low", lang),
            high_title=t("reach_high", lang),
            target=float(row["target"]),
            target_label=t("scale_target", lang),
        ),
        width="stretch",
    )
    if flat.any():
        sep = "、" if lang == "zh" else ", "
        names = sep.join(frame.loc[flat, "label"])
        st.caption(t("reach_flat", lang, year=head.year, names=names))


def _status_domain(lang: str) -> list[str]:
    return [logic.status_text("reached", lang), logic.status_text("missed", lang)]


#: Runs behind the overview's probabilities (seeded Latin hypercube: steady between reruns).
VERDICT_RUNS = 100
VERDICT_SEED = 2022


def _coloured(status: str, text: str) -> str:
    """Markdown in the status's colour (the words and symbol carry it too)."""
    colour = {"reached": "green", "missed": "red"}.get(status, "gray")
    return f"##### :{colour}[{text}]"


def _chances(ctx: Context) -> pd.DataFrame | None:
    """Probability of each target under the scenario's uncertainty (user-set parameters held)."""
    if not ctx.scenario.uncertain:
        return None
    _, chances = compute.run_ensemble(
        ctx.toml, VERDICT_RUNS, VERDICT_SEED, "lhs", compute.inputs_stamp()
    )
    return chances


def _verdict_style(table: pd.DataFrame, status: pd.Series) -> pd.DataFrame:
    # one column assignment: a .loc write per row costs about 0.3 ms on every rerun
    colours = status.reindex(table.index).map(verdict.COLOURS)
    css = ("color: " + colours + "; font-weight: bold").fillna("")
    styles = pd.DataFrame("", index=table.index, columns=table.columns)
    styles[table.columns[0]] = css.to_numpy(dtype=object)
    return styles


def verdict_dataframe(table: pd.DataFrame, lang: str, **kwargs) -> None:
    """Draw a verdict table: status in colour, symbol and word; probability as a bar."""
    status = table.pop("status")
    st.dataframe(
        table.style.apply(_verdict_style, axis=None, status=status),
        hide_index=True,
        width="stretch",
        column_config={
            t("probability", lang): st.column_config.ProgressColumn(
                format="percent", min_value=0.0, max_value=1.0
            )
        },
        **kwargs,
    )


def overview(ctx: Context) -> None:
    """Draw the overview; what a lever changes reruns alone (a fragment), not the sidebar."""
    _overview()


@st.fragment
def _overview() -> None:
    """Draw the overview's body.

    The headline verdict, the total-scale chart beside the key levers (with the edit count,
    reset, share and downloads), the clusters' verdicts, the other groups.

    A fragment: a lever's move reruns only this. Everything here is drawn from the source of
    truth, so the context is read afresh, not passed in.
    """
    if st.session_state.pop("full_rerun", False):
        st.rerun(scope="app")
    ctx = context()
    lang = ctx.lang
    stamp = compute.inputs_stamp()
    card, frame = compute.run_scenario(ctx.toml, stamp)
    base_toml = _baseline_toml()
    base_card, base_frame = compute.run_scenario(base_toml, stamp)
    head = headline().target
    row = card.loc[head.id]

    st.header(
        f"{scenario_name(ctx.scenario.name, lang)} · {t('scale_metric', lang)}",
        anchor=False,
    )
    box = st.container(border=True)
    with box:
        verdict_line = st.empty()
        verdict_line.markdown(
            _coloured(row["status"], verdict.headline_text(head, row, None, lang))
        )
    left, right = st.columns([4, 6], gap="medium")
    current_label, base_label = t("current", lang), t("baseline", lang)
    sources = [(frame, current_label)]
    if ctx.toml != base_toml:
        sources.append((base_frame, base_label))
    lines = [_series(source, head.id, label) for source, label in sources]
    with left:
        st.markdown(f"**{t('scale_title', lang)}**")
        chart = st.empty()
        band = None
        if ctx.scenario.uncertain and st.toggle(
            t("band_toggle", lang), key="main_band", help=t("band_help", lang, n=VERDICT_RUNS)
        ):
            # the runs behind the verdicts' probabilities (cached): the band costs nothing more
            bands, _ = compute.run_ensemble(ctx.toml, VERDICT_RUNS, VERDICT_SEED, "lhs", stamp)
            band = bands[bands["id"] == head.id]
        with chart:
            draw(
                charts.cached_spec(
                    charts.scenario_lines,
                    {"frame": pd.concat(lines), "band": band},
                    x_title=t("year", lang),
                    y_title=unit_text(head.unit, lang),
                    series_title=t("series", lang),
                    dashed=[base_label],
                    target=row["target"],
                    target_label=t("scale_target", lang),
                    height=270,
                    band_label=t("unc_band", lang),
                ),
                width="stretch",
            )
        if ctx.toml != base_toml:
            difference = row["value"] - base_card.loc[head.id, "value"]
            st.caption(t("vs_baseline", lang, delta=f"{difference:+,.0f}"))
        reach = st.container()  # filled once the levers are drawn: they come first
    with right:
        title, count, reset, share, keep = st.columns(
            [1.3, 1.6, 1.4, 0.9, 0.9], vertical_alignment="center"
        )
        title.markdown(f"**{t('levers_title', lang)}**", help=t("levers_caption", lang))
        changed = len(ctx.edits)
        count.markdown(t("tuned_count", lang, n=changed) if changed else t("untuned", lang))
        reset.button(
            t("reset_short", lang),
            on_click=state.reset_all,
            key="reset",
            disabled=not changed,
            help=t("reset", lang),
        )
        with share.popover(t("share_short", lang), help=t("share", lang)):
            share_body(ctx)
        with keep.popover("⬇", help=t("keep", lang)):
            downloads(ctx)
        levers.lever_panel(lang, columns=3)
    with reach:
        _draw_reach(ctx, row, lang, stamp)

    st.markdown(verdict.counts_text(card, lang))
    st.subheader(t("clusters_verdict", lang))
    chances = _chances(ctx)
    if chances is not None:
        p = float(chances.loc[head.id, "probability"]) if head.id in chances.index else None
        verdict_line.markdown(
            _coloured(row["status"], verdict.headline_text(head, row, p, lang)),
            help=t("h_probability_note", lang, n=VERDICT_RUNS),
        )
    clusters = _cluster_targets(ctx.targets)
    verdict_dataframe(verdict.verdict_table(card, clusters, chances, lang), lang)
    if any(tg.comparator == "approx" for tg in ctx.targets):
        st.caption(t("tolerance_note", lang))
    _draw_clusters({current_label: card}, ctx, lang)
    st.caption(t("tick_legend", lang))

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
        label = f"{tg.label(lang)} ({unit_text(tg.unit, lang)})" if tg.unit else tg.label(lang)
        for source, series in sources:
            part = _series(source, tg.id, series)
            part["label"] = label
            part["target"] = card.loc[tg.id, "target"]
            part["count"] = units.is_count(tg.unit)
            parts.append(part)
    draw(
        charts.target_panels(
            pd.concat(parts),
            x_title=t("year", lang),
            series_title=t("series", lang),
            dashed=[base_label],
        )
    )
    state.sync_query()


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


def _changed_style(table: pd.DataFrame, changed: pd.Series) -> pd.DataFrame:
    rows = changed.reindex(table.index, fill_value=False).to_numpy(dtype=bool)
    css = np.where(rows, "background-color: #fff4ce", "").astype(object)
    return pd.DataFrame(
        np.repeat(css[:, None], table.shape[1], axis=1), index=table.index, columns=table.columns
    )


def compare(ctx: Context) -> None:
    """Draw scenarios side by side (baseline, plan, slowdown by default).

    Charts overlaid, targets with the difference to the first, status changes highlighted,
    differing parameters.
    """
    lang = ctx.lang
    st.header(t("page_compare", lang))
    options = [*scenario_choices(), "current"]
    default = [c for c in ("file:baseline", "file:plan", "file:slowdown") if c in options]
    if ctx.edits or ctx.base.name not in ("baseline", "plan", "slowdown"):
        default.append("current")
    st.session_state.setdefault("compare_pick", default)

    def label(choice: str) -> str:
        if choice == "current":
            return t("current_label", lang, name=scenario_name(ctx.scenario.name, lang))
        return choice_label(choice, lang)

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
    draw(
        charts.cached_spec(
            charts.scenario_lines,
            {"frame": lines},
            x_title=t("year", lang),
            y_title=unit_text(headline().target.unit, lang),
            series_title=t("series", lang),
            target=next(iter(cards.values())).loc[headline().target.id, "target"],
            target_label=t("scale_target", lang),
        ),
        width="stretch",
    )
    st.subheader(t("compare_clusters", lang))
    _draw_clusters(cards, ctx, lang)

    st.subheader(t("compare_scorecard", lang))
    table, changed = logic.compare_table(cards, lang, ctx.targets)
    st.caption(t("compare_changed", lang))
    st.dataframe(
        table.style.apply(_changed_style, axis=None, changed=changed),
        width="stretch",
        height=480,
        hide_index=True,
    )
    st.subheader(t("compare_params", lang))
    diff = logic.parameter_diff(scenarios, ctx.table, lang)
    if diff.empty:
        st.info(t("compare_same", lang))
    else:
        st.dataframe(diff, width="stretch", hide_index=True)


#: The function that draws each page, by name.
RENDERERS = {
    "overview": overview,
    "scorecard": scorecard,
    "compare": compare,
    "uncertainty": pages_more.uncertainty,
    "what_it_takes": what_it_takes.render,
    "model": pages_more.model,
}
