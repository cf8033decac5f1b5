"""core/tensorboard.py: optional TensorBoard logs hold the history's scalars, or say how to install it."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

from core.tensorboard import summary_writer, write_tensorboard

ROWS = [{"step": 5, "loss": 1.0, "accuracy": 0.5, "lr": 0.001, "elapsed_s": 0.1},
        {"step": 10, "loss": 0.5, "accuracy": 0.9, "lr": 0.001, "elapsed_s": 0.2}]


class FakeWriter:
    """Records what a SummaryWriter would be given, so the test needs no TensorBoard install."""

    made: list[FakeWriter] = []

    def __init__(self, log_dir: str) -> None:
        self.log_dir, self.scalars, self.closed = log_dir, [], False
        FakeWriter.made.append(self)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def close(self) -> None:
        self.closed = True


def test_write_tensorboard_logs_every_history_scalar_into_the_run_folder(tmp_path: Path) -> None:
    folder = write_tensorboard(tmp_path, ROWS, FakeWriter)
    log = FakeWriter.made[-1]
    assert folder == tmp_path / "tensorboard" and log.log_dir == str(folder) and log.closed
    assert ("train/loss", 0.5, 10) in log.scalars and ("train/accuracy", 0.5, 5) in log.scalars
    assert len(log.scalars) == 2 * 3  # loss, accuracy, lr at each row


def test_summary_writer_without_tensorboard_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_tensorboard(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(ValueError, match="pip install tensorboard"):
        summary_writer()
