"""Plotly figure builders: plain functions from numpy arrays to ``go.Figure``.

No streamlit here, so the same figures serve the app, the notebooks and the tests.
"""
