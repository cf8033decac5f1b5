"""CIFAR-100 from the lossless ``cifar100/{train,test}.npz`` layout, and its refusals.

The files here are small synthetic stand-ins in the layout ``shared/tools/get_cifar100`` writes;
the real data is never committed. ``test_real_cifar100`` reads a laid-out copy when there is one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core import data as D
from core.data import CIFAR100_FINE_TO_COARSE, DataError, load_dataset


@pytest.fixture(autouse=True)
def _fresh_memo():
    D.clear_memory_cache()
    yield
    D.clear_memory_cache()


def write_split(folder: Path, split: str, n: int, seed: int, **replace: np.ndarray) -> None:
    rng = np.random.default_rng(seed)
    fine = np.arange(n) % 100
    arrays = {
        "x": rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
        "fine": fine.astype(np.int64),
        "coarse": np.asarray(CIFAR100_FINE_TO_COARSE, np.int64)[fine],
    }
    arrays.update(replace)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{split}.npz", **arrays)


def write_layout(root: Path, **test_replace: np.ndarray) -> Path:
    write_split(root / "cifar100", "train", 300, 0)
    write_split(root / "cifar100", "test", 200, 1, **test_replace)
    return root


def test_npz_layout_loads_with_coarse_labels(tmp_path):
    ds = load_dataset("cifar100", write_layout(tmp_path), download=False)
    assert ds.x_train.shape == (300, 32, 32, 3) and ds.x_test.shape == (200, 32, 32, 3)
    assert ds.num_classes == 20 and ds.channels == 3
    expected = np.asarray(CIFAR100_FINE_TO_COARSE)[np.arange(200) % 100]
    assert np.array_equal(ds.y_test, expected) and ds.y_test.dtype == np.int64
    with np.load(tmp_path / "cifar100" / "test.npz") as npz:
        assert np.array_equal(ds.x_test, npz["x"])


def test_missing_names_both_layouts(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset("cifar100", tmp_path, download=False)
    assert "cifar100/{train,test}.npz" in str(err.value) and "cifar-100-python" in str(err.value)


@pytest.mark.parametrize("field, value, complaint", [
    ("x", np.zeros((200, 32, 32), np.uint8), "uint8 N x 32 x 32 x 3"),
    ("x", np.zeros((200, 32, 32, 3), np.float32), "uint8 N x 32 x 32 x 3"),
    ("coarse", np.full(200, 20), "0-19"),
    ("coarse", np.zeros(199, np.int64), "200 integer labels"),
    ("fine", np.full(200, 100), "0-99"),
    ("coarse", np.zeros(200, np.int64), "not the superclass"),
])
def test_wrong_file_is_refused_naming_it(tmp_path, field, value, complaint):
    write_layout(tmp_path, **{field: value})
    with pytest.raises(DataError) as err:
        load_dataset("cifar100", tmp_path, download=False)
    assert str(tmp_path / "cifar100" / "test.npz") in str(err.value) and complaint in str(err.value)


def test_half_a_layout_is_refused(tmp_path):
    write_split(tmp_path / "cifar100", "train", 300, 0)
    with pytest.raises(DataError, match="test.npz.*missing"):
        load_dataset("cifar100", tmp_path, download=False)


def test_unreadable_file_is_refused(tmp_path):
    write_layout(tmp_path)
    (tmp_path / "cifar100" / "test.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError, match="could not be read"):
        load_dataset("cifar100", tmp_path, download=False)


def test_real_cifar100():
    root = Path(os.environ.get("GEOM_DATA_DIR", "")).expanduser()
    if not (root / "cifar100" / "train.npz").is_file():
        pytest.skip("no laid-out CIFAR-100 in GEOM_DATA_DIR (see shared/data/README.md: get_cifar100)")
    ds = load_dataset("cifar100", root, download=False)
    assert ds.x_train.shape == (50000, 32, 32, 3) and ds.x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(ds.y_train).tolist() == [2500] * 20 and np.bincount(ds.y_test).tolist() == [500] * 20
    assert abs(ds.x_train[..., 0].mean() / 255 - 0.5071) < 1e-3  # the published per-channel mean
