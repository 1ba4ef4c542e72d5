"""The sidebar: language, page, the scenario being tuned, keep (download / upload) and a slider
for every parameter.

State lives only in ``st.session_state`` (one per browser session):

``lang``            "zh" or "en"
``page``            the page shown
``base_choice``     ``"file:<name>"`` or ``"upload:<name>"``: the scenario tuned
``uploads``         uploaded scenarios by name (this session's only)
``edits``           parameter name -> value the user set with a slider
``upload_error``    the last rejected upload's one-line error, or None
``p:<name>``        each slider's own widget state
``grp:<group>``     whether a parameter group is open
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from czsim.groups import group_label
from czsim.parameters import Parameter, ParameterTable
from czsim.scenarios import Scenario
from czsim.targets import Target
from czsim.ui import compute, logic
from czsim.ui.i18n import LANGUAGES, t

#: Page names in menu order (:data:`czsim.ui.pages.RENDERERS` draws each).
PAGE_NAMES = ("overview", "scorecard", "compare", "uncertainty", "model")
UPLOADER_KEY = "uploader"


@dataclass(frozen=True)
class Context:
    """What every page needs: the language, the tables and the scenario being tuned."""

    lang: str
    table: ParameterTable
    targets: tuple[Target, ...]
    scenario: Scenario
    toml: str


def _init_state() -> None:
    ss = st.session_state
    ss.setdefault("lang", "zh")
    ss.setdefault("page", PAGE_NAMES[0])
    ss.setdefault("base_choice", "file:baseline")
    ss.setdefault("uploads", {})
    ss.setdefault("edits", {})
    ss.setdefault("upload_error", None)


def choice_scenario(choice: str) -> Scenario:
    """The scenario behind a ``file:``/``upload:`` choice key."""
    kind, _, name = choice.partition(":")
    return st.session_state["uploads"][name] if kind == "upload" else compute.scenario_file(name)


def choice_label(choice: str, lang: str) -> str:
    """How a choice key is shown: the file name, or the upload marked as such."""
    kind, _, name = choice.partition(":")
    return f"⬆ {name} ({t('uploaded_prefix', lang)})" if kind == "upload" else name


def scenario_choices() -> list[str]:
    """Every scenario this session can start from: the files, then its uploads."""
    return [f"file:{n}" for n in compute.scenario_names()] + [
        f"upload:{n}" for n in st.session_state["uploads"]
    ]


def _clear_edits() -> None:
    """Forget the user's changes; sliders re-read the scenario on the next run."""
    ss = st.session_state
    ss["edits"] = {}
    for key in [k for k in ss if isinstance(k, str) and k.startswith("p:")]:
        del ss[key]


def _on_upload() -> None:
    """Load a newly uploaded file; a bad one leaves the scenario and its edits as they were."""
    uploaded = st.session_state.get(UPLOADER_KEY)
    if uploaded is None:
        return
    receive_upload(uploaded.name, uploaded.getvalue())


def receive_upload(name: str, data: bytes) -> None:
    """Apply an uploaded file to this session: make it the scenario tuned, or record the error.

    Runs inside the uploader's change callback, before any widget of the run is drawn, so it
    may set the scenario choice.
    """
    ss = st.session_state
    scenario, error = logic.handle_upload(name, data, lang=ss["lang"])
    ss["upload_error"] = error
    if scenario is None:
        return
    ss["uploads"] = {**ss["uploads"], scenario.name: scenario}
    ss["base_choice"] = f"upload:{scenario.name}"
    _clear_edits()


def _on_slider(name: str) -> None:
    """Record a slider move; a slider moved back to the scenario's value is no longer an edit."""
    ss = st.session_state
    value = ss[f"p:{name}"]
    edits = {k: v for k, v in ss["edits"].items() if k != name}
    base = choice_scenario(ss["base_choice"])
    if logic.effective_value(base, name, compute.parameter_table()) != value:
        edits[name] = value
    ss["edits"] = edits


