"""torchvision downloads that fail cleanly: bounded in time, and leaving nothing behind on failure."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from core.data.dataset import DataError, short_error
from core.data.records import layout_hint

# Kept short: a download that cannot connect should fail in seconds, not hang the app.
_DOWNLOAD_SOCKET_TIMEOUT_S = 20.0


@contextlib.contextmanager
def _download_guard() -> Iterator[None]:
    """Bound each socket operation and silence torchvision's progress output while downloading.

    The default socket timeout is global, so it is restored afterwards.
    """
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_SOCKET_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        socket.setdefaulttimeout(old)


def torchvision_attempt(what: str, looked_for: Path | str, root: Path, download: bool,
                        build: Callable[[bool], object]) -> object:
    """Build a torchvision dataset; turn "missing" and failed downloads into a useful DataError.

    A download goes into ``root`` wherever it points, creating it when needed (the README promises
    downloads into ``--data-dir`` / ``GEOM_DATA_DIR`` / the default folder). A failed one leaves
    the disk as it found it: torchvision makes ``<root>/MNIST/raw`` (and ``root`` itself) before it
    fails to connect, so a typo in ``--data-dir`` would otherwise litter the disk with empty
    dataset folders, and a test run without data would create them beside the clone.
    """
    if not download:
        raise DataError(
            f"{what} not found in {root} (looked for {looked_for}) and download=False. {layout_hint()}."
        )
    missing_root = "" if root.is_dir() else f" (the folder {root} does not exist)"
    try:
        with _download_guard(), _undone_on_failure(root):
            return build(True)
    except Exception as err:  # URLError, RuntimeError, OSError, socket.timeout, md5 failures, ...
        raise DataError(
            f"{what} not found in {root}{missing_root} (looked for {looked_for}) and it could not be "
            f"downloaded: {short_error(err)}. {layout_hint()}."
        ) from err


# torchvision writes at most three levels below the data folder (MNIST/raw/<file>, or
# <archive>.tar.gz and cifar-10-batches-py/<file>), so that is all a failed download can leave.
_DOWNLOAD_DEPTH = 3


@contextlib.contextmanager
def _undone_on_failure(root: Path) -> Iterator[None]:
    """If the block raises, remove what it added under ``root``: ``root`` and any parents it
    created, else the new entries up to :data:`_DOWNLOAD_DEPTH` levels down (partial downloads,
    empty dataset folders). What was there before is never touched."""
    created_from = _first_missing(root)
    before = set() if created_from is not None else _entries(root, _DOWNLOAD_DEPTH)
    try:
        yield
    except BaseException:
        if created_from is not None:
            shutil.rmtree(created_from, ignore_errors=True)
        else:
            _remove_new(root, _entries(root, _DOWNLOAD_DEPTH) - before)
        raise


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself or a parent) that does not exist; None if it does."""
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


def _entries(root: Path, depth: int) -> set[str]:
    """Paths (relative to ``root``) of everything at most ``depth`` levels below it.

    Only folders above the last level are listed, so a data folder holding 60,000 CIFAR JPEGs
    four levels down costs a handful of directory reads.
    """
    found: set[str] = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            found.add(entry.name)
            if depth > 1 and entry.is_dir(follow_symlinks=False):
                found |= {os.path.join(entry.name, sub) for sub in _entries(Path(entry.path), depth - 1)}
    return found


def _remove_new(root: Path, new: set[str]) -> None:
    """Delete the ``new`` paths under ``root``, each outermost one whole (its contents with it)."""
    for rel in sorted(new, key=len):
        path = root / rel
        if not os.path.lexists(path):  # inside a folder removed already
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()


def read_pickled_splits(kind: Callable[..., object], title: str, root: Path, pickles: Path) -> tuple[object, object]:
    """(train, test) of a torchvision CIFAR class from pickles already on disk, or a DataError naming them."""
    try:
        return kind(root=str(root), train=True, download=False), kind(root=str(root), train=False, download=False)
    except Exception as err:
        raise DataError(f"{title} pickles in {pickles} could not be read: {short_error(err)}. "
                        f"{layout_hint()}.") from err
