"""The on-disk cache of decoded arrays: decoding tens of thousands of small JPEGs takes seconds.

Entries are ``<stem>-<key>.npz`` under :func:`cache_dir`; the key hashes what the arrays were
decoded from together with :data:`CACHE_VERSION`, so a change of decoding never reuses stale ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from core.data.dataset import DataError, short_error

# Bumped whenever the decoding changes, so stale .npz caches are never reused
# (2: high-bit-depth images scaled to 8 bits, not clipped).
CACHE_VERSION = 2


def cache_dir() -> Path:
    """Where decoded ``.npz`` arrays are cached, created on demand.

    ``GEOM_CACHE_DIR`` > ``$XDG_CACHE_HOME/geom/arrays`` (default ``~/.cache/geom/arrays``) >
    ``<tmp>/geom-cache-<uid>``: the first that can be created and written. The cache is kept out
    of the data directory on purpose: a data directory such as the project's ``shared/data`` is a
    read-only, size-budgeted copy, and running as root makes ``os.access`` report it writable
    anyway, so "fall back when read-only" cannot be detected reliably there.
    """
    candidates: list[Path] = []
    if os.environ.get("GEOM_CACHE_DIR"):
        candidates.append(Path(os.environ["GEOM_CACHE_DIR"]).expanduser())
    xdg = os.environ.get("XDG_CACHE_HOME")
    candidates.append((Path(xdg) if xdg else Path.home() / ".cache") / "geom" / "arrays")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    candidates.append(Path(tempfile.gettempdir()) / f"geom-cache-{uid}")
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path.resolve()
    raise DataError(f"no writable cache directory among {[str(p) for p in candidates]}; set GEOM_CACHE_DIR")


def cache_key(*parts: object) -> str:
    digest = hashlib.sha256(repr((CACHE_VERSION,) + parts).encode()).hexdigest()
    return digest[:20]


def cache_load(stem: str, key: str) -> dict[str, np.ndarray] | None:
    """Return the cached arrays, or None when absent or unreadable (then they are rebuilt)."""
    try:
        path = cache_dir() / f"{stem}-{key}.npz"
    except DataError:
        return None
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as err:  # noqa: BLE001 - a truncated or corrupt cache fails in many ways: rebuild it
        warnings.warn(f"ignoring unreadable cache file {path}: {short_error(err)}", stacklevel=3)
        return None


def cache_save(stem: str, key: str, arrays: dict[str, np.ndarray]) -> Path | None:
    """Write the arrays atomically (temp file + os.replace), so readers never see half a file.

    A failure to write only costs speed next time, so it warns instead of raising.
    """
    try:
        folder = cache_dir()
        final = folder / f"{stem}-{key}.npz"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{stem}-", suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)  # uncompressed: loading is a memcpy, not an inflate
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return final
    except (OSError, DataError) as err:
        warnings.warn(f"could not cache decoded {stem} arrays: {short_error(err)}", stacklevel=3)
        return None
