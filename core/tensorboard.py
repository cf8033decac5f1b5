"""Optional TensorBoard logging of a run's training history (``python -m core run --tensorboard``).

TensorBoard is not a requirement of the project, so it is imported only when asked for. The scalars
are written from the run's history rows (history.json) once the run is saved: TensorBoard shows
exactly the curves the explorer, the command line and the notebook show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

TENSORBOARD_DIR = "tensorboard"
SCALARS = ("loss", "accuracy", "lr")  # the history.json columns logged, as train/<name> against step
INSTALL_HINT = "--tensorboard needs TensorBoard, which is not installed here: pip install tensorboard"

WriterFactory = Callable[..., Any]  # torch.utils.tensorboard.SummaryWriter, or a stand-in in tests


def summary_writer() -> WriterFactory:
    """torch's SummaryWriter class; a ValueError saying how to install TensorBoard when it cannot load.

    Called before training, so a missing package costs the user seconds, not a training run.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ValueError(f"{INSTALL_HINT} ({exc})") from exc
    return SummaryWriter


def write_tensorboard(run_path: Path, history: Sequence[dict[str, float]], writer: WriterFactory) -> Path:
    """Log every history row's scalars into ``run_path``/tensorboard; returns that folder."""
    folder = Path(run_path) / TENSORBOARD_DIR
    log = writer(log_dir=str(folder))
    try:
        for row in history:
            for name in SCALARS:
                log.add_scalar(f"train/{name}", row[name], int(row["step"]))
    finally:
        log.close()
    return folder
