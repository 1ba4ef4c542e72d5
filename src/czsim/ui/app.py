"""One rerun of the app: page set-up, the sidebar, then the page chosen there.

Errors reach planners as messages in their language, never as tracebacks
(``.streamlit/config.toml`` also turns Streamlit's error details off).
"""

from __future__ import annotations

import logging

import streamlit as st

from czsim.errors import CzsimError
from czsim.ui import pages
from czsim.ui.i18n import t
from czsim.ui.sidebar import sidebar

_LOG = logging.getLogger(__name__)

#: Less room above the title, so the verdict and the key levers fit a 1440×900 screen.
_CSS = """<style>
.block-container {padding-top: 2.2rem; padding-bottom: 1rem;}
h1 {font-size: 1.7rem !important; padding-bottom: 0 !important;}
h2 {font-size: 1.35rem !important; padding-top: 0.2rem !important;}
</style>"""


def main() -> None:
    """Draw the app for the current session."""
    st.set_page_config(page_title="czsim · 常州", page_icon="🏭", layout="wide")
    st.html(_CSS)
    ctx = sidebar()
    lang = ctx.lang
    st.title(t("title", lang))
    st.caption(t("subtitle", lang))
    ss = st.session_state
    if ss["upload_error"]:
        st.error(t("upload_error", lang, error=ss["upload_error"]))
    elif ss["upload_ok"]:
        st.success(t("upload_ok", lang, name=ss["upload_ok"]))
    if ss["link_error"]:
        st.warning(t("link_error", lang, bad=ss["link_error"]))
    try:
        pages.RENDERERS[ss["page"]](ctx)
    except CzsimError as exc:
        st.error(t("error_generic", lang, error=exc))
    except Exception as exc:  # a planner sees a message, the log keeps the traceback
        _LOG.exception("page %s failed", ss["page"])
        st.error(t("error_generic", lang, error=type(exc).__name__))
