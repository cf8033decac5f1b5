"""core.data: the registry loads the real datasets with the paper's preprocessing, and fails usefully.

Real-data tests use ``real_dataset`` (skipped, saying why, when the datasets are absent). CIFAR-10 and
Cats-vs-Dogs decode 60,000 / 25,000 JPEGs the first time (about 18 s / 10 s on 2 cores), then load
from the .npz cache in ~/.cache/geom/arrays (GEOM_CACHE_DIR) in well under a few seconds.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core import data as D
from core.data import DataError, ImageDataset, load_dataset, parse_class, to_model_input
from core.data import cifar10 as cifar10_source


@pytest.fixture(autouse=True)
def _fresh_memo():
    """Each test sees a cold in-process memo (the on-disk cache is kept)."""
    D.clear_memory_cache()
    yield
    D.clear_memory_cache()


# ------------------------------------------------------------------------------ offline, no data


def test_digits_loads_offline(tmp_path):
    ds = load_dataset("digits", data_dir=tmp_path, download=False)
    assert ds.x_train.shape == (1437, 32, 32, 1) and ds.x_test.shape == (360, 32, 32, 1)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert ds.num_classes == 10 and ds.channels == 1 and ds.image_size == 32
    assert ds.x_train.max() == 255 and ds.x_train.min() == 0
    # stratified: every class in both splits, in proportion
    assert (np.bincount(ds.y_test, minlength=10) >= 35).all()
    assert list(tmp_path.iterdir()) == []  # nothing written into the data dir


def test_returned_arrays_are_read_only_and_memoised(tmp_path):
    a = load_dataset("digits", data_dir=tmp_path)
    assert load_dataset("digits") is a
    with pytest.raises(ValueError):
        a.x_train[0, 0, 0, 0] = 1
    load_dataset.cache_clear()
    assert load_dataset("digits") is not a


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(DataError) as exc:
        load_dataset("imagenet")
    msg = str(exc.value)
    for name in D.DATASETS:
        assert name in msg
    assert "folder:PATH" in msg


def test_name_aliases(tmp_path):
    assert load_dataset("Digits", data_dir=tmp_path).name == "digits"
    with pytest.raises(DataError):
        load_dataset("", data_dir=tmp_path)


def test_offline_missing_mnist_fails_fast_with_hint(tmp_path):
    start = time.monotonic()
    with pytest.raises(DataError) as exc:
        load_dataset("mnist", data_dir=tmp_path, download=True)
    assert time.monotonic() - start < 60
    msg = str(exc.value)
    assert "GEOM_DATA_DIR" in msg and "could not be downloaded" in msg
    assert str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte") in msg
    assert list(tmp_path.iterdir()) == []  # torchvision's MNIST/raw is gone again


@pytest.fixture
def offline(monkeypatch):
    """torchvision's MNIST download fails as it does offline, after writing part of a file."""
    from urllib.error import URLError

    import torchvision.datasets.mnist as tv_mnist

    def fail(url, download_root, filename=None, md5=None):
        Path(download_root, filename or "partial").write_bytes(b"half a download")
        raise URLError("network is unreachable")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", fail)


def test_failed_download_into_a_missing_folder_creates_nothing(tmp_path, offline):
    root = tmp_path / "nonexistent" / "deeper"
    with pytest.raises(DataError) as exc:
        load_dataset("mnist", data_dir=root, download=True)
    assert f"the folder {root} does not exist" in str(exc.value) and "could not be downloaded" in str(exc.value)
    assert list(tmp_path.iterdir()) == []  # not nonexistent/deeper/MNIST/raw


def test_failed_download_removes_only_what_it_added(tmp_path, offline):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"an older partial copy")
    (tmp_path / "cifar10" / "train" / "cat").mkdir(parents=True)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(DataError, match="could not be downloaded"):
        load_dataset("mnist", data_dir=tmp_path, download=True)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_missing_without_download_says_so(tmp_path):
    with pytest.raises(DataError, match="download=False"):
        load_dataset("fashion_mnist", data_dir=tmp_path, download=False)
    with pytest.raises(DataError, match="Cats-vs-Dogs not found"):
        load_dataset("cats_vs_dogs", data_dir=tmp_path)


