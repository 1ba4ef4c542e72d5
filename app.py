"""Streamlit entry point: ``streamlit run app.py`` (or ``make app``)."""

from czsim.ui.app import main

main()
