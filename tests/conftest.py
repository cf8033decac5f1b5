"""Shared pytest fixtures and markers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes tens of seconds on a 2-core CPU (still run by default)")


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real datasets: $GEOM_DATA_DIR if set, else ../shared/data next to the repo, else skip."""
    env = os.environ.get("GEOM_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    candidate = (REPO_ROOT / ".." / "shared" / "data").resolve()
    if candidate.is_dir():
        return candidate
    pytest.skip("real datasets not found: set GEOM_DATA_DIR (../shared/data is absent)")