def test_resolve_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOM_DATA_DIR", str(tmp_path / "env"))
    assert D.resolve_data_dir(tmp_path / "arg") == (tmp_path / "arg").resolve()
    assert D.resolve_data_dir() == (tmp_path / "env").resolve()
    monkeypatch.delenv("GEOM_DATA_DIR")
    assert D.resolve_data_dir() == (Path.home() / ".cache" / "geom" / "data").resolve()


def test_cache_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GEOM_CACHE_DIR", str(tmp_path / "c"))
    assert D.cache_dir() == (tmp_path / "c").resolve() and (tmp_path / "c").is_dir()


def test_cifar100_coarse_map_matches_superclass_definitions():
    groups = [
        "beaver dolphin otter seal whale", "aquarium_fish flatfish ray shark trout",
        "orchid poppy rose sunflower tulip", "bottle bowl can cup plate",
        "apple mushroom orange pear sweet_pepper", "clock keyboard lamp telephone television",
        "bed chair couch table wardrobe", "bee beetle butterfly caterpillar cockroach",
        "bear leopard lion tiger wolf", "bridge castle house road skyscraper",
        "cloud forest mountain plain sea", "camel cattle chimpanzee elephant kangaroo",
        "fox porcupine possum raccoon skunk", "crab lobster snail spider worm",
        "baby boy girl man woman", "crocodile dinosaur lizard snake turtle",
        "hamster mouse rabbit shrew squirrel", "maple_tree oak_tree palm_tree pine_tree willow_tree",
        "bicycle bus motorcycle pickup_truck train", "lawn_mower rocket streetcar tank tractor",
    ]
    fine = sorted(n for g in groups for n in g.split())  # CIFAR-100 fine ids are alphabetical
    derived = tuple(next(i for i, g in enumerate(groups) if f in g.split()) for f in fine)
    assert D.CIFAR100_FINE_TO_COARSE == derived
    assert len(D.CIFAR100_COARSE_CLASSES) == 20 and D.CIFAR100_COARSE_CLASSES[12] == "medium-sized mammals"


# ------------------------------------------------------------------------------ to_model_input


def test_to_model_input_scaling():
    x = np.array([0, 1, 127, 128, 254, 255], dtype=np.uint8).reshape(1, 2, 3, 1)
    t = to_model_input(x)
    assert t.dtype == torch.float32 and t.shape == (1, 1, 2, 3)
    assert t.min().item() == -1.0 and t.max().item() == 1.0
    np.testing.assert_allclose(t.numpy().ravel(), x.ravel() / 127.5 - 1, atol=1e-7)
    rgb = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    np.testing.assert_allclose(to_model_input(rgb)[1, 2].numpy(), rgb[1, :, :, 2] / 127.5 - 1, atol=1e-6)
    with pytest.raises(ValueError):
        to_model_input(rgb.astype(np.float32))


# ------------------------------------------------------------------------------ folder:PATH


def _write_images(folder: Path, n: int, size: int = 40, mode: str = "RGB", seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / f"{i}.png")


def test_folder_without_split_skips_corrupt_file(tmp_path):
    for k, cls in enumerate(("apple", "bear", "cloud")):
        _write_images(tmp_path / cls, 5, seed=k)
    (tmp_path / "cloud" / "broken.png").write_bytes(b"not a png at all")
    (tmp_path / "cloud" / "notes.txt").write_text("ignored: not an image extension")
    with pytest.warns(UserWarning, match="broken.png"):
        ds = load_dataset(f"folder:{tmp_path}")
    assert ds.class_names == ("apple", "bear", "cloud")
    assert ds.x_train.shape == (12, 32, 32, 3) and ds.x_test.shape == (3, 32, 32, 3)
    assert np.bincount(ds.y_train).tolist() == [4, 4, 4] and np.bincount(ds.y_test).tolist() == [1, 1, 1]
    assert ds.name == f"folder:{tmp_path.resolve()}"
    assert parse_class(ds, "bear") == 1 and parse_class(ds, "2 - cloud") == 2
    D.clear_memory_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = load_dataset(f"folder:{tmp_path}")
    assert np.array_equal(again.x_train, ds.x_train) and np.array_equal(again.y_test, ds.y_test)


