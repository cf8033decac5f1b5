"""The teaching notebook, and the module behind its parameters cell (:mod:`explorer.notebooks.notebook_params`)."""
