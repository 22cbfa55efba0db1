"""glibc malloc settings for workers that decode big pictures.

A decoded 24 MP photo is ~100 MB. By default glibc serves such blocks with
mmap and hands them back on free, so every upload pays again for the kernel
to fault in and zero fresh pages (tens of milliseconds per picture here).
Keeping them in the heap lets the next picture reuse warm memory; the price
is that a worker keeps its peak heap (a few hundred MB) until it exits.

That holds only in glibc's main arena. Each thread that serves requests would
otherwise get an arena of its own, made of 64 MB heaps that glibc unmaps as
soon as one is empty, whatever the trim threshold: the 24 MP ingest took 8
to 15 % longer in a pool thread than in the main thread. One arena for all threads
costs little, as the GIL already takes turns.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 256 * 2**20  # blocks below this come from the heap
TRIM_THRESHOLD = 2**30  # free heap kept before returning any to the system


def keep_big_blocks() -> bool:
    """Apply the settings to this process (and to processes it forks later).
    The same as MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ and
    MALLOC_ARENA_MAX=1 in the environment."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    return bool(
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        and libc.mallopt(M_ARENA_MAX, 1)
    )
