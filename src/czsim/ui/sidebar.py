"""The sidebar.

Language, page, the scenario being tuned (switch, reset, share, keep) and the assumptions.
The key levers are drawn beside the main chart (:mod:`czsim.ui.levers`).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from czsim.parameters import ParameterTable
from czsim.scenarios import Scenario
from czsim.targets import Target
from czsim.ui import compute, exports, levers, logic, state
from czsim.ui.i18n import LANGUAGES, scenario_name, t

#: Page names in menu order (:data:`czsim.ui.pages.RENDERERS` draws each).
PAGE_NAMES = ("overview", "scorecard", "compare", "uncertainty", "what_it_takes", "model")
UPLOADER_KEY = "uploader"


@dataclass(frozen=True)
class Context:
    """What every page needs: the language, the tables and the scenario being tuned."""

    lang: str
    table: ParameterTable
    targets: tuple[Target, ...]
    base: Scenario
    scenario: Scenario
    toml: str
    edits: dict[str, float]


def choice_label(choice: str, lang: str) -> str:
    """How a choice key is shown: the scenario's name in ``lang``, uploads marked as such."""
    kind, _, name = choice.partition(":")
    if kind == "upload":
        return f"⬆ {name} ({t('uploaded_prefix', lang)})"
    return scenario_name(name, lang)


def scenario_choices() -> list[str]:
    """Every scenario this session can start from: the files, then its uploads."""
    return [f"file:{n}" for n in compute.scenario_names()] + [
        f"upload:{n}" for n in st.session_state["uploads"]
    ]


def _scenario_picker(lang: str) -> None:
    ss = st.session_state
    choices = scenario_choices()
    key = f"choice:{ss['rev']}"
    st.selectbox(
        t("scenario", lang),
        choices,
        index=choices.index(ss["choice"]) if ss["choice"] in choices else 0,
        key=key,
        format_func=lambda c: choice_label(c, lang),
        help=t("scenario_help", lang),
        on_change=state.on_choice,
        args=(key,),
    )


def share_body(ctx: Context) -> None:
    """Show the link that reproduces the current scenario, with a copy button."""
    lang = ctx.lang
    query = state.query_for(st.session_state["choice"], ctx.edits, lang)
    base_url = (st.context.url or "").split("?")[0]
    link = base_url + "?" + "&".join(f"{k}={v}" for k, v in query.items())
    st.caption(t("share_help", lang))
    st.code(link, language=None, wrap_lines=True)
    if st.session_state["choice"].startswith("upload:"):
        st.warning(t("share_upload", lang))


#: The downloads: suffix (also the label key and widget key), MIME type, builder(toml, lang).
_DOWNLOADS = (
    ("toml", "application/toml", lambda toml, lang: toml),
    ("csv", "text/csv", exports.csv_bytes),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        exports.xlsx_bytes,
    ),
)


def downloads(ctx: Context) -> None:
    """Offer TOML, CSV and Excel of the current scenario.

    The data is built on click from a holder that every rerun (the overview's fragment
    included) refreshes, so a download is never of an older scenario than the one shown.
    """
    lang = ctx.lang
    holder = st.session_state.setdefault("_current", {})
    holder.update(toml=ctx.toml, lang=lang)
    name = f"czsim_{ctx.base.name}"
    for suffix, mime, build in _DOWNLOADS:
        st.download_button(
            t(f"download_{suffix}", lang),
            data=lambda build=build: build(holder["toml"], holder["lang"]),
            file_name=f"{name}.{suffix}",
            mime=mime,
            on_click="ignore",
            key=f"dl_{suffix}",
            width="stretch",
        )


def _keep(ctx: Context, *, with_downloads: bool) -> None:
    lang = ctx.lang
    with st.expander(t("keep", lang) if with_downloads else t("import", lang)):
        if with_downloads:
            downloads(ctx)
        # The browser refuses files over 1 MB (the smallest limit Streamlit takes);
        # handle_upload enforces the real limit, MAX_UPLOAD_BYTES.
        st.file_uploader(
            t("upload", lang, kb=logic.MAX_UPLOAD_BYTES // 1024),
            type=["toml"],
            key=UPLOADER_KEY,
            on_change=state.on_upload,
            args=(UPLOADER_KEY,),
            max_upload_size=1,
            help=t("upload_help", lang),
        )


def edit_status(lang: str) -> None:
    """``已调整 N 个参数`` and the reset button."""
    changed = len(st.session_state["edits"])
    st.markdown(t("tuned_count", lang, n=changed) if changed else t("untuned", lang))
    st.button(
        t("reset", lang),
        on_click=state.reset_all,
        key="reset",
        disabled=not changed,
        width="stretch",
    )


def context() -> Context:
    """Return the scenario being tuned, from the source of truth."""
    ss = st.session_state
    table = compute.parameter_table()
    base = state.base()
    scenario = logic.tuned(base, ss["edits"], table, lang=ss["lang"])
    return Context(
        lang=ss["lang"],
        table=table,
        targets=compute.target_list(),
        base=base,
        scenario=scenario,
        toml=scenario.to_toml(),
        edits=dict(ss["edits"]),
    )


def sidebar() -> Context:
    """Draw the sidebar and return the context the pages draw from."""
    state.init()
    ss = st.session_state
    with st.sidebar:
        st.radio(
            t("language", ss["lang"]),
            list(LANGUAGES),
            key="lang",
            format_func=LANGUAGES.__getitem__,
            horizontal=True,
        )
        lang = ss["lang"]
        st.radio(
            t("page", lang), PAGE_NAMES, key="page", format_func=lambda p: t(f"page_{p}", lang)
        )
        st.divider()
        _scenario_picker(lang)
        ctx = context()
        st.caption(ctx.base.description(lang))
        on_overview = ss["page"] == "overview"
        if not on_overview:  # the overview draws these beside its levers (in its fragment)
            edit_status(lang)
            with st.expander(t("share", lang)):
                share_body(ctx)
        _keep(ctx, with_downloads=not on_overview)
        st.subheader(t("assumptions", lang), help=t("assumptions_help", lang))
        levers.assumptions(lang)
    state.sync_query()
    return ctx