def _png16(array: np.ndarray) -> bytes:
    """A 16-bit PNG (grey (H, W) or RGB (H, W, 3) uint16) written by hand: PIL cannot save 16-bit RGB."""
    h, w = array.shape[:2]
    colour_type = 2 if array.ndim == 3 else 0
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in array)

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


GRADIENT16 = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)


def _save(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_folder_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path):
    for split in ("train", "test"):
        _save(tmp_path / split / "a" / "0.png", _png16(GRADIENT16))
        _save(tmp_path / split / "b" / "0.png", _png16(65535 - GRADIENT16))
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.channels == 1
    a = ds.x_train[ds.y_train == 0][0, ..., 0]
    np.testing.assert_allclose(a, GRADIENT16 / 257.0, atol=0.51)
    assert len(np.unique(a)) > 200  # convert("L") alone leaves 2 levels: 0 and 255


def test_folder_sixteen_bit_grey_and_colour_among_rgb_images(tmp_path):
    rgb16 = np.stack([GRADIENT16, 65535 - GRADIENT16, np.full_like(GRADIENT16, 30000)], -1)
    _save(tmp_path / "train" / "a" / "0.png", _png16(GRADIENT16))
    _save(tmp_path / "train" / "b" / "0.png", _png16(rgb16))
    for cls in ("a", "b"):
        _write_images(tmp_path / "test" / cls, 1, size=32)
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.channels == 3
    grey, colour = ds.x_train[ds.y_train == 0][0], ds.x_train[ds.y_train == 1][0]
    for c in range(3):
        np.testing.assert_allclose(grey[..., c], GRADIENT16 / 257.0, atol=0.51)
    np.testing.assert_allclose(colour, rgb16 / 257.0, atol=1.01)  # PIL keeps the high byte of 16-bit colour


@pytest.mark.parametrize("cls", ["-1", "-3", " - 3", -1, np.int64(-2)])
def test_negative_class_ids_are_refused_not_read_as_names(cls):
    digits = load_dataset("digits")
    with pytest.raises(DataError, match="is negative: ids run from 0 to 9"):
        parse_class(digits, cls)


def test_whole_numbers_are_ids_before_names(tmp_path):
    for k, cls in enumerate(("1", "2", "3")):
        _write_images(tmp_path / cls, 3, seed=k)
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.class_labels() == ["0 - 1", "1 - 2", "2 - 3"]
    assert parse_class(ds, "1") == 1 and parse_class(ds, "+2") == 2
    assert parse_class(ds, "0 - 1") == 0  # the label, as listed, still picks a class by its name
    with pytest.raises(DataError, match="out of range"):
        parse_class(ds, "3")


