"""The one source of truth for the scenario a session is tuning.

Session state (one per browser session) holds:

``lang``        "zh" or "en"
``page``        the page shown
``choice``      ``"file:<name>"`` or ``"upload:<name>"``: the scenario tuned
``uploads``     uploaded scenarios by name (this session's only)
``edits``       parameter name -> value (model units) the user set
``rev``         revision of the scenario: bumped by every change that does not come from a
                parameter widget (switch, reset, upload, a link's query parameters)
``upload_error`` / ``upload_ok``   the last upload's outcome

Every parameter widget is drawn with ``value=`` from :func:`current_value` and keyed
``p:<rev>:<name>``: when the scenario changes from outside the widgets, ``rev`` changes, so
no widget state can outlive the scenario it was drawn for (the stale-slider and KeyError
bugs of the first app). Only a widget's own change callback records an edit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import streamlit as st

from czsim.errors import CzsimError
from czsim.parameters import ParameterTable
from czsim.scenarios import Scenario
from czsim.ui import compute, logic, units

SCENARIO_PARAM = "s"
LANG_PARAM = "lang"


def init() -> None:
    """Fill missing state; a new session starts from the link's query parameters."""
    ss = st.session_state
    if "rev" in ss:
        return
    ss["lang"] = "zh"
    ss["page"] = "overview"
    ss["choice"] = "file:baseline"
    ss["uploads"] = {}
    ss["edits"] = {}
    ss["rev"] = 0
    ss["upload_error"] = None
    ss["upload_ok"] = None
    ss["link_error"] = None
    apply_query(dict(st.query_params))


def apply_query(query: Mapping[str, str]) -> None:
    """Take the scenario, language and edits from a shared link.

    Unknown or out-of-range entries are reported, not applied.
    """
    ss = st.session_state
    table = compute.parameter_table()
    if query.get(LANG_PARAM) in ("zh", "en"):
        ss["lang"] = query[LANG_PARAM]
    name = query.get(SCENARIO_PARAM)
    bad = []
    if name:
        if name in compute.scenario_names():
            ss["choice"] = f"file:{name}"
        else:
            bad.append(f"{SCENARIO_PARAM}={name}")
    base = scenario_of(ss["choice"])
    edits = {}
    for key, raw in query.items():
        if key in (SCENARIO_PARAM, LANG_PARAM):
            continue
        try:
            value = table[key].check(float(raw))
        except (KeyError, ValueError, TypeError, CzsimError):
            bad.append(f"{key}={raw}")
            continue
        if not same(logic.effective_value(base, key, table), value):
            edits[key] = value
    ss["edits"] = edits
    ss["link_error"] = ", ".join(bad) or None
    ss["rev"] += 1


def query_for(choice: str, edits: Mapping[str, float], lang: str) -> dict[str, str]:
    """Return the query parameters that reproduce ``choice`` with ``edits``.

    Uploads are not in links: they live in this session only.
    """
    kind, _, name = choice.partition(":")
    out = {LANG_PARAM: lang}
    if kind == "file":
        out[SCENARIO_PARAM] = name
    out.update({k: repr(float(v)) for k, v in sorted(edits.items())})
    return out


def sync_query() -> None:
    """Write the current scenario into the URL, so a copied link reproduces it."""
    ss = st.session_state
    wanted = query_for(ss["choice"], ss["edits"], ss["lang"])
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


def same(a: object, b: object) -> bool:
    """Whether two parameter values are equal (numbers to 1e-9 relative)."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


def scenario_of(choice: str) -> Scenario:
    """Return the scenario behind a ``file:``/``upload:`` choice key."""
    kind, _, name = choice.partition(":")
    if kind == "upload" and name in st.session_state.get("uploads", {}):
        return st.session_state["uploads"][name]
    return compute.scenario_file(name if kind == "file" else "baseline")


def base() -> Scenario:
    """Return the scenario the session starts from (before its edits)."""
    return scenario_of(st.session_state["choice"])


def current_value(name: str, table: ParameterTable) -> float:
    """Return the value a widget of ``name`` shows (model units).

    The user's edit, else the scenario's (a time series shows its last point).
    """
    edits = st.session_state["edits"]
    if name in edits:
        return float(edits[name])
    return logic.slider_value(logic.effective_value(base(), name, table))


def widget_key(name: str) -> str:
    """Return the key of ``name``'s widget for the current revision of the scenario."""
    return f"p:{st.session_state['rev']}:{name}"


def bump() -> None:
    """Note that the scenario changed from outside the widgets: every widget is drawn afresh."""
    st.session_state["rev"] += 1


# --- callbacks: run before the rerun draws anything -----------------------------------------


def on_widget(name: str, key: str) -> None:
    """Record a user's change of ``name`` (widget ``key``, display units).

    A value equal to the scenario's is no edit.
    """
    ss = st.session_state
    if key != widget_key(name) or key not in ss:
        # A widget of an older revision, still in the browser because the rerun that
        # replaces it was interrupted (a quick switch on a busy server): it shows the
        # previous scenario's values, so its "change" is no edit of this one.
        return
    table = compute.parameter_table()
    value = units.from_display(table[name], ss[key])
    edits = {k: v for k, v in ss["edits"].items() if k != name}
    if not same(logic.effective_value(base(), name, table), value):
        edits[name] = value
    ss["edits"] = edits


def on_choice(key: str) -> None:
    """Switch to the starting scenario the user picked: its values, no edits."""
    ss = st.session_state
    if key != f"choice:{ss['rev']}":  # a picker of an older revision (see on_widget)
        return
    if key in ss and ss[key] != ss["choice"]:
        ss["choice"] = ss[key]
        ss["edits"] = {}
        ss["upload_error"] = ss["upload_ok"] = None
        bump()


def reset() -> None:
    """Forget the user's changes: back to the starting scenario's values."""
    st.session_state["edits"] = {}
    bump()


def reset_all() -> None:
    """Reset, and redraw the whole app (the reset button may sit in a fragment)."""
    reset()
    st.session_state["full_rerun"] = True


def receive_upload(name: str, data: bytes) -> None:
    """Make an uploaded file the scenario tuned, or record why it was refused.

    When it is refused nothing changes: not the scenario, not the edits, not a widget.
    """
    ss = st.session_state
    scenario, error = logic.handle_upload(name, data, lang=ss["lang"])
    ss["upload_error"] = error
    ss["upload_ok"] = None
    if scenario is None:
        return
    ss["uploads"] = {**ss["uploads"], scenario.name: scenario}
    ss["choice"] = f"upload:{scenario.name}"
    ss["edits"] = {}
    ss["upload_ok"] = scenario.name
    bump()


def on_upload(key: str) -> None:
    """Receive the file in the upload widget ``key``, if there is one."""
    uploaded = st.session_state.get(key)
    if uploaded is not None:
        receive_upload(uploaded.name, uploaded.getvalue())
