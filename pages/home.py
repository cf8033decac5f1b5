"""Home: what GEOM does and what to click first."""

import streamlit as st

st.title("GEOM Explorer")
st.markdown(
    "Placeholder home page: train a detector in the sidebar (the **digits** dataset works offline), "
    "then open the pages on the left."
)
