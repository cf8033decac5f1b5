"""GEOM: anomaly detection by recognising geometric transforms (Golan & El-Yaniv, NeurIPS 2018).

The engine behind GEOM Explorer. Importing ``core`` pulls in neither Streamlit nor plotly, so the
command line and notebooks can use it on a bare install.
"""

from core.allocator import tune_malloc

tune_malloc()  # before the first tensor: see core/allocator.py for why and how to turn it off
