"""Keep glibc from handing PyTorch's CPU buffers back to the kernel after every batch.

By default glibc serves allocations above a moving threshold with fresh mmap()s and trims the heap
as soon as they are freed, so every forward pass on the CPU page-faults its activations in again.
Serving buffers up to 32 MB from the heap and keeping up to 1 GB of freed memory for reuse avoids
that; ``python -m bench.overhead`` measures the gain, and the README's "Measured" section keeps the
figures.

The cost is that a long-lived process keeps up to that much freed memory. ``GEOM_MALLOC_TUNING=0``
turns this off; on other C libraries and platforms it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt() parameter numbers from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's ceiling for this setting on 64-bit systems
TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024
TOP_PAD_BYTES = 256 * 1024 * 1024


def tune_malloc() -> bool:
    """Apply the settings above; True when glibc accepted all of them."""
    if os.environ.get("GEOM_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:  # the running process's own symbols: no library search (find_library spawns ldconfig)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and friends have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    settings = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES), (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
                (M_TOP_PAD, TOP_PAD_BYTES))
    return all(mallopt(param, value) == 1 for param, value in settings)
