"""The uncertainty page and the model page.

The uncertainty page shows bands and probabilities that follow the user's changes; the model
page a zoomable sector diagram, element level on demand, and bilingual search.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import streamlit as st

from czsim.ui import charts, compute, levers, units
from czsim.ui.charts import draw
from czsim.ui.i18n import t, unit_text
from czsim.ui.sidebar import Context

#: The uncertainty page's sample-size choices; a few hundred runs take well under a second.
RUN_CHOICES = (100, 200, 300, 500, 1000)


def uncertainty(ctx: Context) -> None:
    """P10–P90 bands and the probability of reaching each target over the scenario's ranges."""
    lang = ctx.lang
    st.header(t("page_uncertainty", lang))
    st.caption(t("unc_caption", lang))
    ranges = ctx.scenario.uncertain
    held = [n for n in ctx.base.uncertain if n in ctx.edits]
    with st.expander(t("levers_title", lang), expanded=False):
        levers.lever_panel(lang, columns=3)
    if held:
        st.info(
            t(
                "unc_held",
                lang,
                names="; ".join(
                    f"{ctx.table[n].label(lang)} = {units.shown_text(ctx.table[n], ctx.edits[n], lang)}"
                    for n in held
                ),
            )
        )
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
    unit = f" ({unit_text(chosen.unit, lang)})" if chosen.unit else ""
    scale = chosen.display_scale
    draw(
        charts.cached_spec(
            charts.band_chart,
            {"bands": bands[bands["id"] == target_id]},
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
    draw(
        charts.cached_spec(
            charts.probability_bars,
            {"frame": frame},
            label_title=t("target", lang),
            probability_title=t("probability", lang),
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
    with st.expander(t("unc_sampled", lang, n=len(ranges)), expanded=True):
        st.dataframe(
            pd.DataFrame(
                {
                    t("parameter", lang): [ctx.table[n].label(lang) for n in ranges],
                    t("low", lang): [
                        units.shown_text(ctx.table[n], lo, lang) for n, (lo, _) in ranges.items()
                    ],
                    t("high", lang): [
                        units.shown_text(ctx.table[n], hi, lang) for n, (_, hi) in ranges.items()
                    ],
                },
                index=list(ranges),
            ),
            width="stretch",
            hide_index=True,
        )
    post = ctx.scenario.posterior
    if post is not None:
        with st.expander(t("unc_joint", lang, n=len(post.parameters)), expanded=False):
            sd = np.sqrt(np.clip(np.diag(post.cov), 0.0, None))
            st.dataframe(
                pd.DataFrame(
                    {
                        t("parameter", lang): [ctx.table[n].label(lang) for n in post.parameters],
                        t("unc_mean", lang): [
                            units.shown_text(ctx.table[n], m, lang)
                            for n, m in zip(post.parameters, post.mean, strict=True)
                        ],
                        t("unc_sd", lang): [f"{v:.3g}" for v in sd],
                    },
                    index=list(post.parameters),
                ),
                width="stretch",
                hide_index=True,
            )


def _search_frame(elements: pd.DataFrame) -> pd.DataFrame:
    """Return the element table with Chinese and English labels.

    The labels are those the parameter and target tables give to model variables, so a search
    in either language finds them.
    """
    from czsim.targets import load_targets

    zh: dict[str, str] = {}
    en: dict[str, str] = {}
    for p in compute.parameter_table().values():
        zh.setdefault(p.variable, p.label_zh)
        en.setdefault(p.variable, p.label_en)
    for tg in load_targets():
        if tg.variable:
            zh.setdefault(tg.variable, tg.label_zh)
            en.setdefault(tg.variable, tg.label_en)
    out = elements.copy()
    out.insert(1, "label_zh", [zh.get(n, "") for n in out["name"]])
    out.insert(2, "label_en", [en.get(n, "") for n in out["name"]])
    return out


def model(ctx: Context) -> None:
    """Draw the model page.

    The sector diagram (zoomable SVG; element level on demand) and a searchable table of every
    element, searchable in Chinese and English.
    """
    lang = ctx.lang
    elements, _ = compute.model_docs()
    st.header(t("page_model", lang))
    st.subheader(t("model_sector_diagram", lang))
    svg = compute.diagram_svg("sector")
    if svg is None:
        st.warning(t("model_no_dot", lang))
    else:
        zoom = _zoom_control("model_zoom", lang)
        st.html(_zoomable(svg, 520, zoom))
        if st.toggle(t("model_element_diagram", lang), key="model_elements_on"):
            zoom = _zoom_control("model_element_zoom", lang)
            st.html(_zoomable(compute.diagram_svg("element") or "", 700, zoom))
    st.subheader(t("model_elements", lang))
    left, right = st.columns([2, 1])
    query = left.text_input(t("model_search", lang), key="model_query").strip()
    sector = right.selectbox(
        t("model_sector", lang),
        ["", *dict.fromkeys(elements["sector"])],
        key="model_sector",
        format_func=lambda x: x or t("all", lang),
    )
    table = _search_frame(elements)
    shown = table[table["sector"] == sector] if sector else table
    columns = ["name", "label_zh", "label_en", "sector", "type", "units", "equation", "comment"]
    if query:
        text = shown[columns].astype(str)
        hit = text.apply(lambda col: col.str.contains(query, case=False, regex=False)).any(axis=1)
        shown = shown[hit]
    st.caption(t("model_count", lang, shown=len(shown), total=len(elements)))
    st.dataframe(
        shown[columns].rename(columns={c: t(f"el_{c}", lang) for c in columns}),
        width="stretch",
        hide_index=True,
    )


#: Zoom steps of the model diagrams: "fit" (the whole diagram in the page's width) or a
#: percentage of the natural size (100%: Graphviz's 14 pt labels, readable).
ZOOMS = ("fit", 50, 75, 100, 150, 200)


def _zoom_control(key: str, lang: str) -> str | int:
    choice = st.segmented_control(
        t("model_zoom", lang),
        ZOOMS,
        default=100,
        key=key,
        format_func=lambda z: t("model_zoom_fit", lang) if z == "fit" else f"{z}%",
    )
    return 100 if choice is None else choice  # clicking the chosen one unselects it


def _zoomable(svg: str, height: int, zoom: str | int = 100) -> str:
    """Wrap the SVG, scaled to ``zoom``, in a scrollable, resizable box."""
    body = _scaled(svg[svg.find("<svg") :], zoom)
    return (
        f'<div style="height:{height}px;overflow:auto;border:1px solid #ddd;'
        f'border-radius:6px;resize:vertical"><div>'
        f"{body}</div></div>"
    )


_SIZE = re.compile(r'\b(width|height)="([0-9.]+)(pt|px)?"')


def _scaled(svg: str, zoom: str | int) -> str:
    """Return ``svg`` with its root's width and height scaled by ``zoom`` percent.

    The viewBox keeps the drawing; ``"fit"`` makes it as wide as its box, height to match.
    """
    end = svg.find(">")
    if end < 0:
        return svg
    head, rest = svg[:end], svg[end:]
    if zoom == "fit":
        head = _SIZE.sub(lambda m: 'width="100%"' if m[1] == "width" else "", head)
    else:
        factor = float(zoom) / 100

        def scale(m: re.Match) -> str:
            return f'{m[1]}="{float(m[2]) * factor:.1f}{m[3] or ""}"'

        head = _SIZE.sub(scale, head)
    return head + rest
