"""One rerun of the app: page set-up, the sidebar, then the page chosen there."""

from __future__ import annotations

import streamlit as st

from czsim.ui import pages
from czsim.ui.i18n import t
from czsim.ui.sidebar import sidebar


def main() -> None:
    """Draw the app for the current session."""
    st.set_page_config(page_title="czsim · 常州", page_icon="🏭", layout="wide")
    ctx = sidebar()
    st.title(t("title", ctx.lang))
    st.caption(t("subtitle", ctx.lang))
    if st.session_state["upload_error"]:
        st.error(t("upload_error", ctx.lang, error=st.session_state["upload_error"]))
    pages.RENDERERS[st.session_state["page"]](ctx)
