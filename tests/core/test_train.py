"""core/train.py: the (image, transform) pair schedule and a deterministic classifier for a seed."""

from __future__ import annotations

import pytest
import torch

from core.config import GeomConfig
from core.data import as_model_input, load_dataset
from core.train import pair_batches, train_classifier


@pytest.mark.parametrize("steps", [0, -5])
def test_pair_batches_refuses_non_positive_steps_when_called(steps) -> None:
    with pytest.raises(ValueError, match=f"steps of at least 1, got {steps}"):
        pair_batches(10, 4, 8, steps, torch.Generator().manual_seed(0))  # no next(): refused up front


def test_pair_batches_yields_exactly_steps_batches() -> None:
    batches = list(pair_batches(3, 4, 5, 7, torch.Generator().manual_seed(0)))
    assert len(batches) == 7 and all(len(idx) == 5 for idx, _ in batches)


def test_pair_batches_cover_each_pair_once_per_epoch() -> None:
    n_images, k, batch = 5, 4, 4  # 20 pairs: 5 batches an epoch
    batches = list(pair_batches(n_images, k, batch, 10, torch.Generator().manual_seed(0)))
    pairs = [(int(i), int(t)) for idx, labels in batches for i, t in zip(idx, labels, strict=True)]
    every = {(i, t) for i in range(n_images) for t in range(k)}
    first, second = pairs[:20], pairs[20:]
    assert set(first) == every and len(set(first)) == 20
    assert set(second) == every and len(set(second)) == 20
    assert first != second  # each epoch is shuffled afresh


def test_pair_batches_with_fewer_pairs_than_a_batch_take_them_all_each_step() -> None:
    batches = list(pair_batches(2, 2, 8, 3, torch.Generator().manual_seed(0)))
    assert len(batches) == 3
    assert all(sorted(zip(i.tolist(), t.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 0), (1, 1)] for i, t in batches)


@pytest.fixture(scope="module")
def threes() -> torch.Tensor:
    data = load_dataset("digits")
    return as_model_input(data.x_train[data.y_train == 3][:16])


def tiny_config(seed: int) -> GeomConfig:
    return GeomConfig(width=1, transforms="rot4", in_channels=1, steps=3, batch_size=8, precision="fp32", seed=seed)


def test_training_is_deterministic_for_a_seed(threes: torch.Tensor) -> None:
    steps = []
    first = train_classifier(threes, tiny_config(0), torch.device("cpu"), on_step=lambda s, m: steps.append(s))
    again = train_classifier(threes, tiny_config(0), torch.device("cpu"))
    other = train_classifier(threes, tiny_config(1), torch.device("cpu"))
    assert steps == [1, 2, 3] and not first.training  # returned in eval mode
    a, b, c = first.state_dict(), again.state_dict(), other.state_dict()
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert not all(torch.equal(a[name], c[name]) for name in a)


def test_history_is_kept_without_a_progress_callback_and_matches_progress(threes: torch.Tensor) -> None:
    config = GeomConfig(width=1, transforms="rot4", in_channels=1, steps=5, batch_size=8, precision="fp32", lr=0.01)
    quiet, shown, reported = [], [], []
    train_classifier(threes, config, torch.device("cpu"), report_every=2, history=quiet)
    train_classifier(threes, config, torch.device("cpu"), reported.append, report_every=2, history=shown)
    assert [p.step for p in quiet] == [2, 4, 5]  # the progress cadence, and the last step
    same_training = [(p.step, p.loss, p.accuracy, p.lr) for p in quiet]
    assert same_training == [(p.step, p.loss, p.accuracy, p.lr) for p in shown]  # only the clock differs
    assert shown == reported
    row = quiet[-1].as_record()
    assert set(row) == {"step", "loss", "accuracy", "lr", "elapsed_s"}
    assert row["lr"] == 0.01 and row["loss"] > 0 and 0 <= row["accuracy"] <= 1
