"""Tests of explorer/figures/: one file per figure module."""
