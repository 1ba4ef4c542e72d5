"""The Streamlit app: the only part of czsim that imports Streamlit.

:func:`czsim.ui.app.main` draws one rerun; ``app.py`` at the project root calls it.
"""
