"""Place for the "What it takes" page (not built yet).

It will draw on ``czsim.decisions`` (``break_even``, ``what_it_takes``, ``attribute``), which is
being built on another branch: for the headline or a chosen target, the value of a key lever
(``ParameterTable.key_levers()``) at which it is just reached, what combination of levers it
takes, and which levers account for the difference between two scenarios.

To add it once ``czsim.decisions`` is merged: write ``render(ctx: Context) -> None`` here,
add ``"what_it_takes"`` to :data:`czsim.ui.sidebar.PAGE_NAMES` and to
:data:`czsim.ui.pages.RENDERERS`, and its title to :mod:`czsim.ui.i18n` (``page_what_it_takes``).
Nothing in the app imports this module until then.
"""
