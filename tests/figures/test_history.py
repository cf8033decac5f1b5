"""explorer/figures/history.py: the training curves plot exactly the history rows."""

from __future__ import annotations

from explorer.figures.history import training_curves_figure

ROWS = [{"step": s, "loss": 2.0 / s, "accuracy": 1 - 1 / (s + 1), "lr": 0.001, "elapsed_s": 0.1 * s}
        for s in (10, 20, 30)]


def test_training_curves_plot_loss_and_accuracy_against_step() -> None:
    fig = training_curves_figure(ROWS)
    loss, accuracy = fig.data
    assert list(loss.x) == [10, 20, 30] and list(loss.y) == [r["loss"] for r in ROWS]
    assert list(accuracy.x) == [10, 20, 30] and list(accuracy.y) == [r["accuracy"] for r in ROWS]
    assert loss.xaxis != accuracy.xaxis  # side by side, each on its own scale


def test_training_curves_of_an_empty_history_are_empty_not_an_error() -> None:
    assert all(len(trace.x) == 0 for trace in training_curves_figure([]).data)