def _slider(p: Parameter, base: Scenario, lang: str) -> None:
    ss = st.session_state
    start = logic.effective_value(base, p.name, compute.parameter_table())
    # The value comes from the edits (the source of truth), so a slider that was not drawn
    # for a while, or whose label changed language, comes back where the user left it.
    value = ss["edits"].get(p.name, logic.slider_value(start))
    help_text = t(
        "param_help",
        lang,
        source=p.source,
        variable=p.full_variable,
        low=f"{p.low:g}",
        high=f"{p.high:g}",
        units=p.units,
    )
    st.slider(
        f"{p.label(lang)} [{p.units}]",
        min_value=p.low,
        max_value=p.high,
        step=p.step,
        value=value,
        format=logic.step_format(p.step),
        key=f"p:{p.name}",
        help=help_text,
        on_change=_on_slider,
        args=(p.name,),
    )
    if isinstance(start, tuple) and p.name not in ss["edits"]:
        st.caption(t("series_note", lang, points=logic.format_series(start)))


def _parameters(table: ParameterTable, base: Scenario, edits: dict[str, float], lang: str) -> None:
    st.subheader(t("parameters", lang), help=t("parameters_help", lang))
    for index, (group, params) in enumerate(table.groups().items()):
        changed = sum(p.name in edits for p in params)
        title = f"{group_label(group, lang)} ({len(params)})"
        # Lazy: a group's sliders are drawn only while it is open, so a rerun draws a dozen
        # widgets rather than all of them (the edits, not the widgets, hold the values).
        group_box = st.expander(
            title + (f" · ✎ {changed}" if changed else ""),
            expanded=index == 0,
            key=f"grp:{group}",
            on_change="rerun",
        )
        if not group_box.open:
            continue
        with group_box:
            for kind in ("lever", "assumption"):
                chosen = [p for p in params if p.kind == kind]
                if not chosen:
                    continue
                st.markdown(f"**{t('levers' if kind == 'lever' else 'assumptions', lang)}**")
                for p in chosen:
                    _slider(p, base, lang)


def _keep(ctx: Context) -> None:
    lang = ctx.lang
    with st.expander(t("keep", lang), expanded=False):
        st.download_button(
            t("download_toml", lang),
            data=ctx.toml,
            file_name=f"{ctx.scenario.name}.toml",
            mime="application/toml",
            on_click="ignore",
            key="dl_toml",
            width="stretch",
        )
        # Results are written only when a button is clicked (deferred data), so a slider move
        # does not pay for building a workbook.
        st.download_button(
            t("download_csv", lang),
            data=lambda: compute.results_csv(ctx.toml),
            file_name=f"{ctx.scenario.name}.csv",
            mime="text/csv",
            on_click="ignore",
            key="dl_csv",
            width="stretch",
        )
        st.download_button(
            t("download_xlsx", lang),
            data=lambda: compute.results_xlsx(ctx.toml),
            file_name=f"{ctx.scenario.name}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            on_click="ignore",
            key="dl_xlsx",
            width="stretch",
        )
        # The browser refuses files over 1 MB (the smallest limit Streamlit takes);
        # handle_upload enforces the real limit, MAX_UPLOAD_BYTES.
        st.file_uploader(
            t("upload", lang, kb=logic.MAX_UPLOAD_BYTES // 1024),
            type=["toml"],
            key=UPLOADER_KEY,
            on_change=_on_upload,
            max_upload_size=1,
        )


def sidebar() -> Context:
    """Draw the sidebar and return the context the pages draw from."""
    _init_state()
    ss = st.session_state
    table = compute.parameter_table()
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
        st.selectbox(
            t("scenario", lang),
            scenario_choices(),
            key="base_choice",
            format_func=lambda c: choice_label(c, lang),
            help=t("scenario_help", lang),
            on_change=_clear_edits,
        )
        base = choice_scenario(ss["base_choice"])
        st.caption(base.description(lang))
        scenario = logic.tuned(base, ss["edits"], table)
        changed = len(ss["edits"])
        st.markdown(t("tuned_count", lang, n=changed) if changed else t("untuned", lang))
        st.button(
            t("reset", lang),
            on_click=_clear_edits,
            key="reset",
            disabled=not changed,
            width="stretch",
        )
        ctx = Context(
            lang=lang,
            table=table,
            targets=compute.target_list(),
            scenario=scenario,
            toml=scenario.to_toml(),
        )
        _keep(ctx)
        _parameters(table, base, ss["edits"], lang)
    return ctx