def test_folder_with_split_greyscale_and_large(tmp_path):
    for split, n in (("train", 4), ("test", 2)):
        for k, cls in enumerate(("a", "b", "c")):
            _write_images(tmp_path / split / cls, n, size=80, mode="L", seed=k)
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.x_train.shape == (12, 64, 64, 1) and ds.x_test.shape == (6, 64, 64, 1)
    assert np.bincount(ds.y_test).tolist() == [2, 2, 2]


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'nope'}")
    with pytest.raises(DataError, match="class sub-folders"):
        load_dataset(f"folder:{tmp_path}")
    (tmp_path / "empty_class").mkdir()
    (tmp_path / "loose.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"<class>/<image>"):
        load_dataset(f"folder:{tmp_path}")
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.png").write_bytes(b"garbage")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="no readable images"):
        load_dataset(f"folder:{tmp_path}")


def test_jpeg_tree_cache_is_written_atomically_and_reused(tmp_path, monkeypatch):
    """A tiny cifar10-layout tree: decoded once, then served from the .npz cache."""
    monkeypatch.setenv("GEOM_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for split, per_class in (("train", 2), ("test", 1)):
        idx = 0
        for cls in D.CIFAR10_CLASSES:
            (tmp_path / "data" / "cifar10" / split / cls).mkdir(parents=True)
            for _ in range(per_class):
                img = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
                img.save(tmp_path / "data" / "cifar10" / split / cls / f"{idx}.jpg")
                idx += 1
    first = load_dataset("cifar10", data_dir=tmp_path / "data")
    assert first.x_train.shape == (20, 32, 32, 3) and first.y_train.tolist() == sorted(list(range(10)) * 2)
    cached = list((tmp_path / "cache").glob("cifar10-*.npz"))
    assert len(cached) == 1 and not list((tmp_path / "cache").glob("*.tmp"))

    def no_decoding(*args, **kwargs):
        raise AssertionError("should have used the cache")

    monkeypatch.setattr(cifar10_source, "decode_many", no_decoding)
    D.clear_memory_cache()
    second = load_dataset("cifar10", data_dir=tmp_path / "data")
    assert np.array_equal(first.x_train, second.x_train) and np.array_equal(first.y_test, second.y_test)

    # a corrupt cache file is ignored (with a warning) and rebuilt
    monkeypatch.undo()
    monkeypatch.setenv("GEOM_CACHE_DIR", str(tmp_path / "cache"))
    cached[0].write_bytes(b"truncated")
    D.clear_memory_cache()
    with pytest.warns(UserWarning, match="unreadable cache"):
        third = load_dataset("cifar10", data_dir=tmp_path / "data")
    assert np.array_equal(first.x_test, third.x_test)


# ------------------------------------------------------------------------------ real data


def test_fashion_mnist(real_dataset):
    ds = real_dataset("fashion_mnist")
    assert ds.x_train.shape == (60000, 32, 32, 1) and ds.x_test.shape == (10000, 32, 32, 1)
    assert ds.x_train.dtype == np.uint8
    assert np.bincount(ds.y_train).tolist() == [6000] * 10 and np.bincount(ds.y_test).tolist() == [1000] * 10
    for x in (ds.x_train, ds.x_test):
        assert not x[:, :2].any() and not x[:, -2:].any() and not x[:, :, :2].any() and not x[:, :, -2:].any()
    assert ds.class_names[1] == "Trouser" and ds.class_label(9) == "9 - Ankle boot"
    assert ds.y_train[0] == 9 and ds.y_test[0] == 9  # the well-known first labels
    t = to_model_input(ds.x_test[:16])
    assert t.shape == (16, 1, 32, 32) and t.dtype == torch.float32
    assert (t[:, :, :2] == -1).all() and (t[:, :, :, -2:] == -1).all()
    assert t.min() >= -1 and t.max() <= 1


def test_mnist_and_parse_class(real_dataset):
    mnist = real_dataset("mnist")
    assert mnist.x_train.shape == (60000, 32, 32, 1) and mnist.x_test.shape == (10000, 32, 32, 1)
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.y_train[0] == 5
    assert parse_class(mnist, "3") == 3 and parse_class(mnist, 3) == 3 and parse_class(mnist, np.int64(3)) == 3
    assert mnist.class_label(3) == "3"

    fashion = real_dataset("fashion_mnist")
    assert parse_class(fashion, "trouser") == 1
    assert parse_class(fashion, "1 - Trouser") == 1
    assert parse_class(fashion, "ANKLE_BOOT") == 9 and parse_class(fashion, "t-shirt") == 0
    with pytest.raises(DataError) as exc:
        parse_class(fashion, "sock")
    assert "valid classes" in str(exc.value) and "1 - Trouser" in str(exc.value)
    with pytest.raises(DataError, match="out of range"):
        parse_class(fashion, 10)
    with pytest.raises(DataError, match="out of range"):
        parse_class(fashion, "10")
    with pytest.raises(DataError):
        parse_class(fashion, "1 - Dress")


def test_cifar10_jpeg_tree(real_dataset, shared_data_dir):
    start = time.monotonic()
    ds = real_dataset("cifar10")
    first_s = time.monotonic() - start
    assert ds.x_train.shape == (50000, 32, 32, 3) and ds.x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(ds.y_train).tolist() == [5000] * 10 and np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.class_names == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    # the original order is recovered (shared/data/README.md gives these label sequences)
    assert ds.y_train[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert ds.y_test[:14].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7]
    assert parse_class(ds, "cat") == 3 and parse_class(ds, "3 - cat") == 3 and ds.class_label(3) == "3 - cat"
    assert list(D.cache_dir().glob("cifar10-*.npz"))

    D.clear_memory_cache()
    start = time.monotonic()
    again = load_dataset("cifar10", shared_data_dir, download=False)
    cached_s = time.monotonic() - start
    assert cached_s < 10, f"cached load took {cached_s:.1f}s (first {first_s:.1f}s)"
    assert np.array_equal(again.x_test, ds.x_test) and np.array_equal(again.y_train, ds.y_train)


def test_cats_vs_dogs(real_dataset, shared_data_dir):
    ds = real_dataset("cats_vs_dogs")
    assert ds.x_train.shape == (20000, 64, 64, 3) and ds.x_test.shape == (5000, 64, 64, 3)
    assert np.bincount(ds.y_train).tolist() == [10000, 10000] and np.bincount(ds.y_test).tolist() == [2500, 2500]
    assert ds.class_names == ("cat", "dog")
    D.clear_memory_cache()
    again = load_dataset("cats_vs_dogs", shared_data_dir, download=False)
    assert again is not ds
    assert np.array_equal(again.y_train, ds.y_train) and np.array_equal(again.x_test, ds.x_test)
    assert np.array_equal(again.x_train[::997], ds.x_train[::997])


REAL_DATA_TESTS = (
    "tests/core/test_data.py::test_fashion_mnist",
    "tests/core/test_data.py::test_mnist_and_parse_class",
    "tests/core/test_data.py::test_cifar10_jpeg_tree",
    "tests/core/test_data.py::test_cats_vs_dogs",
    "tests/core/test_data_cifar100.py::test_real_cifar100",
    "tests/core/test_baselines.py::test_each_baseline_beats_chance_on_mnist_0_vs_1",
    "tests/core/test_ablation.py::test_ablation_on_real_mnist_uses_all_test_images_of_both_digits",
    "tests/core/test_detector.py::test_tiny_mnist_digit1_auroc",
)


@pytest.mark.parametrize("state", ["absent", "empty"])
def test_readme_test_command_without_shared_data_skips(state, tmp_path):
    """The README's GEOM_DATA_DIR=../shared/data in a clone with no shared/ (or an empty one) beside it:
    the real-data tests skip with a reason, none fails, and no dataset folder is created there."""
    data_dir = tmp_path / "shared" / "data"
    if state == "empty":
        data_dir.mkdir(parents=True)
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "GEOM_DATA_DIR": str(data_dir)}
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *REAL_DATA_TESTS],
                         cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "failed" not in res.stdout and "error" not in res.stdout.lower()
    assert "real datasets" in res.stdout  # the skip reason
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == (
        [] if state == "absent" else [Path("shared"), Path("shared/data")])


def test_image_dataset_validates_shapes():
    x = np.zeros((2, 8, 8, 1), np.uint8)
    y = np.zeros(2, np.int64)
    ds = ImageDataset("t", x, y, x, y, ("a",))
    assert ds.num_classes == 1 and ds.class_labels() == ["0 - a"]
    with pytest.raises(ValueError):
        ImageDataset("t", x.astype(np.float32), y, x, y, ("a",))
    with pytest.raises(ValueError):
        ImageDataset("t", x, y[:1], x, y, ("a",))


def test_a_flat_folder_of_images_is_one_normal_class(tmp_path):
    _write_images(tmp_path / "good_parts", 10, mode="L")
    data = load_dataset(f"folder:{tmp_path / 'good_parts'}")
    assert data.class_names == ("good_parts",) and len(data.x_train) == 8 and len(data.x_test) == 2
    assert (data.y_test == 0).all()  # normal-only: nothing to evaluate against
