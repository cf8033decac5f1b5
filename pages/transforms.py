"""Placeholder page, being built."""

import streamlit as st

from explorer import state

run = state.require_run()
st.title("transforms")
