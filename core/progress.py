"""A one-line progress display for long work (training, fitting, scoring) outside the app.

The command line draws it on stderr and the notebook on stdout: on a terminal it is redrawn in
place, elsewhere (logs, notebook cells) a line is written only every tenth of the way.
"""

from __future__ import annotations

import sys
from typing import TextIO

from core.train import TrainProgress


class ProgressBar:
    """``update(fraction, text)`` from any loop; ``train`` and ``score`` fit the engine's callbacks."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        # sys.stderr looked up now, not when this module was imported: it may have been replaced since
        self.label, self.stream = label, stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self._last_decile = -1

    def train(self, p: TrainProgress) -> None:
        self.update(p.fraction,
                    f"step {p.step}/{p.total_steps} loss {p.loss:.3f} acc {p.accuracy:.2f} lr {p.lr:.2g} "
                    f"{p.elapsed_s:.0f}s")

    def score(self, done: int, total: int) -> None:
        self.update(done / total, f"scored {done}/{total} images")

    def update(self, fraction: float, text: str) -> None:
        """Show ``fraction`` (0 to 1) done, with ``text`` saying what is happening."""
        decile = int(fraction * 10)
        if not self.tty and decile == self._last_decile and fraction < 1:
            return
        self._last_decile = decile
        bar = "#" * int(fraction * 30)
        line = f"{self.label} [{bar:<30}] {100 * fraction:5.1f}% {text}"
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        if self.tty and fraction >= 1:
            self.stream.write("\n")
        self.stream.flush()
