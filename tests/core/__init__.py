"""Tests of core/: one file per module (core/<name>.py -> test_<name>.py)."""
