"""GEOM Explorer: the Streamlit dashboard and the figure builders it shares with the notebook."""
